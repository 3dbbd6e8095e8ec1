//! Listing pages that show the same news: when the home page lists every section's
//! newest stories and is visited first, the sections' visits only confirm what it
//! showed, and the daemon stops spending its requests on them (`crawl::cover`); on
//! the same site without that home page, the sections keep theirs.

mod common;

use std::time::Duration;

use newscrawl::store::Store;

/// How long each daemon runs, and the end part of it that is counted (the first
/// seconds are the estimates' warm-up).
const WINDOW: Duration = Duration::from_secs(10);
const COUNTED: Duration = Duration::from_secs(4);

/// Runs the daemon on a live site of four sections, each publishing once a second,
/// whose home page lists the site's `home_newest` newest stories (0: none), and
/// returns the home page's and the sections' requests in the counted seconds, and
/// what the daemon saved of the listing pages' overlap for the next run.
async fn listing_requests(home_newest: usize) -> (usize, usize, Vec<u8>) {
    let (site, server) =
        common::busy_live_site_listing(WINDOW + Duration::from_secs(2), home_newest).await;
    let text = common::busy_live_config(server.origin(), None);
    let end = site.start_ms + WINDOW.as_millis() as u64;
    let (store, _dir) = common::daemon_through(&text, &server, end, WINDOW * 6).await;
    let from = site.start_ms + (WINDOW - COUNTED).as_millis() as u64;
    let home = common::home_requests_since(&server, from);
    let saved = store.get_meta("cover").unwrap().unwrap_or_default();
    (home, common::section_requests_since(&server, from), saved)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sections_whose_news_the_home_page_shows_first_are_visited_less() {
    let ((home, sections, saved), (_, alone, _)) =
        tokio::join!(listing_requests(10), listing_requests(0));
    common::assert_sections_covered(home, sections);
    // Without the home page's list the sections are the only source, and keep
    // their visits.
    assert!(
        alone >= 4 * (sections + 1),
        "{alone} section requests on the site without the list, {sections} with it"
    );
    // What was learned is kept for the next run: every section's counts.
    common::assert_saved_every_section(&saved, 4);
}
