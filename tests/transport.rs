//! How requests travel: through a proxy (`crawler.proxy`, or `HTTPS_PROXY` /
//! `HTTP_PROXY` / `NO_PROXY` from the environment), with a site's own cookie jar
//! (`cookies = true`, for a consent cookie) and a site's extra headers. The proxy is a
//! small forwarding proxy started here (CONNECT for https, absolute-form for http); its
//! log says what went through it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use common::{crawl_text, demo_config_text, read_records};

const DELAY: Duration = Duration::from_millis(10);

type Log = Arc<Mutex<Vec<String>>>;

/// A forwarding proxy on loopback: `CONNECT host:port` opens a tunnel, an
/// absolute-form request is passed to its host. Logs `CONNECT host:port` or `GET url`.
async fn proxy() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log = Log::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let Some(read) = common::read_head(&mut client).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&read).into_owned();
                let mut words = head.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                seen.lock().unwrap().push(format!("{method} {target}"));
                let authority = if method == "CONNECT" {
                    target.to_string()
                } else {
                    let rest = target.trim_start_matches("http://");
                    rest[..rest.find('/').unwrap_or(rest.len())].to_string()
                };
                let Ok(mut server) = TcpStream::connect(authority.as_str()).await else {
                    return;
                };
                if method == "CONNECT" {
                    let _ = client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                } else if server.write_all(&read).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (origin, log)
}

async fn fixture() -> FixtureServer {
    let site = Arc::new(FixtureSite::new(FixtureSpec {
        articles: 6,
        ..FixtureSpec::default()
    }));
    FixtureServer::start(site, [127, 0, 0, 1].into(), 0)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_proxy_carries_every_request() {
    let (proxy, log) = proxy().await;
    let server = fixture().await;
    let text = demo_config_text(server.origin(), "").replacen(
        "[crawler]\n",
        &format!("[crawler]\nproxy = \"{proxy}\"\n"),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the crawl runs");
    assert!(!read_records(dir.path()).is_empty());
    let through = log.lock().unwrap().clone();
    let robots = format!("GET {}/robots.txt", server.origin());
    assert!(through.contains(&robots), "{through:?}");
    // Every request the site saw came through the proxy (one line per connection:
    // keep-alive carries several requests).
    assert!(!through.is_empty() && through.len() <= server.requests().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_proxy_url_is_a_config_error() {
    let text = demo_config_text("http://127.0.0.1:1", "").replacen(
        "[crawler]\n",
        "[crawler]\nproxy = \"not a url\"\n",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = crawl_text(&text, dir.path(), DELAY).await else {
        panic!("a crawl with a bad proxy URL ran");
    };
    assert!(err.contains("crawler.proxy"), "{err}");
}

/// Runs the binary on the fixture with `env` set (and the proxy variables of this
/// process removed); returns what went through the proxy.
async fn crawl_with_env(env: &[(&str, String)]) -> Vec<String> {
    let (proxy, log) = proxy().await;
    let server = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_newscrawl"));
    command
        .args([
            "crawl",
            "--parser",
            "links",
            "--min-delay",
            "10ms",
            "--seed",
        ])
        .arg(format!("{}/", server.origin()))
        .arg("--state")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value.replace("{proxy}", &proxy));
    }
    let status = command.status().await.unwrap();
    assert!(status.success());
    assert!(!server.requests().is_empty(), "the site was crawled");
    let through = log.lock().unwrap().clone();
    through
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environments_proxy_and_no_proxy_are_honoured() {
    let through = crawl_with_env(&[("HTTP_PROXY", "{proxy}".into())]).await;
    assert!(
        through.iter().any(|l| l.ends_with("/robots.txt")),
        "{through:?}"
    );
    let through = crawl_with_env(&[
        ("HTTP_PROXY", "{proxy}".into()),
        ("NO_PROXY", "127.0.0.1".into()),
    ])
    .await;
    assert!(through.is_empty(), "{through:?}");
}

/// A site behind a consent cookie: `/` sets it, articles answer 403 without it. Logs
/// the `Accept-Language` of each article request.
async fn consent_site() -> (String, Log) {
    let languages = Log::default();
    let seen = languages.clone();
    let article = move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            let language = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            seen.lock().unwrap().push(language);
            let consent = headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.contains("consent=yes"));
            if !consent {
                return StatusCode::FORBIDDEN.into_response();
            }
            let para = "<p>The council voted on Tuesday to keep the old library open for another decade, after months of debate.</p>";
            axum::response::Html(format!(
                "<html><body><article><h1>Library stays open</h1>{para}{para}{para}</article></body></html>"
            ))
            .into_response()
        }
    };
    let app = Router::new()
        .route("/robots.txt", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/",
            get(|| async {
                (
                    [(header::SET_COOKIE, "consent=yes; Path=/")],
                    axum::response::Html(
                        "<html><body><h1>Home</h1><a href=\"/news/1.html\">one</a> <a href=\"/news/2.html\">two</a></body></html>",
                    ),
                )
            }),
        )
        .route("/news/{id}", get(article));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, languages)
}

fn consent_config(origin: &str, extra: &str) -> String {
    format!(
        r#"[crawler]
user_agent = "newscrawl-test/1.0 (+https://example.invalid/bot)"
[[site]]
name = "consent"
seeds = ["{origin}/"]
section_patterns = ['^/$']
article_patterns = ['^/news/']
{extra}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sites_cookie_jar_and_headers_go_with_its_pages_only_when_asked() {
    // Without `cookies`: the articles stay behind the consent wall.
    let (origin, languages) = consent_site().await;
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&consent_config(&origin, ""), dir.path(), DELAY)
        .await
        .expect("the crawl runs");
    assert!(read_records(dir.path()).is_empty());
    assert!(languages.lock().unwrap().iter().all(String::is_empty));

    // With them: the cookie `/` set goes back, and so does the site's header.
    let (origin, languages) = consent_site().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "cookies = true\nheaders = { \"Accept-Language\" = \"de-CH\" }";
    crawl_text(&consent_config(&origin, extra), dir.path(), DELAY)
        .await
        .expect("the crawl runs");
    assert_eq!(read_records(dir.path()).len(), 2);
    let sent = languages.lock().unwrap().clone();
    assert!(
        !sent.is_empty() && sent.iter().all(|l| l == "de-CH"),
        "{sent:?}"
    );
}

#[test]
fn a_header_that_is_not_http_is_a_config_error() {
    let text = consent_config("http://127.0.0.1:1", "headers = { \"Bad Name\" = \"x\" }");
    let err = newscrawl::config::ConfigFile::parse(&text, "test.toml")
        .unwrap()
        .validate("test.toml", &newscrawl::config::Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("headers.Bad Name"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_the_proxy_in_a_connect_tunnel() {
    let (proxy, log) = proxy().await;
    let ca = common::ca::TestCa::new();
    let keys = tempfile::tempdir().unwrap();
    let ca_file = ca.write(keys.path());
    let secure = common::ca::tls_server(ca.identity(&[], false, true)).await;
    let text = demo_config_text(secure.origin(), "").replacen(
        "[crawler]\n",
        &format!(
            "[crawler]\nproxy = \"{proxy}\"\nca_file = {:?}\n",
            ca_file.display().to_string()
        ),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&text, dir.path(), DELAY)
        .await
        .expect("the crawl runs");
    assert!(!read_records(dir.path()).is_empty());
    let authority = secure.origin().trim_start_matches("https://");
    let through = log.lock().unwrap().clone();
    assert!(
        !through.is_empty() && through.iter().all(|l| *l == format!("CONNECT {authority}")),
        "{through:?}"
    );
}
