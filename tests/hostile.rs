//! Hostile and broken servers. A raw-socket fault server on loopback has one behaviour
//! per path (and, for robots.txt, one per port: robots.txt is per host); one crawl
//! meets all of them. Each test below checks one behaviour's recorded outcome; the
//! last ones check that the crawl went on past every one of them and that every URL
//! it took on ended settled, or queued for the next run with its reason recorded.
//!
//! The crawl runs once, on its own thread and runtime, the first time a test asks for
//! its outcome; the tests only read what it left behind.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use newscrawl::record::Article;
use newscrawl::store::{HostRecord, Store, UrlState, UrlStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;

/// What one listener does: the main site, or a host whose robots.txt is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Personality {
    Main,
    /// robots.txt is 64 KiB of binary noise.
    BinaryRobots,
    /// robots.txt is 10 MB: a real rule up front, then comment lines.
    HugeRobots,
    /// robots.txt is an HTML error page served with 200.
    HtmlRobots,
    /// A calendar whose every day links the next and the previous one.
    Calendar,
}

/// Requests the servers received: (personality, request target).
type Log = Arc<Mutex<Vec<(Personality, String)>>>;

struct Outcome {
    main: String,
    huge_robots: String,
    binary_robots: String,
    html_robots: String,
    calendar: String,
    refused: String,
    states: HashMap<String, UrlState>,
    hosts: HashMap<String, HostRecord>,
    records: Vec<Article>,
    requests: Vec<(Personality, String)>,
    /// The crawl's summary (or its error): records written and delivered.
    summary: Result<newscrawl::crawl::Summary, String>,
    _dir: tempfile::TempDir,
}

impl Outcome {
    fn state(&self, url: &str) -> &UrlState {
        self.states
            .get(url)
            .unwrap_or_else(|| panic!("no state for {url}; have {:?}", self.states.keys()))
    }

    fn main_state(&self, path: &str) -> &UrlState {
        self.state(&format!("{}{path}", self.main))
    }

    fn requested(&self, who: Personality, target: &str) -> usize {
        self.requests
            .iter()
            .filter(|(p, t)| *p == who && t == target)
            .count()
    }

    fn record(&self, path: &str) -> Option<&Article> {
        let url = format!("{}{path}", self.main);
        self.records.iter().find(|r| r.url == url)
    }
}

fn outcome() -> &'static Outcome {
    static OUTCOME: OnceLock<Outcome> = OnceLock::new();
    OUTCOME.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(run_crawl())
        })
        .join()
        .expect("the crawl thread panicked")
    })
}

const ARTICLE: &str = "<html><head><title>Council approves the harbour budget</title></head><body><article><h1>Council approves the harbour budget</h1><p>The city council approved the harbour budget on Monday after a long debate about the cost of dredging the old channel and repairing the north pier.</p><p>Members said the work would start in spring and last two years, with the ferry service kept running throughout.</p></article></body></html>";

/// The main site's index: a link to every behaviour, then odd and trap-shaped URLs.
fn index(main: &str) -> String {
    let mut links: Vec<String> = [
        "/reset",
        "/stall",
        "/trickle",
        "/loop-a",
        "/to-file",
        "/to-ftp",
        "/to-data",
        "/to-elsewhere",
        "/huge-declared",
        "/huge-chunked",
        "/gzip-bomb",
        "/wrong-type",
        "/no-type",
        "/binary-as-html",
        "/charset-lie",
        "/invalid-utf8",
        "/empty",
        "/deep",
        "/many-links",
        // URLs with odd spellings.
        "/odd/%zz/%2f/caf%c3%a9",
        "/a/b/../../dots",
        "/session;jsessionid=0A1B2C3D?PHPSESSID=abc&id=7",
        "/r/x/r/x/r/story",
        "http://b\u{fc}cher.example/",
        "/after",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    links.push(format!("/long?q={}", "a".repeat(64 * 1024)));
    let mut page = String::from("<html><body><h1>Front page</h1>");
    for link in links {
        page.push_str(&format!("<a href=\"{link}\">x</a>\n"));
    }
    page.push_str(&format!("<a href=\"{main}/after\">again</a></body></html>"));
    page
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A "billion laughs" document: nine levels of ten entity references each.
fn entity_bomb(root: &str, inner: &str) -> String {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 \"lol\">\n");
    for level in 1..10 {
        doc.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">\n",
            format!("&lol{};", level - 1).repeat(10)
        ));
    }
    doc.push_str("]>\n");
    doc.push_str(&root.replace("{}", &inner.replace("{}", "&lol9;")));
    doc
}

/// Answers one request with a complete response; errors mean the client left.
async fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn redirect(stream: &mut TcpStream, location: &str) {
    respond(stream, "302 Found", &[("Location", location)], b"").await;
}

/// Reads a request head; returns its target.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 256 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).map(str::to_string)
}

struct Fixtures {
    main: String,
    gzip_bomb: Vec<u8>,
    many_links: Vec<u8>,
    euc_kr: Vec<u8>,
}

async fn handle(mut stream: TcpStream, who: Personality, log: Log, fx: Arc<Fixtures>) {
    let Some(target) = read_target(&mut stream).await else {
        return;
    };
    log.lock().unwrap().push((who, target.clone()));
    let html = [("Content-Type", "text/html; charset=utf-8")];
    match (who, target.as_str()) {
        (Personality::BinaryRobots, "/robots.txt") => {
            let noise: Vec<u8> = (0..64 * 1024u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "text/plain")],
                &noise,
            )
            .await
        }
        (Personality::HugeRobots, "/robots.txt") => {
            let mut body = b"User-agent: *\nDisallow: /private\n".to_vec();
            while body.len() < 10 * 1024 * 1024 {
                body.extend_from_slice(b"# padding padding padding padding padding padding\n");
            }
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "text/plain")],
                &body,
            )
            .await
        }
        (Personality::HtmlRobots, "/robots.txt") => {
            let page = b"<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Sorry</h1><p>Disallow: this is not a rule</p></body></html>";
            respond(&mut stream, "200 OK", &html, page).await
        }
        (_, "/robots.txt") => respond(&mut stream, "404 Not Found", &[], b"").await,
        (Personality::Calendar, path) => {
            let day: u32 = path
                .strip_prefix("/cal/")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let page = format!(
                "<html><body><a href=\"/cal/{}\">next</a> <a href=\"/cal/{}\">previous</a></body></html>",
                day + 1,
                day.saturating_sub(1)
            );
            respond(&mut stream, "200 OK", &html, page.as_bytes()).await
        }
        (Personality::Main, "/") => {
            respond(&mut stream, "200 OK", &html, index(&fx.main).as_bytes()).await
        }
        (_, "/") | (_, "/after") | (_, "/no-type") => {
            let headers: &[(&str, &str)] = if target == "/no-type" { &[] } else { &html };
            // Each page its own text, so that none is taken for a copy of another.
            let page = ARTICLE.replace(
                "</article>",
                &format!("<p>Filed as {who:?} {target}.</p><a href=\"/private/page\">private</a></article>"),
            );
            respond(&mut stream, "200 OK", headers, page.as_bytes()).await
        }
        (_, "/reset") => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html><body><p>")
                .await;
            let _ = stream.write_all(&[b'a'; 1000]).await;
            let _ = stream.flush().await;
            let _ = stream.set_zero_linger();
            drop(stream); // RST: the connection is reset mid-body
        }
        (_, "/stall") => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<html>")
                .await;
            // Headers sent, then nothing, until the client gives up.
            let _ = stream.read(&mut [0u8; 1]).await;
        }
        (_, "/trickle") => {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n",
                )
                .await;
            // The behaviour under test: a body paced at one byte a second, so that
            // every read succeeds and only a whole-request timeout can end it.
            let mut pace = tokio::time::interval(Duration::from_secs(1));
            for _ in 0..1000 {
                pace.tick().await;
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
            }
        }
        (_, "/loop-a") => redirect(&mut stream, "/loop-b").await,
        (_, "/loop-b") => redirect(&mut stream, "/loop-a").await,
        (_, "/to-file") => redirect(&mut stream, "file:///etc/passwd").await,
        (_, "/to-ftp") => redirect(&mut stream, "ftp://127.0.0.1/pub/x").await,
        (_, "/to-data") => redirect(&mut stream, "data:text/html,<a href=/x>x</a>").await,
        (_, "/to-elsewhere") => redirect(&mut stream, "http://127.0.0.9:9/inside").await,
        (_, "/huge-declared") => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2147483648\r\n\r\n")
                .await;
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..(2u64 << 30) / chunk.len() as u64 {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
        (_, "/huge-chunked") => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let mut chunk = format!("{:x}\r\n", 64 * 1024).into_bytes();
            chunk.extend_from_slice(&[b' '; 64 * 1024]);
            chunk.extend_from_slice(b"\r\n");
            for _ in 0..(2u64 << 30) / (64 * 1024) {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
        (_, "/gzip-bomb") => {
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
                &fx.gzip_bomb,
            )
            .await
        }
        (_, "/wrong-type") => {
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/octet-stream")],
                ARTICLE.as_bytes(),
            )
            .await
        }
        (_, "/binary-as-html") => {
            let noise: Vec<u8> = (0..64 * 1024u32)
                .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
                .collect();
            respond(&mut stream, "200 OK", &html, &noise).await
        }
        (_, "/charset-lie") => respond(&mut stream, "200 OK", &html, &fx.euc_kr).await,
        (_, "/invalid-utf8") => {
            let mut page = ARTICLE
                .replace("harbour budget on", "harbour \u{e9}t\u{e9} budget on")
                .into_bytes();
            let at = page.windows(6).position(|w| w == b"spring").unwrap();
            page.splice(at..at, [0xff, 0xfe, b' ', 0xc3]);
            respond(&mut stream, "200 OK", &html, &page).await
        }
        (_, "/empty") => respond(&mut stream, "200 OK", &html, b"").await,
        (_, "/deep") => {
            let depth = 100_000;
            let mut page = String::from("<html><body>");
            page.push_str(&"<div>".repeat(depth));
            page.push_str("<p>Deep inside, the story goes on.</p><a href=\"/after\">after</a>");
            page.push_str(&"</div>".repeat(depth));
            page.push_str("</body></html>");
            respond(&mut stream, "200 OK", &html, page.as_bytes()).await
        }
        (_, "/many-links") => respond(&mut stream, "200 OK", &html, &fx.many_links).await,
        (_, "/sitemap-bad.xml") => {
            let xml = b"<?xml version=\"1.0\"?><urlset><url><loc>/after</loc></url><url><loc>unclosed</url></urlset>";
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/xml")],
                xml,
            )
            .await
        }
        (_, "/sitemap-bomb.xml") => {
            let xml = entity_bomb("<urlset>{}</urlset>", "<url><loc>{}</loc></url>");
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/xml")],
                xml.as_bytes(),
            )
            .await
        }
        (_, "/sitemap-huge.xml") => {
            // Ten million URLs, streamed: about 600 MB, far past the protocol's 50 MB.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let mut batch = String::from("<?xml version=\"1.0\"?><urlset>");
            for i in 0..10_000_000u64 {
                batch.push_str(&format!(
                    "<url><loc>http://elsewhere.example/story/{i}</loc></url>"
                ));
                if batch.len() > 60_000 || i == 9_999_999 {
                    let chunk = format!("{:x}\r\n{batch}\r\n", batch.len());
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    batch.clear();
                }
            }
            let _ = stream.write_all(b"e\r\n</urlset>\r\n\r\n0\r\n\r\n").await;
        }
        (_, "/feed-bad.xml") => {
            let xml = b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</title><item><link>/after</link></channel>";
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/rss+xml")],
                xml,
            )
            .await
        }
        (_, "/feed-bomb.xml") => {
            let xml = entity_bomb(
                "<rss version=\"2.0\"><channel><title>t</title>{}</channel></rss>",
                "<item><title>{}</title><link>/after</link></item>",
            );
            respond(
                &mut stream,
                "200 OK",
                &[("Content-Type", "application/rss+xml")],
                xml.as_bytes(),
            )
            .await
        }
        (_, path)
            if path.starts_with("/m/")
                || path.starts_with("/odd/")
                || path.starts_with("/dots")
                || path.starts_with("/session") =>
        {
            let page = format!("<html><body><p>small page {target}</p></body></html>");
            respond(&mut stream, "200 OK", &html, page.as_bytes()).await
        }
        _ => respond(&mut stream, "404 Not Found", &html, b"<h1>not found</h1>").await,
    }
}

/// A listener on a port the OS picks, and its origin.
async fn bind() -> (String, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (origin, listener)
}

fn spawn_server(listener: TcpListener, who: Personality, log: Log, fx: Arc<Fixtures>) {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, who, log.clone(), fx.clone()));
        }
    });
}

async fn run_crawl() -> Outcome {
    let log: Log = Arc::default();
    let (main, main_listener) = bind().await;
    let many_links = {
        let mut page = String::with_capacity(20 << 20);
        page.push_str("<html><body>");
        for i in 0..1_000_000 {
            page.push_str(&format!("<a href=/m/{i}>{i}</a>"));
        }
        page.push_str("</body></html>");
        page.into_bytes()
    };
    let korean = "<html><head><title>서울 시의회, 항만 예산 승인</title></head><body><article><h1>서울 시의회, 항만 예산 승인</h1><p>서울 시의회는 월요일 긴 논의 끝에 항만 예산을 승인했다. 의원들은 공사가 봄에 시작되어 이 년 동안 계속될 것이라고 말했다.</p><p>여객선 운항은 공사 기간에도 계속된다.</p></article></body></html>";
    let fx = Arc::new(Fixtures {
        main: main.clone(),
        gzip_bomb: gzip(&vec![b' '; 48 << 20]),
        many_links,
        euc_kr: encoding_rs::EUC_KR.encode(korean).0.into_owned(),
    });
    spawn_server(main_listener, Personality::Main, log.clone(), fx.clone());
    let mut origins = HashMap::new();
    for who in [
        Personality::BinaryRobots,
        Personality::HugeRobots,
        Personality::HtmlRobots,
        Personality::Calendar,
    ] {
        let (origin, listener) = bind().await;
        spawn_server(listener, who, log.clone(), fx.clone());
        origins.insert(format!("{who:?}"), origin);
    }
    // A port nothing listens on: bound, then closed.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let [binary_robots, huge_robots, html_robots, calendar] =
        ["BinaryRobots", "HugeRobots", "HtmlRobots", "Calendar"].map(|k| origins[k].clone());

    let config = format!(
        r#"
[crawler]
max_redirects = 3
max_body_bytes = 30000000
request_timeout = "2s"
connect_timeout = "2s"
max_links_per_page = 50
max_urls_per_host = 120

[politeness]
min_delay = "0s"
adaptive = false
per_host_concurrency = 4
max_retries = 1
retry_delay = "0s"
error_backoff = "10ms"
max_delay = "1s"

[[site]]
name = "hostile"
seeds = ["{main}/", "{binary_robots}/", "{huge_robots}/", "{html_robots}/", "{calendar}/cal/1000", "{refused}/"]
sitemaps = ["{main}/sitemap-bad.xml", "{main}/sitemap-bomb.xml", "{main}/sitemap-huge.xml"]
feeds = ["{main}/feed-bad.xml", "{main}/feed-bomb.xml"]
section_patterns = ["^/$"]
article_patterns = ["^/."]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let result = common::crawl_text(&config, dir.path(), Duration::ZERO).await;
    let (summary, states, hosts) = match result {
        Ok((summary, store)) => {
            let states = store
                .url_states()
                .unwrap()
                .into_iter()
                .map(|s| (s.url.clone(), s))
                .collect();
            let mut hosts = HashMap::new();
            for origin in [
                &main,
                &binary_robots,
                &huge_robots,
                &html_robots,
                &calendar,
                &refused,
            ] {
                let host = origin.trim_start_matches("http://");
                if let Some(record) = store.host(host).unwrap() {
                    hosts.insert(origin.clone(), record);
                }
            }
            drop(store);
            (Ok(summary), states, hosts)
        }
        Err(e) => (Err(e), HashMap::new(), HashMap::new()),
    };
    let requests = log.lock().unwrap().clone();
    Outcome {
        records: common::read_records(dir.path()),
        requests,
        main,
        huge_robots,
        binary_robots,
        html_robots,
        calendar,
        refused,
        states,
        hosts,
        summary,
        _dir: dir,
    }
}

// --- the crawl itself ---

#[test]
fn the_crawl_finishes_and_settles_everything_it_took_on() {
    let o = outcome();
    let summary = o.summary.as_ref().expect("the crawl returns");
    let queued: Vec<_> = o
        .states
        .values()
        .filter(|s| s.status == UrlStatus::Queued)
        .map(|s| s.url.as_str())
        .collect();
    // Only the host that refuses connections keeps its seed, for the next run.
    assert_eq!(queued, [format!("{}/", o.refused)], "{queued:?}");
    let after = o
        .record("/after")
        .expect("the good article after all the bad ones");
    assert_eq!(
        after.title.as_deref(),
        Some("Council approves the harbour budget")
    );
    // Every record the crawl committed reached the output, once.
    assert_eq!(summary.records_delivered, summary.stats.records);
    assert_eq!(o.records.len() as u64, summary.stats.records);
}

// --- connections ---

#[test]
fn connection_refused_leaves_the_host_queued_with_the_reason() {
    let o = outcome();
    let copy = o.hosts[&o.refused].robots.as_ref().unwrap();
    assert_eq!(copy.status, 0);
    assert!(
        copy.error
            .as_deref()
            .unwrap()
            .contains("Connection refused"),
        "{copy:?}"
    );
    assert_eq!(
        o.state(&format!("{}/", o.refused)).status,
        UrlStatus::Queued
    );
}

#[test]
fn a_reset_mid_body_fails_after_its_retry() {
    let o = outcome();
    let state = o.main_state("/reset");
    assert_eq!(state.status, UrlStatus::Failed);
    assert!(
        state.note.as_deref().unwrap().contains("reset"),
        "{state:?}"
    );
    assert_eq!(
        o.requested(Personality::Main, "/reset"),
        2,
        "max_retries = 1"
    );
}

#[test]
fn headers_then_silence_and_one_byte_a_second_both_hit_the_total_timeout() {
    let o = outcome();
    for path in ["/stall", "/trickle"] {
        let state = o.main_state(path);
        assert_eq!(
            (state.status, state.note.as_deref()),
            (
                UrlStatus::Failed,
                Some("timed out: the whole request took over 2s")
            ),
            "{path}"
        );
        assert_eq!(o.requested(Personality::Main, path), 2, "{path}");
    }
}

// --- redirects ---

#[test]
fn a_redirect_loop_ends_with_each_url_requested_once() {
    let o = outcome();
    let (a, b) = (o.main_state("/loop-a"), o.main_state("/loop-b"));
    assert_eq!(a.status, UrlStatus::Alias);
    assert_eq!(a.alias_of, Some(format!("{}/loop-b", o.main)));
    assert_eq!(b.status, UrlStatus::Alias);
    assert_eq!(b.alias_of, Some(format!("{}/loop-a", o.main)));
    assert_eq!(o.requested(Personality::Main, "/loop-a"), 1);
    assert_eq!(o.requested(Personality::Main, "/loop-b"), 1);
}

#[test]
fn redirects_to_other_schemes_and_hosts_are_recorded_and_not_followed() {
    let o = outcome();
    for (path, scheme) in [
        ("/to-file", "file"),
        ("/to-ftp", "ftp"),
        ("/to-data", "data"),
    ] {
        let state = o.main_state(path);
        assert_eq!(state.status, UrlStatus::Skipped, "{path}");
        let note = state.note.as_deref().unwrap();
        assert!(
            note.contains(&format!("scheme \"{scheme}\" is not http or https")),
            "{note}"
        );
    }
    let away = o.main_state("/to-elsewhere");
    assert_eq!(away.status, UrlStatus::Skipped);
    assert!(away.note.as_deref().unwrap().contains("outside the site"));
    assert!(!o.states.keys().any(|u| u.contains("127.0.0.9")));
}

// --- bodies ---

#[test]
fn bodies_past_the_cap_are_skipped_decoded_bytes_counted() {
    let o = outcome();
    for path in ["/huge-declared", "/huge-chunked", "/gzip-bomb"] {
        let state = o.main_state(path);
        assert_eq!(
            (state.status, state.note.as_deref()),
            (UrlStatus::Skipped, Some("body exceeds 30000000 bytes")),
            "{path}"
        );
        assert_eq!(o.requested(Personality::Main, path), 1, "not retried");
    }
}

#[test]
fn content_types_a_wrong_one_is_believed_a_missing_one_is_sniffed() {
    let o = outcome();
    let wrong = o.main_state("/wrong-type");
    assert_eq!(
        (wrong.status, wrong.note.as_deref()),
        (
            UrlStatus::Skipped,
            Some("not HTML (application/octet-stream)")
        )
    );
    assert_eq!(o.main_state("/no-type").status, UrlStatus::Fetched);
    assert!(o.record("/no-type").is_some());
}

#[test]
fn a_lying_charset_is_corrected_and_stray_bytes_cost_only_themselves() {
    let o = outcome();
    let korean = o.record("/charset-lie").expect("a record");
    assert_eq!(korean.title.as_deref(), Some("서울 시의회, 항만 예산 승인"));
    assert!(korean.body.contains("여객선 운항은"), "{}", korean.body);
    let stray = o.record("/invalid-utf8").expect("a record");
    assert!(stray.body.contains("harbour été budget"), "{}", stray.body);
    assert!(stray.body.contains('\u{fffd}'), "{}", stray.body);
    assert!(stray.body.contains("spring"), "{}", stray.body);
    // Noise served as HTML is parsed (to nothing) like any page.
    assert_eq!(o.main_state("/binary-as-html").status, UrlStatus::Fetched);
    assert!(o.record("/binary-as-html").is_none());
}

#[test]
fn an_empty_200_is_skipped_as_empty() {
    let state = outcome().main_state("/empty");
    assert_eq!(
        (state.status, state.note.as_deref()),
        (UrlStatus::Skipped, Some("empty body"))
    );
}

#[test]
fn html_nested_100000_deep_is_refused_by_the_parser_not_the_stack() {
    let state = outcome().main_state("/deep");
    assert_eq!(state.status, UrlStatus::Failed);
    assert!(
        state
            .note
            .as_deref()
            .unwrap()
            .contains("nested about 100002 elements deep"),
        "{state:?}"
    );
}

#[test]
fn a_million_links_are_read_up_to_the_page_limit() {
    let o = outcome();
    let state = o.main_state("/many-links");
    assert_eq!(state.status, UrlStatus::Fetched);
    assert!(
        state
            .note
            .as_deref()
            .unwrap()
            .starts_with("more than 50 links"),
        "{state:?}"
    );
    let found = o.states.keys().filter(|u| u.contains("/m/")).count();
    assert_eq!(found, 50);
}

// --- robots.txt ---

#[test]
fn a_binary_robots_txt_has_no_rules() {
    let o = outcome();
    assert_eq!(
        o.hosts[&o.binary_robots].robots.as_ref().unwrap().status,
        200
    );
    assert_eq!(
        o.state(&format!("{}/", o.binary_robots)).status,
        UrlStatus::Fetched
    );
    assert_eq!(o.requested(Personality::BinaryRobots, "/private/page"), 1);
}

#[test]
fn a_10_mb_robots_txt_is_read_to_500_kib_and_obeyed() {
    let o = outcome();
    let copy = o.hosts[&o.huge_robots].robots.as_ref().unwrap();
    assert_eq!((copy.status, copy.body.len()), (200, 500 * 1024));
    assert_eq!(o.requested(Personality::HugeRobots, "/robots.txt"), 1);
    assert_eq!(
        o.state(&format!("{}/", o.huge_robots)).status,
        UrlStatus::Fetched
    );
    let private = o.state(&format!("{}/private/page", o.huge_robots));
    assert_eq!(private.status, UrlStatus::RobotsDenied);
    assert_eq!(o.requested(Personality::HugeRobots, "/private/page"), 0);
}

#[test]
fn an_html_error_page_as_robots_txt_has_no_rules() {
    let o = outcome();
    assert_eq!(
        o.state(&format!("{}/", o.html_robots)).status,
        UrlStatus::Fetched
    );
    assert_eq!(o.requested(Personality::HtmlRobots, "/private/page"), 1);
}

// --- sitemaps and feeds ---

#[test]
fn malformed_sitemaps_and_feeds_fail_with_the_place() {
    let o = outcome();
    let sitemap = o.main_state("/sitemap-bad.xml");
    assert_eq!(sitemap.status, UrlStatus::Failed);
    assert!(
        sitemap
            .note
            .as_deref()
            .unwrap()
            .starts_with("not a sitemap: at byte 81"),
        "{sitemap:?}"
    );
    let feed = o.main_state("/feed-bad.xml");
    assert_eq!(feed.status, UrlStatus::Failed);
    assert!(
        feed.note.as_deref().unwrap().starts_with("not a feed"),
        "{feed:?}"
    );
}

#[test]
fn entity_bombs_are_not_expanded() {
    let o = outcome();
    for path in ["/sitemap-bomb.xml", "/feed-bomb.xml"] {
        assert_eq!(o.main_state(path).status, UrlStatus::Fetched, "{path}");
    }
    assert!(!o.states.keys().any(|u| u.contains("lol")));
}

#[test]
fn a_sitemap_of_ten_million_urls_stops_at_the_protocol_limit() {
    let state = outcome().main_state("/sitemap-huge.xml");
    assert_eq!(
        (state.status, state.note.as_deref()),
        (UrlStatus::Skipped, Some("body exceeds 52428800 bytes"))
    );
}

// --- URLs and traps ---

#[test]
fn odd_urls_are_normalized_or_dropped() {
    let o = outcome();
    // Invalid and lower-case escapes: kept as sent, hex upper-cased.
    assert_eq!(
        o.main_state("/odd/%zz/%2F/caf%C3%A9").status,
        UrlStatus::Fetched
    );
    // Dot segments resolved; session ids in path and query removed.
    assert_eq!(o.main_state("/dots").status, UrlStatus::Fetched);
    assert_eq!(o.main_state("/session?id=7").status, UrlStatus::Fetched);
    assert!(!o
        .states
        .keys()
        .any(|u| u.contains("sessionid") || u.contains("SESSID")));
    // Repeated segments, 64 KB URLs and other hosts (an IDN one) never enter.
    assert!(!o.states.keys().any(|u| u.contains("/r/x/r/")));
    assert!(!o.states.keys().any(|u| u.len() > 2048));
    assert!(!o.states.keys().any(|u| u.contains("xn--bcher")));
    assert!(o.requests.iter().all(|(_, target)| target.len() < 2048));
}

#[test]
fn a_calendar_trap_stops_at_the_host_budget() {
    let o = outcome();
    let days = o
        .states
        .keys()
        .filter(|u| u.starts_with(&format!("{}/cal/", o.calendar)))
        .count();
    // The seed, plus the 120 URLs pages may add to a host (crawler.max_urls_per_host).
    assert_eq!(days, 121);
    let requested = o
        .requests
        .iter()
        .filter(|(who, _)| *who == Personality::Calendar)
        .count();
    assert_eq!(requested, 122, "121 days and robots.txt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_depth_stops_a_calendar_trap_at_its_hop_count() {
    let log: Log = Arc::default();
    let (calendar, listener) = bind().await;
    let fx = Arc::new(Fixtures {
        main: calendar.clone(),
        gzip_bomb: Vec::new(),
        many_links: Vec::new(),
        euc_kr: Vec::new(),
    });
    spawn_server(listener, Personality::Calendar, log.clone(), fx);
    let config = format!(
        r#"
[crawler]
max_depth = 3

[politeness]
min_delay = "0s"
adaptive = false

[[site]]
name = "calendar"
seeds = ["{calendar}/cal/1000"]
section_patterns = ["^/cal/"]
article_patterns = []
"#
    );
    let dir = tempfile::tempdir().unwrap();
    common::crawl_text(&config, dir.path(), Duration::ZERO)
        .await
        .expect("the crawl ends");
    let mut days: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(_, target)| target.clone())
        .filter(|t| t != "/robots.txt")
        .collect();
    days.sort();
    // Three hops either way from the seed, each day once.
    let mut expected: Vec<String> = (997..=1003).map(|d| format!("/cal/{d}")).collect();
    expected.sort();
    assert_eq!(days, expected);
}
