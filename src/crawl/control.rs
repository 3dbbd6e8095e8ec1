//! Talking to a running crawl from outside the scheduler: reloading its config
//! (SIGHUP) and asking for a snapshot of its state (`/status`).
//!
//! Invariant: the scheduler stays the only owner of its state; callers get answers
//! through messages, never shared locks, so a slow caller cannot stall the crawl.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::Stats;
use crate::config::CrawlConfig;
use crate::metrics::Metrics;
use crate::store::Store;

/// What both engines require of a reloaded config against the running one: it shares
/// a site with it (else it is another crawl: `elsewhere` says where to start that), and
/// records keep going to the running output until a restart.
pub(crate) fn carry_over(
    old: &CrawlConfig,
    new: &mut CrawlConfig,
    elsewhere: &str,
) -> Result<(), String> {
    if !new
        .sites
        .iter()
        .any(|s| old.sites.iter().any(|o| o.name == s.name))
    {
        return Err(format!(
            "the new config shares no site with the running crawl; start it {elsewhere}"
        ));
    }
    if new.output_path != old.output_path {
        tracing::warn!(
            "output.path changed; records keep going to {} until a restart",
            old.output_path.display()
        );
        new.output_path = old.output_path.clone();
    }
    Ok(())
}

/// A request to the scheduler.
pub(crate) enum Control {
    /// Apply a new (validated) config; the answer says why it was refused, if it was.
    Reload(Box<CrawlConfig>, oneshot::Sender<Result<(), String>>),
    Status(oneshot::Sender<LiveStatus>),
}

/// A handle on a crawl that is (or will be) running: its metrics, its store, and a
/// way to reach its scheduler. Cheap to clone.
#[derive(Clone)]
pub struct CrawlHandle {
    pub(crate) control: mpsc::Sender<Control>,
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn Store>,
}

impl CrawlHandle {
    /// Asks the running crawl to switch to `config`. Refused (with the reason) when
    /// the config cannot be applied without a restart, or when the crawl is not running.
    pub async fn reload(&self, config: CrawlConfig) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.control
            .send(Control::Reload(Box::new(config), tx))
            .await
            .map_err(|_| "the crawl is not running".to_string())?;
        rx.await
            .map_err(|_| "the crawl stopped before answering".to_string())?
    }

    /// Counts the queued URLs (a scan of the queue's keys, on a blocking thread) and
    /// sets the `queue_depth` gauge. Called by whoever shows the gauge (`/metrics`,
    /// the progress line), so a crawl nobody watches never pays for it.
    pub async fn count_queue(&self) -> Option<u64> {
        let store = self.store.clone();
        let n = tokio::task::spawn_blocking(move || store.queue_len())
            .await
            .ok()?
            .ok()?;
        self.metrics.set_queue_depth(n);
        Some(n)
    }

    /// The scheduler's view of the crawl, or `None` when it is not running.
    pub async fn live_status(&self) -> Option<LiveStatus> {
        let (tx, rx) = oneshot::channel();
        self.control.send(Control::Status(tx)).await.ok()?;
        rx.await.ok()
    }
}

/// A run's counts as `/status` shows them, for a one-machine crawl and a shared
/// worker alike.
#[derive(Debug, Clone, Serialize)]
pub struct RunCounts {
    pub requests: u64,
    pub robots_requests: u64,
    pub pages_parsed: u64,
    /// Revisits that found the page as it was.
    pub unchanged: u64,
    pub records_committed: u64,
    pub failed: u64,
    pub retried: u64,
    pub robots_denied: u64,
}

impl From<&Stats> for RunCounts {
    fn from(s: &Stats) -> Self {
        Self {
            requests: s.requests,
            robots_requests: s.robots_requests,
            pages_parsed: s.pages_parsed,
            unchanged: s.unchanged,
            records_committed: s.records,
            failed: s.failed,
            retried: s.retried,
            robots_denied: s.robots_denied,
        }
    }
}

/// What the scheduler knows right now.
#[derive(Debug, Clone, Serialize)]
pub struct LiveStatus {
    pub mode: &'static str,
    pub uptime_seconds: f64,
    #[serde(flatten)]
    pub counts: RunCounts,
    pub in_flight: usize,
    pub parsing: usize,
    pub sites: Vec<SiteLive>,
    pub hosts: Vec<HostLive>,
    /// The most recent failures, newest first.
    pub last_errors: Vec<ErrorNote>,
    /// Per site, the share of recent article pages missing each field, and alerts.
    pub extraction: crate::health::HealthReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteLive {
    pub name: String,
    pub hosts: Vec<String>,
    pub records_committed: u64,
    pub revisit_min_seconds: f64,
    pub revisit_max_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostLive {
    pub host: String,
    pub site: String,
    /// `unknown`, `needed`, `fetching`, `ready` or `parked`.
    pub robots: &'static str,
    pub in_flight: usize,
    /// URLs leased and waiting in memory.
    pub leased: usize,
    /// Current gap between requests, in seconds.
    pub delay_seconds: f64,
    /// Seconds until the host's clock allows the next request (0: now).
    pub next_allowed_in_seconds: f64,
    /// Seconds until the host's next queued URL is due, when that is known.
    pub next_due_in_seconds: Option<f64>,
    pub last_error: Option<ErrorNote>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorNote {
    pub url: String,
    pub error: String,
    /// RFC 3339.
    pub at: String,
}
