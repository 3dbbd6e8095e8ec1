//! HTTPS end to end: the fixture site over TLS on loopback, with certificates made here
//! by a throwaway CA. Crawled with that CA trusted, it is the same crawl as over plain
//! HTTP (records, robots.txt first, redirects, conditional requests, gaps), over
//! HTTP/2 when the server offers it; without the CA, or with a certificate that is
//! expired or names another host, nothing is fetched and the failure is named.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use newscrawl::fixture::tls::TlsIdentity;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use newscrawl::store::{Store, UrlStatus};

use common::ca::{tls_server, TestCa};
use common::{crawl_text, demo_config_text, read_records};

const DELAY: Duration = Duration::from_millis(20);

/// The demo config for `origin`, trusting `ca_file` when given, with `extra` in its
/// site table.
fn config(origin: &str, ca_file: Option<&std::path::Path>, extra: &str) -> String {
    let text = demo_config_text(origin, extra);
    match ca_file {
        Some(path) => text.replacen(
            "[crawler]\n",
            &format!("[crawler]\nca_file = {:?}\n", path.display().to_string()),
            1,
        ),
        None => text,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_over_tls_and_http2_is_the_crawl_over_plain_http() {
    let ca = TestCa::new();
    let keys = tempfile::tempdir().unwrap();
    let ca_file = ca.write(keys.path());

    let plain = FixtureServer::start(
        Arc::new(FixtureSite::new(FixtureSpec::default())),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let plain_dir = tempfile::tempdir().unwrap();
    crawl_text(&config(plain.origin(), None, ""), plain_dir.path(), DELAY)
        .await
        .expect("the plain crawl runs");

    let secure = tls_server(ca.identity(&[], false, true)).await;
    assert!(secure.origin().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let text = config(secure.origin(), Some(&ca_file), "article_recheck = \"0s\"");
    let (_, store) = crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the TLS crawl runs");

    // The same requests and the same records as over plain HTTP.
    let log = secure.requests();
    assert_eq!(log[0].target, "/robots.txt", "robots.txt first");
    let targets = |log: &[newscrawl::fixture::LoggedRequest]| -> BTreeSet<String> {
        log.iter().map(|r| r.target.clone()).collect()
    };
    assert_eq!(targets(&log), targets(&plain.requests()));
    let records = read_records(dir.path());
    assert_eq!(records.len(), read_records(plain_dir.path()).len());
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.url.starts_with("https://")));
    // The short URL's redirect was followed to its article.
    let site = secure.site();
    let linked = site.short_linked().expect("the site links a short URL");
    let short = store
        .url_state(&format!(
            "{}{}",
            secure.origin(),
            FixtureSite::short_path(linked)
        ))
        .unwrap()
        .expect("the short URL is known");
    assert!((300..400).contains(&short.http_status), "{short:?}");
    drop(store);

    // Every request over HTTP/2, one host's requests at least the delay apart.
    for r in &log {
        assert_eq!(r.version, "HTTP/2.0", "{}", r.target);
    }
    for pair in log.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= DELAY, "gap of {gap:?} before {}", pair[1].target);
    }

    // A second run asks conditionally, and the unchanged site answers 304.
    let before = log.len();
    crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the second TLS crawl runs");
    let again = secure.requests();
    let rechecked: Vec<_> = again[before..]
        .iter()
        .filter(|r| r.target.starts_with("/www/"))
        .collect();
    assert!(!rechecked.is_empty());
    assert!(rechecked.iter().all(|r| r.status == 304), "{rechecked:?}");
    assert_eq!(read_records(dir.path()).len(), records.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_offering_only_http1_is_crawled_over_http1() {
    let ca = TestCa::new();
    let keys = tempfile::tempdir().unwrap();
    let ca_file = ca.write(keys.path());
    let secure = tls_server(ca.identity(&[], false, false)).await;
    let dir = tempfile::tempdir().unwrap();
    crawl_text(
        &config(secure.origin(), Some(&ca_file), ""),
        dir.path(),
        DELAY,
    )
    .await
    .expect("the crawl runs");
    let log = secure.requests();
    assert!(log.len() > 10);
    assert!(log.iter().all(|r| r.version == "HTTP/1.1"));
    assert!(!read_records(dir.path()).is_empty());
}

/// Crawls a TLS server whose certificate the crawler must refuse; returns the records
/// written and the reason `status` gives for the host's queued URLs.
async fn refused_crawl(
    identity: TlsIdentity,
    ca_file: Option<&std::path::Path>,
) -> (usize, String) {
    let secure = tls_server(identity).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config(secure.origin(), ca_file, "").replacen(
        "[politeness]\n",
        "[politeness]\nmax_retries = 1\nerror_backoff = \"100ms\"\n",
        1,
    );
    let (_, store) = crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the crawl ends");
    assert!(secure.requests().is_empty(), "{:?}", secure.requests());
    let seed = format!("{}/", secure.origin());
    let state = store.url_state(&seed).unwrap().expect("the seed is known");
    assert_eq!(state.status, UrlStatus::Queued, "{state:?}");
    // `status` says why the host's URLs wait.
    let status = newscrawl::report::status(&*store, 5).unwrap();
    let authority = secure.origin().trim_start_matches("https://");
    let queued = status
        .queued_hosts
        .iter()
        .find(|h| h.host == authority)
        .expect("the host's URLs stay queued");
    let error = queued.robots_error.clone().unwrap_or_default();
    assert!(status.to_string().contains(&error));
    (read_records(dir.path()).len(), error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_failures_are_named_and_nothing_is_fetched() {
    let ca = TestCa::new();
    let keys = tempfile::tempdir().unwrap();
    let ca_file = ca.write(keys.path());
    for (identity, ca_file, named) in [
        // The CA is not trusted.
        (ca.identity(&[], false, true), None, "unknown issuer"),
        // Trusted, but expired.
        (ca.identity(&[], true, true), Some(&ca_file), "expired"),
        // Trusted, but for another name.
        (
            ca.identity(&["news.example"], false, true),
            Some(&ca_file),
            "not valid for this host name",
        ),
    ] {
        let (records, error) = refused_crawl(identity, ca_file.map(|p| p.as_path())).await;
        assert_eq!(records, 0, "{named}");
        assert!(
            error.contains("TLS") && error.contains(named),
            "{named}: {error:?}"
        );
    }
}

#[test]
fn a_ca_file_that_holds_no_certificate_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "-----BEGIN NOTHING-----\n").unwrap();
    let text = config("https://127.0.0.1:1", Some(&path), "");
    let err = newscrawl::config::ConfigFile::parse(&text, "test.toml")
        .unwrap()
        .validate(
            "test.toml",
            &newscrawl::config::Overrides {
                state_dir: Some(dir.path().to_path_buf()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("crawler.ca_file") && err.contains("ca.pem"),
        "{err}"
    );
}

/// A plain HTTP server that answers every request with a permanent redirect to the
/// same path at `target` (a site that moved to https).
async fn mover(target: String) -> (String, common::RequestLog) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log = common::RequestLog::default();
    let seen = log.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (target, seen) = (target.clone(), seen.clone());
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            seen.lock().unwrap().push(path.clone());
            axum::response::Redirect::permanent(&format!("{target}{path}"))
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_that_moved_to_https_is_one_site() {
    let ca = TestCa::new();
    let keys = tempfile::tempdir().unwrap();
    let ca_file = ca.write(keys.path());
    let secure = tls_server(ca.identity(&[], false, true)).await;
    let (old, old_log) = mover(secure.origin().to_string()).await;
    let site = secure.site();
    // The old home page and an article's old URL, which the new site also links: a
    // twin of one article under both schemes.
    let article = FixtureSite::article_path(&site, &site.articles[0]);
    let new_host = secure.origin().trim_start_matches("https://").to_string();
    let old_host = old.trim_start_matches("http://").to_string();
    let text = config(&old, Some(&ca_file), "").replacen(
        &format!("seeds = [\"{old}/\"]"),
        &format!("seeds = [\"{old}/\", \"{old}{article}\"]\nallowed_hosts = [\"{old_host}\", \"{new_host}\"]"),
        1,
    );
    assert!(text.contains("allowed_hosts"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the crawl runs");

    // Records once each, all under https.
    let records = read_records(dir.path());
    assert!(!records.is_empty());
    let urls: BTreeSet<&str> = records.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls.len(), records.len(), "a record written twice");
    assert!(records.iter().all(|r| r.url.starts_with("https://")));
    assert!(urls.contains(format!("{}{article}", secure.origin()).as_str()));
    // The old URLs are aliases of the new ones.
    for path in ["/", article.as_str()] {
        let state = store
            .url_state(&format!("{old}{path}"))
            .unwrap()
            .expect("the old URL is known");
        assert_eq!(state.status, UrlStatus::Alias, "{path}: {state:?}");
        assert_eq!(
            state.alias_of.as_deref(),
            Some(format!("{}{path}", secure.origin()).as_str())
        );
    }
    // robots.txt of the https origin decides: asked for through the old host's redirect
    // too, and nothing it disallows is requested.
    assert!(old_log.lock().unwrap().iter().any(|p| p == "/robots.txt"));
    let log = secure.requests();
    assert!(log.iter().any(|r| r.target == "/robots.txt"));
    for r in &log {
        assert!(
            !FixtureSite::disallows(&r.target),
            "requested disallowed {}",
            r.target
        );
    }
    // The twin was fetched once, under https.
    assert_eq!(log.iter().filter(|r| r.target == article).count(), 1);
}
