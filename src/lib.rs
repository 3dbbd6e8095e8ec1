//! newscrawl: a polite, incremental web crawler for news sites.
//!
//! The library holds the whole crawler; `src/main.rs` is a thin command line over it.
//! Data flows config -> seeds -> frontier (store) -> scheduler (per-host clocks) ->
//! fetcher -> parser -> store commit (URL state + records) -> sink. See
//! ARCHITECTURE.md for the map and the invariants each module keeps.

pub mod clock;
pub mod config;
pub mod crawl;
pub mod discover;
pub mod durations;
pub mod endpoint;
pub mod eval;
pub mod fetch;
pub mod fixture;
pub mod hashes;
pub mod health;
pub mod metrics;
pub mod netguard;
pub mod parse;
pub mod politeness;
pub mod record;
pub mod report;
pub mod revisit;
pub mod robots;
pub mod sink;
pub mod site;
pub mod store;
pub mod tls;
pub mod url_kind;
pub mod urlnorm;
