//! Storage faults: a disk that fills up mid-crawl, a damaged state directory, and an
//! output file the state does not know. Each must be reported with the place and the
//! way out, and none may cost a record already committed.
//!
//! A full disk is simulated with a file size limit (RLIMIT_FSIZE) on the crawler
//! process, which needs no privileges: writes past it fail with EFBIG where a full
//! disk gives ENOSPC, and both reach the crawler as the same write error.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{crawl_text, demo_config_text, fixture_server, read_records};
use newscrawl::store::{SledStore, StoreError};
use tokio::process::Command;

/// (URL path, version) of every record; panics on a record written twice.
fn record_keys(dir: &Path, origin: &str) -> BTreeSet<(String, u32)> {
    let mut keys = BTreeSet::new();
    for r in read_records(dir) {
        let key = (r.url.trim_start_matches(origin).to_string(), r.version);
        assert!(keys.insert(key.clone()), "record {key:?} written twice");
    }
    keys
}

/// Runs the binary's one-shot crawl; with `max_file_bytes`, under that file size
/// limit. Returns the exit status and what it printed on stderr.
async fn run_binary(
    config: &Path,
    state: &Path,
    max_file_bytes: Option<u64>,
) -> (std::process::ExitStatus, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newscrawl"));
    command
        .args(["crawl", "--config"])
        .arg(config)
        .arg("--state")
        .arg(state)
        .args(["--min-delay", "0s"])
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(limit) = max_file_bytes {
        // SAFETY: between fork and exec, only async-signal-safe calls (setrlimit,
        // signal) are made.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // A write past the limit then fails with EFBIG instead of killing.
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the crawler did not exit")
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_crawl_cleanly_and_the_next_run_finishes_it() {
    let server = fixture_server(200).await;
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        crawl_text(
            &demo_config_text(server.origin(), ""),
            dir.path(),
            Duration::ZERO,
        )
        .await
        .unwrap();
        record_keys(dir.path(), server.origin())
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, demo_config_text(server.origin(), "")).unwrap();
    let state = dir.path().join("state");

    let (status, stderr) = run_binary(&config, &state, Some(1 << 19)).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    let message = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(
        message.contains(&format!(
            "the crawl stopped: cannot write its state under {}",
            state.display()
        )) && message.contains("(a file size limit was reached)")
            && message.contains("run the same command again to resume"),
        "{message}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let before = record_keys(&state, server.origin());
    assert!(
        !before.is_empty() && before.len() < reference.len(),
        "the limit should stop the crawl midway: {} of {} records",
        before.len(),
        reference.len()
    );

    let (status, stderr) = run_binary(&config, &state, None).await;
    assert!(status.success(), "{stderr}");
    assert_eq!(record_keys(&state, server.origin()), reference);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_state_directory_is_reported_not_reset() {
    let server = fixture_server(20).await;
    let crawled = tempfile::tempdir().unwrap();
    crawl_text(
        &demo_config_text(server.origin(), ""),
        crawled.path(),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let db = crawled.path().join("db");
    let copy = |name: &str| {
        let dir = crawled.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&db).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
        dir
    };
    let truncated = copy("truncated");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(truncated.join("db"))
        .unwrap();
    file.set_len(file.metadata().unwrap().len() / 3).unwrap();
    let overwritten = copy("overwritten");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(overwritten.join("db"))
            .unwrap();
        let len = file.metadata().unwrap().len();
        for offset in (1000..len).step_by(50_000) {
            file.seek(SeekFrom::Start(offset)).unwrap();
            file.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(8)).unwrap();
        }
    }
    let lost = copy("lost");
    std::fs::remove_file(lost.join("db")).unwrap();

    for dir in [truncated, overwritten, lost] {
        match SledStore::open(&dir) {
            Err(e @ StoreError::Damaged { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!("state directory {} is damaged", dir.display()))
                        && text.contains("--fresh"),
                    "{text}"
                );
            }
            Err(other) => panic!("{}: not reported as damaged: {other}", dir.display()),
            Ok(_) => panic!("{}: opened as if nothing happened", dir.display()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_file_the_state_does_not_know_is_refused_not_cut() {
    let server = fixture_server(5).await;
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let foreign = "{\"url\":\"http://elsewhere.example/kept\"}\n";
    std::fs::write(&records, foreign).unwrap();
    let error = crawl_text(
        &demo_config_text(server.origin(), ""),
        dir.path(),
        Duration::ZERO,
    )
    .await
    .err()
    .expect("the crawl must refuse the file");
    assert!(
        error.contains(&format!(
            "output file {} already holds {} bytes",
            records.display(),
            foreign.len()
        )),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&records).unwrap(), foreign);
    assert!(server.requests().is_empty(), "nothing is fetched");
}
