//! robots.txt through the whole crawler: a loopback site whose robots.txt uses the two
//! shapes that once let disallowed paths through (a group continued past other
//! records, and rules written with escapes), and a home page that links every
//! spelling of the disallowed paths. The server's own request log is the judge.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ROBOTS: &str = "User-agent: newscrawl-test\n\
    Sitemap: http://example.invalid/sitemap.xml\n\
    Crawl-delay: 0\n\
    Noindex: /nothing\n\
    User-agent: *\n\
    Disallow: /private/\n\
    Disallow: /%7Euser/\n\
    Disallow: /a%2Fb\n\
    Disallow: /caf%C3%A9/\n";

const HOME: &str = r#"<html><body><h1>Home</h1>
    <a href="/private/a.html">a</a> <a href="/~user/x.html">x</a> <a href="/%7Euser/y.html">y</a>
    <a href="/%7euser/z.html">z</a> <a href="/a%2Fb">encoded slash</a> <a href="/a/b">plain slash</a>
    <a href="/café/menu.html">café</a> <a href="/caf%C3%A9/list.html">escaped café</a>
    <a href="/public/ok.html">ok</a></body></html>"#;

/// Serves ROBOTS, HOME and a small page for anything else; logs each request's path.
async fn serve(listener: TcpListener, log: Arc<Mutex<Vec<String>>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let log = log.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut read = 0;
            while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf[read..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => read += n,
                }
            }
            let head = String::from_utf8_lossy(&buf[..read]).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            log.lock().unwrap().push(path.clone());
            let (kind, body) = match path.as_str() {
                "/robots.txt" => ("text/plain", ROBOTS.to_string()),
                "/" => ("text/html", HOME.to_string()),
                _ => (
                    "text/html",
                    "<html><body><p>A page.</p></body></html>".to_string(),
                ),
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_disallowed_path_is_requested() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(serve(listener, log.clone()));
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[crawler]
user_agent = "newscrawl-test/1.0 (+https://example.invalid/bot)"
[politeness]
min_delay = "10ms"
[[site]]
name = "robots"
seeds = ["{origin}/"]
section_patterns = ['^/$']
article_patterns = ['\.html$', '^/a']
parser = "links"
"#
    );
    common::crawl_text(&config, dir.path(), Duration::from_millis(10))
        .await
        .expect("the crawl runs");
    let requested = log.lock().unwrap().clone();
    for allowed in ["/robots.txt", "/", "/public/ok.html", "/a/b"] {
        assert!(
            requested.iter().any(|p| p == allowed),
            "{allowed} not requested: {requested:?}"
        );
    }
    for path in &requested {
        let decoded = path.to_ascii_lowercase();
        assert!(
            !decoded.starts_with("/private/")
                && !decoded.starts_with("/~user/")
                && !decoded.starts_with("/%7euser/")
                && decoded != "/a%2fb"
                && !decoded.starts_with("/caf%c3%a9/"),
            "{path} is disallowed but was requested: {requested:?}"
        );
    }
}
