//! The fetcher against a loopback server: compression, the size cap on decoded bytes,
//! one request per fetch (no redirect following), and the private-address guard.

use std::io::Write;
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use newscrawl::fetch::{FetchError, FetchSettings, Fetcher, Validators};
use newscrawl::netguard::AddressPolicy;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn serve() -> String {
    let page = "<html><body><p>compressed news</p></body></html>".repeat(10);
    let small_gz = gzip(page.as_bytes());
    let bomb = gzip(&vec![b'a'; 4 * 1024 * 1024]);
    let app = Router::new()
        .route(
            "/gz",
            get(move || async move {
                (
                    [
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::CONTENT_TYPE, "text/html"),
                    ],
                    small_gz,
                )
            }),
        )
        .route(
            "/bomb",
            get(move || async move {
                (
                    [
                        (header::CONTENT_ENCODING, "gzip"),
                        (header::CONTENT_TYPE, "text/html"),
                    ],
                    bomb,
                )
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 2 * 1024 * 1024] }))
        .route(
            "/moved",
            get(|| async {
                (
                    axum::http::StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "/gz")],
                    "",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

fn fetcher() -> Fetcher {
    fetcher_with(AddressPolicy::default())
}

fn fetcher_with(policy: AddressPolicy) -> Fetcher {
    Fetcher::new(&FetchSettings {
        user_agent: "newscrawl-test/0.1 (+https://example.org/)".into(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_body_bytes: 1024 * 1024,
        address_policy: std::sync::Arc::new(policy),
        extra_roots: Vec::new(),
        proxy: None,
        sites: Vec::new(),
    })
    .unwrap()
}

/// A server that sends the head of a 200 with a 20-byte body, then the body one byte
/// every `every` (or never, for `None`).
async fn trickling_server(every: Option<Duration>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head =
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                match every {
                    // The behaviour under test: a body paced at one byte per `every`.
                    Some(every) => {
                        let mut pace = tokio::time::interval(every);
                        pace.tick().await;
                        for _ in 0..20 {
                            pace.tick().await;
                            if stream.write_all(b"x").await.is_err() {
                                return;
                            }
                        }
                    }
                    // Silence, until the client gives up.
                    None => {
                        let _ = stream.read(&mut buf).await;
                    }
                }
            });
        }
    });
    origin
}

fn fetcher_with_timeouts(request: Duration, read: Duration) -> Fetcher {
    Fetcher::new(&FetchSettings {
        user_agent: "newscrawl-test/0.1 (+https://example.org/)".into(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: request,
        read_timeout: read,
        max_body_bytes: 1024 * 1024,
        address_policy: std::sync::Arc::new(AddressPolicy::default()),
        extra_roots: Vec::new(),
        proxy: None,
        sites: Vec::new(),
    })
    .unwrap()
}

#[tokio::test]
async fn a_stalled_body_is_cut_by_the_idle_timer_and_a_slow_one_is_read() {
    let stalled = trickling_server(None).await;
    let url = url::Url::parse(&format!("{stalled}/page")).unwrap();
    let err = fetcher_with_timeouts(Duration::from_secs(60), Duration::from_millis(300))
        .get(&url, &Validators::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FetchError::Timeout(how) if how.starts_with("no byte came")),
        "{err}"
    );

    // Twenty bytes over about two seconds: never idle for the read timeout.
    let slow = trickling_server(Some(Duration::from_millis(100))).await;
    let url = url::Url::parse(&format!("{slow}/page")).unwrap();
    let response = fetcher_with_timeouts(Duration::from_secs(60), Duration::from_secs(5))
        .get(&url, &Validators::default())
        .await
        .unwrap();
    assert_eq!(response.body.len(), 20);
}

/// With the guard on, only the allowed host may be a private address: another
/// loopback literal is refused before any connection, a name that resolves to
/// loopback is refused by the resolver, and schemes other than http(s) never go out.
#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let origin = serve().await;
    let port = url::Url::parse(&origin).unwrap().port().unwrap();
    let f = fetcher_with(AddressPolicy {
        block_private: true,
        allowed: ["127.0.0.1".to_string()].into(),
    });
    let get = |u: String| {
        let f = f.clone();
        async move {
            f.get(&url::Url::parse(&u).unwrap(), &Validators::default())
                .await
        }
    };
    let allowed = get(format!("{origin}/gz")).await.unwrap();
    assert_eq!(allowed.status, 200);
    for target in [
        format!("http://127.0.0.2:{port}/gz"),
        format!("http://localhost:{port}/gz"),
        format!("http://[::1]:{port}/gz"),
        "file:///etc/passwd".to_string(),
    ] {
        match get(target.clone()).await {
            Err(FetchError::Refused(reason)) => assert!(reason.starts_with("refused"), "{reason}"),
            other => panic!("{target}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn gzip_bodies_are_decoded_and_capped_by_decoded_size() {
    let origin = serve().await;
    let f = fetcher();
    let url = |p: &str| url::Url::parse(&format!("{origin}{p}")).unwrap();
    let page = f.get(&url("/gz"), &Validators::default()).await.unwrap();
    assert_eq!(page.status, 200);
    assert!(String::from_utf8(page.body)
        .unwrap()
        .starts_with("<html><body><p>compressed news"));
    let limit = 1024 * 1024;
    assert_eq!(
        f.get(&url("/bomb"), &Validators::default())
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit }
    );
    assert_eq!(
        f.get(&url("/big"), &Validators::default())
            .await
            .unwrap_err(),
        FetchError::TooLarge { limit }
    );
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let origin = serve().await;
    let url = url::Url::parse(&format!("{origin}/moved")).unwrap();
    let response = fetcher().get(&url, &Validators::default()).await.unwrap();
    assert_eq!(response.status, 301);
    assert_eq!(
        response.location.as_deref(),
        Some(format!("{origin}/gz").as_str())
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = url::Url::parse(&format!("http://{addr}/")).unwrap();
    let err = fetcher()
        .get(&url, &Validators::default())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
}
