//! Where a crawl starts and what robots.txt adds: the sites' seeds, sitemaps and
//! feeds, and the sitemaps a host's robots.txt names. Both engines (the local
//! scheduler and the shared workers) start from these.
//!
//! Invariant: a start URL is queued at depth 0 under its site, as its kind (seeds as
//! sections); a sitemap robots.txt names is queued only when it is on the site's hosts
//! and not denied.

use crate::config::CrawlConfig;
use crate::robots::Robots;
use crate::site::{Site, UrlKind};
use crate::store::QueueEntry;

/// Every site's start URLs: seeds (as sections), sitemaps and feeds.
pub(super) fn start_entries(config: &CrawlConfig) -> Vec<QueueEntry> {
    config
        .sites
        .iter()
        .flat_map(|site| {
            let seeds = site.seeds.iter().map(|u| (u, UrlKind::Section));
            let sitemaps = site.sitemaps.iter().map(|u| (u, UrlKind::Sitemap));
            let feeds = site.feeds.iter().map(|u| (u, UrlKind::Feed));
            seeds
                .chain(sitemaps)
                .chain(feeds)
                .map(|(url, kind)| QueueEntry::found(url.to_string(), &site.name, kind, 0))
        })
        .collect()
}

/// The sitemaps a host's robots.txt names that are on the site's hosts (none when
/// the site does not read robots.txt sitemaps).
pub(super) fn sitemaps_named(
    site: &Site,
    robots: &Robots,
    config: &CrawlConfig,
) -> Vec<QueueEntry> {
    if !site.robots_sitemaps {
        return Vec::new();
    }
    robots
        .sitemaps
        .iter()
        .filter_map(|s| config.normalizer.parse(s).ok())
        .filter(|url| site.allows_host(url) && !site.denies(url))
        .map(|url| QueueEntry::found(url, &site.name, UrlKind::Sitemap, 0))
        .collect()
}
