//! A site's listing budget (`max_listing_rate`) as the server sees it: the daemon's
//! requests for section pages, counted in the server's own log, stay within the
//! budget once the estimates have settled, where the same site without a budget gets
//! many times more.

mod common;

use std::sync::Arc;
use std::time::Duration;

use newscrawl::store::{SledStore, Store};

/// How long each daemon runs, and the end part of it that is counted (the first
/// seconds are the estimates' warm-up: an interval at most doubles per visit).
const WINDOW: Duration = Duration::from_secs(10);
const COUNTED: Duration = Duration::from_secs(4);
/// Listing requests an hour: one a second.
const BUDGET: f64 = 3600.0;

/// Runs the daemon on a live site of four sections, each publishing once a second,
/// and returns the section requests of the counted part of the window, and the
/// store.
async fn section_requests(budget: Option<f64>) -> (usize, Arc<SledStore>, tempfile::TempDir) {
    let (site, server) = common::busy_live_site(WINDOW + Duration::from_secs(2)).await;
    let text = common::busy_live_config(server.origin(), budget);
    // The window ends with the server's first request after it.
    let end = site.start_ms + WINDOW.as_millis() as u64;
    let (store, dir) = common::daemon_through(&text, &server, end, WINDOW * 6).await;
    let from = site.start_ms + (WINDOW - COUNTED).as_millis() as u64;
    (common::section_requests_since(&server, from), store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_budget_caps_the_section_requests_the_server_sees() {
    let ((budgeted, store, _dir), (free, _, _free_dir)) =
        tokio::join!(section_requests(Some(BUDGET)), section_requests(None));
    let allowed = BUDGET / 3600.0 * COUNTED.as_secs_f64();
    // Twice the budget's share of the counted seconds: the intervals settle by halves
    // and doublings, and one visit more or less per section falls in or out of it.
    assert!(
        (budgeted as f64) <= 2.0 * allowed + 4.0,
        "{budgeted} section requests in {COUNTED:?} on a budget of {BUDGET} an hour"
    );
    // Without the budget the square-root law at `revisit_min` visits them several
    // times a second: the cap is what made the difference.
    assert!(
        free as f64 >= 4.0 * (2.0 * allowed + 4.0),
        "{free} section requests without a budget, {budgeted} with one"
    );
    // The estimates are what the status shows.
    let schedules = store.revisit_schedules().unwrap();
    assert!(schedules
        .iter()
        .any(|s| s.url.contains("/section/") && s.estimate.changes_per_hour() > 0.0));
}
