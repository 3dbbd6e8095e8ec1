//! The WARC output, read back with an independent reader (the `warc` crate; `.ci/run`
//! reads it with Python's warcio too, in `.ci/warcio_check.py`): one request
//! and one response record per page request the fixture server saw, payload digests
//! that verify, and exactly-once delivery across a resumed run and a torn write.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::warc::{logged, read_warc, responses};
use common::{crawl_text, demo_config_text};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_exchange_is_archived_once_and_reads_back() {
    let spec = FixtureSpec {
        articles: 12,
        ..FixtureSpec::default()
    };
    let server = FixtureServer::start(Arc::new(FixtureSite::new(spec)), [127, 0, 0, 1].into(), 0)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let warc = dir.path().join("crawl.warc.gz");
    let text = demo_config_text(server.origin(), "")
        .replace("[output]", &format!("[output]\nwarc = {warc:?}"));
    crawl_text(&text, dir.path(), Duration::from_millis(5))
        .await
        .unwrap();

    let records = read_warc(&warc);
    assert_eq!(records[0]["type"], "warcinfo");
    assert_eq!(responses(&records), logged(&server));
    for r in records.iter().filter(|r| r["type"] == "response") {
        assert_eq!(r["digest_ok"], true, "{r}");
        let request = records
            .iter()
            .find(|q| q["type"] == "request" && q["concurrent"] == r["id"])
            .unwrap_or_else(|| panic!("no request record for {r}"));
        assert_eq!(request["uri"], r["uri"]);
    }
    // (Not the first: one fixture article is a PDF served under an .html path.)
    let article = records
        .iter()
        .filter(|r| r["type"] == "response" && r["uri"].as_str().unwrap().ends_with(".html"))
        .max_by_key(|r| r["length"].as_u64().unwrap())
        .unwrap();
    assert!(article["length"].as_u64().unwrap() > 10_000, "{article}");

    // A torn write (bytes after the last saved offset) is cut back; a resumed run
    // (section pages asked again, mostly 304s) appends its own exchanges, once.
    let before = std::fs::metadata(&warc).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&warc)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"\x1f\x8b\x08 torn"))
        .unwrap();
    crawl_text(&text, dir.path(), Duration::from_millis(5))
        .await
        .unwrap();
    assert!(std::fs::metadata(&warc).unwrap().len() > before);
    let records = read_warc(&warc);
    assert_eq!(responses(&records), logged(&server));
    assert!(responses(&records).iter().any(|(_, status)| *status == 304));
    let ids: std::collections::HashSet<&str> =
        records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), records.len(), "record ids are unique");
}
