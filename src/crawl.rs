//! The crawl engine: wires frontier, robots.txt, politeness, fetcher, parsers, store
//! and sink into one run.
//!
//! One task owns the schedule (host clocks, the ready queue, robots state); fetches run
//! as their own tasks; everything CPU-bound or blocking (decoding, hashing, parsing,
//! store commits, sink writes) runs on tokio's blocking pool, never on the runtime.
//!
//! Invariants: no request to a host starts before its clock allows it (robots.txt
//! included); no URL is requested before its host's robots.txt has been read and found
//! to allow it; each leased URL is settled by exactly one store commit.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::url::Url;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::CrawlConfig;
use crate::fetch::{
    decode_html, is_html, FetchError, FetchSettings, Fetcher, Response, Validators,
};
use crate::parse::{Page, ParserRegistry};
use crate::politeness::{HostClock, ReadyQueue};
use crate::robots::Robots;
use crate::sink::{JsonlSink, SinkError};
use crate::site::{path_and_query, Site, UrlKind};
use crate::store::{
    fingerprint, hex, HostRecord, Lease, PageCommit, QueueEntry, RobotsCopy, Store, StoreError,
    UrlState, UrlStatus,
};
use crate::urlnorm::host_key;

/// How long a robots.txt copy is trusted before it is fetched again.
pub const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// Redirects followed while fetching robots.txt (RFC 9309 asks for at least five).
const ROBOTS_MAX_REDIRECTS: usize = 5;
/// How often the sink delivers new records (after a store flush).
const SINK_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] FetchError),
    #[error("site {site:?} uses parser {parser:?}, which is not registered")]
    UnknownParser { site: String, parser: String },
    #[error("a blocking task failed: {0}")]
    Join(String),
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Nothing left that is due.
    Done,
    MaxPages,
    MaxTime,
    Shutdown,
}

/// Counts of one run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Page requests made (robots.txt not included).
    pub requests: u64,
    pub robots_requests: u64,
    pub pages_parsed: u64,
    pub records: u64,
    pub failed: u64,
    pub skipped: u64,
    pub aliases: u64,
    pub robots_denied: u64,
    pub links_queued: u64,
    /// Links seen on pages that left the site or matched no pattern.
    pub links_ignored: u64,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub stats: Stats,
    pub stop: StopReason,
    pub elapsed: Duration,
    pub records_delivered: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{:?} after {:.1}s: {} pages requested (+{} robots.txt), {} parsed, {} records written, {} failed, {} skipped, {} duplicates, {} denied by robots.txt, {} links ignored",
            self.stop,
            self.elapsed.as_secs_f64(),
            s.requests,
            s.robots_requests,
            s.pages_parsed,
            self.records_delivered,
            s.failed,
            s.skipped,
            s.aliases,
            s.robots_denied,
            s.links_ignored
        )
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn rfc3339_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

enum RobotsState {
    Unknown,
    Fetching,
    Ready(Arc<Robots>),
    /// robots.txt could not be read in this run; the host's URLs stay queued.
    Parked,
}

struct HostSlot {
    site: Arc<Site>,
    clock: HostClock,
    robots: RobotsState,
    /// Scheme used to fetch robots.txt (that of the first URL seen for the host).
    scheme: String,
}

/// What finished tasks report to the scheduler.
/// `answered_at` is when the server answered (or the request failed): the host's
/// next request waits for it plus the delay.
enum Event {
    Robots {
        host: String,
        robots: Robots,
        answered_at: Instant,
    },
    Page {
        host: String,
        outcome: Result<PageOutcome, CrawlError>,
        answered_at: Instant,
    },
}

#[derive(Default)]
struct PageOutcome {
    status: Option<UrlStatus>,
    new_links: Vec<(String, usize)>,
    records: usize,
    links_ignored: usize,
}

/// A configured crawler, ready to run.
pub struct Crawler {
    config: Arc<CrawlConfig>,
    store: Arc<dyn Store>,
    parsers: ParserRegistry,
    fetcher: Fetcher,
    /// Site of every allowed host.
    host_sites: HashMap<String, Arc<Site>>,
}

impl Crawler {
    pub fn new(
        config: CrawlConfig,
        store: Arc<dyn Store>,
        parsers: ParserRegistry,
    ) -> Result<Self, CrawlError> {
        for site in &config.sites {
            if parsers.get(&site.parser).is_none() {
                return Err(CrawlError::UnknownParser {
                    site: site.name.clone(),
                    parser: site.parser.clone(),
                });
            }
        }
        let fetcher = Fetcher::new(&FetchSettings {
            user_agent: config.user_agent.clone(),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            max_body_bytes: config.max_body_bytes,
        })?;
        let mut host_sites = HashMap::new();
        for site in &config.sites {
            let site = Arc::new(site.clone());
            for host in site.allowed_hosts() {
                host_sites
                    .entry(host.clone())
                    .or_insert_with(|| site.clone());
            }
        }
        Ok(Self {
            config: Arc::new(config),
            store,
            parsers,
            fetcher,
            host_sites,
        })
    }

    /// Runs until nothing is due, a limit is reached, or `shutdown` completes; then
    /// lets requests in flight finish, delivers every record, and flushes the store.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        let started = Instant::now();
        let store = self.store.clone();
        let recovered = blocking({
            let store = store.clone();
            move || store.recover_leases(now_ms())
        })
        .await??;
        if recovered > 0 {
            tracing::info!(
                "{recovered} URLs that were in flight when the last run stopped are queued again"
            );
        }
        let seeds: Vec<QueueEntry> = self
            .config
            .sites
            .iter()
            .flat_map(|site| {
                site.seeds.iter().map(|url| QueueEntry {
                    url: url.to_string(),
                    site: site.name.clone(),
                    kind: UrlKind::Section,
                    depth: 0,
                    redirects: 0,
                })
            })
            .collect();
        let new_seeds = blocking({
            let store = store.clone();
            move || store.enqueue_new(&seeds, now_ms())
        })
        .await??;
        tracing::debug!("{new_seeds} new seeds queued");

        let sink = {
            let store = store.clone();
            let path = self.config.output_path.clone();
            blocking(move || JsonlSink::open(&*store, &path)).await??
        };
        let sink = Arc::new(std::sync::Mutex::new(sink));
        let (sink_stop_tx, sink_stop_rx) = tokio::sync::watch::channel(false);
        let sink_task = tokio::spawn(run_sink(store.clone(), sink.clone(), sink_stop_rx));

        let mut scheduler = Scheduler::new(self);
        let result = scheduler.run(started, shutdown).await;

        let _ = sink_stop_tx.send(true);
        let delivered = sink_task
            .await
            .map_err(|e| CrawlError::Join(e.to_string()))??;
        let stop = result?;
        Ok(Summary {
            stats: scheduler.stats,
            stop,
            elapsed: started.elapsed(),
            records_delivered: delivered,
        })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, CrawlError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CrawlError::Join(e.to_string()))
}

/// Flushes the store and delivers the outbox every interval, and once more at the end.
async fn run_sink(
    store: Arc<dyn Store>,
    sink: Arc<std::sync::Mutex<JsonlSink>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<u64, CrawlError> {
    let mut delivered = 0u64;
    loop {
        let stopping = *stop.borrow();
        let (store2, sink2) = (store.clone(), sink.clone());
        delivered += blocking(move || -> Result<u64, CrawlError> {
            store2.flush()?;
            let mut sink = sink2.lock().expect("sink lock poisoned");
            let n = sink.drain(&*store2)? as u64;
            store2.flush()?;
            Ok(n)
        })
        .await??;
        if stopping {
            return Ok(delivered);
        }
        tokio::select! {
            _ = tokio::time::sleep(SINK_INTERVAL) => {}
            _ = stop.changed() => {}
        }
    }
}

struct Scheduler {
    crawler: Crawler,
    hosts: HashMap<String, HostSlot>,
    ready: ReadyQueue,
    in_flight: usize,
    stats: Stats,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
}

impl Scheduler {
    fn new(crawler: Crawler) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            crawler,
            hosts: HashMap::new(),
            ready: ReadyQueue::default(),
            in_flight: 0,
            stats: Stats::default(),
            events_tx,
            events_rx,
        }
    }

    fn config(&self) -> &CrawlConfig {
        &self.crawler.config
    }

    async fn run(
        &mut self,
        started: Instant,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<StopReason, CrawlError> {
        let store = self.crawler.store.clone();
        let hosts = blocking(move || store.hosts_with_work()).await??;
        let now = Instant::now();
        for host in hosts {
            self.wake_host(&host, now);
        }
        let deadline = self.config().max_time.map(|t| started + t);
        let mut last_progress = Instant::now();
        tokio::pin!(shutdown);
        let mut stop: Option<StopReason> = None;
        loop {
            let now = Instant::now();
            if stop.is_none() {
                if deadline.is_some_and(|d| now >= d) {
                    stop = Some(StopReason::MaxTime);
                } else if self
                    .config()
                    .max_pages
                    .is_some_and(|m| self.stats.requests >= m)
                {
                    stop = Some(StopReason::MaxPages);
                }
            }
            if stop.is_none() {
                self.dispatch_due(now).await?;
            }
            if self.in_flight == 0 && (stop.is_some() || self.ready.is_empty()) {
                return Ok(stop.unwrap_or(StopReason::Done));
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                self.log_progress(started);
                last_progress = Instant::now();
            }
            let wake = if stop.is_some() || self.in_flight >= self.config().concurrency {
                None
            } else {
                self.ready.next_at()
            };
            let wake = match (wake, deadline) {
                (Some(w), Some(d)) => Some(w.min(d)),
                (w, d) => w.or(d),
            };
            let progress_at = last_progress + Duration::from_secs(1);
            let wake = wake.map_or(progress_at, |w| w.min(progress_at));
            tokio::select! {
                event = self.events_rx.recv() => {
                    let event = event.expect("the scheduler holds a sender");
                    self.handle(event)?;
                }
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut shutdown, if stop.is_none() => {
                    tracing::info!("stopping: letting {} requests in flight finish", self.in_flight);
                    stop = Some(StopReason::Shutdown);
                }
            }
        }
    }

    fn log_progress(&self, started: Instant) {
        let s = &self.stats;
        let secs = started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            "{} pages ({:.1}/s), {} records, {} in flight, {} hosts waiting, {} failed, {} denied by robots.txt",
            s.requests,
            s.requests as f64 / secs,
            s.records,
            self.in_flight,
            self.hosts.len(),
            s.failed,
            s.robots_denied
        );
    }

    /// Arms a host that may have work, creating its slot on first sight.
    fn wake_host(&mut self, host: &str, now: Instant) {
        if !self.hosts.contains_key(host) {
            let Some(site) = self.crawler.host_sites.get(host).cloned() else {
                tracing::warn!(
                    host,
                    "queued URLs belong to no configured site; leaving them queued"
                );
                return;
            };
            let delay = site.min_delay;
            let scheme = site
                .seeds
                .iter()
                .find(|s| host_key(s).as_deref() == Some(host))
                .map_or("https", |s| s.scheme())
                .to_string();
            self.hosts.insert(
                host.to_string(),
                HostSlot {
                    site,
                    clock: HostClock::new(delay, self.config().per_host_concurrency, now),
                    robots: RobotsState::Unknown,
                    scheme,
                },
            );
        }
        let slot = &self.hosts[host];
        if matches!(slot.robots, RobotsState::Fetching | RobotsState::Parked) {
            return;
        }
        if slot.clock.in_flight < slot.clock.limit {
            let at = slot.clock.next_allowed.max(now);
            self.ready.arm(host, at);
        }
    }

    async fn dispatch_due(&mut self, now: Instant) -> Result<(), CrawlError> {
        while self.in_flight < self.config().concurrency {
            let Some(host) = self.ready.pop_due(now) else {
                return Ok(());
            };
            self.dispatch_host(&host, now).await?;
        }
        Ok(())
    }

    /// Starts the next request of a host whose clock allows it.
    async fn dispatch_host(&mut self, host: &str, now: Instant) -> Result<(), CrawlError> {
        let store = self.crawler.store.clone();
        let slot = self.hosts.get_mut(host).expect("armed hosts have slots");
        if !slot.clock.may_start(now) {
            let at = slot.clock.next_allowed;
            if slot.clock.in_flight < slot.clock.limit {
                self.ready.arm(host, at);
            }
            return Ok(());
        }
        if matches!(slot.robots, RobotsState::Unknown) {
            let cached = {
                let (store, host) = (store.clone(), host.to_string());
                blocking(move || store.host(&host)).await??
            };
            let slot = self.hosts.get_mut(host).expect("slot exists");
            match cached.and_then(|r| r.robots) {
                Some(copy)
                    if now_ms().saturating_sub(copy.fetched_at_ms)
                        < ROBOTS_TTL.as_millis() as u64 =>
                {
                    let robots = robots_from_copy(&copy, &self.crawler.config.robots_token);
                    slot.robots = RobotsState::Ready(Arc::new(robots));
                }
                _ => {
                    slot.robots = RobotsState::Fetching;
                    slot.clock.started(now);
                    self.in_flight += 1;
                    self.stats.robots_requests += 1;
                    let robots_url = format!("{}://{}/robots.txt", slot.scheme, host);
                    tokio::spawn(fetch_robots(
                        self.crawler.fetcher.clone(),
                        self.crawler.store.clone(),
                        self.crawler.config.robots_token.clone(),
                        host.to_string(),
                        robots_url,
                        slot.clock.delay,
                        self.events_tx.clone(),
                    ));
                    return Ok(());
                }
            }
        }
        let slot = self.hosts.get_mut(host).expect("slot exists");
        let RobotsState::Ready(robots) = &slot.robots else {
            return Ok(());
        };
        let robots = robots.clone();
        loop {
            let lease = {
                let (store, host) = (store.clone(), host.to_string());
                blocking(move || store.lease_next(&host, now_ms())).await??
            };
            let entry = match lease {
                Lease::Url(leased) => leased.entry,
                // One-shot crawls do not wait for URLs that are due later.
                Lease::NotDue(_) | Lease::Empty => return Ok(()),
            };
            let Ok(url) = Url::parse(&entry.url) else {
                self.settle_without_request(&entry, UrlStatus::Failed, "queued URL does not parse")
                    .await?;
                continue;
            };
            if !robots.allows(path_and_query(&url)) {
                self.stats.robots_denied += 1;
                self.settle_without_request(
                    &entry,
                    UrlStatus::RobotsDenied,
                    "disallowed by robots.txt",
                )
                .await?;
                continue;
            }
            let slot = self.hosts.get_mut(host).expect("slot exists");
            slot.clock.started(now);
            let site = slot.site.clone();
            let next = slot.clock.next_allowed;
            if slot.clock.in_flight < slot.clock.limit {
                self.ready.arm(host, next);
            }
            self.in_flight += 1;
            self.stats.requests += 1;
            let job = PageJob {
                fetcher: self.crawler.fetcher.clone(),
                store: self.crawler.store.clone(),
                config: self.crawler.config.clone(),
                parser: self
                    .crawler
                    .parsers
                    .get(&site.parser)
                    .expect("checked in Crawler::new"),
                site,
                entry,
                url,
            };
            let (tx, host) = (self.events_tx.clone(), host.to_string());
            tokio::spawn(async move {
                let (outcome, answered_at) = job.run().await;
                let _ = tx.send(Event::Page {
                    host,
                    outcome,
                    answered_at,
                });
            });
            return Ok(());
        }
    }

    async fn settle_without_request(
        &mut self,
        entry: &QueueEntry,
        status: UrlStatus,
        note: &str,
    ) -> Result<(), CrawlError> {
        let mut state = UrlState::queued(entry);
        state.status = status;
        state.note = Some(note.to_string());
        let store = self.crawler.store.clone();
        blocking(move || {
            store.commit(PageCommit {
                state: Some(state),
                now_ms: now_ms(),
                ..Default::default()
            })
        })
        .await??;
        Ok(())
    }

    fn handle(&mut self, event: Event) -> Result<(), CrawlError> {
        let now = Instant::now();
        match event {
            Event::Robots {
                host,
                robots,
                answered_at,
            } => {
                self.in_flight -= 1;
                let slot = self.hosts.get_mut(&host).expect("slot exists");
                slot.clock.finished();
                slot.clock.answered(answered_at);
                if let Some(delay) = robots.crawl_delay {
                    let delay = Duration::from_secs_f64(delay.min(3600.0));
                    slot.clock.delay = slot.clock.delay.max(delay);
                }
                slot.robots = match robots.disallow_all_reason() {
                    Some(reason) => {
                        tracing::warn!(host, "robots.txt unavailable ({reason}); leaving the host's URLs queued for the next run");
                        RobotsState::Parked
                    }
                    None => RobotsState::Ready(Arc::new(robots)),
                };
                self.wake_host(&host, now);
            }
            Event::Page {
                host,
                outcome,
                answered_at,
            } => {
                self.in_flight -= 1;
                if let Some(slot) = self.hosts.get_mut(&host) {
                    slot.clock.finished();
                    slot.clock.answered(answered_at);
                }
                let outcome = outcome?;
                match outcome.status {
                    Some(UrlStatus::Fetched) => self.stats.pages_parsed += 1,
                    Some(UrlStatus::Failed) => self.stats.failed += 1,
                    Some(UrlStatus::Skipped) => self.stats.skipped += 1,
                    Some(UrlStatus::Alias) => self.stats.aliases += 1,
                    _ => {}
                }
                self.stats.records += outcome.records as u64;
                self.stats.links_ignored += outcome.links_ignored as u64;
                for (link_host, n) in &outcome.new_links {
                    self.stats.links_queued += *n as u64;
                    self.wake_host(link_host, now);
                }
                self.wake_host(&host, now);
            }
        }
        Ok(())
    }
}

fn robots_from_copy(copy: &RobotsCopy, token: &str) -> Robots {
    match copy.status {
        200..=299 => Robots::parse(&copy.body, token),
        400..=499 => Robots::allow_all(),
        0 => Robots::disallow_all(format!(
            "robots.txt request failed: {}",
            copy.error.as_deref().unwrap_or("unknown error")
        )),
        status => Robots::disallow_all(format!("robots.txt answered HTTP {status}")),
    }
}

/// Fetches a host's robots.txt (following up to five redirects, each after the
/// host's delay), stores the copy, and reports the policy.
async fn fetch_robots(
    fetcher: Fetcher,
    store: Arc<dyn Store>,
    token: String,
    host: String,
    url: String,
    delay: Duration,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut target = Url::parse(&url).ok();
    let mut copy = RobotsCopy {
        fetched_at_ms: now_ms(),
        status: 0,
        body: Vec::new(),
        error: Some("invalid robots.txt URL".into()),
    };
    let mut answered_at = Instant::now();
    for hop in 0..=ROBOTS_MAX_REDIRECTS {
        let Some(url) = target.take() else { break };
        if hop > 0 {
            // Each hop is a request to the host: keep its gap.
            tokio::time::sleep_until(answered_at + delay).await;
        }
        let response = fetcher.get(&url, &Validators::default()).await;
        answered_at = response
            .as_ref()
            .map_or_else(|_| Instant::now(), |r| r.answered_at);
        copy = match response {
            Ok(Response {
                status,
                location,
                body,
                ..
            }) => {
                if (300..400).contains(&status) {
                    target = location.and_then(|l| Url::parse(&l).ok());
                    if target.is_some() && hop < ROBOTS_MAX_REDIRECTS {
                        continue;
                    }
                    // RFC 9309: a robots.txt that cannot be reached through redirects
                    // counts as unavailable (4xx): no restrictions.
                    RobotsCopy {
                        fetched_at_ms: now_ms(),
                        status: 404,
                        body: Vec::new(),
                        error: Some(format!("redirect chain ended at HTTP {status}")),
                    }
                } else {
                    RobotsCopy {
                        fetched_at_ms: now_ms(),
                        status,
                        body,
                        error: None,
                    }
                }
            }
            Err(e) => RobotsCopy {
                fetched_at_ms: now_ms(),
                status: 0,
                body: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        break;
    }
    let robots = robots_from_copy(&copy, &token);
    let record_host = host.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let mut record = store
            .host(&record_host)?
            .unwrap_or_else(HostRecord::default);
        record.robots = Some(copy);
        store.put_host(&record_host, &record)
    })
    .await;
    match saved {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(host, "could not save robots.txt copy: {e}"),
        Err(e) => tracing::warn!(host, "could not save robots.txt copy: {e}"),
    }
    let _ = events.send(Event::Robots {
        host,
        robots,
        answered_at,
    });
}

/// One page: fetch, then (on the blocking pool) decode, hash, parse and commit.
struct PageJob {
    fetcher: Fetcher,
    store: Arc<dyn Store>,
    config: Arc<CrawlConfig>,
    parser: Arc<dyn crate::parse::Parser>,
    site: Arc<Site>,
    entry: QueueEntry,
    url: Url,
}

impl PageJob {
    /// Returns the outcome and when the server answered (or the request failed).
    async fn run(self) -> (Result<PageOutcome, CrawlError>, Instant) {
        let response = self.fetcher.get(&self.url, &Validators::default()).await;
        let answered_at = response
            .as_ref()
            .map_or_else(|_| Instant::now(), |r| r.answered_at);
        let fetched_at = rfc3339_now();
        let outcome = match blocking(move || self.settle(response, fetched_at)).await {
            Ok(result) => result,
            Err(e) => Err(e),
        };
        (outcome, answered_at)
    }

    fn settle(
        self,
        response: Result<Response, FetchError>,
        fetched_at: String,
    ) -> Result<PageOutcome, CrawlError> {
        let mut state = UrlState::queued(&self.entry);
        state.attempts += 1;
        state.fetched_at_ms = now_ms();
        let mut commit = PageCommit {
            now_ms: state.fetched_at_ms,
            ..Default::default()
        };
        let mut outcome = PageOutcome::default();
        match response {
            Err(e) => {
                tracing::debug!(url = %self.url, "fetch failed: {e}");
                state.status = UrlStatus::Failed;
                state.note = Some(e.to_string());
            }
            Ok(response) => {
                state.http_status = response.status;
                state.etag = response.etag.clone();
                state.last_modified = response.last_modified.clone();
                self.settle_response(response, &fetched_at, &mut state, &mut commit, &mut outcome);
            }
        }
        outcome.status = Some(state.status);
        commit.state = Some(state);
        let report = self.store.commit(commit)?;
        outcome.new_links = report.new_links;
        outcome.records = report.records;
        Ok(outcome)
    }

    fn settle_response(
        &self,
        response: Response,
        fetched_at: &str,
        state: &mut UrlState,
        commit: &mut PageCommit,
        outcome: &mut PageOutcome,
    ) {
        let status = response.status;
        if (300..400).contains(&status) {
            self.settle_redirect(response.location.as_deref(), state, commit);
            return;
        }
        if !(200..300).contains(&status) {
            state.status = UrlStatus::Failed;
            state.note = Some(format!("HTTP {status}"));
            return;
        }
        if !is_html(response.content_type.as_deref(), &response.body) {
            state.status = UrlStatus::Skipped;
            state.note = Some(format!(
                "not HTML ({})",
                response
                    .content_type
                    .as_deref()
                    .unwrap_or("no Content-Type")
            ));
            return;
        }
        let hash = fingerprint(&response.body);
        state.content_hash = Some(hash);
        match self.store.content_owner(&hash) {
            Ok(Some(owner)) if owner != self.entry.url => {
                state.status = UrlStatus::Alias;
                state.note = Some("same content as another URL".into());
                state.alias_of = Some(owner);
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(url = %self.url, "content lookup failed: {e}"),
        }
        commit.content = Some((hash, self.entry.url.clone()));
        let (text, _encoding) = decode_html(&response.body, response.content_type.as_deref());
        let page = Page {
            url: &self.url,
            kind: self.entry.kind,
            headers: &response.headers,
            body: &text,
            time_zone: self.site.time_zone,
        };
        let parsed = match catch_unwind(AssertUnwindSafe(|| self.parser.parse(&page))) {
            Ok(parsed) => parsed,
            Err(_) => {
                state.status = UrlStatus::Failed;
                state.note = Some(format!(
                    "parser {:?} panicked on this page",
                    self.site.parser
                ));
                return;
            }
        };
        state.status = UrlStatus::Fetched;
        let depth = self.entry.depth + 1;
        if self.config.max_depth.is_none_or(|max| depth <= max) {
            for link in parsed.links {
                let Ok(url) = self.config.normalizer.parse(&link) else {
                    outcome.links_ignored += 1;
                    continue;
                };
                match self.site.classify(&url) {
                    Some(kind) => commit.links.push(QueueEntry {
                        url: url.into(),
                        site: self.site.name.clone(),
                        kind,
                        depth,
                        redirects: 0,
                    }),
                    None => outcome.links_ignored += 1,
                }
            }
        }
        for mut article in parsed.articles {
            state.version += 1;
            article.url = self.entry.url.clone();
            article.site = self.site.name.clone();
            article.fetched_at = fetched_at.to_string();
            article.content_hash = hex(&hash);
            article.version = state.version;
            match serde_json::to_vec(&article) {
                Ok(json) => commit.records.push(json),
                Err(e) => tracing::warn!(url = %self.url, "record does not serialize: {e}"),
            }
        }
    }

    /// A redirect's target goes back to the frontier like a link.
    fn settle_redirect(
        &self,
        location: Option<&str>,
        state: &mut UrlState,
        commit: &mut PageCommit,
    ) {
        state.status = UrlStatus::Skipped;
        let Some(location) = location else {
            state.note = Some("redirect without Location".into());
            return;
        };
        let target = match self.config.normalizer.parse(location) {
            Ok(t) => t,
            Err(e) => {
                state.note = Some(format!("redirect to unusable URL {location:?}: {e}"));
                return;
            }
        };
        if target.as_str() == self.entry.url {
            state.status = UrlStatus::Failed;
            state.note = Some("redirects to itself".into());
            return;
        }
        if usize::from(self.entry.redirects) >= self.config.max_redirects {
            state.status = UrlStatus::Failed;
            state.note = Some(format!("more than {} redirects", self.config.max_redirects));
            return;
        }
        // A redirect from a wanted URL is wanted even if the target matches no
        // pattern, but it must stay on the site's hosts and outside its deny list.
        let kind = match self.site.classify(&target) {
            Some(kind) => kind,
            None if self.site.allows_host(&target) && !self.site.denies(&target) => self.entry.kind,
            None => {
                state.note = Some(format!("redirect to {target}, outside the site"));
                return;
            }
        };
        state.status = UrlStatus::Alias;
        state.alias_of = Some(target.to_string());
        state.note = Some("redirect".into());
        commit.links.push(QueueEntry {
            url: target.into(),
            site: self.site.name.clone(),
            kind,
            depth: self.entry.depth,
            redirects: self.entry.redirects + 1,
        });
    }
}
