//! Sitemaps and feeds: any bytes (gzipped or not) give entries or an error, within the
//! protocol's limit on entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::discover::{maybe_gunzip, parse_feed, parse_sitemap, Sitemap, MAX_ENTRIES};

fuzz_target!(|body: &[u8]| {
    let Ok(body) = maybe_gunzip(body) else { return };
    match parse_sitemap(&body) {
        Ok(Sitemap::Urls(found) | Sitemap::Index(found)) => assert!(found.len() <= MAX_ENTRIES),
        Err(_) => {}
    }
    if let Ok(found) = parse_feed(&body) {
        assert!(found.len() <= MAX_ENTRIES);
    }
});
