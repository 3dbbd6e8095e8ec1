//! End-to-end crawls of the fixture news site on 127.0.0.1, checked against the
//! fixture server's own request log and the site's known content.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::{Crawler, StopReason};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec, Variant};
use newscrawl::parse::ParserRegistry;
use newscrawl::record::Article;
use newscrawl::store::{SledStore, Store, UrlStatus};

const MIN_DELAY: Duration = Duration::from_millis(60);
/// Allowed shortfall of a gap as the server measures it. None: the crawler holds each
/// host's next start to the answer of the previous request plus the delay, and the
/// fixture server logs a request before it answers it.
const GAP_TOLERANCE: Duration = Duration::ZERO;

struct Crawled {
    server: FixtureServer,
    partner: FixtureServer,
    store: Arc<SledStore>,
    records: Vec<Article>,
    stop: StopReason,
    _dir: tempfile::TempDir,
}

async fn start_servers() -> (FixtureServer, FixtureServer) {
    // The partner host: another loopback address the site links to, never to be requested.
    let partner = FixtureServer::start(
        Arc::new(FixtureSite::new(FixtureSpec::default())),
        [127, 0, 0, 2].into(),
        0,
    )
    .await
    .expect("partner server starts");
    let site = FixtureSite::new(FixtureSpec {
        partner_origin: Some(partner.origin().to_string()),
        ..FixtureSpec::default()
    });
    let server = FixtureServer::start(Arc::new(site), [127, 0, 0, 1].into(), 0)
        .await
        .expect("fixture server starts");
    (server, partner)
}

fn demo_config(origin: &str, dir: &std::path::Path) -> newscrawl::config::CrawlConfig {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml"))
        .unwrap()
        .replace("{origin}", origin);
    let overrides = Overrides {
        state_dir: Some(dir.to_path_buf()),
        output_path: Some(dir.join("records.jsonl")),
        min_delay: Some(MIN_DELAY),
        ..Overrides::default()
    };
    ConfigFile::parse(&text, "demo.toml")
        .unwrap()
        .validate("demo.toml", &overrides)
        .unwrap()
}

async fn crawl_once(server: &FixtureServer, dir: &std::path::Path) -> (Arc<SledStore>, StopReason) {
    let config = demo_config(server.origin(), dir);
    let store = Arc::new(SledStore::open(&dir.join("db")).unwrap());
    let crawler = Crawler::new(config, store.clone(), ParserRegistry::default()).unwrap();
    let summary = crawler.run(std::future::pending()).await.unwrap();
    (store, summary.stop)
}

fn read_records(dir: &std::path::Path) -> Vec<Article> {
    std::fs::read_to_string(dir.join("records.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a whole record"))
        .collect()
}

async fn crawl_fixture() -> Crawled {
    let (server, partner) = start_servers().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, stop) = crawl_once(&server, dir.path()).await;
    let records = read_records(dir.path());
    Crawled {
        server,
        partner,
        store,
        records,
        stop,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polite_crawl_of_the_fixture_site() {
    let crawled = crawl_fixture().await;
    let site = crawled.server.site();
    let log = crawled.server.requests();
    assert_eq!(crawled.stop, StopReason::Done);

    // robots.txt first, once; then exactly the expected pages, each once.
    assert_eq!(
        log[0].target, "/robots.txt",
        "robots.txt comes before any other request"
    );
    assert_eq!(log.iter().filter(|r| r.target == "/robots.txt").count(), 1);
    let pages: Vec<&str> = log
        .iter()
        .map(|r| r.target.as_str())
        .filter(|t| *t != "/robots.txt")
        .collect();
    let unique: BTreeSet<&str> = pages.iter().copied().collect();
    assert_eq!(
        unique.len(),
        pages.len(),
        "a URL was fetched twice: {pages:?}"
    );
    let expected: BTreeSet<String> = site.expected_paths().into_iter().collect();
    let fetched: BTreeSet<String> = unique.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        fetched,
        expected,
        "\nunexpected: {:?}\nmissing: {:?}",
        fetched.difference(&expected).collect::<Vec<_>>(),
        expected.difference(&fetched).collect::<Vec<_>>()
    );

    // Nothing robots.txt disallows, nothing off the allowed host.
    for r in &log {
        assert!(
            !FixtureSite::disallows(&r.target),
            "requested disallowed {}",
            r.target
        );
        assert!(
            r.user_agent.starts_with("newscrawl-demo/0.1 (+https://"),
            "{}",
            r.user_agent
        );
    }
    assert!(
        crawled.partner.requests().is_empty(),
        "requested the partner host: {:?}",
        crawled.partner.requests()
    );
    let denied = crawled
        .store
        .url_state(&format!(
            "{}/section/opinion/letters",
            crawled.server.origin()
        ))
        .unwrap()
        .unwrap();
    assert_eq!(denied.status, UrlStatus::RobotsDenied);

    // Byte-identical pages under two URLs (a listing and its `?page=1`): one is parsed,
    // the other is stored as its alias, whichever came first.
    let origin = crawled.server.origin();
    let (a, b) = (
        format!("{origin}/section/national"),
        format!("{origin}/section/national?page=1"),
    );
    let (sa, sb) = (
        crawled.store.url_state(&a).unwrap().unwrap(),
        crawled.store.url_state(&b).unwrap().unwrap(),
    );
    let aliased = (sa.status == UrlStatus::Alias && sa.alias_of.as_deref() == Some(b.as_str()))
        || (sb.status == UrlStatus::Alias && sb.alias_of.as_deref() == Some(a.as_str()));
    assert!(aliased, "{sa:?}\n{sb:?}");

    // Request starts at least min_delay apart, as the server saw them.
    let mut min_gap = Duration::MAX;
    for pair in log.windows(2) {
        min_gap = min_gap.min(pair[1].at.duration_since(pair[0].at));
    }
    assert!(
        min_gap + GAP_TOLERANCE >= MIN_DELAY,
        "gap of {min_gap:?} between two requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_match_the_articles_of_the_site() {
    let crawled = crawl_fixture().await;
    let site = crawled.server.site();
    let origin = crawled.server.origin();
    let by_url: BTreeMap<&str, &Article> = crawled
        .records
        .iter()
        .map(|r| (r.url.as_str(), r))
        .collect();
    assert_eq!(
        by_url.len(),
        crawled.records.len(),
        "a record was emitted twice"
    );

    let mut expected_count = 0;
    for a in &site.articles {
        let url = format!("{origin}{}", site.article_path(a));
        if a.variant == Variant::Pdf {
            assert!(!by_url.contains_key(url.as_str()), "a PDF became a record");
            let state = crawled.store.url_state(&url).unwrap().unwrap();
            assert_eq!(state.status, UrlStatus::Skipped);
            assert_eq!(state.note.as_deref(), Some("not HTML (application/pdf)"));
            continue;
        }
        expected_count += 1;
        let r = by_url
            .get(url.as_str())
            .unwrap_or_else(|| panic!("no record for {url}: {:?}", crawled.store.url_state(&url)));
        assert_eq!(r.title.as_deref(), Some(a.title.as_str()), "{url}");
        assert_eq!(r.authors, a.authors, "{url}");
        assert_eq!(
            r.published,
            Some(a.posted.format("%Y-%m-%dT%H:%M:00+09:00").to_string()),
            "{url}"
        );
        assert_eq!(
            r.updated,
            a.updated
                .map(|u| u.format("%Y-%m-%dT%H:%M:00+09:00").to_string()),
            "{url}"
        );
        assert_eq!(r.paragraphs().count(), a.paragraphs.len(), "{url}");
        assert_eq!(
            r.paragraphs().next(),
            a.paragraphs.first().map(String::as_str)
        );
        let sec = &site.sections[a.section];
        assert_eq!(
            r.section,
            [sec.name, sec.subsections[a.subsection].name],
            "{url}"
        );
        assert_eq!(r.deck.as_deref(), Some(a.deck.as_str()));
        assert_eq!(r.canonical_url.as_deref(), Some(url.as_str()));
        assert_eq!(r.language.as_deref(), Some("en"));
        assert_eq!(r.site, "daily-fixture");
        assert_eq!(r.version, 1);
        assert_eq!(r.content_hash.len(), 32);
        let captions: Vec<_> = r
            .images
            .iter()
            .map(|i| i.caption.clone().unwrap_or_default())
            .collect();
        let expected: Vec<_> = a.images.iter().map(|(_, c)| c.clone()).collect();
        assert_eq!(captions, expected, "{url}");
    }
    assert_eq!(crawled.records.len(), expected_count);

    // The EUC-KR article decodes; the render-time date line is never the publication date.
    let euc = site
        .articles
        .iter()
        .find(|a| a.variant == Variant::EucKr)
        .unwrap();
    assert!(euc.title.contains("서울"));
    assert!(crawled.records.iter().all(|r| !r
        .published
        .as_deref()
        .unwrap_or_default()
        .starts_with("2026-11-29")));
}

/// Smallest gap between consecutive request starts in a server's log.
fn smallest_gap(log: &[newscrawl::fixture::LoggedRequest]) -> Duration {
    log.windows(2)
        .map(|p| p[1].at.duration_since(p[0].at))
        .min()
        .unwrap_or(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_are_crawled_concurrently_each_at_its_own_pace() {
    // Different sizes, so that no page of one site is byte-identical to one of the
    // other (identical pages would be recorded as aliases, across sites too).
    let spec = |articles| FixtureSpec {
        articles,
        ..FixtureSpec::default()
    };
    let a = FixtureServer::start(
        Arc::new(FixtureSite::new(spec(12))),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let b = FixtureServer::start(
        Arc::new(FixtureSite::new(spec(13))),
        [127, 0, 0, 3].into(),
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[crawler]\nconcurrency = 4\n[politeness]\nmin_delay = \"{}ms\"\n\
         [[site]]\nname = \"a\"\nseeds = [\"{}/\"]\nsection_patterns = ['^/$', '^/section/']\narticle_patterns = ['^/www/[a-z]+/[0-9]{{4}}/']\n\
         [[site]]\nname = \"b\"\nseeds = [\"{}/\"]\nsection_patterns = ['^/$', '^/section/']\narticle_patterns = ['^/www/[a-z]+/[0-9]{{4}}/']\nmin_delay = \"{}ms\"\n",
        MIN_DELAY.as_millis(),
        a.origin(),
        b.origin(),
        2 * MIN_DELAY.as_millis()
    );
    let overrides = Overrides {
        state_dir: Some(dir.path().to_path_buf()),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(&text, "two.toml")
        .unwrap()
        .validate("two.toml", &overrides)
        .unwrap();
    let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    let summary = Crawler::new(config, store, ParserRegistry::default())
        .unwrap()
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.stop, StopReason::Done);
    let (log_a, log_b) = (a.requests(), b.requests());
    assert!(
        log_a.len() > 20 && log_b.len() > 20,
        "{} and {} requests",
        log_a.len(),
        log_b.len()
    );
    // Each host keeps its own delay (site b has a per-site override) ...
    assert!(
        smallest_gap(&log_a) + GAP_TOLERANCE >= MIN_DELAY,
        "{:?}",
        smallest_gap(&log_a)
    );
    assert!(
        smallest_gap(&log_b) + GAP_TOLERANCE >= 2 * MIN_DELAY,
        "{:?}",
        smallest_gap(&log_b)
    );
    // ... and neither waits for the other: their crawls overlap in time.
    assert!(log_b[0].at < log_a.last().unwrap().at && log_a[0].at < log_b.last().unwrap().at);
    assert_eq!(
        read_records(dir.path()).len(),
        11 + 12,
        "all HTML articles of both sites (one PDF each)"
    );
}
