//! What the scheduler saves beside the pages: each host's clock (so a restart does
//! not burst), the extraction health of each site, and (daemon) which listing pages
//! show whose news (`crawl::cover`, so a restart does not learn it again).
//!
//! Invariant: saving never blocks the scheduler's loop on the store for a page's
//! worth of time; a failed save is logged, never fatal to the crawl.

use super::*;

impl Scheduler {
    /// Saves the extraction health for `status`: this run's sites, and every alert
    /// (earlier runs' included, the last 50).
    pub(super) async fn save_health(&self) -> Result<(), CrawlError> {
        let report = self.health.report();
        if report.sites.is_empty() && report.alerts.is_empty() {
            return Ok(());
        }
        let store = self.crawler.store.clone();
        self.crawler
            .io
            .run(move || {
                let mut saved: HealthReport = store
                    .get_meta("health")?
                    .and_then(|v| serde_json::from_slice(&v).ok())
                    .unwrap_or_default();
                saved.alerts.extend(report.alerts);
                let excess = saved.alerts.len().saturating_sub(50);
                saved.alerts.drain(..excess);
                for site in report.sites {
                    saved.sites.retain(|s| s.site != site.site);
                    saved.sites.push(site);
                }
                let json = serde_json::to_vec(&saved).unwrap_or_default();
                store.put_meta("health", &json)?;
                Ok::<_, CrawlError>(())
            })
            .await?
    }

    /// Saves what the daemon learned of which listing pages show whose news; a
    /// failure only means the next run learns it again.
    pub(super) async fn save_cover(&self) {
        if !self.daemon() {
            return;
        }
        let (store, cover) = (self.crawler.store.clone(), self.crawler.cover.clone());
        let result = self
            .crawler
            .io
            .run(move || store.put_meta(crate::crawl::cover::SAVED_KEY, &cover.save()))
            .await;
        if let Err(e) = result.and_then(|r| Ok(r?)) {
            tracing::warn!("which listing pages show whose news was not saved ({e}); the next run learns it again");
        }
    }

    /// Saves a host's next allowed start (Unix ms) so that a restart keeps it.
    pub(super) fn save_clock(&self, host: &str, until_ms: u64) {
        let (store, host) = (self.crawler.store.clone(), host.to_string());
        let io = self.crawler.io.clone();
        tokio::spawn(async move {
            io.run(move || {
                let saved = store.host(&host).and_then(|record| {
                    let mut record = record.unwrap_or_default();
                    record.next_allowed_ms = record.next_allowed_ms.max(until_ms);
                    store.put_host(&host, &record)
                });
                if let Err(e) = saved {
                    tracing::warn!(host, "could not save the host's clock: {e}");
                }
            })
            .await
        });
    }

    /// Saves every host's next allowed start at the end of a run.
    pub(super) async fn save_clocks(&self) -> Result<(), CrawlError> {
        let now = Instant::now();
        let base = now_ms();
        let clocks: Vec<(String, u64)> = self
            .hosts
            .iter()
            .filter_map(|(host, slot)| {
                let clock = self.clocks.get(slot.clock.as_ref()?)?;
                let ms = base
                    + clock
                        .next_allowed
                        .saturating_duration_since(now)
                        .as_millis() as u64;
                Some((host.clone(), ms))
            })
            .collect();
        let store = self.crawler.store.clone();
        self.crawler
            .io
            .run(move || {
                for (host, ms) in clocks {
                    let mut record = store.host(&host)?.unwrap_or_else(HostRecord::default);
                    record.next_allowed_ms = ms;
                    store.put_host(&host, &record)?;
                }
                Ok::<_, CrawlError>(())
            })
            .await?
    }
}
