//! The daemon as a real process against the fixture site: it keeps revisiting listing
//! pages, backs off from those that never change, emits articles published while it
//! runs, reports through /healthz, /status and /metrics (counters that match the
//! server's log), takes a new site on SIGHUP (and refuses a broken config), and stops
//! on SIGTERM with exit 0 and a state the next start continues from without repeating
//! a record.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{demo_config_text, read_records};
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec, LoggedRequest};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::time::timeout;

/// Revisit bounds of the test sites.
const REVISIT_MIN: Duration = Duration::from_millis(500);
const REVISIT_MAX: Duration = Duration::from_secs(3);
/// How long a robots.txt copy is used before it is fetched again.
const ROBOTS_TTL: Duration = Duration::from_secs(2);
/// Gap between requests to one host.
const GAP: &str = "20ms";
/// How long any awaited event may take before the test fails (not a speed claim: a
/// deadline so that a broken daemon fails the test instead of hanging it).
const DEADLINE: Duration = Duration::from_secs(60);

fn spec(articles: usize) -> FixtureSpec {
    FixtureSpec {
        articles,
        ..FixtureSpec::default()
    }
}

/// The daemon's config: the demo site on `first`, and a second site on `second`.
fn config_text(first: &FixtureServer, second: Option<&FixtureServer>, state: &Path) -> String {
    let bounds = format!(
        "revisit_min = \"{}ms\"\nrevisit_max = \"{}ms\"\n",
        REVISIT_MIN.as_millis(),
        REVISIT_MAX.as_millis()
    );
    let mut text = demo_config_text(first.origin(), &bounds)
        .replace(
            "state_dir = \"state/demo\"",
            &format!("state_dir = {state:?}"),
        )
        .replace(
            "min_delay = \"50ms\"",
            &format!(
                "min_delay = \"{GAP}\"\nrobots_ttl = \"{}ms\"",
                ROBOTS_TTL.as_millis()
            ),
        );
    text.push_str("\n[daemon]\nhttp = \"127.0.0.1:0\"\n");
    if let Some(second) = second {
        let site = demo_config_text(second.origin(), &bounds);
        let table = &site[site.find("[[site]]").unwrap()..];
        text.push_str(&table.replace("name = \"daily-fixture\"", "name = \"second\""));
    }
    text
}

/// A daemon process, its log lines (JSON, one object a line) and its endpoint.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
    new_line: Arc<Notify>,
    endpoint: String,
}

impl Daemon {
    async fn start(config: &Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_newscrawl"))
            .args(["--log-format", "json", "daemon", "--config"])
            .arg(config)
            .env("RUST_LOG", "newscrawl=info,newscrawl::delivered=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let new_line = Arc::new(Notify::new());
        let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
        {
            let (lines, new_line) = (lines.clone(), new_line.clone());
            tokio::spawn(async move {
                while let Ok(Some(line)) = reader.next_line().await {
                    let value: serde_json::Value = match serde_json::from_str(&line) {
                        Ok(v) => v,
                        // The summary printed at exit is plain text, by design.
                        Err(_) if line.starts_with("Shutdown after") => continue,
                        Err(e) => panic!("log line is not JSON ({e}): {line}"),
                    };
                    lines.lock().unwrap().push(value);
                    new_line.notify_waiters();
                }
            });
        }
        let mut daemon = Daemon {
            child,
            lines,
            new_line,
            endpoint: String::new(),
        };
        let serving = daemon.wait_for_log("serving /healthz").await;
        daemon.endpoint = serving
            .rsplit_once("on ")
            .map(|(_, url)| url.to_string())
            .unwrap();
        daemon
    }

    fn messages(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["fields"]["message"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Waits for a log message containing `text` (one logged before counts too).
    async fn wait_for_log(&self, text: &str) -> String {
        let found = async {
            loop {
                let notified = self.new_line.notified();
                if let Some(m) = self.messages().into_iter().find(|m| m.contains(text)) {
                    return m;
                }
                notified.await;
            }
        };
        timeout(DEADLINE, found)
            .await
            .unwrap_or_else(|_| panic!("no log line {text:?}; got {:#?}", self.messages()))
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.endpoint))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn status(&self) -> serde_json::Value {
        let (code, body) = self.get("/status").await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("still running") as i32;
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    async fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        timeout(DEADLINE, self.child.wait())
            .await
            .expect("the daemon stops on SIGTERM")
            .unwrap()
    }
}

/// Runs `check` again after every event that may change its answer (a log line of the
/// daemon, a request at the server) until it returns `Some`; fails the test at the
/// deadline.
async fn poll<T>(
    what: &str,
    daemon: &Daemon,
    server: &FixtureServer,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        let logged = daemon.new_line.notified();
        let requests = server.requests().len();
        if let Some(found) = check().await {
            return found;
        }
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        // At most a second between checks: answers that change with the daemon's own
        // clock (its heartbeat) come with no event.
        let next_event = async {
            tokio::select! {
                _ = logged => {}
                _ = server.wait_for_requests(requests + 1) => {}
            }
        };
        let _ = timeout(left.min(Duration::from_secs(1)), next_event).await;
    }
}

/// Prometheus text exposition, checked line by line: `# HELP`, `# TYPE`, `# EOF`, or
/// `name{labels} value`. Returns the samples.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})?) (\S+)$"#,
    )
    .unwrap();
    let mut samples = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "exposition ends with # EOF");
    for line in &lines {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || *line == "# EOF" {
            continue;
        }
        let caps = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not a Prometheus sample line: {line:?}"));
        let value: f64 = caps[2]
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.insert(caps[1].to_string(), value);
    }
    samples
}

fn class_of(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What the metrics should say, from the server's log.
fn expected_counts(log: &[LoggedRequest]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for r in log {
        let kind = if r.target == "/robots.txt" {
            "robots"
        } else {
            "page"
        };
        let key = format!(
            "newscrawl_requests_total{{kind=\"{kind}\",class=\"{}\"}}",
            class_of(r.status)
        );
        *out.entry(key).or_insert(0.0) += 1.0;
    }
    out
}

fn request_counts(samples: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with("newscrawl_requests_total{"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Records by (URL, version); fails on a record written twice.
fn unique_records(dir: &Path) -> HashSet<(String, u32)> {
    let mut seen = HashSet::new();
    for r in read_records(dir) {
        assert!(
            seen.insert((r.url.clone(), r.version)),
            "record {} v{} written twice",
            r.url,
            r.version
        );
    }
    seen
}

/// When the server first saw `path`.
fn first_request(server: &FixtureServer, path: &str) -> Option<Instant> {
    server
        .requests()
        .iter()
        .find(|r| r.target == path)
        .map(|r| r.at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_revisits_reports_reloads_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let state: PathBuf = dir.path().join("state");
    let records_dir = state.clone();
    let config = dir.path().join("daemon.toml");
    let first = common::fixture_server(30).await;
    std::fs::write(&config, config_text(&first, None, &state)).unwrap();
    let daemon = Daemon::start(&config).await;

    // The first pass: every article of the site (the PDF one is skipped).
    // Healthy once the scheduler runs ("starting" with 503 until then).
    poll("a healthy daemon", &daemon, &first, async || {
        let (code, body) = daemon.get("/healthz").await;
        assert!(matches!(
            (code, body.as_str()),
            (200, "ok\n") | (503, "starting\n")
        ));
        (code == 200).then_some(())
    })
    .await;
    poll("the first pass's records", &daemon, &first, async || {
        (read_records(&records_dir).len() == 29).then_some(())
    })
    .await;

    // Sections that never change are looked at less and less often, up to the bound.
    let never_changed = poll(
        "a quiet section at the upper bound",
        &daemon,
        &first,
        async || {
            let status = daemon.status().await;
            status["revisits"].as_array().unwrap().iter().find_map(|r| {
                let quiet = r["changes_per_hour"].as_f64() == Some(0.0)
                    && r["url"].as_str().unwrap().contains("/section/")
                    && r["interval_seconds"].as_f64().unwrap() >= REVISIT_MAX.as_secs_f64();
                quiet.then(|| r["url"].as_str().unwrap().to_string())
            })
        },
    )
    .await;
    let path = never_changed.trim_start_matches(first.origin()).to_string();
    let visits: Vec<Instant> = first
        .requests()
        .iter()
        .filter(|r| r.target == path)
        .map(|r| r.at)
        .collect();
    let gaps: Vec<f64> = visits
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    // Each quiet visit lengthened the interval to sqrt(2 x revisit_min x the time since
    // the first visit), by at most a factor of two, up to the bound; a visit may come
    // later than planned (the host's queue), never sooner (give or take the time the
    // daemon's clock of the visits, taken when the answers arrived, is off the server's
    // clock of the requests).
    assert!(gaps.len() >= 3, "{path} visited {} times", visits.len());
    let (min, max) = (REVISIT_MIN.as_secs_f64(), REVISIT_MAX.as_secs_f64());
    let mut planned = min;
    for (i, gap) in gaps.iter().enumerate() {
        assert!(
            *gap >= planned - 0.1_f64.max(0.1 * planned),
            "visit {} of {path} came {gap:.3}s after the last, planned {planned:.3}s: {gaps:?}",
            i + 2
        );
        let quiet = (visits[i + 1] - visits[0]).as_secs_f64();
        planned = (2.0 * min * quiet)
            .sqrt()
            .clamp(planned, 2.0 * planned)
            .min(max);
    }

    // /metrics parses, and its request counters match the server's log whenever no
    // request is in flight.
    poll(
        "metrics matching the server's log",
        &daemon,
        &first,
        async || {
            let (code, text) = daemon.get("/metrics").await;
            assert_eq!(code, 200);
            let samples = parse_prometheus(&text);
            for name in [
                "newscrawl_response_bytes_total",
                "newscrawl_fetch_duration_seconds_count",
                "newscrawl_host_wait_seconds_total",
                "newscrawl_robots_denied_total",
                "newscrawl_records_emitted_total",
                "newscrawl_queue_depth",
            ] {
                assert!(samples.contains_key(name), "{name} missing:\n{text}");
            }
            assert!(samples["newscrawl_robots_denied_total"] >= 1.0);
            (request_counts(&samples) == expected_counts(&first.requests())
                && samples["newscrawl_records_emitted_total"] == 29.0)
                .then_some(())
        },
    )
    .await;

    // /metrics shows each listing page's schedule: the quiet section at the bound,
    // found half an interval after a change on average.
    let (_, text) = daemon.get("/metrics").await;
    let samples = parse_prometheus(&text);
    let gauge = |name: &str| {
        let url = format!("url=\"{never_changed}\"");
        samples
            .iter()
            .find(|(key, _)| key.starts_with(&format!("{name}{{")) && key.contains(&url))
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("no {name} for {never_changed}:\n{text}"))
    };
    let interval = gauge("newscrawl_listing_interval_seconds");
    assert!(interval >= REVISIT_MAX.as_secs_f64(), "{interval}");
    assert_eq!(
        gauge("newscrawl_listing_expected_latency_seconds"),
        interval / 2.0
    );
    assert!(gauge("newscrawl_listing_changes_per_hour") >= 0.0);

    // Two articles are published: both are emitted, each within the revisit bound of
    // the sections that list them (plus the host's queue at its gap).
    let published = Instant::now();
    first.set_site(FixtureSite::new(spec(32)));
    let site = first.site();
    let fresh: Vec<String> = site.articles[30..]
        .iter()
        .map(|a| site.article_path(a))
        .collect();
    let fetched_at = poll("the new articles' requests", &daemon, &first, async || {
        let times: Option<Vec<Instant>> = fresh.iter().map(|p| first_request(&first, p)).collect();
        times
    })
    .await;
    // Within one revisit: no page that lists a new article is visited more than
    // twice after publication (a visit may have been under way as it appeared)
    // before the article is requested. Counted in the server's log, not in seconds.
    let log = first.requests();
    let since: Vec<&str> = log
        .iter()
        .filter(|r| r.at >= published)
        .map(|r| r.target.as_str())
        .collect();
    for (path, at) in fresh.iter().zip(&fetched_at) {
        let before = &since[..since.iter().position(|t| t == path).expect("requested")];
        let lists_it = |target: &&str| {
            String::from_utf8_lossy(&site.render(target, first.origin()).body)
                .contains(path.as_str())
        };
        let mut listings: Vec<&str> = before.iter().copied().filter(lists_it).collect();
        listings.sort();
        let most = listings
            .chunk_by(|a, b| a == b)
            .map(<[&str]>::len)
            .max()
            .unwrap_or(0);
        assert!(!listings.is_empty(), "{path} was found on a listing page");
        assert!(
            most <= 2,
            "{path} requested {:?} after publication, after these visits of pages that list it: {listings:?}",
            *at - published
        );
    }
    poll("the new articles' records", &daemon, &first, async || {
        let urls: HashSet<String> = read_records(&records_dir)
            .into_iter()
            .map(|r| r.url)
            .collect();
        fresh
            .iter()
            .all(|p| urls.contains(&format!("{}{p}", first.origin())))
            .then_some(())
    })
    .await;
    let status = daemon.status().await;
    assert!(
        status["revisits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["changes_per_hour"].as_f64().unwrap() > 0.0),
        "a section saw the change: {status:#}"
    );

    // SIGHUP with a broken config: refused, and the daemon keeps going.
    std::fs::write(&config, "[crawler]\nconcurrency = 0\n").unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_log("configuration not reloaded").await;
    assert_eq!(daemon.get("/healthz").await.0, 200);

    // SIGHUP with a second site: crawled without a restart.
    let second = common::fixture_server(6).await;
    std::fs::write(&config, config_text(&first, Some(&second), &state)).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_log("configuration reloaded").await;
    poll(
        "records of the site added by SIGHUP",
        &daemon,
        &first,
        async || {
            let n = read_records(&records_dir)
                .iter()
                .filter(|r| r.site == "second")
                .count();
            (n == 6).then_some(())
        },
    )
    .await;

    // SIGTERM: exit 0, every record once.
    let exit = daemon.stop().await;
    // robots.txt was read again whenever its copy expired, never sooner.
    let robots: Vec<Instant> = first
        .requests()
        .iter()
        .filter(|r| r.target == "/robots.txt")
        .map(|r| r.at)
        .collect();
    assert!(
        robots.len() >= 2,
        "robots.txt fetched {} times",
        robots.len()
    );
    assert!(robots
        .windows(2)
        .all(|w| w[1] - w[0] >= ROBOTS_TTL - Duration::from_millis(50)));
    assert!(exit.success(), "{exit:?}");
    let before = std::fs::read_to_string(records_dir.join("records.jsonl")).unwrap();
    let records_before = unique_records(&records_dir);
    assert_eq!(records_before.len(), 29 + 2 + 6);

    // A restart continues: nothing re-emitted, and what is published next is found.
    let daemon = Daemon::start(&config).await;
    first.set_site(FixtureSite::new(spec(33)));
    let site = first.site();
    let newest = format!(
        "{}{}",
        first.origin(),
        site.article_path(&site.articles[32])
    );
    poll(
        "the article published after the restart",
        &daemon,
        &first,
        async || {
            read_records(&records_dir)
                .iter()
                .any(|r| r.url == newest)
                .then_some(())
        },
    )
    .await;
    let exit = daemon.stop().await;
    assert!(exit.success(), "{exit:?}");
    let after = std::fs::read_to_string(records_dir.join("records.jsonl")).unwrap();
    assert!(
        after.starts_with(&before),
        "records of the first run were rewritten"
    );
    let records_after = unique_records(&records_dir);
    assert_eq!(records_after.len(), records_before.len() + 1);
}
