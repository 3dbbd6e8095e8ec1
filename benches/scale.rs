//! Scale: does the crawler's CPU per request grow with the number of idle hosts?
//!
//! Serves the bundled news site on HOSTS loopback ports (a minimal server that closes
//! each connection after answering, so that 10,000 hosts fit in this machine's file
//! descriptor limit), then runs the release binary politely (`--parser links`, a gap of
//! GAP_MS per host) for SECONDS, and prints the crawler's requests, CPU seconds per
//! 1,000 requests and peak RSS. Two runs with the same HOSTS / GAP (the same request
//! rate), one with few busy hosts and one with many mostly idle ones, answer the
//! question:
//!
//!   cargo build --release
//!   cargo bench --bench scale -- 100 200 90
//!   cargo bench --bench scale -- 10000 20000 90

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use newscrawl::fixture::{FixtureSite, FixtureSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn answer(mut stream: tokio::net::TcpStream, site: Arc<FixtureSite>, origin: Arc<str>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split(' ').nth(1).unwrap_or("/").to_string();
    let page = site.render(&target, &origin);
    let mut response = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        page.status,
        page.content_type,
        page.body.len()
    );
    if let Some(location) = &page.location {
        response.push_str(&format!("Location: {location}\r\n"));
    }
    response.push_str("\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.write_all(&page.body).await;
    let _ = stream.shutdown().await;
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .map(|a| a.parse().expect("HOSTS GAP_MS SECONDS"))
        .collect();
    let [hosts, gap_ms, seconds] = args[..] else {
        panic!("usage: cargo bench --bench scale -- HOSTS GAP_MS SECONDS");
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let site = Arc::new(FixtureSite::new(FixtureSpec {
        articles: 600,
        ..FixtureSpec::default()
    }));
    let dir = tempfile::tempdir().unwrap();
    let seeds_path = dir.path().join("seeds.txt");
    let mut seeds = std::fs::File::create(&seeds_path).unwrap();
    runtime.block_on(async {
        for _ in 0..hosts {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let origin: Arc<str> = format!("http://{}", listener.local_addr().unwrap()).into();
            writeln!(seeds, "{origin}/").unwrap();
            let (site, requests) = (site.clone(), requests.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    requests.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(answer(stream, site.clone(), origin.clone()));
                }
            });
        }
    });
    drop(seeds);
    // NEWSCRAWL_BIN: another build (or a wrapper script, e.g. for a heap profiler).
    let binary = std::env::var("NEWSCRAWL_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/newscrawl").to_string()
    });
    let status = runtime.block_on(async {
        tokio::process::Command::new(&binary)
            .args([
                "--log-format",
                "text",
                "crawl",
                "--parser",
                "links",
                "--seeds",
            ])
            .arg(&seeds_path)
            .arg("--min-delay")
            .arg(format!("{gap_ms}ms"))
            .arg("--max-time")
            .arg(format!("{seconds}s"))
            .arg("--state")
            .arg(dir.path().join("state"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .expect("the release binary runs (cargo build --release first)")
    });
    assert!(status.success(), "crawler exited with {status}");
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu_s = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    let served = requests.load(Ordering::Relaxed);
    println!(
        "hosts={hosts} gap_ms={gap_ms} seconds={seconds} requests={served} requests_per_s={:.1} theoretical_per_s={:.1} crawler_cpu_s={cpu_s:.2} cpu_s_per_1k_requests={:.3} crawler_peak_rss_mb={:.1}",
        served as f64 / seconds as f64,
        hosts as f64 * 1000.0 / gap_ms as f64,
        cpu_s * 1000.0 / served.max(1) as f64,
        usage.ru_maxrss as f64 / 1024.0
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}
