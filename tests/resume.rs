//! Interrupted crawls, with the real binary: a graceful stop (SIGTERM) and kill -9 at
//! many moments of one crawl, each followed by a restart. The records in the end must
//! be those of an uninterrupted crawl: none missing, none twice, none cut.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::{crawl_text, demo_config_text, read_records};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use newscrawl::record::Article;
use tokio::process::{Child, Command};
use tokio::time::{timeout, Instant};

const DELAY: Duration = Duration::from_millis(10);

async fn server() -> FixtureServer {
    let spec = FixtureSpec {
        articles: 30,
        ..FixtureSpec::default()
    };
    FixtureServer::start(Arc::new(FixtureSite::new(spec)), [127, 0, 0, 1].into(), 0)
        .await
        .unwrap()
}

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
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&demo_config_text(server.origin(), ""), dir.path(), DELAY)
        .await
        .unwrap();
    by_path(&read_records(dir.path()), server.origin())
}

fn start_crawler(config: &Path, state: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["crawl", "--config"])
        .arg(config)
        .arg("--state")
        .arg(state)
        .args(["--min-delay", "10ms"])
        .env("RUST_LOG", "warn")
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

/// Polls until the output file has more lines than `before` or the child has exited.
/// (A file gives nothing to await; the poll is bounded by a deadline.)
async fn wait_for_output_growth(state: &Path, before: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines(state) == before && child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "no record was written");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn lines(state: &Path) -> usize {
    std::fs::read_to_string(state.join("records.jsonl"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_many_moments_loses_nothing_and_repeats_nothing() {
    let expected = reference().await;
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, demo_config_text(server.origin(), "")).unwrap();
    let state = dir.path().join("state");

    // Kills spread over the whole crawl: a number of requests after the restart, or
    // the moment the output file grows (the sink has just written lines whose offset
    // the store has not saved yet: the hardest moment for exactly-once).
    enum Moment {
        Requests(usize),
        OutputGrows,
    }
    use Moment::*;
    let moments = [
        Requests(1),
        Requests(3),
        Requests(6),
        OutputGrows,
        Requests(9),
        OutputGrows,
        Requests(4),
        OutputGrows,
        Requests(12),
        OutputGrows,
        Requests(7),
        OutputGrows,
        OutputGrows,
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
            OutputGrows => wait_for_output_growth(&state, lines(&state), &mut child).await,
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
    let expected = reference().await;
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, demo_config_text(server.origin(), "")).unwrap();
    let state = dir.path().join("state");

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
