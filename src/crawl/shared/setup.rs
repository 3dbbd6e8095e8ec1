//! What a shared-crawl worker's config reload (SIGHUP) replaces: the config and what
//! is built from it (each site's parser, the HTTP client, the site of each host).
//!
//! Invariant: a request takes the current setup when it starts and keeps it to its
//! end, so one request never mixes two configs; a reload that does not validate, or
//! that names another shared store, changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::CrawlConfig;
use crate::crawl::control::carry_over;
use crate::crawl::{fetcher_for, host_sites_of, site_parsers, CrawlError};
use crate::fetch::Fetcher;
use crate::parse::{Parser, ParserRegistry};
use crate::site::Site;

/// A config and what is built from it.
pub(crate) struct Setup {
    pub config: Arc<CrawlConfig>,
    pub site_parsers: HashMap<String, Arc<dyn Parser>>,
    pub fetcher: Fetcher,
    pub host_sites: HashMap<String, Arc<Site>>,
}

impl Setup {
    pub fn new(config: CrawlConfig, parsers: &ParserRegistry) -> Result<Self, CrawlError> {
        Ok(Self {
            site_parsers: site_parsers(&config, parsers)?,
            fetcher: fetcher_for(&config)?,
            host_sites: host_sites_of(&config),
            config: Arc::new(config),
        })
    }
}

/// The worker's current setup, swapped whole by a reload. Cheap to clone.
#[derive(Clone)]
pub(crate) struct SetupCell {
    current: Arc<RwLock<Arc<Setup>>>,
    parsers: ParserRegistry,
}

impl SetupCell {
    pub fn new(setup: Setup, parsers: ParserRegistry) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(setup))),
            parsers,
        }
    }

    /// The setup now.
    pub fn get(&self) -> Arc<Setup> {
        self.current.read().expect("setup lock poisoned").clone()
    }

    /// Switches to `config` for every request from now on: sites, patterns, delays,
    /// parsers and the HTTP client. Refused, with the running setup kept, when it names
    /// another shared store or worker, or shares no site with the running crawl;
    /// `output.path`, `concurrency` and `max_time` keep their running values until a
    /// restart.
    pub fn reload(&self, mut config: CrawlConfig) -> Result<Arc<Setup>, String> {
        let old = self.get();
        if config.shared != old.config.shared {
            return Err(
                "the shared store or the worker's name changed (store.*); that needs a restart"
                    .into(),
            );
        }
        carry_over(&old.config, &mut config, "in another namespace")?;
        if config.concurrency != old.config.concurrency {
            tracing::warn!(
                "crawler.concurrency changed; {} requests in flight until a restart",
                old.config.concurrency
            );
            config.concurrency = old.config.concurrency;
        }
        // The run's time limit counts from its start.
        config.max_time = old.config.max_time;
        let setup = Arc::new(Setup::new(config, &self.parsers).map_err(|e| e.to_string())?);
        *self.current.write().expect("setup lock poisoned") = setup.clone();
        Ok(setup)
    }
}
