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

/// A site on 127.0.0.1 and a free port that serves `robots` as `/robots.txt`, `home`
/// as `/` and a small page for any other path, and logs each request's path (as
/// sent, query included). Returns its origin and its log.
pub async fn logging_site(robots: String, home: String) -> (String, RequestLog) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log = RequestLog::default();
    let pages = Arc::new((robots, home));
    let served = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (log, pages) = (served.clone(), pages.clone());
            tokio::spawn(async move {
                let Some(read) = read_head(&mut stream).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&read).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                log.lock().unwrap().push(path.clone());
                let (kind, body) = match path.as_str() {
                    "/robots.txt" => ("text/plain", pages.0.as_str()),
                    "/" => ("text/html", pages.1.as_str()),
                    _ => ("text/html", "<html><body><p>A page.</p></body></html>"),
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (origin, log)
}

/// A live news site of four sections, each publishing once a second, publishing for
/// `span` from now, on 127.0.0.1 and a free port.
pub async fn busy_live_site(
    span: Duration,
) -> (Arc<newscrawl::fixture::live::LiveSite>, FixtureServer) {
    use newscrawl::fixture::live::{LiveSite, LiveSpec};
    let site = Arc::new(LiveSite::start(LiveSpec {
        rates_per_hour: vec![3600.0; 4],
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

/// Section requests the server logged at or after `unix_ms`.
pub fn section_requests_since(server: &FixtureServer, unix_ms: u64) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.unix_ms >= unix_ms && r.target.starts_with("/section/"))
        .count()
}
