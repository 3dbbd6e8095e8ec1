//! The command line as users run it: exit codes, error messages, ad-hoc crawls with
//! flags, and the offline demo.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};

fn newscrawl(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// Runs the binary from an async test (the fixture server lives on the test's runtime).
async fn newscrawl_async(args: &[&str], cwd: &Path) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cwd = cwd.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        newscrawl(&args, &cwd)
    })
    .await
    .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `crawl --config` on `text`; returns the exit code and stderr.
fn crawl_with_config(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), text).unwrap();
    let out = newscrawl(&["crawl", "--config", "bad.toml"], dir.path());
    (out.status.code(), stderr(&out))
}

const SITE: &str = "[[site]]\nname = \"news\"\nseeds = [\"http://127.0.0.1:9/\"]\n";

#[test]
fn bad_configs_exit_2_naming_file_key_and_reason() {
    let cases: &[(String, &[&str])] = &[
        (
            format!("[crawler]\nconcurrency = 4\nuser_agnet = \"x\"\n{SITE}"),
            &["bad.toml", "user_agnet", "unknown field"],
        ),
        (
            format!("{SITE}article_patterns = [\"^/(\"]\n"),
            &["bad.toml", "site[0].article_patterns[0]", "bad regex"],
        ),
        (
            format!("[politeness]\nmin_delay = \"soon\"\n{SITE}"),
            &["bad.toml", "min_delay", "invalid duration"],
        ),
        (
            "[[site]]\nname = \"news\"\nseeds = []\n".to_string(),
            &["bad.toml", "site[0].seeds", "at least one seed"],
        ),
        (
            "[[site]]\nname = \"news\"\nseeds = [\"ftp://x.example/\"]\n".to_string(),
            &["bad.toml", "site[0].seeds[0]", "not http"],
        ),
        (
            format!("{SITE}time_zone = \"Mars/Olympus\"\n"),
            &["bad.toml", "site[0].time_zone", "IANA"],
        ),
        (
            format!("{SITE}parser = \"nope\"\n"),
            &["bad.toml", "site[0].parser", "unknown parser"],
        ),
    ];
    for (text, needles) in cases {
        let (code, err) = crawl_with_config(text);
        assert_eq!(code, Some(2), "{text}\n{err}");
        for needle in *needles {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = newscrawl(&["crawl", "--config", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("missing.toml: cannot read"),
        "{}",
        stderr(&out)
    );
    let out = newscrawl(
        &[
            "crawl",
            "--seed",
            "http://127.0.0.1:9/",
            "--min-delay",
            "fast",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_crawl_from_seed_flags() {
    let server = FixtureServer::start(
        Arc::new(FixtureSite::new(FixtureSpec::default())),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seed = format!("{}/", server.origin());
    let out = newscrawl_async(
        &[
            "crawl",
            "--seed",
            &seed,
            "--state",
            "st",
            "--out",
            "out/x.jsonl",
            "--min-delay",
            "5ms",
            "--max-pages",
            "60",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("MaxPages after"), "{}", stderr(&out));
    let log = server.requests();
    assert_eq!(log[0].target, "/robots.txt");
    assert_eq!(log.len(), 61, "robots.txt and 60 pages: {log:?}");
    assert!(dir.path().join("st/db").is_dir());
    // Pattern-less site: every page is followed, articles are recognised by content.
    let records = std::fs::read_to_string(dir.path().join("out/x.jsonl")).unwrap();
    assert!(records.lines().count() >= 1, "{records}");
    for line in records.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["url"].as_str().unwrap().contains("/www/"), "{line}");
    }
}

#[test]
fn the_demo_crawls_the_bundled_site() {
    let dir = tempfile::tempdir().unwrap();
    let out = newscrawl(
        &["demo", "--state", "demo-state", "--articles", "12"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = std::fs::read_to_string(dir.path().join("demo-state/records.jsonl")).unwrap();
    // 12 articles, one of them a PDF attachment.
    assert_eq!(records.lines().count(), 11, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_file_links_parser_and_max_time() {
    let server = FixtureServer::start(
        Arc::new(FixtureSite::new(FixtureSpec::default())),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("seeds.txt"),
        format!("# news\n{}/section/national\n\n", server.origin()),
    )
    .unwrap();
    let out = newscrawl_async(
        &[
            "crawl",
            "--seeds",
            "seeds.txt",
            "--parser",
            "links",
            "--min-delay",
            "100ms",
            "--max-time",
            "1s",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("MaxTime after"), "{}", stderr(&out));
    let log = server.requests();
    assert_eq!(
        log[1].target, "/section/national",
        "the seed comes right after robots.txt"
    );
    // At 100 ms a request, one second covers a few of the site's ~60 pages at most.
    assert!(log.len() > 2 && log.len() < 30, "{} requests", log.len());
    // The links parser extracts no records; ad-hoc state defaults to state/adhoc.
    let records = std::fs::read_to_string(dir.path().join("state/adhoc/records.jsonl")).unwrap();
    assert_eq!(records, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_export_fresh_and_one_process_per_state() {
    let server = FixtureServer::start(
        Arc::new(FixtureSite::new(FixtureSpec {
            articles: 6,
            ..FixtureSpec::default()
        })),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
    let config = demo.replace("{origin}", server.origin());
    std::fs::write(dir.path().join("news.toml"), &config).unwrap();
    std::fs::write(
        dir.path().join("other.toml"),
        config.replace("daily-fixture", "other-paper"),
    )
    .unwrap();
    let crawl = |file: &'static str, fresh: bool| {
        let mut args = vec![
            "crawl",
            "--config",
            file,
            "--state",
            "st",
            "--min-delay",
            "0s",
        ];
        if fresh {
            args.push("--fresh");
        }
        args
    };
    let out = newscrawl_async(&crawl("news.toml", false), dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = newscrawl_async(&["status", "--state", "st"], dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("records: 6 ") && text.contains("queue: 0 URLs"),
        "{text}"
    );
    let out = newscrawl_async(
        &["status", "--config", "news.toml", "--state", "st", "--json"],
        dir.path(),
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["records"], 6);
    assert_eq!(json["by_status"]["RobotsDenied"], 1);

    let out = newscrawl_async(&["export", "--state", "st"], dir.path()).await;
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read(dir.path().join("st/records.jsonl")).unwrap();
    assert_eq!(out.stdout, written, "export equals what the sink wrote");

    // One process per state directory: a second opener is refused, not corrupted.
    let held = newscrawl::store::SledStore::open(&dir.path().join("st/db")).unwrap();
    let out = newscrawl_async(&["status", "--state", "st"], dir.path()).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("in use by another process"),
        "{}",
        stderr(&out)
    );
    drop(held);

    // Another crawl over this state is refused; --fresh starts over.
    let out = newscrawl_async(&crawl("other.toml", false), dir.path()).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds another crawl"),
        "{}",
        stderr(&out)
    );
    let out = newscrawl_async(&crawl("other.toml", true), dir.path()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = std::fs::read_to_string(dir.path().join("st/records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 6);
    assert!(records
        .lines()
        .all(|l| l.contains("\"site\":\"other-paper\"")));
}

#[test]
fn parse_runs_a_sites_parser_on_a_saved_page() {
    let site = FixtureSite::new(FixtureSpec::default());
    let article = &site.articles[0];
    let path = site.article_path(article);
    let page = site.render(&path, "https://www.koreatimes.co.kr");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), &page.body).unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/fixture-selectors.toml");
    let url = format!("https://www.koreatimes.co.kr{path}");
    let out = newscrawl(
        &["parse", "--config", config, "--url", &url, "page.html"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["parser"], "selectors");
    assert_eq!(json["kind"], "article", "classified by the site's patterns");
    let record = &json["records"][0];
    assert_eq!(record["title"], article.title.as_str());
    assert_eq!(
        record["published"],
        article.posted.format("%Y-%m-%dT%H:%M:00+09:00").to_string()
    );
    assert!(json["links"].as_array().unwrap().iter().any(|l| l
        .as_str()
        .unwrap()
        .starts_with("https://www.koreatimes.co.kr/section/")));

    // Standard input, a built-in parser, a listing page: links and no record.
    let mut child = Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args([
            "parse",
            "--parser",
            "links",
            "--url",
            "https://news.example/",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &page.body).unwrap();
    let out = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), 0);
    assert!(!json["links"].as_array().unwrap().is_empty());

    // Usage errors exit 2 and name the flag.
    let out = newscrawl(&["parse", "--parser", "nope", "page.html"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--parser"), "{}", stderr(&out));
}
