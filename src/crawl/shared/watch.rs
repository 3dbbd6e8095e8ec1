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
    #[serde(flatten)]
    pub load: CrawlLoad,
}

/// What Redis says of a shared crawl as a whole: who works on it and what is left.
#[derive(Debug, Serialize)]
pub struct CrawlLoad {
    /// The crawl's live workers.
    pub live_workers: Vec<String>,
    pub buckets: Vec<BucketLine>,
}

impl CrawlLoad {
    /// Reads the crawl's live workers and each bucket's load.
    pub async fn read(frontier: &RedisFrontier) -> Result<Self, StoreError> {
        let live_workers = frontier.live_workers().await?;
        let mut buckets = Vec::new();
        for bucket in 0..frontier.buckets() {
            let load = frontier.load(bucket).await?;
            buckets.push(BucketLine {
                bucket,
                hosts: load.ready,
                hosts_with_work: load.hosts,
                queued_for_later: load.later,
                links_to_route: load.links,
            });
        }
        Ok(Self {
            live_workers,
            buckets,
        })
    }

    /// Whether the crawl has work left: a host with work, a URL queued for later, a
    /// link to route.
    pub fn work_left(&self) -> bool {
        self.buckets
            .iter()
            .any(|b| b.hosts_with_work + b.queued_for_later + b.links_to_route > 0)
    }
}

impl std::fmt::Display for CrawlLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sum = |field: fn(&BucketLine) -> u64| self.buckets.iter().map(field).sum::<u64>();
        writeln!(
            f,
            "live workers: {} ({})",
            self.live_workers.len(),
            self.live_workers.join(", ")
        )?;
        let state = if self.work_left() {
            "work left"
        } else {
            "done"
        };
        writeln!(
            f,
            "{state}: hosts with URLs queued or in flight: {}; URLs queued for later: {}; links to route: {}",
            sum(|b| b.hosts),
            sum(|b| b.queued_for_later),
            sum(|b| b.links_to_route)
        )?;
        writeln!(f, "bucket  hosts  later  links")?;
        for b in &self.buckets {
            writeln!(
                f,
                "{:>6}  {:>5}  {:>5}  {:>5}",
                b.bucket, b.hosts, b.queued_for_later, b.links_to_route
            )?;
        }
        Ok(())
    }
}

/// One bucket's load, for all workers of the crawl.
#[derive(Debug, Serialize)]
pub struct BucketLine {
    pub bucket: u32,
    /// Hosts with URLs queued, a request in flight or a page settling.
    pub hosts: u64,
    /// 1 when a host has work now or soon (a URL due, a lease, a gap, a page
    /// settling): the end-of-crawl test stops at the first.
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
        let load = CrawlLoad::read(&self.frontier).await?;
        let counts = RunCounts::from(&*self.stats.lock().expect("stats lock poisoned"));
        Ok(WorkerStatus {
            worker: self.worker.clone(),
            crawl: self.crawl.clone(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            counts,
            records_emitted: self.metrics.records_total(),
            load,
        })
    }
}
