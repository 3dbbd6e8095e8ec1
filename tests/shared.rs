//! Several worker processes sharing one crawl through Redis (`--features redis`):
//! each test starts its own `redis-server` on a free loopback port, fixture servers
//! for three hosts, and the real binary as workers. What they must show comes from
//! the fixture servers' own logs and the workers' output files, compared with a
//! one-process sled crawl of the same sites.
#![cfg(feature = "redis")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::read_records;
use common::warc::{logged, read_warc, responses};
use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec, Scripted};
use newscrawl::parse::ParserRegistry;
use newscrawl::politeness::Pace;
use newscrawl::record::Article;
use newscrawl::site::UrlKind;
use newscrawl::store::redis_frontier::{Claim, Claimed, Completion, RedisFrontier, RevisitPlan};
use newscrawl::store::{Priority, QueueEntry, SledStore, UrlState, UrlStatus};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::time::{timeout, Instant};

const DELAY: Duration = Duration::from_millis(40);
const HOSTS: usize = 3;

/// Asks `probe` every `every` until it gives a value, failing with the message `what`
/// gives after `within`. For what another process does with no event to await: a redis-server
/// starting to answer, a lease running out on Redis's clock, records written by the
/// workers, a cluster agreeing on its slots.
async fn eventually<T, F, Fut>(
    what: impl Fn() -> String,
    within: Duration,
    every: Duration,
    mut probe: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    // The probe's cadence; the deadline, not the cadence, is what may fail the test.
    let mut cadence = tokio::time::interval(every);
    cadence.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        cadence.tick().await;
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{}", what());
    }
}

/// A `redis-server` of the test's own, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one with its append-only file in `dir`, fsynced at every write.
    async fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(dir, port).await
    }

    async fn start_on(dir: &Path, port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--dir")
            .arg(dir)
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--maxmemory-policy",
                "noeviction",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let server = Self {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        server.wait_ready().await;
        server
    }

    /// Polls PING until the server answers (loading its append-only file included).
    async fn wait_ready(&self) {
        Self::ping(self.port).await;
    }

    /// Polls PING on `port` until a server answers.
    async fn ping(port: u16) {
        let pong = || async move {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()?;
            let mut answer = [0u8; 7];
            stream.write_all(b"PING\r\n").await.ok()?;
            stream.read_exact(&mut answer).await.ok()?;
            (&answer == b"+PONG\r\n").then_some(())
        };
        let (within, every) = (Duration::from_secs(20), Duration::from_millis(20));
        eventually(|| "redis-server did not start".into(), within, every, pong).await;
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// URLs whose fetch `worker` may have started and not settled: hosts it holds a
    /// lease on, and pages handed on and not yet committed (any worker's: an upper
    /// bound).
    async fn unsettled(&self, worker: &str) -> usize {
        const COUNT: &str = "local n = 0 \
            for _, k in ipairs(redis.call('KEYS', '*:settling:*')) do n = n + redis.call('HLEN', k) end \
            for _, k in ipairs(redis.call('KEYS', '*:host:*')) do \
              if redis.call('HGET', k, 'owner') == ARGV[1] then n = n + 1 end \
            end \
            return n";
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "EVAL", COUNT, "0", worker])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("redis-cli answered {text:?}"))
    }

    /// The Unix ms until which `url` of `host` may settle, if it is settling.
    async fn settling_deadline(&self, host: &str, url: &str) -> Option<u64> {
        const READ: &str = "for _, k in ipairs(redis.call('KEYS', '*:settling:' .. ARGV[1])) do \
              local v = redis.call('HGET', k, ARGV[2]) \
              if v then return string.match(v, ' (%d+)$') end \
            end \
            return ''";
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "EVAL", READ, "0", host, url])
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// What `redis-cli` answers to `args`, as bytes.
    async fn cli(&self, args: &[&str]) -> Vec<u8> {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .await
            .unwrap()
            .stdout
    }

    /// Kills it with SIGKILL and starts it again on the same port and files.
    async fn kill_and_restart(mut self) -> Self {
        self.child.kill().await.unwrap();
        Self::start_on(&self.dir.clone(), self.port).await
    }
}

async fn servers() -> Vec<FixtureServer> {
    let mut out = Vec::new();
    for _ in 0..HOSTS {
        let spec = FixtureSpec {
            articles: 12,
            ..FixtureSpec::default()
        };
        out.push(
            FixtureServer::start(Arc::new(FixtureSite::new(spec)), [127, 0, 0, 1].into(), 0)
                .await
                .unwrap(),
        );
    }
    out
}

/// `config/demo.toml` with one site per server (`site-0`, `site-1`, ...), and `extra`
/// lines in `[crawler]`.
fn config_text(servers: &[FixtureServer], crawler_extra: &str) -> String {
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo.toml")).unwrap();
    let (head, site) = demo.split_at(demo.find("[[site]]").unwrap());
    let head = head.replace("[crawler]\n", &format!("[crawler]\n{crawler_extra}\n"));
    let mut text = head.to_string();
    for (i, server) in servers.iter().enumerate() {
        text.push_str(
            &site
                .replace("{origin}", server.origin())
                .replace("daily-fixture", &format!("site-{i}")),
        );
    }
    text
}

type Contents = BTreeMap<(String, String, u32), (Option<String>, String)>;

/// What the records say, keyed by site, URL path and version; panics on a record
/// written twice.
fn contents(records: &[Article], servers: &[FixtureServer]) -> Contents {
    let mut out = Contents::new();
    for r in records {
        let origin = servers
            .iter()
            .map(FixtureServer::origin)
            .find(|o| r.url.starts_with(o))
            .expect("a record of a fixture server");
        let key = (
            r.site.clone(),
            r.url.trim_start_matches(origin).to_string(),
            r.version,
        );
        let previous = out.insert(key.clone(), (r.title.clone(), r.body.clone()));
        assert!(previous.is_none(), "record {key:?} written twice");
    }
    out
}

/// The records of a one-process sled crawl of the same sites.
async fn reference() -> Contents {
    let servers = servers().await;
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        state_dir: Some(dir.path().to_path_buf()),
        output_path: Some(dir.path().join("records.jsonl")),
        min_delay: Some(Duration::ZERO),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(&config_text(&servers, ""), "test.toml")
        .unwrap()
        .validate("test.toml", &overrides)
        .unwrap();
    let store = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    Crawler::new(config, store, ParserRegistry::default())
        .unwrap()
        .run(std::future::pending())
        .await
        .unwrap();
    contents(&read_records(dir.path()), &servers)
}

struct Workers {
    config: PathBuf,
    dir: PathBuf,
    store: String,
}

impl Workers {
    fn new(
        dir: &Path,
        servers: &[FixtureServer],
        redis: &RedisServer,
        crawler_extra: &str,
    ) -> Self {
        let config = dir.join("crawl.toml");
        std::fs::write(&config, config_text(servers, crawler_extra)).unwrap();
        Self {
            config,
            dir: dir.to_path_buf(),
            store: redis.url(),
        }
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.jsonl"))
    }

    fn start(&self, name: &str) -> Child {
        self.start_at(name, DELAY)
    }

    /// [`Workers::start`] with the gap `gap`.
    fn start_at(&self, name: &str, gap: Duration) -> Child {
        let state = self.dir.join(name);
        worker_at(
            &[
                "crawl",
                "--store",
                &self.store,
                "--state",
                &state.to_string_lossy(),
            ],
            &self.config,
            name,
            &self.out(name),
            gap,
        )
    }

    /// Every worker's records, read from their output files.
    fn records(&self, names: &[&str]) -> Vec<Article> {
        names
            .iter()
            .flat_map(|name| read_lines(&self.out(name)))
            .collect()
    }
}

/// The binary as worker `name` of the crawl `config` describes (`args`: the
/// subcommand and flags of the test's own), writing to `out`, at the test's gap, with
/// its warnings piped.
fn worker(args: &[&str], config: &Path, name: &str, out: &Path) -> Child {
    worker_at(args, config, name, out, DELAY)
}

/// [`worker`] with the gap `gap`.
fn worker_at(args: &[&str], config: &Path, name: &str, out: &Path, gap: Duration) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--worker", name])
        .arg("--out")
        .arg(out)
        .args(["--min-delay", &format!("{}ms", gap.as_millis())])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts")
}

/// Starts daemon worker `name` of `config` on `redis` and lets it run until the live
/// site's `server` logs its first request at or after `end_ms`, failing if the worker
/// ends before, or if that takes longer than `limit`.
async fn daemon_worker_through(
    redis: &RedisServer,
    config: &Path,
    name: &str,
    server: &FixtureServer,
    end_ms: u64,
    limit: Duration,
) -> Child {
    let out = config.with_file_name(format!("{name}.jsonl"));
    let mut daemon = worker_at(
        &["daemon", "--http", "off", "--store", &redis.url()],
        config,
        name,
        &out,
        Duration::from_millis(10),
    );
    tokio::select! {
        status = daemon.wait() => panic!("the worker ended early: {status:?}"),
        ended = timeout(limit, server.wait_for_request_at(end_ms)) => {
            ended.expect("the worker still makes requests after the window");
        }
    }
    daemon
}

/// Asks a worker to stop, as a service manager does (SIGTERM).
fn terminate(worker: &Child) {
    let pid = worker.id().expect("the worker runs").to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
}

/// The records of an output file; every line must be a whole record.
fn read_lines(path: &Path) -> Vec<Article> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a whole record"))
        .collect()
}

/// The records of an output file a running worker is writing: the lines it has ended
/// so far (the last may be half written), each a whole record.
fn read_written(path: &Path) -> Vec<Article> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let ended = text.rfind('\n').map_or("", |end| &text[..end]);
    ended
        .lines()
        .map(|l| serde_json::from_str(l).expect("every ended line is a whole record"))
        .collect()
}

/// Waits for a worker to end; returns its stderr, after checking that it succeeded.
async fn finish(mut child: Child, name: &str) -> String {
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().unwrap();
    let (status, _) = timeout(Duration::from_secs(120), async {
        tokio::join!(child.wait(), pipe.read_to_string(&mut stderr))
    })
    .await
    .unwrap_or_else(|_| panic!("worker {name} did not finish"));
    assert!(status.unwrap().success(), "worker {name} failed:\n{stderr}");
    stderr
}

/// Page requests a worker's summary line reports.
fn pages_requested(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(" pages requested"))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    let before = &line[..line.find(" pages requested").unwrap()];
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Checks every server's log: consecutive requests (robots.txt included) at least
/// the delay apart, whichever worker made them. Returns the requests per target.
fn check_gaps(servers: &[FixtureServer]) -> HashMap<(usize, String), usize> {
    let mut requests = HashMap::new();
    for (i, server) in servers.iter().enumerate() {
        let log = server.requests();
        for pair in log.windows(2) {
            let gap = pair[1].at.duration_since(pair[0].at);
            assert!(
                gap >= DELAY,
                "host {i}: {} then {} only {gap:?} apart",
                pair[0].target,
                pair[1].target
            );
        }
        for r in log {
            *requests.entry((i, r.target)).or_insert(0) += 1;
        }
    }
    requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_one_crawl_exactly_once_and_politely() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    let workers = Workers::new(dir.path(), &servers, &redis, "");
    // Each bucket is watched by one live worker a second, in turn, and the others
    // rarely win its hosts; at this gap what is left after the third worker joins
    // (over 20 pages a host) takes more than the four seconds in which each worker
    // watches each host's bucket for a whole turn, wherever the hosts' ports put them.
    let gap = Duration::from_millis(200);
    let mut first = workers.start_at("w1", gap);
    let mut second = workers.start_at("w2", gap);
    // The third joins once the crawl is under way, while the sites hold their answers
    // (so that work is left for it however long it takes to start).
    under_way(&servers, 10, &mut [&mut first, &mut second]).await;
    servers.iter().for_each(FixtureServer::hold);
    let third = workers.start_at("w3", gap);
    let frontier = RedisFrontier::connect(&redis.url(), false, "newscrawl", 16)
        .await
        .unwrap();
    eventually(
        || "the third worker did not join".into(),
        Duration::from_secs(60),
        Duration::from_millis(20),
        || {
            let frontier = &frontier;
            async move {
                let live = frontier.live_workers().await.ok()?;
                live.iter().any(|name| name == "w3").then_some(())
            }
        },
    )
    .await;
    // `status` reads the crawl from Redis: its workers, and work left on every host.
    let load = crawl_status(&workers.config, &workers.store).await;
    assert_eq!(load["live_workers"], serde_json::json!(["w1", "w2", "w3"]));
    assert_eq!(load["buckets"].as_array().unwrap().len(), 16);
    assert_eq!(sum_of(&load, "hosts"), HOSTS as u64, "{load}");
    assert!(sum_of(&load, "hosts_with_work") > 0, "{load}");
    servers.iter().for_each(FixtureServer::release);
    let outputs = [
        finish(first, "w1").await,
        finish(second, "w2").await,
        finish(third, "w3").await,
    ];
    let load = crawl_status(&workers.config, &workers.store).await;
    assert_eq!(load["live_workers"], serde_json::json!([]));
    assert_eq!(sum_of(&load, "hosts_with_work"), 0, "{load}");
    let got = contents(&workers.records(&["w1", "w2", "w3"]), &servers);
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "the workers' records differ from a one-process crawl's"
    );
    let requests = check_gaps(&servers);
    let twice: Vec<_> = requests.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "fetched more than once without a failure: {twice:?}"
    );
    let shares: Vec<u64> = outputs.iter().map(|o| pages_requested(o)).collect();
    eprintln!("pages requested by each worker: {shares:?}");
    assert!(
        shares[2] > 0,
        "the worker that joined mid-crawl took no share: {shares:?}"
    );
    assert_eq!(
        shares.iter().sum::<u64>() as usize,
        requests
            .iter()
            .filter(|((_, target), _)| target != "/robots.txt")
            .map(|(_, n)| n)
            .sum::<usize>(),
        "the workers' accounts match the servers' logs"
    );
}

/// `newscrawl status --json` of the shared crawl `config` describes, at `store`.
async fn crawl_status(config: &Path, store: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["status", "--json", "--store", store, "--config"])
        .arg(config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

/// A count of a `status`'s buckets, summed over them.
fn sum_of(load: &serde_json::Value, count: &str) -> u64 {
    let buckets = load["buckets"].as_array().unwrap();
    buckets.iter().map(|b| b[count].as_u64().unwrap()).sum()
}

/// Waits until every server has seen `count` requests; panics if a worker exits
/// first.
async fn under_way(servers: &[FixtureServer], count: usize, workers: &mut [&mut Child]) {
    let seen = async {
        for server in servers {
            server.wait_for_requests(count).await;
        }
    };
    // The first worker to exit, awaited (not polled).
    let mut exits: Vec<_> = workers.iter_mut().map(|w| Box::pin(w.wait())).collect();
    let exited = std::future::poll_fn(|cx| {
        for (i, exit) in exits.iter_mut().enumerate() {
            if let std::task::Poll::Ready(status) = exit.as_mut().poll(cx) {
                return std::task::Poll::Ready((i, status));
            }
        }
        std::task::Poll::Pending
    });
    let early = timeout(Duration::from_secs(60), async {
        tokio::select! {
            _ = seen => None,
            exit = exited => Some(exit),
        }
    })
    .await
    .expect("the crawl got under way");
    drop(exits);
    if let Some((i, status)) = early {
        let mut stderr = String::new();
        let _ = workers[i]
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await;
        panic!("a worker exited ({status:?}) before the crawl was under way:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_its_hosts_are_taken_over() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    // Short leases, so that the killed worker's hosts are taken over soon.
    let workers = Workers::new(dir.path(), &servers, &redis, "request_timeout = \"1s\"");
    let config_lease = "[store]\nlease = \"6s\"\n";
    let text = std::fs::read_to_string(&workers.config).unwrap();
    let text = text.replace("concurrency = 8", "concurrency = 4");
    std::fs::write(&workers.config, format!("{text}\n{config_lease}")).unwrap();
    let mut survivor = workers.start("w1");
    let mut victim = workers.start("w2");
    under_way(&servers, 15, &mut [&mut survivor, &mut victim]).await;
    victim.kill().await.unwrap();
    let unsettled = redis.unsettled("w2").await;
    let survivor_out = finish(survivor, "w1").await;
    // The killed worker, started again under its name, finds the crawl done and
    // delivers the records it had committed but not yet written.
    let restarted = finish(workers.start("w2"), "w2 (restarted)").await;
    assert_eq!(pages_requested(&restarted), 0, "{restarted}");
    let got = contents(&workers.records(&["w1", "w2"]), &servers);
    assert!(
        got == expected,
        "records lost or changed: {} of {}\n{survivor_out}",
        got.len(),
        expected.len()
    );
    let requests = check_gaps(&servers);
    let twice: usize = requests
        .iter()
        .filter(|((_, target), _)| target != "/robots.txt")
        .map(|(_, n)| n - 1)
        .sum();
    eprintln!("fetched again after the kill: {twice} (unsettled at the kill: {unsettled})");
    assert!(
        twice <= unsettled,
        "{twice} extra fetches; at most the killed worker's {unsettled} leased or settling URLs may be fetched again\n{survivor_out}"
    );
}

/// Every file of the rotated series that starts at `base`.
fn series_records(base: &Path) -> (Vec<Article>, u32) {
    let files: Vec<PathBuf> = (0..)
        .map(|n| newscrawl::sink::series_path(base, n))
        .take_while(|p| p.exists())
        .collect();
    let records = files.iter().flat_map(|f| read_lines(f)).collect();
    (records, files.len() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_write_rotated_files_per_site_exactly_once_across_a_kill() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    // Short leases, so that the killed worker's hosts are taken over soon.
    let workers = Workers::new(dir.path(), &servers, &redis, "request_timeout = \"1s\"");
    let text = std::fs::read_to_string(&workers.config).unwrap();
    let text = text.replace("[output]\n", "[output]\nrotate_bytes = 4000\n");
    std::fs::write(
        &workers.config,
        format!("{text}\n[store]\nlease = \"6s\"\n"),
    )
    .unwrap();
    let out = |name: &str| dir.path().join(format!("{name}-{{site}}.jsonl"));
    let start = |name: &str| {
        let state = dir.path().join(name);
        let args = [
            "crawl",
            "--store",
            &workers.store,
            "--state",
            &state.to_string_lossy(),
        ];
        worker(&args, &workers.config, name, &out(name))
    };
    let mut survivor = start("w1");
    let mut victim = start("w2");
    under_way(&servers, 15, &mut [&mut survivor, &mut victim]).await;
    victim.kill().await.unwrap();
    finish(survivor, "w1").await;
    // Started again under its name, the killed worker cuts its files back to its saved
    // offset and writes what it had committed and not yet written.
    finish(start("w2"), "w2 (restarted)").await;

    let mut all = Vec::new();
    let mut rotated = 0;
    for name in ["w1", "w2"] {
        for i in 0..servers.len() {
            let site = format!("site-{i}");
            let base = PathBuf::from(out(name).to_string_lossy().replace("{site}", &site));
            let (records, files) = series_records(&base);
            assert!(
                records.iter().all(|r| r.site == site),
                "{}: a record of another site",
                base.display()
            );
            rotated += u32::from(files > 1);
            all.extend(records);
        }
    }
    assert!(rotated > 0, "no output was rotated");
    let got = contents(&all, &servers);
    assert!(
        got == expected,
        "records lost or changed: {} of {}",
        got.len(),
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_exchange_is_archived_once_in_the_workers_warc_files() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    let workers = Workers::new(dir.path(), &servers, &redis, "");
    let warc = |name: &str| dir.path().join(format!("{name}.warc.gz"));
    let start = |name: &str| {
        let state = dir.path().join(name);
        let (state, warc) = (
            state.to_string_lossy(),
            warc(name).to_string_lossy().into_owned(),
        );
        let args = [
            "crawl",
            "--store",
            &workers.store,
            "--state",
            &state,
            "--warc",
            &warc,
        ];
        worker(&args, &workers.config, name, &workers.out(name))
    };
    let (first, second) = (start("w1"), start("w2"));
    finish(first, "w1").await;
    finish(second, "w2").await;

    let mut archived = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for name in ["w1", "w2"] {
        let records = read_warc(&warc(name));
        assert_eq!(records[0]["type"], "warcinfo");
        for r in records.iter().filter(|r| r["type"] == "response") {
            assert_eq!(r["digest_ok"], true, "{r}");
            assert!(
                records
                    .iter()
                    .any(|q| q["type"] == "request" && q["concurrent"] == r["id"]),
                "no request record for {r}"
            );
        }
        ids.extend(
            records
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        archived.extend(responses(&records));
    }
    archived.sort();
    let mut expected: Vec<_> = servers.iter().flat_map(logged).collect();
    expected.sort();
    assert_eq!(archived, expected, "the archives against the servers' logs");
    // A warcinfo record a file, a request and a response an exchange, each its own id.
    assert_eq!(ids.len(), 2 + 2 * archived.len(), "record ids are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_server_loses_no_acknowledged_work() {
    let expected = reference().await;
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    let workers = Workers::new(dir.path(), &servers, &redis, "request_timeout = \"1s\"");
    let text = std::fs::read_to_string(&workers.config).unwrap();
    std::fs::write(
        &workers.config,
        format!("{text}\n[store]\nlease = \"6s\"\n"),
    )
    .unwrap();
    let mut first = workers.start("w1");
    let mut second = workers.start("w2");
    under_way(&servers, 15, &mut [&mut first, &mut second]).await;
    let _redis = redis.kill_and_restart().await;
    finish(first, "w1").await;
    finish(second, "w2").await;
    let got = contents(&workers.records(&["w1", "w2"]), &servers);
    assert!(
        got == expected,
        "records lost or changed: {} of {}",
        got.len(),
        expected.len()
    );
    check_gaps(&servers);
}

/// The host of the lease protocol tests.
const ONE_HOST: &str = "news.example:8080";

/// Article `i` of [`ONE_HOST`], as found on a listing page.
fn article(i: usize) -> QueueEntry {
    QueueEntry::found(format!("http://{ONE_HOST}/a/{i}"), "s", UrlKind::Article, 1)
}

/// A redis-server of its own with [`ONE_HOST`]'s first three articles queued.
struct OneHost {
    frontier: RedisFrontier,
    bucket: u32,
    redis: RedisServer,
    _dir: tempfile::TempDir,
}

impl OneHost {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = RedisServer::start(dir.path()).await;
        let frontier = RedisFrontier::connect(&redis.url(), false, "t", 4)
            .await
            .unwrap();
        let entries: Vec<QueueEntry> = (0..3).map(article).collect();
        assert_eq!(frontier.enqueue(&entries, 0).await.unwrap(), (3, 0));
        Self {
            bucket: frontier.bucket_of(ONE_HOST),
            frontier,
            redis,
            _dir: dir,
        }
    }
}

/// A completion that stores a robots.txt copy valid for an hour.
fn robots_copy() -> Completion {
    Completion {
        robots: Some((b"copy".to_vec(), Duration::from_secs(3600))),
        ..Completion::default()
    }
}

/// A completion that settles a claim's page as fetched, with one record.
fn fetched(claim: &Claim) -> Completion {
    let mut state = UrlState::queued(&claim.page.as_ref().unwrap().entry);
    state.status = UrlStatus::Fetched;
    Completion {
        url: Some(state.url.clone()),
        state: Some(state),
        records: vec![b"{}".to_vec()],
        ..Completion::default()
    }
}

/// The lease protocol itself, through the library: a leased host is not claimed
/// again while the lease lives; a lease that expired and was claimed again commits
/// nothing; the next allowed start a completion sets holds for every worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_exclude_expire_and_reject_stale_completions() {
    let one = OneHost::start().await;
    let (frontier, bucket) = (&one.frontier, one.bucket);
    let entries: Vec<QueueEntry> = (0..3).map(article).collect();
    assert_eq!(
        frontier.enqueue(&entries, 0).await.unwrap(),
        (0, 0),
        "seen before"
    );

    // Leases that must hold while the test looks are long; the one that must expire
    // is short, and nothing is asserted about it before it has.
    let long = Duration::from_secs(600);
    let short = Duration::from_millis(300);
    let claim_for = |worker: &'static str, lease: Duration| {
        let frontier = frontier.clone();
        async move {
            frontier
                .claim(bucket, worker, 8, lease, Duration::ZERO, Duration::ZERO)
                .await
                .unwrap()
        }
    };
    let claim = |worker: &'static str| claim_for(worker, long);
    // The first claim is for robots.txt; store a copy valid for an hour.
    let Claimed::Hosts { mut claims, .. } = claim("a").await else {
        panic!("claimable")
    };
    let robots = claims.pop().unwrap();
    assert!(robots.page.is_none(), "robots.txt comes first");
    assert!(matches!(claim("b").await, Claimed::Wait { .. }), "leased");
    let done = frontier
        .complete(&robots, "a", robots_copy())
        .await
        .unwrap();
    assert!(done.accepted);

    // A page lease that expires: once it has, another worker claims the host and the
    // first worker's late completion is refused.
    let Claimed::Hosts { mut claims, .. } = claim_for("a", short).await else {
        panic!("claimable")
    };
    let stale = claims.pop().unwrap();
    let url = stale.page.as_ref().unwrap().entry.url.clone();
    let fresh = eventually(
        || "the lease never expired".into(),
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            match claim("b").await {
                Claimed::Hosts { mut claims, .. } => claims.pop(),
                _ => None,
            }
        },
    )
    .await;
    assert_eq!(
        fresh.page.as_ref().unwrap().entry.url,
        url,
        "the same URL again"
    );
    let settle = |claim: &Claim, gap: Duration| Completion {
        next_gap: gap,
        ..fetched(claim)
    };
    let late = frontier
        .complete(&stale, "a", settle(&stale, Duration::ZERO))
        .await
        .unwrap();
    assert!(!late.accepted, "a stale epoch commits nothing");
    assert!(frontier
        .records_after(bucket, "a", "0-0", 10)
        .await
        .unwrap()
        .is_empty());
    // The live holder's completion counts, and its next allowed start (an hour away)
    // holds for every worker.
    let done = frontier
        .complete(&fresh, "b", settle(&fresh, Duration::from_secs(3600)))
        .await
        .unwrap();
    assert!(done.accepted);
    assert_eq!(
        frontier
            .records_after(bucket, "b", "0-0", 10)
            .await
            .unwrap()
            .len(),
        1
    );
    match claim("a").await {
        Claimed::Wait { now_ms, until_ms } => assert!(until_ms >= now_ms + 3_500_000),
        other => panic!("expected a wait, got {other:?}"),
    }
    let again = frontier
        .complete(&fresh, "b", Completion::default())
        .await
        .unwrap();
    assert!(!again.accepted, "a lease completes once");
}

/// A listing page queued again for its revisit is claimed, once due, before the URLs
/// the host already had queued (`store::Priority`); one not due yet holds none of
/// them up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_revisit_is_claimed_before_the_hosts_found_urls() {
    let one = OneHost::start().await;
    let (frontier, bucket) = (&one.frontier, one.bucket);
    let claim = || async {
        match frontier
            .claim(
                bucket,
                "a",
                1,
                Duration::from_secs(600),
                Duration::ZERO,
                Duration::ZERO,
            )
            .await
            .unwrap()
        {
            Claimed::Hosts { mut claims, .. } => claims.pop().unwrap(),
            other => panic!("claimable, got {other:?}"),
        }
    };
    let robots = claim().await;
    assert!(robots.page.is_none(), "robots.txt comes first");
    assert!(
        frontier
            .complete(&robots, "a", robots_copy())
            .await
            .unwrap()
            .accepted
    );
    // The first article, settled and queued again as a listing page would be: due at
    // once, then in an hour.
    let url_of = |claim: &Claim| claim.page.as_ref().unwrap().entry.url.clone();
    let revisited = |claim: &Claim, after: Duration| {
        let mut entry = claim.page.as_ref().unwrap().entry.clone();
        entry.kind = UrlKind::Section;
        Completion {
            revisit: Some(RevisitPlan {
                entry,
                if_changed: (after, None),
                if_unchanged: (after, None),
            }),
            ..fetched(claim)
        }
    };
    let first = claim().await;
    assert_eq!(url_of(&first), article(0).url);
    let done = revisited(&first, Duration::ZERO);
    assert!(frontier.complete(&first, "a", done).await.unwrap().accepted);
    let again = claim().await;
    assert_eq!(url_of(&again), article(0).url, "the due revisit first");
    let done = revisited(&again, Duration::from_secs(3600));
    assert!(frontier.complete(&again, "a", done).await.unwrap().accepted);
    let next = claim().await;
    assert_eq!(
        url_of(&next),
        article(1).url,
        "a revisit not due holds nothing up"
    );
    // The links a revisit found go before the host's older found URLs.
    let fresh = article(7);
    let done = Completion {
        links: vec![fresh.clone()],
        links_priority: Priority::Revisit,
        ..fetched(&next)
    };
    assert!(frontier.complete(&next, "a", done).await.unwrap().accepted);
    let after = claim().await;
    assert_eq!(url_of(&after), fresh.url, "a revisit's new article first");
    let done = fetched(&after);
    assert!(frontier.complete(&after, "a", done).await.unwrap().accepted);
    assert_eq!(url_of(&claim().await), article(2).url);
}

/// Handing a host on when its server answered: the host may be claimed again at once
/// (its next allowed start counts from the answer) while the page is processed; the
/// page commits once, under its lease's epoch, and leaves the host's clock alone; a
/// page its worker abandons is queued again when its settling runs out, and the late
/// commit is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_on_host_is_claimed_again_while_its_page_settles() {
    let one = OneHost::start().await;
    let (frontier, bucket) = (&one.frontier, one.bucket);
    let lease = Duration::from_secs(60);
    let claim = |worker: &'static str| {
        let frontier = frontier.clone();
        async move {
            match frontier
                .claim(bucket, worker, 8, lease, Duration::ZERO, Duration::ZERO)
                .await
                .unwrap()
            {
                Claimed::Hosts { mut claims, .. } => Ok(claims.pop().unwrap()),
                other => Err(other),
            }
        }
    };
    let url_of = |claim: &Claim| claim.page.as_ref().unwrap().entry.url.clone();
    let settled = |claim: &Claim, handed_on: bool| Completion {
        settles_handed_on: handed_on,
        ..fetched(claim)
    };
    let records = |worker: &'static str| {
        let frontier = frontier.clone();
        async move {
            frontier
                .records_after(bucket, worker, "0-0", 10)
                .await
                .unwrap()
                .len()
        }
    };
    let robots = claim("a").await.unwrap();
    assert!(
        frontier
            .complete(&robots, "a", robots_copy())
            .await
            .unwrap()
            .accepted
    );

    // Handed on with no gap: the host is claimed again before its first page commits,
    // for its next URL, not the one being processed.
    let first = claim("a").await.unwrap();
    let (no_gap, settle) = (Duration::ZERO, Duration::from_secs(3600));
    let hand_on = |claim: &Claim, gap: Duration, settle: Duration| {
        let (frontier, claim) = (frontier.clone(), claim.clone());
        async move {
            let url = url_of(&claim);
            frontier
                .hand_on(&claim, &url, gap, Duration::ZERO, Pace::default(), settle)
                .await
                .unwrap()
        }
    };
    let next = hand_on(&first, no_gap, settle).await.expect("handed on");
    assert!(
        next.at_ms.is_some_and(|at| at <= next.now_ms),
        "claimable at once: {next:?}"
    );
    assert!(
        hand_on(&first, no_gap, settle).await.is_none(),
        "a lease is handed on once"
    );
    let whole = frontier
        .complete(&first, "a", settled(&first, false))
        .await
        .unwrap();
    assert!(!whole.accepted, "the hand-on ended the lease");
    let second = claim("b").await.unwrap();
    assert_ne!(
        url_of(&second),
        url_of(&first),
        "the settling URL is not claimed"
    );
    let done = frontier
        .complete(&first, "a", settled(&first, true))
        .await
        .unwrap();
    assert!(done.accepted, "the page commits under its lease's epoch");
    assert!(
        !frontier
            .complete(&first, "a", settled(&first, true))
            .await
            .unwrap()
            .accepted,
        "once"
    );
    assert_eq!(records("a").await, 1);

    // Abandoned: the second page's settling runs out (on Redis's clock) and its URL
    // is claimed again; the late commit is refused.
    assert!(hand_on(&second, no_gap, Duration::from_millis(300))
        .await
        .is_some());
    let third = claim("a").await.unwrap();
    assert!(hand_on(&third, no_gap, settle).await.is_some());
    assert!(
        frontier
            .complete(&third, "a", settled(&third, true))
            .await
            .unwrap()
            .accepted
    );
    assert!(
        matches!(claim("a").await, Err(Claimed::Wait { .. })),
        "only the abandoned page is left"
    );
    let again = eventually(
        || "the abandoned page was never queued again".into(),
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async { claim("a").await.ok() },
    )
    .await;
    assert_eq!(url_of(&again), url_of(&second));
    let late = frontier
        .complete(&second, "b", settled(&second, true))
        .await
        .unwrap();
    assert!(!late.accepted, "a settling that ran out commits nothing");
    assert_eq!(records("b").await, 0);

    // The gap set by the hand-on holds for every worker, through the commit, even with
    // a URL queued meanwhile.
    assert!(hand_on(&again, Duration::from_secs(3600), settle)
        .await
        .is_some());
    assert_eq!(frontier.enqueue(&[article(3)], 0).await.unwrap(), (1, 0));
    let held = |reply: Result<Claim, Claimed>| match reply {
        Err(Claimed::Wait { now_ms, until_ms }) => until_ms >= now_ms + 3_500_000,
        _ => false,
    };
    assert!(held(claim("b").await), "the hand-on's gap holds");
    assert!(
        frontier
            .complete(&again, "a", settled(&again, true))
            .await
            .unwrap()
            .accepted
    );
    assert!(held(claim("b").await), "the commit leaves the clock alone");
    assert_eq!(records("a").await, 3);

    // Claimed ahead of its next allowed start, a host says when its request may start.
    let ahead = frontier
        .claim(
            bucket,
            "c",
            8,
            lease,
            Duration::ZERO,
            Duration::from_secs(7200),
        )
        .await
        .unwrap();
    let Claimed::Hosts { claims, .. } = ahead else {
        panic!("claimable within two hours, got {ahead:?}")
    };
    assert_eq!(url_of(&claims[0]), format!("http://{ONE_HOST}/a/3"));
    assert!(claims[0].start_ms >= claims[0].now_ms + 3_500_000);
    assert!(claims[0].start_ms <= claims[0].now_ms + 3_600_000);

    // A page its worker still processes: renewing its settling moves its deadline on,
    // under the claim's epoch only.
    let slow = &claims[0];
    let url = url_of(slow);
    assert!(hand_on(slow, no_gap, settle).await.is_some());
    let before = one
        .redis
        .settling_deadline(ONE_HOST, &url)
        .await
        .expect("settling");
    let page = |epoch: &str| [(ONE_HOST.to_string(), url.clone(), epoch.to_string())];
    let renewed = frontier
        .renew_settling(bucket, &page(&slow.epoch), 2 * settle)
        .await
        .unwrap();
    assert_eq!(renewed, 1);
    let after = one
        .redis
        .settling_deadline(ONE_HOST, &url)
        .await
        .expect("settling");
    assert!(after >= before + 3_500_000, "{before} then {after}");
    let stale = frontier
        .renew_settling(bucket, &page("1"), 2 * settle)
        .await
        .unwrap();
    assert_eq!(stale, 0, "another epoch's page is not renewed");
}

/// A daemon worker serves `/healthz`, `/status` and `/metrics` on `--http`: its
/// counters match the server's log and its output file once its first pass is written;
/// SIGHUP reloads its config (a broken one refused, a second site crawled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_worker_serves_its_endpoint_and_reloads_on_sighup() {
    let server = common::fixture_server(6).await;
    let dir = tempfile::tempdir().unwrap();
    let (summary, _) = common::crawl_text(
        &common::demo_config_text(server.origin(), ""),
        &dir.path().join("reference"),
        Duration::ZERO,
    )
    .await
    .unwrap();
    let expected = summary.stats.records as usize;
    let before = server.requests().len();
    let redis = RedisServer::start(dir.path()).await;
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, common::demo_config_text(server.origin(), "")).unwrap();
    let out = dir.path().join("w1.jsonl");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["--log-format", "text", "daemon", "--http", "127.0.0.1:0"])
        .args(["--store", &redis.url(), "--worker", "w1", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["--min-delay", &format!("{}ms", DELAY.as_millis())])
        .env("RUST_LOG", "newscrawl=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    // The endpoint's address from the log; the rest of the log is drained.
    let mut lines = tokio::io::BufReader::new(worker.stderr.take().unwrap()).lines();
    let endpoint = timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, url)) = line.split_once("serving /healthz, /status and /metrics on ") {
                return url.trim().to_string();
            }
        }
        panic!("the worker ended without serving its endpoint");
    })
    .await
    .expect("the worker names its endpoint");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let get = |path: &'static str| {
        let url = format!("{endpoint}{path}");
        async move {
            let response = reqwest::get(url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let sum = |text: &str, name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    };
    eventually(
        || "the worker's /healthz never said ok".to_string(),
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { (get("/healthz").await == (200, "ok\n".to_string())).then_some(()) },
    )
    .await;
    // Its first pass written, and a moment with no request in flight: the counters
    // agree with the server's log and the output file.
    eventually(
        || {
            format!(
                "{} of {expected} records, or counters off the server's log",
                read_written(&out).len()
            )
        },
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async {
            let (code, text) = get("/metrics").await;
            assert_eq!(code, 200, "{text}");
            assert!(text.ends_with("# EOF\n"), "{text}");
            let requests = sum(&text, "newscrawl_requests_total");
            let emitted = sum(&text, "newscrawl_records_emitted_total");
            let written = read_written(&out).len();
            (written == expected
                && emitted == expected as f64
                && requests == (server.requests().len() - before) as f64)
                .then_some(())
        },
    )
    .await;
    let (code, body) = get("/status").await;
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["worker"], "w1", "{status:#}");
    assert_eq!(
        status["live_workers"],
        serde_json::json!(["w1"]),
        "{status:#}"
    );
    assert_eq!(status["records_emitted"], expected as u64, "{status:#}");
    assert!(
        status["requests"].as_u64().unwrap() >= expected as u64,
        "{status:#}"
    );
    assert_eq!(
        status["buckets"].as_array().unwrap().len(),
        16,
        "{status:#}"
    );
    let pid = worker.id().unwrap();
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid.to_string()])
            .status()
            .unwrap()
    };
    // SIGHUP with a broken config: refused, and the worker keeps going.
    std::fs::write(&config, "[crawler]\nconcurrency = 0\n").unwrap();
    signal("HUP");
    // SIGHUP with a second site: its pages are crawled and written without a restart.
    let second = common::fixture_server(6).await;
    let site = common::demo_config_text(second.origin(), "");
    let table = &site[site.find("[[site]]").unwrap()..];
    std::fs::write(
        &config,
        common::demo_config_text(server.origin(), "")
            + &table.replace("name = \"daily-fixture\"", "name = \"second\""),
    )
    .unwrap();
    signal("HUP");
    eventually(
        || {
            format!(
                "{} records in all, none or too few of the site added by SIGHUP",
                read_written(&out).len()
            )
        },
        Duration::from_secs(60),
        Duration::from_millis(50),
        || async { (read_written(&out).len() == 2 * expected).then_some(()) },
    )
    .await;
    let (_, body) = get("/healthz").await;
    assert_eq!(body, "ok\n", "the worker is still up");
    signal("TERM");
    let status = timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("the worker stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "the worker exited with {status}");
    // Stopped: every line is whole, none written twice.
    assert_eq!(read_lines(&out).len(), 2 * expected);
}

/// Two daemon workers share a crawl: listing pages are revisited (by either worker),
/// an article published while they run is fetched and written once, and SIGTERM
/// stops each with exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_workers_revisit_and_write_new_articles_once() {
    let spec = |articles| FixtureSpec {
        articles,
        ..FixtureSpec::default()
    };
    // What a one-shot crawl of the site writes once two more articles are out.
    let expected = {
        let server = FixtureServer::start(
            Arc::new(FixtureSite::new(spec(14))),
            [127, 0, 0, 1].into(),
            0,
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        common::crawl_text(
            &common::demo_config_text(server.origin(), ""),
            dir.path(),
            Duration::ZERO,
        )
        .await
        .unwrap();
        contents(&read_records(dir.path()), std::slice::from_ref(&server))
    };
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let server = FixtureServer::start(
        Arc::new(FixtureSite::new(spec(12))),
        [127, 0, 0, 1].into(),
        0,
    )
    .await
    .unwrap();
    let servers = std::slice::from_ref(&server);
    let config = dir.path().join("crawl.toml");
    std::fs::write(
        &config,
        common::demo_config_text(
            server.origin(),
            "revisit_min = \"500ms\"\nrevisit_max = \"2s\"",
        ),
    )
    .unwrap();
    let redis_url = redis.url();
    let start = |name: &str| {
        worker(
            &["daemon", "--http", "off", "--store", &redis_url],
            &config,
            name,
            &dir.path().join(format!("{name}.jsonl")),
        )
    };
    let (mut first, mut second) = (start("d1"), start("d2"));
    let read = || -> Vec<Article> {
        ["d1", "d2"]
            .iter()
            .flat_map(|name| {
                std::fs::read_to_string(dir.path().join(format!("{name}.jsonl")))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect::<Vec<Article>>()
            })
            .collect()
    };
    let within = Duration::from_secs(60);
    // The first pass, then two articles more.
    under_way(servers, 30, &mut [&mut first, &mut second]).await;
    server.set_site(FixtureSite::new(spec(14)));
    eventually(
        || format!("{} of {} records after 60 s", read().len(), expected.len()),
        within,
        Duration::from_millis(100),
        || async { (read().len() >= expected.len()).then_some(()) },
    )
    .await;
    for (worker, name) in [&mut first, &mut second].into_iter().zip(["d1", "d2"]) {
        terminate(worker);
        let status = timeout(Duration::from_secs(30), worker.wait())
            .await
            .unwrap_or_else(|_| panic!("{name} did not stop on SIGTERM"))
            .unwrap();
        assert!(status.success(), "{name} exited with {status}");
    }
    let got = contents(&read(), servers);
    assert!(
        got == expected,
        "records differ from a one-shot crawl's: {} of {}",
        got.len(),
        expected.len()
    );
    let requests = check_gaps(servers);
    assert!(
        requests[&(0, "/".to_string())] > 1,
        "the home page was revisited"
    );
}

/// A Redis Cluster of three masters of the test's own, killed when dropped.
struct RedisCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
}

impl RedisCluster {
    async fn start(dir: &Path) -> Self {
        // A node also listens on its port + 10000 (the cluster bus): both must be free.
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
                ports.push(port);
            }
        }
        let mut nodes = Vec::new();
        for port in &ports {
            let node_dir = dir.join(format!("node-{port}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            nodes.push(
                Command::new("redis-server")
                    .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                    .args([
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                    ])
                    .arg("--dir")
                    .arg(&node_dir)
                    .args(["--save", "", "--appendonly", "no"])
                    .stdout(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("redis-server is installed"),
            );
        }
        let cluster = Self { nodes, ports };
        for port in &cluster.ports {
            RedisServer::ping(*port).await;
        }
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(created.success(), "redis-cli --cluster create failed");
        let all_ok = || async {
            for port in &cluster.ports {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .await
                    .unwrap();
                if !String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    return None;
                }
            }
            Some(())
        };
        eventually(
            || "the cluster did not come up".into(),
            Duration::from_secs(30),
            Duration::from_millis(50),
            all_ok,
        )
        .await;
        cluster
    }

    /// Keys held by each node.
    async fn keys_per_node(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for port in &self.ports {
            let size = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "dbsize"])
                .output()
                .await
                .unwrap();
            out.push(
                String::from_utf8_lossy(&size.stdout)
                    .trim()
                    .parse()
                    .unwrap(),
            );
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crawl_spreads_over_a_redis_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = RedisCluster::start(dir.path()).await;
    let servers = servers().await;
    let store = format!(
        "cluster = true\nurl = \"redis://127.0.0.1:{}\"\n",
        cluster.ports[0]
    );
    two_workers_write_the_reference(dir.path(), &servers, &store, DELAY).await;
    check_gaps(&servers);
    let keys = cluster.keys_per_node().await;
    eprintln!("keys per cluster node: {keys:?}");
    assert!(
        keys.iter().filter(|n| **n > 0).count() >= 2,
        "the crawl's keys are on one node only: {keys:?}"
    );
    drop(cluster.nodes);
}

/// Hosts with no gap at all (loopback only) are not handed on when the server answers:
/// each page's lease lasts until its commit. Two workers still write exactly the
/// records of a one-process crawl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_without_a_gap_commit_each_page_within_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    let store = format!("url = \"{}\"\n", redis.url());
    two_workers_write_the_reference(dir.path(), &servers, &store, Duration::ZERO).await;
}

/// Runs two workers of a crawl of `servers` at `gap`, with `store` as the config's
/// `[store]` table, until they end; checks that together they wrote exactly the
/// records of a one-process crawl.
async fn two_workers_write_the_reference(
    dir: &Path,
    servers: &[FixtureServer],
    store: &str,
    gap: Duration,
) {
    let expected = reference().await;
    let config = dir.join("crawl.toml");
    let text = format!("{}\n[store]\n{store}", config_text(servers, ""));
    std::fs::write(&config, text).unwrap();
    let out = |name: &str| dir.join(format!("{name}.jsonl"));
    let start = |name: &str| worker_at(&["crawl"], &config, name, &out(name), gap);
    let (first, second) = (start("w1"), start("w2"));
    finish(first, "w1").await;
    finish(second, "w2").await;
    let records: Vec<Article> = ["w1", "w2"]
        .iter()
        .flat_map(|name| read_lines(&out(name)))
        .collect();
    let got = contents(&records, servers);
    assert!(
        got == expected,
        "records differ from a one-process crawl's: {} of {}",
        got.len(),
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leaves_retries_not_yet_due_queued_and_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    // A section that fails: its retry is due a minute later (the default retry_delay).
    let failing = "/section/business";
    servers[0].set(failing, Scripted::status(503));
    let workers = Workers::new(dir.path(), &servers, &redis, "");
    let stderr = finish(workers.start("w1"), "w1").await;
    assert!(
        stderr.contains(", 1 retries not yet due left queued"),
        "{stderr}"
    );
    let tries = servers[0]
        .requests()
        .iter()
        .filter(|r| r.target == failing)
        .count();
    assert_eq!(tries, 1, "the worker ends without waiting for the retry");
}

/// The pace rule on shared workers: a slow answer lengthens the host's next gap by
/// the adaptive estimate, and a `Retry-After` pauses the host and sets when the page
/// is tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_keep_the_adaptive_delay_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let servers = servers().await;
    let latency = Duration::from_millis(400);
    servers[0].set("/robots.txt", Scripted::status(404).after(latency));
    servers[1].script("/", [Scripted::status(503).header("retry-after", "1")]);
    let workers = Workers::new(dir.path(), &servers, &redis, "");
    finish(workers.start("w1"), "w1").await;

    let slow = servers[0].requests();
    assert_eq!(
        (slow[0].target.as_str(), slow[1].target.as_str()),
        ("/robots.txt", "/")
    );
    let gap = slow[1].at.duration_since(slow[0].at);
    assert!(gap >= latency + latency / 2, "{gap:?}");

    let paused = servers[1].requests();
    let home: Vec<_> = paused.iter().filter(|r| r.target == "/").collect();
    assert_eq!(
        home.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 200],
        "tried again once the pause was over"
    );
    let after = paused.iter().position(|r| r.target == "/").unwrap() + 1;
    assert!(
        paused[after].at.duration_since(home[0].at) >= Duration::from_secs(1),
        "the host's next request waits for the pause"
    );
}

/// A site's listing budget (`max_listing_rate`) holds for a shared worker: once its
/// estimates settle, the section requests the server sees stay within the budget
/// (without it, `revisit_min` allows many times more: over 90 in the counted seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_spends_a_sites_listing_budget() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let (window, counted) = (Duration::from_secs(10), Duration::from_secs(4));
    let (site, server) = common::busy_live_site(window + Duration::from_secs(5)).await;
    let config = dir.path().join("crawl.toml");
    std::fs::write(
        &config,
        common::busy_live_config(server.origin(), Some(3600.0)),
    )
    .unwrap();
    // The window ends with the server's first request after it; the worker runs until
    // then, and must not end before.
    let end = site.start_ms + window.as_millis() as u64;
    let mut daemon = daemon_worker_through(&redis, &config, "b1", &server, end, window * 6).await;
    daemon.kill().await.unwrap();
    let from = site.start_ms + (window - counted).as_millis() as u64;
    let sections = common::section_requests_since(&server, from);
    // One a second for 4 s, twice over for the intervals' halves and doublings.
    assert!(
        sections > 0,
        "the worker visited no section in the counted part"
    );
    assert!(
        sections <= 12,
        "{sections} section requests in {counted:?} on a budget of one a second"
    );
}

/// A daemon worker visits the sections whose news the home page shows first less, as
/// a one-machine daemon does (`covered_sections.rs`), and keeps what it learned under
/// its own name for its next run; a copy it cannot read is named and learned again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_worker_visits_covered_sections_less_and_keeps_what_it_learned() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let key = "newscrawl:meta:cover:c1";
    redis.cli(&["SET", key, "not a cover"]).await;
    let (window, counted) = (Duration::from_secs(10), Duration::from_secs(4));
    let (site, server) = common::busy_live_site_listing(window + Duration::from_secs(2), 10).await;
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, common::busy_live_config(server.origin(), None)).unwrap();
    let end = site.start_ms + window.as_millis() as u64;
    let daemon = daemon_worker_through(&redis, &config, "c1", &server, end, window * 6).await;
    terminate(&daemon);
    let stderr = finish(daemon, "c1").await;
    assert!(stderr.contains("unreadable"), "{stderr}");
    let from = site.start_ms + (window - counted).as_millis() as u64;
    common::assert_sections_covered(
        common::home_requests_since(&server, from),
        common::section_requests_since(&server, from),
    );
    common::assert_saved_every_section(&redis.cli(&["GET", key]).await, 4);
}

/// A worker follows the feed a section page declares: the site's stories are reachable
/// through it alone, and all of them are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_follows_the_feed_a_section_page_declares() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let server = common::feed_live_site().await;
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, common::feed_only_config(server.origin(), true)).unwrap();
    let out = dir.path().join("f1.jsonl");
    let worker = worker_at(
        &["crawl", "--store", &redis.url()],
        &config,
        "f1",
        &out,
        Duration::from_millis(5),
    );
    finish(worker, "f1").await;
    let log: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        log.iter().filter(|t| *t == "/feed.xml").count(),
        1,
        "{log:?}"
    );
    // Two sections of 15 stories each; the feed lists the 20 newest.
    assert_eq!(read_lines(&out).len(), 20, "{log:?}");
}

/// A shared worker follows a section's next pages as the one-machine daemon does
/// (`next_pages.rs`): after a revisit that shows only new stories, until a page shows
/// a known one; never after a revisit that shows a known story, nor on a first visit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_follows_next_pages_after_a_revisit_of_only_new_stories() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let published = Arc::new(std::sync::atomic::AtomicUsize::new(6));
    let site = common::paged_site(published.clone(), 3).await;
    let config = dir.path().join("crawl.toml");
    std::fs::write(&config, common::paged_config(&site.origin)).unwrap();
    let out = dir.path().join("p1.jsonl");
    let mut worker = worker_at(
        &["daemon", "--http", "off", "--store", &redis.url()],
        &config,
        "p1",
        &out,
        Duration::from_millis(5),
    );
    let marks = tokio::select! {
        status = worker.wait() => panic!("the worker ended early: {status:?}"),
        marks = common::paged_steps(&published, &site, &out) => marks,
    };
    worker.kill().await.unwrap();
    common::assert_paged(&site.log, marks, &out);
}
