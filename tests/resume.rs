//! Interrupted crawls, with the real binary: a graceful stop (SIGTERM) and kill -9 at
//! many moments of one crawl, each followed by a restart. The records in the end must
//! be those of an uninterrupted crawl: none missing, none twice, none cut.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{crawl_text, demo_config_text, read_records};
use newscrawl::fixture::FixtureServer;
use newscrawl::record::Article;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

const DELAY: Duration = Duration::from_millis(10);

/// What a record says, keyed by URL path and version (origins differ between servers).
fn by_path(records: &[Article], origin: &str) -> BTreeMap<(String, u32), (Option<String>, String)> {
    let mut out = BTreeMap::new();
    for r in records {
        let key = (r.url.trim_start_matches(origin).to_string(), r.version);
        let previous = out.insert(key.clone(), (r.title.clone(), r.body.clone()));
        assert!(previous.is_none(), "record {key:?} written twice");
    }
    out
}

/// The records of an uninterrupted crawl of the same site.
async fn reference() -> BTreeMap<(String, u32), (Option<String>, String)> {
    let server = common::fixture_server(30).await;
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&demo_config_text(server.origin(), ""), dir.path(), DELAY)
        .await
        .unwrap();
    by_path(&read_records(dir.path()), server.origin())
}

/// Writes the crawl's config in `dir`; returns it and the state directory to use.
fn write_config(server: &FixtureServer, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = dir.join("crawl.toml");
    std::fs::write(&config, demo_config_text(server.origin(), "")).unwrap();
    (config, dir.join("state"))
}

fn start_crawler(config: &Path, state: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["crawl", "--config"])
        .arg(config)
        .arg("--state")
        .arg(state)
        .args(["--min-delay", "10ms"])
        .env("RUST_LOG", "warn,newscrawl::delivered=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits until the server has seen `count` requests or the child has exited.
async fn wait_for_requests(server: &FixtureServer, child: &mut Child, count: usize) {
    let progress = async {
        tokio::select! {
            _ = server.wait_for_requests(count) => {}
            _ = child.wait() => {}
        }
    };
    timeout(Duration::from_secs(30), progress)
        .await
        .expect("the crawler made no progress");
}

async fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the crawler did not stop")
        .unwrap()
}

/// Waits until the crawler reports that its sink wrote records (the lines are in the
/// file, their offset is not yet saved), or until it exits.
async fn wait_for_delivery(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let delivered = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("records delivered") {
                return;
            }
        }
    };
    timeout(Duration::from_secs(30), delivered)
        .await
        .expect("no record was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_many_moments_loses_nothing_and_repeats_nothing() {
    let (expected, server, dir) = (
        reference().await,
        common::fixture_server(30).await,
        tempfile::tempdir().unwrap(),
    );
    let (config, state) = write_config(&server, dir.path());

    // Kills spread over the whole crawl: a number of requests after the restart, or
    // the moment the sink reports a delivery (the lines are in the file, their offset
    // is not saved yet: the hardest moment for exactly-once).
    enum Moment {
        Requests(usize),
        Delivered,
    }
    use Moment::*;
    let moments = [
        Requests(1),
        Requests(3),
        Requests(6),
        Delivered,
        Requests(9),
        Delivered,
        Requests(4),
        Delivered,
        Requests(12),
        Delivered,
        Requests(7),
        Delivered,
        Delivered,
        Requests(10),
    ];
    let mut kills = 0;
    for moment in moments {
        let mut child = start_crawler(&config, &state);
        match moment {
            Requests(n) => {
                let target = server.requests().len() + n;
                wait_for_requests(&server, &mut child, target).await;
            }
            Delivered => wait_for_delivery(&mut child).await,
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().await.unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().await.unwrap();
    }
    assert!(
        kills >= 10,
        "only {kills} kills landed before the crawl finished"
    );

    let mut child = start_crawler(&config, &state);
    let status = wait_for_exit(&mut child).await;
    assert!(status.success(), "the last run failed");
    let records = read_records(&state);
    assert_eq!(by_path(&records, server.origin()), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_the_next_run_finishes_the_crawl() {
    let (expected, server, dir) = (
        reference().await,
        common::fixture_server(30).await,
        tempfile::tempdir().unwrap(),
    );
    let (config, state) = write_config(&server, dir.path());

    let mut child = start_crawler(&config, &state);
    wait_for_requests(&server, &mut child, 15).await;
    // SAFETY: kill(2) on a child we started and have not reaped.
    assert_eq!(
        unsafe { libc::kill(child.id().expect("running") as i32, libc::SIGTERM) },
        0
    );
    let status = wait_for_exit(&mut child).await;
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(
        stderr.contains("Shutdown after"),
        "a one-line summary: {stderr}"
    );
    let partial = read_records(&state);
    assert!(partial.len() < expected.len(), "stopped before the end");

    let mut child = start_crawler(&config, &state);
    assert!(wait_for_exit(&mut child).await.success());
    assert_eq!(by_path(&read_records(&state), server.origin()), expected);
}
