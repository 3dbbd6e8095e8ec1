//! The daemon's HTTP endpoint: `/healthz`, `/status` (JSON) and `/metrics`
//! (Prometheus text), for operators and monitoring, of a one-machine crawl or of a
//! shared-crawl worker ([`Watch`]).
//!
//! Invariant: read-only. No route changes the crawl; every answer comes from the
//! metrics registry, a message to the scheduler, a read of the store on a blocking
//! thread, or a read of Redis, so a scrape never stalls the crawl.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::clock::now_ms;
use crate::clock::rfc3339_secs as rfc3339;
use crate::crawl::{CrawlHandle, LiveStatus};
use crate::metrics::{ListingGauges, Metrics};
use crate::report::ListingPage;

/// How long the scheduler may go without a turn before `/healthz` fails. It turns at
/// least once a second when healthy.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// Listed revisit schedules: in `/status` the soonest, in `/metrics` the first by
/// site and URL.
const MAX_SCHEDULES: usize = 1000;

/// What the endpoint watches: a one-machine crawl ([`CrawlHandle`]) or a shared-crawl
/// worker (`WorkerHandle`, with the `redis` feature).
pub trait Watch: Clone + Send + Sync + 'static {
    /// The registry `/metrics` renders and whose heartbeat `/healthz` reads.
    fn metrics(&self) -> &Metrics;
    /// Sets the gauges that are counted when scraped.
    fn refresh(&self) -> impl Future<Output = ()> + Send;
    /// The `/status` document, or why it could not be read.
    fn status(&self) -> impl Future<Output = Result<serde_json::Value, String>> + Send;
}

/// Serves the endpoint on `listener` until `shutdown` completes.
pub async fn serve<W: Watch>(
    listener: tokio::net::TcpListener,
    watch: W,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz::<W>))
        .route("/status", get(status::<W>))
        .route("/metrics", get(metrics::<W>))
        .with_state(watch);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz<W: Watch>(State(watch): State<W>) -> Response {
    let last = watch.metrics().heartbeat_ms();
    let since = Duration::from_millis(now_ms().saturating_sub(last));
    if last > 0 && since <= STALL_LIMIT {
        (StatusCode::OK, "ok\n").into_response()
    } else if last == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "scheduler stalled: last turn {:.0}s ago\n",
                since.as_secs_f64()
            ),
        )
            .into_response()
    }
}

async fn metrics<W: Watch>(State(watch): State<W>) -> Response {
    watch.refresh().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        watch.metrics().render(),
    )
        .into_response()
}

async fn status<W: Watch>(State(watch): State<W>) -> Response {
    let body = watch
        .status()
        .await
        .and_then(|value| serde_json::to_string_pretty(&value).map_err(|e| e.to_string()));
    match body {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// A one-machine crawl's `/status`: the scheduler's view plus what the store holds.
#[derive(Serialize)]
struct StatusBody {
    live: Option<LiveStatus>,
    records_emitted: u64,
    queue_depth: u64,
    /// Queued URLs per host with the earliest due time.
    queues: Vec<QueueLine>,
    /// Listing pages' revisit schedules, soonest first.
    revisits: Vec<ListingPage>,
}

#[derive(Serialize)]
struct QueueLine {
    host: String,
    queued: u64,
    next_due: String,
}

impl Watch for CrawlHandle {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The queue depth and the listing pages' schedules.
    async fn refresh(&self) {
        self.count_queue().await;
        let store = self.store.clone();
        let schedules = tokio::task::spawn_blocking(move || {
            let mut schedules = store.revisit_schedules()?;
            schedules.sort_by(|a, b| (&a.site, &a.url).cmp(&(&b.site, &b.url)));
            schedules.truncate(MAX_SCHEDULES);
            Ok::<_, crate::store::StoreError>(schedules)
        })
        .await;
        match schedules {
            Ok(Ok(schedules)) => {
                let pages: Vec<ListingPage> =
                    schedules.into_iter().map(ListingPage::from).collect();
                self.metrics
                    .set_listings(pages.iter().map(|p| ListingGauges {
                        site: &p.site,
                        url: &p.url,
                        changes_per_hour: p.changes_per_hour,
                        interval_seconds: p.interval_seconds,
                        expected_latency_seconds: p.expected_latency_seconds,
                    }));
            }
            // The other metrics are still worth a scrape; the listing gauges keep
            // their last values.
            Ok(Err(e)) => tracing::warn!("/metrics: cannot read the revisit schedules: {e}"),
            Err(e) => tracing::warn!("/metrics: cannot read the revisit schedules: {e}"),
        }
    }

    /// The scheduler's view plus what the store holds.
    async fn status(&self) -> Result<serde_json::Value, String> {
        let live = self.live_status().await;
        let store = self.store.clone();
        let (queues, schedules) = tokio::task::spawn_blocking(move || {
            let queues = store.queue_by_host()?;
            let mut schedules = store.revisit_schedules()?;
            schedules.sort_by_key(|s| s.next_due_ms);
            schedules.truncate(MAX_SCHEDULES);
            Ok::<_, crate::store::StoreError>((queues, schedules))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("store: {e}"))?;
        let body = StatusBody {
            live,
            records_emitted: self.metrics.records_total(),
            queue_depth: queues.iter().map(|(_, n, _)| n).sum(),
            queues: queues
                .into_iter()
                .map(|(host, queued, due)| QueueLine {
                    host,
                    queued,
                    next_due: rfc3339(due),
                })
                .collect(),
            revisits: schedules.into_iter().map(ListingPage::from).collect(),
        };
        serde_json::to_value(body).map_err(|e| e.to_string())
    }
}

#[cfg(feature = "redis")]
impl Watch for crate::crawl::WorkerHandle {
    fn metrics(&self) -> &Metrics {
        self.metrics()
    }

    /// Nothing: a worker's queues are in Redis, shown by `/status`.
    async fn refresh(&self) {}

    /// The worker's counts, the live workers and each bucket's load.
    async fn status(&self) -> Result<serde_json::Value, String> {
        let status = self.status().await.map_err(|e| format!("redis: {e}"))?;
        serde_json::to_value(status).map_err(|e| e.to_string())
    }
}
