//! Politeness as the server sees it: every figure comes from the fixture server's own
//! request log (start times, in arrival order), never from the crawler's account.

use std::sync::Arc;
use std::time::Duration;

use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::{Crawler, StopReason, Summary};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec, LoggedRequest, Scripted};
use newscrawl::parse::ParserRegistry;
use newscrawl::store::{SledStore, Store, UrlStatus};

const MS: Duration = Duration::from_millis(1);

async fn server_on(ip: [u8; 4], articles: usize) -> FixtureServer {
    let spec = FixtureSpec {
        articles,
        ..FixtureSpec::default()
    };
    FixtureServer::start(Arc::new(FixtureSite::new(spec)), ip.into(), 0)
        .await
        .unwrap()
}

async fn small_server() -> FixtureServer {
    server_on([127, 0, 0, 1], 4).await
}

/// A site table for a fixture server, with the demo's patterns (and no sitemaps, so
/// that the order of requests is the order of links).
fn site_table(name: &str, origin: &str) -> String {
    format!(
        "[[site]]\nname = \"{name}\"\nseeds = [\"{origin}/\"]\n\
         section_patterns = ['^/$', '^/section/[a-z-]+(/[a-z-]+)?(\\?page=\\d+)?$', '^/reporter/[a-z-]+(\\?page=\\d+)?$']\n\
         article_patterns = ['^/www/[a-z]+/\\d{{4}}/\\d{{2}}/\\d+_\\d+\\.html$']\n\
         robots_sitemaps = false\n"
    )
}

/// A crawler of the config `text`, with its state in `dir`.
fn crawler(dir: &std::path::Path, text: &str, max_pages: Option<u64>) -> (Crawler, Arc<SledStore>) {
    let overrides = Overrides {
        state_dir: Some(dir.to_path_buf()),
        max_pages,
        ..Overrides::default()
    };
    let config = ConfigFile::parse(text, "test.toml")
        .unwrap()
        .validate("test.toml", &overrides)
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(SledStore::open(&dir.join("db")).unwrap());
    let crawler = Crawler::new(config, store.clone(), ParserRegistry::default()).unwrap();
    (crawler, store)
}

/// Crawls with `[politeness]` set to `politeness` (TOML lines) and the given sites.
async fn crawl(
    dir: &std::path::Path,
    politeness: &str,
    sites: &str,
    max_pages: Option<u64>,
) -> (Summary, Arc<SledStore>) {
    let text = format!("[politeness]\n{politeness}\n{sites}");
    let (crawler, store) = crawler(dir, &text, max_pages);
    let summary = crawler.run(std::future::pending()).await.unwrap();
    (summary, store)
}

/// Runs the daemon on `server`'s site until the server has logged `requests`
/// requests: for what a one-shot crawl leaves for later (a retry not yet due).
async fn daemon_until(
    dir: &std::path::Path,
    politeness: &str,
    sites: &str,
    server: &FixtureServer,
    requests: usize,
) -> Arc<SledStore> {
    let text = format!("[politeness]\n{politeness}\n[daemon]\nhttp = \"off\"\n{sites}");
    let (crawler, store) = crawler(dir, &text, None);
    crawler
        .run_daemon(server.wait_for_requests(requests))
        .await
        .unwrap();
    store
}

fn gaps(log: &[LoggedRequest]) -> Vec<Duration> {
    log.windows(2)
        .map(|p| p[1].at.duration_since(p[0].at))
        .collect()
}

fn smallest_gap(log: &[LoggedRequest]) -> Duration {
    gaps(log).into_iter().min().unwrap_or(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_delay_is_a_minimum_gap_and_is_capped() {
    let server = small_server().await;
    server.set(
        "/robots.txt",
        Scripted::status(200).body("User-agent: *\nCrawl-delay: 0.25\nDisallow: /member/\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    crawl(dir.path(), "min_delay = \"20ms\"", &sites, Some(5)).await;
    let log = server.requests();
    assert_eq!(log.len(), 6, "robots.txt and five pages");
    assert!(smallest_gap(&log) >= 250 * MS, "{:?}", gaps(&log));

    // A Crawl-delay above politeness.max_crawl_delay is capped, not obeyed.
    let server = small_server().await;
    server.set(
        "/robots.txt",
        Scripted::status(200).body("User-agent: *\nCrawl-delay: 30\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    crawl(
        dir.path(),
        "min_delay = \"20ms\"\nmax_crawl_delay = \"150ms\"",
        &sites,
        Some(3),
    )
    .await;
    let log = server.requests();
    assert_eq!(log.len(), 4);
    assert!(
        gaps(&log)
            .iter()
            .all(|g| *g >= 150 * MS && *g < Duration::from_secs(30)),
        "{:?}",
        gaps(&log)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_pauses_the_host_and_the_page_is_tried_again() {
    // Seconds.
    let server = small_server().await;
    server.script("/", [Scripted::status(503).header("retry-after", "1")]);
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    // The page is tried again when the pause is over: a one-shot crawl with nothing
    // else to do would leave it for the next run, so the daemon runs it.
    // (Its fourth request is for a link of the page, which is settled by then.)
    let store = daemon_until(dir.path(), "min_delay = \"20ms\"", &sites, &server, 4).await;
    let log = server.requests();
    let targets: Vec<&str> = log.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(&targets[..3], ["/robots.txt", "/", "/"], "{targets:?}");
    assert_eq!((log[1].status, log[2].status), (503, 200));
    assert!(
        log[2].at.duration_since(log[1].at) >= Duration::from_secs(1),
        "{:?}",
        gaps(&log)
    );
    let home = store
        .url_state(&format!("{}/", server.origin()))
        .unwrap()
        .unwrap();
    // Fetched (200, its content kept) and queued for its next visit, whose tries
    // count from zero.
    assert_eq!(
        (home.status, home.http_status, home.attempts),
        (UrlStatus::Queued, 200, 0),
        "{home:?}"
    );
    assert!(home.content_hash.is_some());

    // An HTTP-date on 429: no request to the host before that date.
    let server = small_server().await;
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    server.script(
        "/",
        [Scripted::status(429).header(
            "retry-after",
            at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    daemon_until(dir.path(), "min_delay = \"20ms\"", &sites, &server, 3).await;
    let log = server.requests();
    assert_eq!((log[1].status, log[2].target.as_str()), (429, "/"));
    let date_ms = (at.timestamp() * 1000) as u64;
    assert!(
        log[2].unix_ms >= date_ms,
        "retried {} ms before the date",
        date_ms - log[2].unix_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_back_off_and_give_up_after_max_retries() {
    let server = small_server().await;
    server.set("/", Scripted::status(500));
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    // Retries due at once: the page is alone in its host's queue.
    let politeness =
        "min_delay = \"10ms\"\nerror_backoff = \"100ms\"\nmax_retries = 2\nretry_delay = \"0s\"";
    let (summary, store) = crawl(dir.path(), politeness, &sites, None).await;
    let log = server.requests();
    let targets: Vec<&str> = log.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        ["/robots.txt", "/", "/", "/"],
        "tried three times, then given up"
    );
    let g = gaps(&log);
    assert!(
        g[1] >= 100 * MS && g[2] >= 200 * MS,
        "backoff doubles: {g:?}"
    );
    assert_eq!(summary.stop, StopReason::Done);
    let home = store
        .url_state(&format!("{}/", server.origin()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (home.status, home.attempts, home.http_status),
        (UrlStatus::Failed, 3, 500)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_404_means_no_restrictions() {
    let server = small_server().await;
    server.set("/robots.txt", Scripted::status(404).body("not here"));
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    crawl(dir.path(), "min_delay = \"5ms\"", &sites, None).await;
    let log = server.requests();
    assert!(
        log.iter().any(|r| r.target == "/section/opinion/letters"),
        "the path the site's robots.txt would disallow is fetched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_robots_txt_blocks_the_host_until_it_recovers() {
    let server = small_server().await;
    server.script(
        "/robots.txt",
        [Scripted::status(503), Scripted::status(503)],
    );
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    let (summary, _) = crawl(
        dir.path(),
        "min_delay = \"10ms\"\nerror_backoff = \"100ms\"",
        &sites,
        Some(3),
    )
    .await;
    let log = server.requests();
    let targets: Vec<&str> = log.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        &targets[..3],
        ["/robots.txt"; 3],
        "nothing but robots.txt until it answers: {targets:?}"
    );
    assert_eq!(log[2].status, 200);
    let g = gaps(&log);
    assert!(
        g[0] >= 100 * MS && g[1] >= 200 * MS,
        "retries back off: {g:?}"
    );
    assert_eq!(
        summary.stats.requests, 3,
        "pages follow once robots.txt is read"
    );

    // Never recovering: a one-shot crawl gives up on the host and keeps its URLs queued.
    let server = small_server().await;
    server.set("/robots.txt", Scripted::status(500));
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    let (summary, store) = crawl(
        dir.path(),
        "min_delay = \"10ms\"\nerror_backoff = \"20ms\"\nmax_retries = 2",
        &sites,
        None,
    )
    .await;
    assert_eq!(server.requests().len(), 3, "{:?}", server.requests());
    assert!(server.requests().iter().all(|r| r.target == "/robots.txt"));
    assert_eq!(
        (summary.stop, summary.stats.requests),
        (StopReason::Done, 0)
    );
    let seed = store
        .url_state(&format!("{}/", server.origin()))
        .unwrap()
        .unwrap();
    assert_eq!(seed.status, UrlStatus::Queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_txt_is_fetched_again_when_its_copy_expires_and_not_before() {
    let server = small_server().await;
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    let ttl = 400 * MS;
    crawl(
        dir.path(),
        "min_delay = \"60ms\"\nrobots_ttl = \"400ms\"",
        &sites,
        Some(20),
    )
    .await;
    let log = server.requests();
    let robots: Vec<&LoggedRequest> = log.iter().filter(|r| r.target == "/robots.txt").collect();
    let span = log.last().unwrap().at.duration_since(log[0].at);
    assert!(span > ttl, "the crawl outlived one copy ({span:?})");
    assert!(robots.len() >= 2, "expired copy fetched again");
    for pair in robots.windows(2) {
        assert!(
            pair[1].at.duration_since(pair[0].at) >= ttl,
            "re-fetched before expiry"
        );
    }
    assert!(
        robots.len() as u128 <= 1 + span.as_millis() / ttl.as_millis(),
        "{} fetches in {span:?}",
        robots.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_does_not_burst() {
    let server = small_server().await;
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    let delay = 300 * MS;
    let (_, store) = crawl(dir.path(), "min_delay = \"300ms\"", &sites, Some(2)).await;
    drop(store);
    let first_run = server.requests().len();
    crawl(dir.path(), "min_delay = \"300ms\"", &sites, Some(2)).await;
    let log = server.requests();
    assert_eq!(first_run, 3);
    assert_eq!(
        log.len(),
        5,
        "the second run reuses the stored robots.txt: {log:?}"
    );
    assert!(smallest_gap(&log) >= delay, "{:?}", gaps(&log));
}

/// Two sites on 127.0.0.1 (different ports): one address, two hosts; and their tables.
async fn two_hosts_on_one_address() -> (FixtureServer, FixtureServer, String) {
    let (a, b) = (
        server_on([127, 0, 0, 1], 4).await,
        server_on([127, 0, 0, 1], 5).await,
    );
    let sites = format!(
        "{}{}",
        site_table("a", a.origin()),
        site_table("b", b.origin())
    );
    (a, b, sites)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_on_one_address_share_a_clock_when_grouped() {
    let (a, b, sites) = two_hosts_on_one_address().await;
    let delay = 150 * MS;
    let merged = |a: &FixtureServer, b: &FixtureServer| {
        let mut log = a.requests();
        log.extend(b.requests());
        log.sort_by_key(|r| r.at);
        log
    };

    let dir = tempfile::tempdir().unwrap();
    crawl(
        dir.path(),
        "min_delay = \"150ms\"\ngroup_by_ip = true",
        &sites,
        Some(6),
    )
    .await;
    let grouped = merged(&a, &b);
    assert!(!a.requests().is_empty() && !b.requests().is_empty());
    assert!(
        smallest_gap(&grouped) >= delay,
        "grouped hosts share one budget: {:?}",
        gaps(&grouped)
    );

    // Without grouping each host has its own clock, and the two overlap.
    let (a, b, sites) = two_hosts_on_one_address().await;
    let dir = tempfile::tempdir().unwrap();
    crawl(dir.path(), "min_delay = \"150ms\"", &sites, Some(6)).await;
    let separate = merged(&a, &b);
    assert!(smallest_gap(&a.requests()) >= delay && smallest_gap(&b.requests()) >= delay);
    assert!(smallest_gap(&separate) < delay, "{:?}", gaps(&separate));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_lengthens_the_next_gap_by_the_adaptive_estimate() {
    let server = small_server().await;
    let latency = Duration::from_millis(400);
    server.set("/robots.txt", Scripted::status(404).after(latency));
    let dir = tempfile::tempdir().unwrap();
    let sites = site_table("s", server.origin());
    crawl(
        dir.path(),
        "min_delay = \"20ms\"\nadaptive = true\ntarget_concurrency = 1.0",
        &sites,
        Some(1),
    )
    .await;
    let log = server.requests();
    assert_eq!(log[1].target, "/");
    // The estimate moves halfway to the latency: the next request keeps 200 ms after
    // the answer, which came 400 ms after the request.
    let gap = log[1].at.duration_since(log[0].at);
    assert!(gap >= latency + latency / 2, "{gap:?}");
}
