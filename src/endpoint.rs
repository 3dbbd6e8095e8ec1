//! The daemon's HTTP endpoint: `/healthz`, `/status` (JSON) and `/metrics`
//! (Prometheus text), for operators and monitoring.
//!
//! Invariant: read-only. No route changes the crawl; every answer comes from the
//! metrics registry, a message to the scheduler, or a read of the store on a blocking
//! thread, so a scrape never stalls the crawl.

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
use crate::report::ListingPage;

/// How long the scheduler may go without a turn before `/healthz` fails. It turns at
/// least once a second when healthy.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// Listed revisit schedules in `/status`, soonest first.
const MAX_SCHEDULES: usize = 1000;

/// Serves the endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: CrawlHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(handle);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz(State(handle): State<CrawlHandle>) -> Response {
    let last = handle.metrics.heartbeat_ms();
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

async fn metrics(State(handle): State<CrawlHandle>) -> Response {
    handle.count_queue().await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        handle.metrics.render(),
    )
        .into_response()
}

/// `/status`: the scheduler's view plus what the store holds.
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

async fn status(State(handle): State<CrawlHandle>) -> Response {
    let live = handle.live_status().await;
    let store = handle.store.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let queues = store.queue_by_host()?;
        let mut schedules = store.revisit_schedules()?;
        schedules.sort_by_key(|s| s.next_due_ms);
        schedules.truncate(MAX_SCHEDULES);
        Ok::<_, crate::store::StoreError>((queues, schedules))
    })
    .await;
    let (queues, schedules) = match stored {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("store: {e}\n")).into_response()
        }
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    };
    let body = StatusBody {
        live,
        records_emitted: handle.metrics.records_total(),
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
    match serde_json::to_string_pretty(&body) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}
