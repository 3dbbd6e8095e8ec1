//! A handle on a running worker: what its endpoint (`/healthz`, `/status`,
//! `/metrics`) reads (the worker's metrics and counts, the crawl's live workers and
//! each bucket's load in Redis), and the config reload a SIGHUP sends.
//!
//! Invariant: reading changes nothing, and no lock is held across a call to Redis, so
//! a scrape never holds the worker up.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::time::Instant;

use super::setup::SetupCell;
use super::SharedCrawler;
use crate::crawl::{RunCounts, Stats};
use crate::metrics::Metrics;
use crate::store::redis_frontier::RedisFrontier;
use crate::store::StoreError;

/// A handle on a shared-crawl worker for its endpoint. Cheap to clone.
#[derive(Clone)]
pub struct WorkerHandle {
    metrics: Arc<Metrics>,
    stats: Arc<Mutex<Stats>>,
    frontier: RedisFrontier,
    worker: String,
    crawl: String,
    started: Instant,
    setup: SetupCell,
}

/// A worker's `/status`.
#[derive(Debug, Serialize)]
pub struct WorkerStatus {
    pub worker: String,
    /// The crawl's namespace in Redis.
    pub crawl: String,
    pub uptime_seconds: f64,
    /// This worker's counts since it started.
    #[serde(flatten)]
    pub counts: RunCounts,
    pub records_emitted: u64,
    /// The crawl's live workers, this one included.
    pub live_workers: Vec<String>,
    pub buckets: Vec<BucketLine>,
}

/// One bucket's load, for all workers of the crawl.
#[derive(Debug, Serialize)]
pub struct BucketLine {
    pub bucket: u32,
    /// Hosts with work now or soon (a URL due, a lease, a gap, a page settling).
    pub hosts_with_work: u64,
    /// When no host has work soon: the URLs queued for later (retries not yet due).
    pub queued_for_later: u64,
    /// Links found in this bucket waiting to be routed to their own.
    pub links_to_route: u64,
}

impl WorkerHandle {
    pub(super) fn of(crawler: &SharedCrawler) -> Self {
        Self {
            metrics: crawler.metrics.clone(),
            stats: crawler.stats.clone(),
            frontier: crawler.frontier.clone(),
            worker: crawler.shared.worker.clone(),
            crawl: crawler.shared.namespace.clone(),
            started: Instant::now(),
            setup: crawler.setup.clone(),
        }
    }

    /// Applies `config` to the worker's requests from now on (see
    /// [`SetupCell::reload`]) and queues the seeds it adds; an error says why nothing
    /// changed.
    pub async fn reload(&self, config: crate::config::CrawlConfig) -> Result<(), String> {
        let setup = self.setup.reload(config)?;
        let seeds = crate::crawl::starts::start_entries(&setup.config);
        let (new_seeds, _) = self
            .frontier
            .enqueue(&seeds, 0)
            .await
            .map_err(|e| format!("reloaded, but the new seeds were not queued: {e}"))?;
        tracing::info!(
            "configuration reloaded: {} sites, {new_seeds} new seeds queued",
            setup.config.sites.len()
        );
        Ok(())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The worker's counts and the crawl's load, read from Redis.
    pub async fn status(&self) -> Result<WorkerStatus, StoreError> {
        let live_workers = self.frontier.live_workers().await?;
        let mut buckets = Vec::new();
        for bucket in 0..self.frontier.buckets() {
            let load = self.frontier.load(bucket).await?;
            buckets.push(BucketLine {
                bucket,
                hosts_with_work: load.hosts,
                queued_for_later: load.later,
                links_to_route: load.links,
            });
        }
        let counts = RunCounts::from(&*self.stats.lock().expect("stats lock poisoned"));
        Ok(WorkerStatus {
            worker: self.worker.clone(),
            crawl: self.crawl.clone(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            counts,
            records_emitted: self.metrics.records_total(),
            live_workers,
            buckets,
        })
    }
}
