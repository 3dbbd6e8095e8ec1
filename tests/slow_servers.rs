//! Slow and failing URLs never starve a host's good pages: a URL that failed waits
//! for its next try behind the URLs queued on its host, and a one-shot crawl that ends
//! before a retry is due leaves it queued (persisted) and says so.
//! Every figure comes from the server's own log or the store, never from timing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use newscrawl::store::{Store, UrlStatus};

/// The ways a URL of the host misbehaves, and what its state's note must say.
const STALLS: [(&str, &str); 10] = [
    ("/bad/silent-after-headers", "no byte came for"),
    ("/bad/no-answer", "no byte came for"),
    ("/bad/trickle", "the whole request took over"),
    ("/bad/reset", "reset"),
    ("/bad/empty-reply", "request failed"),
    ("/bad/truncated", "request failed"),
    ("/bad/half-head", "no byte came for"),
    ("/bad/500", "HTTP 500"),
    ("/bad/503", "HTTP 503"),
    ("/bad/429", "HTTP 429"),
];

const ARTICLE: &str = "<html><head><title>Council approves the harbour budget</title></head><body><article><h1>Council approves the harbour budget</h1><p>The city council approved the harbour budget on Monday after a long debate about the ferry terminal.</p><p>Work on the terminal starts in spring and is to last two years.</p></article></body></html>";

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Waits until the client goes away.
async fn until_closed(stream: &mut TcpStream) {
    let _ = stream.read(&mut [0u8; 1]).await;
}

/// The paths a host was asked for, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// Reads a request's head and logs its path.
async fn read_path(stream: &mut TcpStream, log: &Log) -> Option<String> {
    let head = common::read_head(stream).await?;
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(path.clone());
    Some(path)
}

async fn serve(mut stream: TcpStream, log: Log) {
    let Some(path) = read_path(&mut stream, &log).await else {
        return;
    };
    match path.as_str() {
        "/robots.txt" => respond(&mut stream, "404 Not Found", "").await,
        "/" => {
            // The bad URLs first: they are tried before the good ones.
            let mut links: Vec<String> = STALLS.iter().map(|(p, _)| p.to_string()).collect();
            links.extend((1..=10).map(|i| format!("/good/{i}")));
            let body: String = links
                .iter()
                .map(|l| format!("<a href=\"{l}\">{l}</a> "))
                .collect();
            respond(
                &mut stream,
                "200 OK",
                &format!("<html><body>{body}</body></html>"),
            )
            .await
        }
        "/bad/silent-after-headers" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<html>")
                .await;
            until_closed(&mut stream).await;
        }
        "/bad/no-answer" => until_closed(&mut stream).await,
        "/bad/half-head" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Ty").await;
            until_closed(&mut stream).await;
        }
        "/bad/trickle" => {
            // A byte every 50 ms: moving, so only the whole-request cap ends it.
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n",
                )
                .await;
            let mut pace = tokio::time::interval(Duration::from_millis(50));
            for _ in 0..100_000 {
                pace.tick().await;
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
            }
        }
        "/bad/reset" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html><body><p>")
                .await;
            let _ = stream.write_all(&[b'a'; 1000]).await;
            let _ = stream.flush().await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        "/bad/empty-reply" => drop(stream),
        "/bad/truncated" => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5000\r\n\r\n<html><body><p>cut")
                .await;
            let _ = stream.shutdown().await;
        }
        "/bad/500" => respond(&mut stream, "500 Internal Server Error", "oops").await,
        "/bad/503" => respond(&mut stream, "503 Service Unavailable", "busy").await,
        "/bad/429" => respond(&mut stream, "429 Too Many Requests", "slow down").await,
        good => {
            let page = ARTICLE.replace("</article>", &format!("<p>Filed as {good}.</p></article>"));
            respond(&mut stream, "200 OK", &page).await
        }
    }
}

/// A host on 127.0.0.1 and a free port that answers each connection with `handle`;
/// returns its origin and request log.
async fn host<F>(handle: fn(TcpStream, Log) -> F) -> (String, Log)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let served = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, served.clone()));
        }
    });
    (origin, log)
}

/// Never answers: reads the request and waits for the client to leave.
async fn silent(mut stream: TcpStream, log: Log) {
    if read_path(&mut stream, &log).await.is_some() {
        until_closed(&mut stream).await;
    }
}

fn config(origin: &str, retry_delay: &str) -> String {
    format!(
        r#"
[crawler]
request_timeout = "1500ms"
read_timeout = "300ms"
connect_timeout = "1s"

[politeness]
adaptive = false
max_retries = 1
error_backoff = "10ms"
max_delay = "100ms"
retry_delay = "{retry_delay}"

[[site]]
name = "slow"
seeds = ["{origin}/"]
section_patterns = ["^/$"]
article_patterns = ["^/(good|bad)/"]
robots_sitemaps = false
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_pages_are_written_before_any_failed_url_is_tried_again() {
    let (origin, log) = host(serve).await;
    let dir = tempfile::tempdir().unwrap();
    let (summary, store) = common::crawl_text(
        &config(&origin, "0s"),
        dir.path(),
        Duration::from_millis(20),
    )
    .await
    .expect("the crawl ends");
    let log = log.lock().unwrap().clone();

    // Every good article was requested (and written) before the first second try.
    let first_retry = log
        .iter()
        .enumerate()
        .position(|(i, p)| p.starts_with("/bad/") && log[..i].contains(p))
        .expect("the bad URLs are tried again");
    let last_good = log
        .iter()
        .rposition(|p| p.starts_with("/good/"))
        .expect("the good URLs are requested");
    assert!(last_good < first_retry, "{log:?}");
    let records = common::read_records(dir.path());
    assert_eq!(records.len(), 10, "{records:?}");

    // Each bad URL: two tries (max_retries = 1), then Failed with a note that says how.
    for (path, how) in STALLS {
        let tries = log.iter().filter(|p| *p == path).count();
        assert_eq!(tries, 2, "{path}: {log:?}");
        let state = store
            .url_state(&format!("{origin}{path}"))
            .unwrap()
            .expect("the URL is known");
        let note = state.note.clone().unwrap_or_default();
        assert_eq!(state.status, UrlStatus::Failed, "{path}: {state:?}");
        assert!(note.contains(how), "{path}: {note:?} lacks {how:?}");
    }
    assert_eq!(summary.stats.failed, 10);
    assert_eq!(summary.stats.retried, 10);
    assert_eq!(summary.retries_waiting, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_crawl_leaves_retries_not_yet_due_queued_across_restarts() {
    let (origin, log) = host(serve).await;
    let dir = tempfile::tempdir().unwrap();
    // A retry a minute away: the crawl ends before it falls due.
    let text = config(&origin, "1m").replace("^/(good|bad)/", "^/(good/|bad/50)");
    let (summary, store) = common::crawl_text(&text, dir.path(), Duration::from_millis(20))
        .await
        .expect("the crawl ends");
    let bad = format!("{origin}/bad/500");
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/bad/500")
            .count(),
        1
    );
    assert_eq!(common::read_records(dir.path()).len(), 10);
    assert_eq!(summary.retries_waiting, 2, "/bad/500 and /bad/503");
    assert!(
        summary
            .to_string()
            .contains("2 retries not yet due left queued"),
        "{summary}"
    );
    let state = store.url_state(&bad).unwrap().unwrap();
    assert_eq!((state.status, state.attempts), (UrlStatus::Queued, 1));
    assert_eq!(state.note.as_deref(), Some("attempt 1 failed: HTTP 500"));
    drop(store);

    // The next run finds them still waiting: the due time was stored with them.
    let (summary, _) = common::crawl_text(&text, dir.path(), Duration::from_millis(20))
        .await
        .expect("the crawl ends");
    assert_eq!(summary.retries_waiting, 2);
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with("/bad/"))
            .count(),
        2,
        "neither is tried before it is due"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robots_txt_that_never_answers_blocks_its_host_and_leaves_its_urls_queued() {
    let (origin, log) = host(silent).await;
    let dir = tempfile::tempdir().unwrap();
    let (summary, store) = common::crawl_text(
        &config(&origin, "0s"),
        dir.path(),
        Duration::from_millis(20),
    )
    .await
    .expect("the crawl ends");
    // robots.txt, tried 1 + max_retries times; nothing else.
    assert_eq!(*log.lock().unwrap(), ["/robots.txt", "/robots.txt"]);
    assert_eq!(summary.stats.requests, 0);
    let seed = store.url_state(&format!("{origin}/")).unwrap().unwrap();
    assert_eq!(seed.status, UrlStatus::Queued);
    let host = origin.trim_start_matches("http://");
    let copy = store.host(host).unwrap().unwrap().robots.unwrap();
    assert_eq!(
        copy.error.as_deref(),
        Some("timed out: no byte came for 300ms"),
        "{copy:?}"
    );
}
