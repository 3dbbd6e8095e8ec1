//! Redirects are followed as links: each hop is its own polite request, chains stop at
//! `max_redirects`, targets off the site are never requested, and the private-address
//! guard keeps links and redirects off private hosts nobody allowed.

use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::parse::ParserRegistry;
use newscrawl::store::{SledStore, Store, UrlStatus};

async fn serve(app: Router, ip: [u8; 4]) -> String {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
        .await
        .unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// Runs a one-shot crawl of `config` (TOML) to the end in a fresh state directory.
async fn crawl(config: &str) -> (tempfile::TempDir, Arc<SledStore>) {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        state_dir: Some(dir.path().to_path_buf()),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(config, "test.toml")
        .unwrap()
        .validate("test.toml", &overrides)
        .unwrap();
    let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    Crawler::new(config, store.clone(), ParserRegistry::default())
        .unwrap()
        .run(std::future::pending())
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_chains_are_capped_and_stay_on_the_site() {
    let other_hits = Arc::new(Mutex::new(0));
    let hits = other_hits.clone();
    let other = serve(
        Router::new().fallback(move || {
            *hits.lock().unwrap() += 1;
            async { "elsewhere" }
        }),
        [127, 0, 0, 4],
    )
    .await;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = log.clone();
    let other_for_route = other.clone();
    let app = Router::new()
        .route("/", get(|| async { Html("<a href='/loop/0'>loop</a> <a href='/away'>away</a> <a href='/short'>short</a> <a href='/article'>a</a>") }))
        .route("/loop/{n}", get(|Path(n): Path<u32>| async move {
            (StatusCode::FOUND, [(header::LOCATION, format!("/loop/{}", n + 1))]).into_response()
        }))
        .route("/away", get(move || async move { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, format!("{other_for_route}/x"))]) }))
        .route("/short", get(|| async { (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/article#top")]) }))
        .route("/article", get(|| async { Html("<h1>Story</h1><p>text</p>") }))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            seen.lock().unwrap().push(req.uri().to_string());
            next.run(req)
        }));
    let origin = serve(app, [127, 0, 0, 1]).await;

    let text = format!("[crawler]\nmax_redirects = 3\n[politeness]\nmin_delay = \"0s\"\n[[site]]\nname = \"r\"\nseeds = [\"{origin}/\"]\n");
    let (_dir, store) = crawl(&text).await;

    let requests = log.lock().unwrap().clone();
    let loops: Vec<_> = requests
        .iter()
        .filter(|r| r.starts_with("/loop/"))
        .collect();
    assert_eq!(
        loops,
        ["/loop/0", "/loop/1", "/loop/2", "/loop/3"],
        "{requests:?}"
    );
    let last = store
        .url_state(&format!("{origin}/loop/3"))
        .unwrap()
        .unwrap();
    assert_eq!(last.status, UrlStatus::Failed);
    assert_eq!(last.note.as_deref(), Some("more than 3 redirects"));
    assert!(store
        .url_state(&format!("{origin}/loop/4"))
        .unwrap()
        .is_none());

    // Off-site target: recorded, never requested.
    assert_eq!(*other_hits.lock().unwrap(), 0);
    let away = store.url_state(&format!("{origin}/away")).unwrap().unwrap();
    assert_eq!(away.status, UrlStatus::Skipped);
    assert!(away.note.unwrap().contains("outside the site"));

    // A redirect to a URL the crawl also links to: normalized (fragment dropped),
    // deduped, fetched once.
    assert_eq!(
        requests.iter().filter(|r| *r == "/article").count(),
        1,
        "{requests:?}"
    );
    let short = store
        .url_state(&format!("{origin}/short"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (short.status, short.alias_of),
        (UrlStatus::Alias, Some(format!("{origin}/article")))
    );
}

/// With the private-address guard on, a page and a redirect on the seed's (loopback)
/// host lead to another loopback host that the site lists but nobody allowed to be
/// private: nothing is ever sent there, not even robots.txt, and its URLs are settled
/// with the reason while the rest of the crawl goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_keeps_links_and_redirects_off_private_hosts_nobody_allowed() {
    let other_hits = Arc::new(Mutex::new(0));
    let hits = other_hits.clone();
    let other = serve(
        Router::new().fallback(move || {
            *hits.lock().unwrap() += 1;
            async { "internal" }
        }),
        [127, 0, 0, 4],
    )
    .await;
    let other_for_route = other.clone();
    let other_link = format!("{other}/x");
    let app = Router::new()
        .route("/", get(move || async move { Html(format!("<a href='{other_link}'>x</a> <a href='/away'>away</a> <a href='/article'>a</a>")) }))
        .route("/away", get(move || async move { (StatusCode::FOUND, [(header::LOCATION, format!("{other_for_route}/y"))]) }))
        .route("/article", get(|| async { Html("<h1>Story</h1><p>text</p>") }));
    let origin = serve(app, [127, 0, 0, 1]).await;
    let seed_host = origin.trim_start_matches("http://");
    let other_host = other.trim_start_matches("http://");

    let text = format!(
        "[crawler]\nblock_private_addresses = true\n[politeness]\nmin_delay = \"0s\"\n\
         [[site]]\nname = \"g\"\nseeds = [\"{origin}/\"]\nallowed_hosts = [\"{seed_host}\", \"{other_host}\"]\n"
    );
    let (_dir, store) = crawl(&text).await;

    assert_eq!(
        *other_hits.lock().unwrap(),
        0,
        "a request reached the private host"
    );
    let article = store
        .url_state(&format!("{origin}/article"))
        .unwrap()
        .unwrap();
    assert_eq!(article.status, UrlStatus::Fetched, "the crawl went on");
    for path in ["/x", "/y"] {
        let state = store.url_state(&format!("{other}{path}")).unwrap().unwrap();
        assert_eq!(state.status, UrlStatus::RobotsDenied, "{path}");
        let note = state.note.unwrap_or_default();
        assert!(
            note.contains("refused") && note.contains("127.0.0.4"),
            "{path}: {note}"
        );
    }
}
