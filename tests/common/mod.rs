//! Helpers shared by the end-to-end tests: configs for the fixture site, one crawl
//! run in-process, a loopback site that logs what it is asked for, and reading the
//! records a run wrote.
#![allow(dead_code)] // each test crate uses its own subset

pub mod ca;
pub mod warc;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::{Crawler, Summary};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use newscrawl::parse::ParserRegistry;
use newscrawl::record::Article;
use newscrawl::store::SledStore;

/// `config/demo.toml` pointed at a fixture server, with `extra` appended to its site
/// table (e.g. `article_recheck = "0s"`).
pub fn demo_config_text(origin: &str, extra: &str) -> String {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
    format!("{}\n{extra}\n", text.replace("{origin}", origin))
}

/// The bundled news site with `articles` articles, on 127.0.0.1 and a free port.
pub async fn fixture_server(articles: usize) -> FixtureServer {
    let spec = FixtureSpec {
        articles,
        ..FixtureSpec::default()
    };
    site_server(spec, [127, 0, 0, 1]).await
}

/// The bundled news site as `spec` describes it, on loopback address `ip` and a free
/// port.
pub async fn site_server(spec: FixtureSpec, ip: [u8; 4]) -> FixtureServer {
    FixtureServer::start(Arc::new(FixtureSite::new(spec)), ip.into(), 0)
        .await
        .unwrap()
}

/// Runs one crawl of `text` with state and records in `dir`.
pub async fn crawl_text(
    text: &str,
    dir: &Path,
    min_delay: Duration,
) -> Result<(Summary, Arc<SledStore>), String> {
    let overrides = Overrides {
        state_dir: Some(dir.to_path_buf()),
        output_path: Some(dir.join("records.jsonl")),
        min_delay: Some(min_delay),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(text, "test.toml")
        .and_then(|c| c.validate("test.toml", &overrides))
        .map_err(|e| e.to_string())?;
    let store = Arc::new(SledStore::open(&dir.join("db")).map_err(|e| e.to_string())?);
    let summary = Crawler::new(config, store.clone(), ParserRegistry::default())
        .map_err(|e| e.to_string())?
        .run(std::future::pending())
        .await
        .map_err(|e| e.to_string())?;
    Ok((summary, store))
}

/// The records of `dir/records.jsonl`; every line must be a whole record.
pub fn read_records(dir: &Path) -> Vec<Article> {
    std::fs::read_to_string(dir.join("records.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a whole record"))
        .collect()
}

/// Reads a request's head (up to its blank line; maybe some of the body after it);
/// `None` when the connection closes first or the head is over 64 KiB.
pub async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => read += n,
        }
    }
    buf.truncate(read);
    Some(buf)
}

/// The paths a [`logging_site`] was asked for, in order.
pub type RequestLog = Arc<Mutex<Vec<String>>>;

/// What a [`logged_server`] answers a path with: status, content type and body.
type Respond = dyn Fn(&str) -> (u16, &'static str, String) + Send + Sync;

/// A site on 127.0.0.1 and a free port that answers each request as `respond` says
/// (connection closed after it), logs each request's path (as sent, query included)
/// and tells `requested`'s waiters once it is logged. Returns its origin and its log.
async fn logged_server(
    respond: Arc<Respond>,
    requested: Arc<tokio::sync::Notify>,
) -> (String, RequestLog) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log = RequestLog::default();
    let served = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (log, respond, requested) = (served.clone(), respond.clone(), requested.clone());
            tokio::spawn(async move {
                let Some(read) = read_head(&mut stream).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&read).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                log.lock().unwrap().push(path.clone());
                requested.notify_waiters();
                let (status, kind, body) = respond(&path);
                let reason = if status == 200 { "OK" } else { "Not Found" };
                let response = format!(
                    "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (origin, log)
}

/// A site on 127.0.0.1 and a free port that serves `robots` as `/robots.txt`, `home`
/// as `/` and a small page for any other path, and logs each request's path (as
/// sent, query included). Returns its origin and its log.
pub async fn logging_site(robots: String, home: String) -> (String, RequestLog) {
    let respond = move |path: &str| match path {
        "/robots.txt" => (200, "text/plain", robots.clone()),
        "/" => (200, "text/html", home.clone()),
        _ => (
            200,
            "text/html",
            "<html><body><p>A page.</p></body></html>".to_string(),
        ),
    };
    logged_server(Arc::new(respond), Arc::default()).await
}

/// A [`paged_site`]: where it is, what it was asked for, and an event each request
/// tells (see [`poll_until`]).
pub struct PagedSite {
    pub origin: String,
    pub log: RequestLog,
    pub requested: Arc<tokio::sync::Notify>,
}

/// A section of `published` stories (`/news/1.html` oldest), listed newest first
/// `per_page` to a page at `/section`, `/section?page=2`, ..., each page but the last
/// naming the next with `rel="next"`; on 127.0.0.1 and a free port. The test sets
/// `published` as it goes.
pub async fn paged_site(
    published: Arc<std::sync::atomic::AtomicUsize>,
    per_page: usize,
) -> PagedSite {
    use std::sync::atomic::Ordering;
    let respond = move |path: &str| {
        let n = published.load(Ordering::SeqCst);
        let page = match path {
            "/section" => Some(1),
            p => p
                .strip_prefix("/section?page=")
                .and_then(|k| k.parse().ok()),
        };
        let story = path
            .strip_prefix("/news/")
            .and_then(|p| p.strip_suffix(".html"))
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| (1..=n).contains(i));
        match (page, story) {
            (Some(page), _) if page >= 1 && (page - 1) * per_page < n.max(1) => {
                let newest = n - (page - 1) * per_page;
                let mut body = String::from(
                    "<html><head><title>Section</title></head><body><h1>Section</h1><ul>",
                );
                for i in (1..=newest).rev().take(per_page) {
                    body.push_str(&format!(
                        "<li><a href=\"/news/{i}.html\">Story {i}</a></li>"
                    ));
                }
                body.push_str("</ul>");
                if newest > per_page {
                    body.push_str(&format!(
                        "<a rel=\"next\" href=\"/section?page={}\">Older</a>",
                        page + 1
                    ));
                }
                (200, "text/html", body + "</body></html>")
            }
            (_, Some(i)) => (
                200,
                "text/html",
                format!(
                    "<html><head><title>Story {i}</title></head><body><article><h1>Story {i}</h1>\
                     <p>The {i}th story of the section, told in a paragraph long enough to be read as one.</p>\
                     <p>A second paragraph of story {i}, so that the article has a body of its own.</p>\
                     </article></body></html>"
                ),
            ),
            _ if path == "/robots.txt" => (200, "text/plain", String::new()),
            _ => (404, "text/html", "<html><body>Not here</body></html>".to_string()),
        }
    };
    let requested = Arc::new(tokio::sync::Notify::new());
    let (origin, log) = logged_server(Arc::new(respond), requested.clone()).await;
    PagedSite {
        origin,
        log,
        requested,
    }
}

/// A daemon's config for [`paged_site`]: its section page revisited every 20 to
/// 100 ms, 5 ms between requests.
pub fn paged_config(origin: &str) -> String {
    format!(
        "[politeness]\nmin_delay = \"5ms\"\nadaptive = false\n\
         [daemon]\nhttp = \"off\"\nrevisit_min = \"20ms\"\nrevisit_max = \"100ms\"\n\
         [[site]]\nname = \"paged\"\nseeds = [\"{origin}/section\"]\n\
         section_patterns = ['^/section$']\narticle_patterns = ['^/news/']\n\
         robots_sitemaps = false\n"
    )
}

/// The story numbers of the records in `file` so far (whole lines only: a record may
/// be being written).
pub fn paged_stories(file: &Path) -> std::collections::BTreeSet<usize> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| {
            let url = r["url"].as_str()?.to_string();
            url.rsplit('/').next()?.strip_suffix(".html")?.parse().ok()
        })
        .collect()
}

/// How often `path` is in the log from entry `from` on.
pub fn requests_of(log: &RequestLog, from: usize, path: &str) -> usize {
    log.lock().unwrap()[from..]
        .iter()
        .filter(|p| *p == path)
        .count()
}

/// Where [`paged_steps`] stood at each step: the log's length after the first visit,
/// when nine stories came at once, when two more came, when nine more came.
pub type PagedMarks = [usize; 4];

/// Drives a crawler of [`paged_site`] (3 a page, 6 stories at the start) that writes
/// its records to `records`: waits for the first page's stories and two quiet
/// revisits; publishes nine stories at once (page 1 shows 15-13, page 2 12-10, page 3
/// 9-7, page 4 the known 6-4 and names page 5) and waits for them; publishes two (page
/// 1 shows 17, 16 and the known 15) and waits for them; publishes nine again (pages 2
/// to 4, fetched before, show new stories again) and waits for them. After each step,
/// it waits for the section's next two revisits (a next page queued by the step would
/// be due before them).
pub async fn paged_steps(
    published: &std::sync::atomic::AtomicUsize,
    site: &PagedSite,
    records: &Path,
) -> PagedMarks {
    let (log, requested) = (&site.log, &*site.requested);
    use std::sync::atomic::Ordering;
    const DEADLINE: Duration = Duration::from_secs(30);
    let stories = || paged_stories(records);
    let len = || log.lock().unwrap().len();
    poll_until("the first page's stories", DEADLINE, requested, || {
        stories() == [4, 5, 6].into_iter().collect()
    })
    .await;
    let first = len();
    poll_until("two quiet revisits", DEADLINE, requested, || {
        requests_of(log, first, "/section") >= 2
    })
    .await;
    let burst = len();
    published.store(15, Ordering::SeqCst);
    poll_until("the stories pushed off page 1", DEADLINE, requested, || {
        stories() == (4..=15).collect()
    })
    .await;
    // Page 4 shows only known stories: it comes after the stories of page 3.
    poll_until("page 4", DEADLINE, requested, || {
        requests_of(log, burst, "/section?page=4") >= 1
    })
    .await;
    let quiet = len();
    published.store(17, Ordering::SeqCst);
    poll_until("the two new stories", DEADLINE, requested, || {
        stories() == (4..=17).collect()
    })
    .await;
    // A next page that visit queued would be due before the section's next revisit:
    // two more revisits leave it no time.
    let settled = len();
    poll_until(
        "two revisits after the two stories",
        DEADLINE,
        requested,
        || requests_of(log, settled, "/section") >= 2,
    )
    .await;
    let again = len();
    published.store(26, Ordering::SeqCst);
    poll_until("the second burst's stories", DEADLINE, requested, || {
        stories() == (4..=26).collect()
    })
    .await;
    poll_until("page 4 again", DEADLINE, requested, || {
        requests_of(log, again, "/section?page=4") >= 1
    })
    .await;
    // Page 5, were it queued, would be due before the section's next revisit.
    let last = len();
    poll_until(
        "two revisits after the second burst",
        DEADLINE,
        requested,
        || requests_of(log, last, "/section") >= 2,
    )
    .await;
    [first, burst, quiet, again]
}

/// What [`paged_steps`] must have seen: no next page before the first burst (a first
/// visit does not walk the archive; a quiet revisit has nothing pushed off); after
/// each burst pages 2-4 once and not page 5 (page 4 showed known stories); none after
/// the two stories (page 1 showed a known one); stories 1-3, behind page 1 before the
/// crawl began, never fetched.
pub fn assert_paged(log: &RequestLog, [first, burst, quiet, again]: PagedMarks, records: &Path) {
    let page = |k: usize| format!("/section?page={k}");
    let seen = log.lock().unwrap().clone();
    let between = |from: usize, to: usize, k: usize| {
        requests_of(log, from, &page(k)) - requests_of(log, to, &page(k))
    };
    for k in 2..=5 {
        let before = between(0, burst, k);
        assert_eq!(before, 0, "page {k} before the burst: {:?}", &seen[..first]);
        let after_known = between(quiet, again, k);
        assert_eq!(
            after_known,
            0,
            "page {k} after a known story: {:?}",
            &seen[quiet..again]
        );
    }
    for k in 2..=4 {
        assert_eq!(
            between(burst, quiet, k),
            1,
            "page {k} after the burst: {:?}",
            &seen[burst..quiet]
        );
        assert_eq!(
            requests_of(log, again, &page(k)),
            1,
            "page {k} after the second burst: {:?}",
            &seen[again..]
        );
    }
    assert_eq!(
        requests_of(log, burst, &page(5)),
        0,
        "page 4 showed known stories: {:?}",
        &seen[burst..]
    );
    assert_eq!(paged_stories(records), (4..=26).collect());
}

/// Checks `ready` now and after each request the site tells of through `requested`,
/// until it holds; panics with `what` after `deadline`. For what a daemon does as it
/// keeps asking (its records, its visits): each of its requests is a moment to look.
pub async fn poll_until(
    what: &str,
    deadline: Duration,
    requested: &tokio::sync::Notify,
    mut ready: impl FnMut() -> bool,
) {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        // Registered before the check, so a request between the two is not missed.
        let next = requested.notified();
        tokio::pin!(next);
        next.as_mut().enable();
        if ready() {
            return;
        }
        if tokio::time::timeout_at(end, next).await.is_err() {
            assert!(ready(), "{what}: not within {deadline:?}");
            return;
        }
    }
}

/// A live news site of four sections, each publishing once a second, publishing for
/// `span` from now, on 127.0.0.1 and a free port.
pub async fn busy_live_site(
    span: Duration,
) -> (Arc<newscrawl::fixture::live::LiveSite>, FixtureServer) {
    busy_live_site_listing(span, 0).await
}

/// [`busy_live_site`] whose home page lists the site's `home_newest` newest stories.
pub async fn busy_live_site_listing(
    span: Duration,
    home_newest: usize,
) -> (Arc<newscrawl::fixture::live::LiveSite>, FixtureServer) {
    use newscrawl::fixture::live::{LiveSite, LiveSpec};
    let site = Arc::new(LiveSite::start(LiveSpec {
        rates_per_hour: vec![3600.0; 4],
        home_newest,
        backlog: 5,
        span,
        ..LiveSpec::default()
    }));
    let server = FixtureServer::start_live(site.clone(), [127, 0, 0, 1].into())
        .await
        .unwrap();
    (site, server)
}

/// A live site of two quiet sections of 15 stories each, whose listing pages declare
/// a feed of the 20 newest.
pub async fn feed_live_site() -> FixtureServer {
    use newscrawl::fixture::live::{LiveSite, LiveSpec};
    let site = Arc::new(LiveSite::start(LiveSpec {
        rates_per_hour: vec![0.0, 0.0],
        feed_newest: 20,
        backlog: 15,
        ..LiveSpec::default()
    }));
    FixtureServer::start_live(site, [127, 0, 0, 1].into())
        .await
        .unwrap()
}

/// A config for [`feed_live_site`] that takes its home page as the only section page:
/// the stories are reachable through the declared feed alone.
pub fn feed_only_config(origin: &str, discover_feeds: bool) -> String {
    format!(
        "[[site]]\nname = \"live\"\nseeds = [\"{origin}/\"]\nsection_patterns = ['^/$']\n\
         article_patterns = ['^/news/']\nrobots_sitemaps = false\ndiscover_feeds = {discover_feeds}\n"
    )
}

/// A daemon's config for [`busy_live_site`]: 10 ms between requests, listing pages
/// revisited between 20 ms and 10 s, and the site's `max_listing_rate` when `budget`
/// is given.
pub fn busy_live_config(origin: &str, budget: Option<f64>) -> String {
    let budget = budget
        .map(|b| format!("max_listing_rate = {b}\n"))
        .unwrap_or_default();
    format!(
        "[politeness]\nmin_delay = \"10ms\"\nadaptive = false\n\
         [daemon]\nhttp = \"off\"\nrevisit_min = \"20ms\"\nrevisit_max = \"10s\"\n\
         [[site]]\nname = \"live\"\nseeds = [\"{origin}/\"]\n\
         section_patterns = ['^/$', '^/section/s\\d+$']\narticle_patterns = ['^/news/']\n\
         robots_sitemaps = false\n{budget}"
    )
}

/// Runs a daemon of `text` on a live site's `server` until the server's first request
/// at or after `end_ms` (Unix ms; waiting at most `limit`, and failing if the daemon
/// stopped asking before then), with its state in a new directory. Returns the store
/// and the directory.
pub async fn daemon_through(
    text: &str,
    server: &FixtureServer,
    end_ms: u64,
    limit: Duration,
) -> (Arc<SledStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        state_dir: Some(dir.path().to_path_buf()),
        output_path: Some(dir.path().join("records.jsonl")),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(text, "live.toml")
        .unwrap()
        .validate("live.toml", &overrides)
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    Crawler::new(config, store.clone(), ParserRegistry::default())
        .unwrap()
        .run_daemon(async {
            let _ = tokio::time::timeout(limit, server.wait_for_request_at(end_ms)).await;
        })
        .await
        .unwrap();
    assert!(
        server
            .requests()
            .last()
            .is_some_and(|r| r.unix_ms >= end_ms),
        "the daemon made no request after the window"
    );
    (store, dir)
}

/// The home page's requests the server logged at or after `unix_ms`.
pub fn home_requests_since(server: &FixtureServer, unix_ms: u64) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.unix_ms >= unix_ms && r.target == "/")
        .count()
}

/// The home page lists every story and is visited first: once that is known, the
/// sections are visited at `revisit_max`. Visited as often as their own news asks, they
/// would take a fifth of its requests or more.
pub fn assert_sections_covered(home: usize, sections: usize) {
    assert!(
        home > 0,
        "the home page was not visited in the counted seconds"
    );
    assert!(
        sections * 8 <= home,
        "{sections} section requests against {home} of the home page"
    );
}

/// What a daemon saved of its cover names each of the live site's `sections`.
pub fn assert_saved_every_section(saved: &[u8], sections: usize) {
    let saved = String::from_utf8_lossy(saved);
    assert!(
        (0..sections).all(|s| saved.contains(&format!("/section/s{s}"))),
        "saved: {saved:?}"
    );
}

/// Section requests the server logged at or after `unix_ms`.
pub fn section_requests_since(server: &FixtureServer, unix_ms: u64) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.unix_ms >= unix_ms && r.target.starts_with("/section/"))
        .count()
}
