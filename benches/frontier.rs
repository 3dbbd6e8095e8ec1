//! Frontier at scale: enqueue N URLs over H hosts into a fresh sled store, then open it
//! again in a fresh process and measure what a resume costs (open, lease recovery,
//! the revisit scan, finding hosts with work) in time and resident memory.
//! Run: `cargo bench --bench frontier -- 1000000 1000 [grouped|spread]` (URLs, hosts,
//! shape). Batches hold 1,000 URLs. `grouped` (the default) gives each batch one host,
//! as a page's links or a sitemap's entries mostly are; `spread` gives each URL of a
//! batch another host, the worst case for per-host segments.
//!
//! Memory is measured with the binary's allocator and its settings (the same module).

// The binary's allocator module; its unit test is run with the binary's tests.
#[path = "../src/bin/newscrawl/allocator.rs"]
#[allow(unused_imports)]
mod allocator;

use std::process::Command;
use std::time::Instant;

use newscrawl::site::UrlKind;
use newscrawl::store::{QueueEntry, SledStore, Store};

fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn entry(i: u64, hosts: u64, grouped: bool) -> QueueEntry {
    let host = if grouped {
        (i / 1_000) % hosts
    } else {
        i % hosts
    };
    QueueEntry {
        url: format!("https://news{host}.example/www/nation/2024/03/113_{i}.html"),
        site: format!("site{host}"),
        kind: UrlKind::Article,
        depth: 2,
        redirects: 0,
        etag: None,
        last_modified: None,
        listed_modified_ms: None,
    }
}

fn open_and_resume(dir: &str) {
    let start = Instant::now();
    let store = SledStore::open(std::path::Path::new(dir)).unwrap();
    let opened = start.elapsed();
    let rss_opened = rss_mb("VmRSS:");
    store.recover_leases(0).unwrap();
    let revisits = store.requeue_settled(0, true, &|_| true).unwrap();
    let hosts = store.hosts_with_work().unwrap();
    let ready = start.elapsed();
    println!(
        "resume: open {:.2} s (RSS {rss_opened:.0} MB), ready to crawl {:.2} s ({} hosts with work, {} revisits), RSS {:.0} MB (peak {:.0} MB)",
        opened.as_secs_f64(),
        ready.as_secs_f64(),
        hosts.len(),
        revisits,
        rss_mb("VmRSS:"),
        rss_mb("VmHWM:")
    );
}

fn scan(dir: &str) {
    let store = SledStore::open(std::path::Path::new(dir)).unwrap();
    println!("opened: RSS {:.0} MB", rss_mb("VmRSS:"));
    let n = store.queue_len().unwrap();
    println!("queue_len {n}: RSS {:.0} MB", rss_mb("VmRSS:"));
}

fn main() {
    allocator::tune();
    if std::env::args().nth(1).as_deref() == Some("scan") {
        scan(&std::env::args().nth(2).unwrap());
        return;
    }
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench" || a == "open") {
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("open") {
        open_and_resume(&args[1]);
        return;
    }
    let urls: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let hosts: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let grouped = args.get(2).map(String::as_str) != Some("spread");
    // FRONTIER_DIR keeps the store there (for profiling `frontier open DIR`).
    let dir = tempfile::tempdir().unwrap();
    let db = std::env::var_os("FRONTIER_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("db"));
    {
        let store = SledStore::open(&db).unwrap();
        let start = Instant::now();
        let batch = 1_000;
        for b in 0..urls / batch {
            let entries: Vec<QueueEntry> = (b * batch..(b + 1) * batch)
                .map(|i| entry(i, hosts, grouped))
                .collect();
            store.enqueue_new(&entries, 0).unwrap();
        }
        store.flush().unwrap();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "enqueue ({}): {urls} URLs over {hosts} hosts in {secs:.1} s ({:.0} URLs/s), RSS {:.0} MB, {:.0} MB on disk",
            if grouped { "grouped" } else { "spread" },
            urls as f64 / secs,
            rss_mb("VmRSS:"),
            store.size_on_disk().unwrap() as f64 / 1e6
        );
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["open", db.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
}
