//! The scheduler: one task that decides which host may start a request next.
//!
//! Owns each host's slot (site, robots.txt state, whether it has work), the clocks
//! (one per host, or one per IP address when hosts are grouped), and the ready queue.
//! Fetch tasks report back through [`Event`]s; the scheduler is the only writer of
//! clocks, so politeness needs no locks.
//!
//! Invariants: a request (robots.txt included) starts only when its clock allows it;
//! a host's first request of a run waits until at least one delay after the run
//! started and after any pause saved by an earlier run (so restarts never burst);
//! pages are requested only under a usable robots.txt copy that allows them.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ::url::Url;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::control::{Control, ErrorNote, HostLive, LiveStatus, SiteLive};
use super::page::{PageJob, PageOutcome};
use super::robots_fetch::{is_usable, policy_of, unavailable_reason, RobotsJob};
use super::{fetcher_for, host_sites_of, CrawlError, Crawler, Mode, Stats, StopReason};
use crate::clock::{now_ms, rfc3339_now};
use crate::config::CrawlConfig;
use crate::health::{ExtractionHealth, HealthReport};
use crate::politeness::{Feedback, HostClock, ReadyQueue};
use crate::robots::Robots;
use crate::site::{path_and_query, Site, UrlKind};
use crate::store::{
    HostRecord, Lease, PageCommit, QueueEntry, Revisit, RobotsCopy, Store, StoreError, UrlState,
    UrlStatus,
};
use crate::urlnorm::host_key;

/// What finished tasks report. `answered_at` is when the server answered (or the
/// request failed); `feedback` is what the answer says about the server.
pub(super) enum Event {
    Resolved {
        host: String,
        ip: Option<IpAddr>,
    },
    /// A refill of a host's lease window; `generation` is the host's work generation
    /// when the refill started.
    Leased {
        host: String,
        lease: Result<Lease, CrawlError>,
        generation: u64,
    },
    /// A store write the scheduler did not wait for.
    Written(Result<(), CrawlError>),
    /// URLs queued in the background (e.g. sitemaps named by robots.txt), by host.
    Enqueued {
        hosts: Vec<String>,
        result: Result<usize, CrawlError>,
    },
    Robots {
        host: String,
        copy: RobotsCopy,
        answered_at: Instant,
        feedback: Feedback,
        /// The host's address may not be connected to (see `netguard`): none of its
        /// URLs will be requested.
        refused: Option<String>,
    },
    /// A page request ended (the server answered, or the request failed).
    Answered {
        host: String,
        answered_at: Instant,
        feedback: Feedback,
    },
    /// A page was settled (parsed and committed).
    Page {
        host: String,
        outcome: Result<PageOutcome, CrawlError>,
    },
}

enum RobotsState {
    /// The store has not been asked for a copy yet.
    Unknown,
    /// No usable copy: fetch one when the clock allows (after `failures` failed tries).
    Needed {
        failures: u32,
    },
    Fetching {
        failures: u32,
    },
    Ready {
        robots: Arc<Robots>,
        fetched_at_ms: u64,
    },
    /// robots.txt stayed unavailable after every retry: the host's URLs stay queued
    /// (for the next run; in daemon mode, until a timer tries again).
    Parked,
}

struct HostSlot {
    site: Arc<Site>,
    /// The clock this host uses; `None` while its address is being resolved.
    clock: Option<String>,
    robots: RobotsState,
    /// Scheme for robots.txt: that of the site's first start URL (seed, feed or
    /// sitemap) on the host, else https.
    scheme: String,
    /// URLs leased from the store and not yet requested. The window is refilled in
    /// the background before it runs dry, so dispatching never waits for the store,
    /// and only a few URLs per host are held in memory.
    window: VecDeque<QueueEntry>,
    refilling: bool,
    /// The store had no due URL for the host at the last refill.
    exhausted: bool,
    /// Counts wake-ups with new work, so that a refill that started before new links
    /// were committed does not mark the host exhausted.
    generation: u64,
    /// The host belongs to no site of the current config (dropped by a reload): its
    /// URLs stay queued, untouched.
    retired: bool,
    /// Since when the next URL in the window has been ready to go (for metrics).
    work_since: Option<Instant>,
    /// Unix ms of the earliest URL the store holds for later (daemon mode).
    next_due_ms: Option<u64>,
    last_error: Option<ErrorNote>,
}

impl HostSlot {
    /// Nothing to request now, and nothing on the way.
    fn out_of_work(&self) -> bool {
        self.window.is_empty() && (self.exhausted || self.refilling)
    }
}

/// Daemon mode: how long a host whose robots.txt stayed unavailable rests before the
/// next round of tries.
const PARKED_RETRY: Duration = Duration::from_secs(15 * 60);
/// Failures kept for `/status`.
const LAST_ERRORS: usize = 20;
/// URLs leased per host at a time.
const WINDOW: usize = 8;
/// Pages answered but not yet settled (each holds its body); dispatching pauses at
/// this many, so a parser slower than the network bounds memory, not the queue.
const MAX_SETTLING: usize = 128;

pub(super) struct Scheduler {
    crawler: Crawler,
    started: Instant,
    hosts: HashMap<String, HostSlot>,
    clocks: HashMap<String, HostClock>,
    /// Hosts of each clock.
    members: HashMap<String, Vec<String>>,
    ready: ReadyQueue,
    in_flight: usize,
    /// Pages answered and waiting for (or in) parsing and commit.
    settling: usize,
    /// Background tasks the scheduler still expects an event from (address lookups,
    /// window refills, store writes).
    pending: usize,
    stats: Stats,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    mode: Mode,
    /// Daemon mode: hosts to wake when their next queued URL falls due (or their
    /// robots.txt may be tried again).
    timers: ReadyQueue,
    last_errors: VecDeque<ErrorNote>,
    site_records: HashMap<String, u64>,
    health: ExtractionHealth,
}

impl Scheduler {
    pub fn new(crawler: Crawler, started: Instant, mode: Mode) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        Self {
            crawler,
            started,
            hosts: HashMap::new(),
            clocks: HashMap::new(),
            members: HashMap::new(),
            ready: ReadyQueue::default(),
            in_flight: 0,
            settling: 0,
            pending: 0,
            stats: Stats::default(),
            events_tx,
            events_rx,
            mode,
            timers: ReadyQueue::default(),
            last_errors: VecDeque::new(),
            site_records: HashMap::new(),
            health: ExtractionHealth::default(),
        }
    }

    fn daemon(&self) -> bool {
        self.mode == Mode::Daemon
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    fn config(&self) -> &CrawlConfig {
        &self.crawler.config
    }

    pub async fn run(
        &mut self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<StopReason, CrawlError> {
        let store = self.crawler.store.clone();
        let hosts = self
            .crawler
            .io
            .run(move || store.hosts_with_work())
            .await??;
        let now = Instant::now();
        for host in hosts {
            self.wake_host(&host, now, true);
        }
        let deadline = self.config().max_time.map(|t| self.started + t);
        let mut last_progress = Instant::now();
        tokio::pin!(shutdown);
        let mut stop: Option<StopReason> = None;
        let mut grace_end: Option<Instant> = None;
        let mut control = std::mem::replace(&mut self.crawler.control_rx, mpsc::channel(1).1);
        let result = loop {
            let now = Instant::now();
            self.crawler.metrics.beat(now_ms());
            self.crawler.metrics.set_in_flight(self.in_flight);
            if stop.is_none() {
                while let Some(host) = self.timers.pop_due(now) {
                    self.timer_fired(&host, now);
                }
            }
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
                if let Err(e) = self.dispatch_due(now).await {
                    break Err(e);
                }
            }
            let idle = self.in_flight == 0 && self.settling == 0 && self.pending == 0;
            let waits_for_more = self.daemon() && stop.is_none();
            if idle && (stop.is_some() || (self.ready.is_empty() && !waits_for_more)) {
                break Ok(stop.unwrap_or(StopReason::Done));
            }
            if grace_end.is_some_and(|end| now >= end) {
                // Requests still running are abandoned: their URLs stay leased and go
                // back to the queue when the next run starts.
                tracing::warn!(
                    "{} requests still in flight after the grace period; they will be retried",
                    self.in_flight
                );
                break Ok(StopReason::Shutdown);
            }
            let progress_every = self.crawler.progress_every;
            if progress_every.is_some_and(|every| last_progress.elapsed() >= every) {
                self.log_progress();
                last_progress = Instant::now();
            }
            let wake = if stop.is_some() || !self.may_dispatch() {
                None
            } else {
                self.ready.next_at()
            };
            let wake = match (
                wake,
                stop.is_none().then(|| self.timers.next_at()).flatten(),
            ) {
                (Some(w), Some(t)) => Some(w.min(t)),
                (w, t) => w.or(t),
            };
            let wake = match (wake, deadline) {
                (Some(w), Some(d)) => Some(w.min(d)),
                (w, d) => w.or(d),
            };
            // Wake at least once a second (heartbeat for /healthz, progress lines).
            let progress_at = last_progress + progress_every.unwrap_or(Duration::from_secs(1));
            let wake = wake.map_or(progress_at, |w| w.min(progress_at));
            let wake = wake.min(now + Duration::from_secs(1));
            let wake = grace_end.map_or(wake, |end| wake.min(end));
            tokio::select! {
                event = self.events_rx.recv() => {
                    let event = event.expect("the scheduler holds a sender");
                    if let Err(e) = self.handle(event) {
                        break Err(e);
                    }
                }
                Some(request) = control.recv() => self.control(request),
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut shutdown, if stop.is_none() => {
                    let grace = self.config().shutdown_grace;
                    tracing::info!(
                        "stopping: letting {} requests in flight finish (at most {grace:?})",
                        self.in_flight
                    );
                    stop = Some(StopReason::Shutdown);
                    grace_end = Some(Instant::now() + grace);
                }
            }
        };
        self.save_clocks().await?;
        self.save_health().await?;
        result
    }

    fn log_progress(&self) {
        let s = &self.stats;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            "{} pages ({:.1}/s), {} records, {} in flight, {} parsing, {} hosts, {} retried, {} failed, {} denied by robots.txt",
            s.requests,
            s.requests as f64 / secs,
            s.records,
            self.in_flight,
            self.settling,
            self.hosts.len(),
            s.retried,
            s.failed,
            s.robots_denied
        );
    }

    /// Arms a host that may have work, creating its slot (and clock) on first sight.
    fn wake_host(&mut self, host: &str, now: Instant, new_work: bool) {
        if !self.hosts.contains_key(host) {
            let Some(site) = self.crawler.host_sites.get(host).cloned() else {
                tracing::warn!(
                    host,
                    "queued URLs belong to no configured site; leaving them queued"
                );
                return;
            };
            let scheme = site
                .seeds
                .iter()
                .chain(&site.feeds)
                .chain(&site.sitemaps)
                .find(|s| host_key(s).as_deref() == Some(host))
                .map_or("https", |s| s.scheme())
                .to_string();
            self.hosts.insert(
                host.to_string(),
                HostSlot {
                    site,
                    clock: None,
                    robots: RobotsState::Unknown,
                    scheme,
                    window: VecDeque::new(),
                    refilling: false,
                    exhausted: false,
                    generation: 0,
                    retired: false,
                    work_since: None,
                    next_due_ms: None,
                    last_error: None,
                },
            );
            if self.config().politeness.group_by_ip {
                self.pending += 1;
                let (tx, host) = (self.events_tx.clone(), host.to_string());
                tokio::spawn(async move {
                    let ip = resolve(&host).await;
                    let _ = tx.send(Event::Resolved { host, ip });
                });
                return;
            }
            self.attach_clock(host, host.to_string(), now);
        }
        let slot = self.hosts.get_mut(host).expect("slot exists");
        if new_work {
            slot.exhausted = false;
            slot.generation += 1;
        }
        if slot.retired
            || slot.out_of_work()
            || matches!(
                slot.robots,
                RobotsState::Fetching { .. } | RobotsState::Parked
            )
        {
            return;
        }
        let Some(key) = &slot.clock else { return };
        let clock = &self.clocks[key];
        if clock.in_flight < clock.limit {
            self.ready.arm(host, clock.next_allowed.max(now));
        }
    }

    fn attach_clock(&mut self, host: &str, key: String, now: Instant) {
        let site_delay = self.hosts[host].site.min_delay;
        let limit = self.config().politeness.per_host_concurrency;
        self.clocks
            .entry(key.clone())
            .or_insert_with(|| HostClock::new(site_delay, limit, now))
            .raise_base(site_delay);
        self.members
            .entry(key.clone())
            .or_default()
            .push(host.to_string());
        self.hosts.get_mut(host).expect("slot exists").clock = Some(key);
    }

    /// Re-arms every host sharing `key` after a request of `host` ended, starting with
    /// the member after `host`, so that hosts of one group take turns.
    fn wake_members(&mut self, key: &str, host: &str, now: Instant) {
        let members = self.members.get(key).cloned().unwrap_or_default();
        let after = members.iter().position(|m| m == host).map_or(0, |i| i + 1);
        for member in members[after..].iter().chain(&members[..after]) {
            self.wake_host(member, now, false);
        }
    }

    /// Whether another request may start: below the global limit, and the parser
    /// keeping up.
    fn may_dispatch(&self) -> bool {
        self.in_flight < self.config().concurrency && self.settling < MAX_SETTLING
    }

    async fn dispatch_due(&mut self, now: Instant) -> Result<(), CrawlError> {
        while self.may_dispatch() {
            let Some(host) = self.ready.pop_due(now) else {
                return Ok(());
            };
            self.dispatch_host(&host, now).await?;
        }
        Ok(())
    }

    fn clock_of(&mut self, host: &str) -> &mut HostClock {
        let key = self.hosts[host]
            .clock
            .as_ref()
            .expect("armed hosts have clocks");
        self.clocks.get_mut(key).expect("clock exists")
    }

    /// Starts the next request of a host whose clock allows it: robots.txt when there
    /// is no usable copy, else its next allowed URL.
    async fn dispatch_host(&mut self, host: &str, now: Instant) -> Result<(), CrawlError> {
        loop {
            let clock = self.clock_of(host);
            if !clock.may_start(now) {
                if clock.in_flight < clock.limit {
                    let at = clock.next_allowed;
                    self.ready.arm(host, at);
                }
                return Ok(());
            }
            let slot = self.hosts.get_mut(host).expect("slot exists");
            match &slot.robots {
                RobotsState::Unknown => {
                    self.load_host_record(host, now).await?;
                    continue;
                }
                RobotsState::Needed { failures } => {
                    let failures = *failures;
                    self.start_robots_fetch(host, failures, now);
                    return Ok(());
                }
                RobotsState::Fetching { .. } | RobotsState::Parked => return Ok(()),
                RobotsState::Ready { fetched_at_ms, .. } => {
                    let ttl = self.crawler.config.politeness.robots_ttl.as_millis() as u64;
                    if now_ms().saturating_sub(*fetched_at_ms) >= ttl {
                        slot.robots = RobotsState::Needed { failures: 0 };
                        continue;
                    }
                }
            }
            self.dispatch_page(host, now);
            return Ok(());
        }
    }

    /// Reads what an earlier run left for the host: its robots.txt copy and its clock.
    async fn load_host_record(&mut self, host: &str, now: Instant) -> Result<(), CrawlError> {
        let record = {
            let (store, host) = (self.crawler.store.clone(), host.to_string());
            self.crawler.io.run(move || store.host(&host)).await??
        };
        let token = self.crawler.config.robots_token.clone();
        let policy = self.crawler.config.politeness.clone();
        let mut robots = RobotsState::Needed { failures: 0 };
        if let Some(record) = record {
            // The host was contacted before: never sooner than one delay after this
            // run started, nor before a pause the last run saved.
            let saved =
                now + Duration::from_millis(record.next_allowed_ms.saturating_sub(now_ms()));
            let started = self.started;
            let clock = self.clock_of(host);
            let resume_at = saved.max(started + clock.delay());
            clock.not_before(resume_at);
            if let Some(copy) = record.robots.filter(is_usable) {
                if now_ms().saturating_sub(copy.fetched_at_ms)
                    < policy.robots_ttl.as_millis() as u64
                {
                    let parsed = policy_of(&copy, &token);
                    self.apply_crawl_delay(host, &parsed);
                    robots = RobotsState::Ready {
                        robots: Arc::new(parsed),
                        fetched_at_ms: copy.fetched_at_ms,
                    };
                }
            }
        }
        self.hosts.get_mut(host).expect("slot exists").robots = robots;
        Ok(())
    }

    fn apply_crawl_delay(&mut self, host: &str, robots: &Robots) {
        let Some(seconds) = robots.crawl_delay else {
            return;
        };
        let max = self.config().politeness.max_crawl_delay;
        let asked = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        if asked > max {
            tracing::warn!(host, "robots.txt asks for Crawl-delay {seconds}s; capped at {max:?} (politeness.max_crawl_delay)");
        }
        self.clock_of(host).raise_base(asked.min(max));
    }

    fn start_robots_fetch(&mut self, host: &str, failures: u32, now: Instant) {
        let clock = self.clock_of(host);
        clock.started(now);
        let delay = clock.delay();
        self.in_flight += 1;
        self.stats.robots_requests += 1;
        let slot = self.hosts.get_mut(host).expect("slot exists");
        slot.robots = RobotsState::Fetching { failures };
        let job = RobotsJob {
            fetcher: self.crawler.fetcher.clone(),
            io: self.crawler.io.clone(),
            store: self.crawler.store.clone(),
            host: host.to_string(),
            url: format!("{}://{}/robots.txt", slot.scheme, host),
            delay,
            metrics: self.crawler.metrics.clone(),
        };
        let (events, host) = (self.events_tx.clone(), host.to_string());
        tokio::spawn(async move {
            let fetched = job.run().await;
            let _ = events.send(Event::Robots {
                host,
                copy: fetched.copy,
                answered_at: fetched.answered_at,
                feedback: fetched.feedback,
                refused: fetched.refused,
            });
        });
    }

    /// Starts fetching the host's next leased URL; URLs robots.txt disallows are
    /// settled without a request. Never waits for the store: the window is refilled
    /// in the background.
    fn dispatch_page(&mut self, host: &str, now: Instant) {
        let RobotsState::Ready { robots, .. } = &self.hosts[host].robots else {
            return;
        };
        let robots = robots.clone();
        loop {
            let slot = self.hosts.get_mut(host).expect("slot exists");
            if slot.window.len() < WINDOW / 2 && !slot.refilling && !slot.exhausted {
                self.refill(host);
            }
            let Some(entry) = self
                .hosts
                .get_mut(host)
                .expect("slot exists")
                .window
                .pop_front()
            else {
                return;
            };
            let Ok(url) = Url::parse(&entry.url) else {
                self.settle_without_request(&entry, UrlStatus::Failed, "queued URL does not parse");
                continue;
            };
            if !robots.allows(path_and_query(&url)) {
                self.stats.robots_denied += 1;
                self.crawler.metrics.robots_denied();
                let note = match robots.disallow_all_reason() {
                    Some(reason) => format!("robots.txt disallows everything: {reason}"),
                    None => "disallowed by robots.txt".to_string(),
                };
                self.settle_without_request(&entry, UrlStatus::RobotsDenied, &note);
                continue;
            }
            let clock = self.clock_of(host);
            clock.started(now);
            if clock.in_flight < clock.limit {
                let next = clock.next_allowed;
                self.ready.arm(host, next);
            }
            self.in_flight += 1;
            self.settling += 1;
            self.stats.requests += 1;
            let slot = self.hosts.get_mut(host).expect("slot exists");
            if let Some(since) = slot.work_since.take() {
                self.crawler
                    .metrics
                    .host_waited(now.saturating_duration_since(since));
            }
            if !slot.window.is_empty() {
                slot.work_since = Some(now);
            }
            let site = slot.site.clone();
            let revisit = match self.mode {
                Mode::OneShot => None,
                Mode::Daemon if entry.kind.is_revisited() => Some(Revisit::Adaptive(site.revisit)),
                Mode::Daemon => site.article_recheck.map(Revisit::After),
            };
            let job = PageJob {
                fetcher: self.crawler.fetcher.clone(),
                cpu: self.crawler.cpu.clone(),
                store: self.crawler.pages.clone(),
                config: self.crawler.config.clone(),
                parser: self
                    .crawler
                    .site_parsers
                    .get(&site.name)
                    .cloned()
                    .expect("every site has a parser"),
                site,
                entry,
                url,
                metrics: self.crawler.metrics.clone(),
                revisit,
                known_links: self.crawler.known_links.clone(),
                robots: robots.clone(),
            };
            let (tx, host) = (self.events_tx.clone(), host.to_string());
            tokio::spawn(async move {
                let outcome = job
                    .run(|answered_at, feedback| {
                        let _ = tx.send(Event::Answered {
                            host: host.clone(),
                            answered_at,
                            feedback,
                        });
                    })
                    .await;
                let _ = tx.send(Event::Page { host, outcome });
            });
            return;
        }
    }

    /// Leases more of the host's URLs in the background.
    fn refill(&mut self, host: &str) {
        let slot = self.hosts.get_mut(host).expect("slot exists");
        slot.refilling = true;
        let generation = slot.generation;
        let (host, leased_host) = (host.to_string(), host.to_string());
        self.store_in_background(
            move |store| store.lease(&leased_host, now_ms(), WINDOW),
            move |lease| Event::Leased {
                host,
                lease,
                generation,
            },
        );
    }

    /// Queues the sitemaps a host's robots.txt names (those on the site's hosts).
    fn queue_robots_sitemaps(&mut self, host: &str, robots: &Robots) {
        let site = self.hosts[host].site.clone();
        let entries = sitemaps_named(&site, robots, self.config());
        if entries.is_empty() {
            return;
        }
        let hosts = entries.iter().map(QueueEntry::host).collect();
        self.store_in_background(
            move |store| store.enqueue_new(&entries, now_ms()),
            |result| Event::Enqueued { hosts, result },
        );
    }

    /// Settles a leased URL that will not be requested, in the background.
    fn settle_without_request(&mut self, entry: &QueueEntry, status: UrlStatus, note: &str) {
        let mut state = UrlState::queued(entry);
        state.status = status;
        state.note = Some(note.to_string());
        let commit = PageCommit {
            state: Some(state),
            now_ms: now_ms(),
            ..Default::default()
        };
        self.store_in_background(
            move |store| store.commit(commit).map(|_| ()),
            Event::Written,
        );
    }

    /// Runs a store call on the store pool without waiting for it; its result comes
    /// back as the event `report` makes of it (the run does not end before it does).
    fn store_in_background<T: Send + 'static>(
        &mut self,
        call: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
        report: impl FnOnce(Result<T, CrawlError>) -> Event + Send + 'static,
    ) {
        self.pending += 1;
        let (store, tx, io) = (
            self.crawler.store.clone(),
            self.events_tx.clone(),
            self.crawler.io.clone(),
        );
        tokio::spawn(async move {
            let result = io
                .run(move || call(&*store))
                .await
                .and_then(|r| r.map_err(CrawlError::from));
            let _ = tx.send(report(result));
        });
    }

    /// Keeps a failure for `/status`: the crawl's last errors and the host's last.
    fn note_error(&mut self, host: &str, url: String, error: String) {
        let note = ErrorNote {
            url,
            error,
            at: rfc3339_now(),
        };
        if self.last_errors.len() >= LAST_ERRORS {
            self.last_errors.pop_back();
        }
        self.last_errors.push_front(note.clone());
        if let Some(slot) = self.hosts.get_mut(host) {
            slot.last_error = Some(note);
        }
    }

    /// Ends a request on its clock and feeds the answer back.
    fn request_ended(
        &mut self,
        host: &str,
        answered_at: Instant,
        feedback: Feedback,
    ) -> Option<String> {
        self.in_flight -= 1;
        let policy = self.crawler.config.politeness.clone();
        let key = self.hosts.get(host)?.clock.clone()?;
        let clock = self.clocks.get_mut(&key)?;
        clock.finished();
        clock.answered(answered_at, feedback, &policy);
        if let Feedback::Pause(pause) = feedback {
            tracing::info!(host, "server asked for a pause of {pause:?}");
            let until_ms = now_ms()
                + clock
                    .next_allowed
                    .saturating_duration_since(Instant::now())
                    .as_millis() as u64;
            self.save_clock(host, until_ms);
        }
        Some(key)
    }

    fn handle(&mut self, event: Event) -> Result<(), CrawlError> {
        let now = Instant::now();
        match event {
            Event::Leased {
                host,
                lease,
                generation,
            } => {
                self.pending -= 1;
                let slot = self.hosts.get_mut(&host).expect("slot exists");
                slot.refilling = false;
                match lease? {
                    Lease::Urls(urls) => {
                        if slot.window.is_empty() && slot.work_since.is_none() {
                            slot.work_since = Some(now);
                        }
                        slot.window.extend(urls);
                    }
                    // One-shot crawls do not wait for URLs that are due later; the
                    // daemon sets a timer for them.
                    Lease::NotDue(due_ms) => {
                        slot.exhausted = slot.generation == generation;
                        slot.next_due_ms = Some(due_ms);
                        if self.mode == Mode::Daemon {
                            self.timers.arm(&host, instant_of(due_ms, now));
                        }
                    }
                    Lease::Empty => {
                        slot.exhausted = slot.generation == generation;
                        slot.next_due_ms = None;
                    }
                }
                self.wake_host(&host, now, false);
            }
            Event::Written(result) => {
                self.pending -= 1;
                result?;
            }
            Event::Enqueued { hosts, result } => {
                self.pending -= 1;
                if result? > 0 {
                    for host in hosts {
                        self.wake_host(&host, now, true);
                    }
                }
            }
            Event::Resolved { host, ip } => {
                self.pending -= 1;
                let key = match ip {
                    Some(ip) => format!("ip {ip}"),
                    None => host.clone(),
                };
                self.attach_clock(&host, key, now);
                self.wake_host(&host, now, false);
            }
            Event::Robots {
                host,
                copy,
                answered_at,
                feedback,
                refused,
            } => {
                // Crawl-delay first: the gap after this very request must honour it.
                let usable =
                    is_usable(&copy).then(|| policy_of(&copy, &self.crawler.config.robots_token));
                if let Some(robots) = &usable {
                    self.apply_crawl_delay(&host, robots);
                    self.queue_robots_sitemaps(&host, robots);
                }
                let key = self.request_ended(&host, answered_at, feedback);
                let failures = match self.hosts[&host].robots {
                    RobotsState::Fetching { failures } => failures,
                    _ => 0,
                };
                if usable.is_none() {
                    let url = format!("{}://{host}/robots.txt", self.hosts[&host].scheme);
                    let reason = format!("robots.txt unavailable: {}", unavailable_reason(&copy));
                    self.note_error(&host, url, reason);
                }
                let next = if let Some(robots) = usable {
                    RobotsState::Ready {
                        robots: Arc::new(robots),
                        fetched_at_ms: copy.fetched_at_ms,
                    }
                } else if let Some(reason) = refused {
                    // Not an outage: nothing of this host may be requested. Its URLs
                    // are settled with the reason instead of waiting for retries.
                    tracing::warn!(host, "{reason}; its URLs are not requested");
                    RobotsState::Ready {
                        robots: Arc::new(crate::robots::Robots::disallow_all(reason)),
                        fetched_at_ms: copy.fetched_at_ms,
                    }
                } else if failures >= self.config().politeness.max_retries {
                    self.crawler.metrics.error("robots_unavailable");
                    if self.daemon() {
                        tracing::warn!(
                            host,
                            "robots.txt unavailable ({}) after {} tries; trying again in {PARKED_RETRY:?}",
                            unavailable_reason(&copy),
                            failures + 1
                        );
                        self.timers.arm(&host, now + PARKED_RETRY);
                    } else {
                        tracing::warn!(
                            host,
                            "robots.txt unavailable ({}) after {} tries; the host's URLs stay queued for a later run",
                            unavailable_reason(&copy),
                            failures + 1
                        );
                    }
                    RobotsState::Parked
                } else {
                    tracing::info!(
                        host,
                        "robots.txt unavailable ({}); nothing else is requested until it can be read",
                        unavailable_reason(&copy)
                    );
                    RobotsState::Needed {
                        failures: failures + 1,
                    }
                };
                self.hosts.get_mut(&host).expect("slot exists").robots = next;
                match key {
                    Some(key) => self.wake_members(&key, &host, now),
                    None => self.wake_host(&host, now, false),
                }
            }
            Event::Answered {
                host,
                answered_at,
                feedback,
            } => match self.request_ended(&host, answered_at, feedback) {
                Some(key) => self.wake_members(&key, &host, now),
                None => self.wake_host(&host, now, false),
            },
            Event::Page { host, outcome } => {
                self.settling -= 1;
                let outcome = outcome?;
                match outcome.status {
                    Some(UrlStatus::Fetched) if outcome.unchanged => self.stats.unchanged += 1,
                    Some(UrlStatus::Fetched) => self.stats.pages_parsed += 1,
                    Some(UrlStatus::Failed) => self.stats.failed += 1,
                    Some(UrlStatus::Skipped) => self.stats.skipped += 1,
                    Some(UrlStatus::Alias) => self.stats.aliases += 1,
                    Some(UrlStatus::Queued) => self.stats.retried += 1,
                    _ => {}
                }
                self.stats.records += outcome.records as u64;
                self.stats.links_ignored += outcome.links_ignored as u64;
                self.stats.robots_denied += outcome.robots_denied as u64;
                for _ in 0..outcome.robots_denied {
                    self.crawler.metrics.robots_denied();
                }
                if outcome.records > 0 {
                    if let Some(slot) = self.hosts.get(&host) {
                        *self.site_records.entry(slot.site.name.clone()).or_default() +=
                            outcome.records as u64;
                    }
                }
                for (link_host, n) in &outcome.new_links {
                    self.stats.links_queued += *n as u64;
                    self.crawler.metrics.links_queued(*n as u64);
                    self.wake_host(link_host, now, true);
                }
                if outcome.requeued {
                    self.wake_host(&host, now, true);
                }
                if let Some(found) = outcome.found {
                    self.observe_extraction(&host, &outcome.url, found);
                }
                if let Some(due_ms) = outcome.revisit_due_ms {
                    self.timers.arm(&host, instant_of(due_ms, now));
                }
                if let Some(error) = outcome.error {
                    self.note_error(&host, outcome.url, error);
                }
            }
        }
        Ok(())
    }

    /// Takes in which fields an article page's record had; warns when a field the site
    /// used to provide stops being found.
    fn observe_extraction(&mut self, host: &str, url: &str, found: crate::health::Found) {
        let Some(site) = self.hosts.get(host).map(|s| s.site.name.clone()) else {
            return;
        };
        for alert in self.health.observe(&site, url, found, &rfc3339_now()) {
            self.crawler.metrics.extraction_alert();
            tracing::warn!(
                site = %alert.site,
                field = %alert.field,
                "extraction: {} stopped being found on site {:?} (it was on {:.0}% of article pages before; the last {} came without it, e.g. {}); the site may have changed its layout",
                alert.field,
                alert.site,
                alert.found_before * 100.0,
                crate::health::RUN,
                alert.sample_urls.join(", ")
            );
        }
        if let Some(report) = self.health.site_report(&site) {
            self.crawler.metrics.set_extraction(&report);
        }
    }

    /// Saves the extraction health for `status`: this run's sites, and every alert
    /// (earlier runs' included, the last 50).
    async fn save_health(&self) -> Result<(), CrawlError> {
        let report = self.health.report();
        if report.sites.is_empty() && report.alerts.is_empty() {
            return Ok(());
        }
        let store = self.crawler.store.clone();
        self.crawler
            .io
            .run(move || {
                let mut saved: HealthReport = store
                    .get_meta("health")?
                    .and_then(|v| serde_json::from_slice(&v).ok())
                    .unwrap_or_default();
                saved.alerts.extend(report.alerts);
                let excess = saved.alerts.len().saturating_sub(50);
                saved.alerts.drain(..excess);
                for site in report.sites {
                    saved.sites.retain(|s| s.site != site.site);
                    saved.sites.push(site);
                }
                let json = serde_json::to_vec(&saved).unwrap_or_default();
                store.put_meta("health", &json)?;
                Ok::<_, CrawlError>(())
            })
            .await?
    }

    /// Daemon mode: a host's next queued URL fell due, or its robots.txt may be tried
    /// again.
    fn timer_fired(&mut self, host: &str, now: Instant) {
        let Some(slot) = self.hosts.get_mut(host) else {
            return;
        };
        if matches!(slot.robots, RobotsState::Parked) {
            slot.robots = RobotsState::Needed { failures: 0 };
        }
        self.wake_host(host, now, true);
    }

    fn control(&mut self, request: Control) {
        match request {
            Control::Status(reply) => {
                let _ = reply.send(self.live_status());
            }
            Control::Reload(config, reply) => {
                let result = self.reload(*config);
                match &result {
                    Ok(()) => tracing::info!(
                        "configuration reloaded: {} sites",
                        self.config().sites.len()
                    ),
                    Err(e) => tracing::error!("configuration not reloaded: {e}"),
                }
                let _ = reply.send(result);
            }
        }
    }

    /// Switches to a new config without stopping: sites, patterns, delays and limits
    /// apply to every request from now on; new seeds are queued. Refused, with the
    /// old config kept, when the change needs a restart.
    fn reload(&mut self, mut config: CrawlConfig) -> Result<(), String> {
        let old = self.crawler.config.clone();
        if config.state_dir != old.state_dir {
            return Err(format!(
                "crawler.state_dir changed ({} -> {}); that needs a restart",
                old.state_dir.display(),
                config.state_dir.display()
            ));
        }
        let site_parsers =
            super::site_parsers(&config, &self.crawler.parsers).map_err(|e| e.to_string())?;
        if !config
            .sites
            .iter()
            .any(|s| old.sites.iter().any(|o| o.name == s.name))
        {
            return Err("the new config shares no site with the running crawl; start it with another state directory".into());
        }
        if config.output_path != old.output_path {
            tracing::warn!(
                "output.path changed; records keep going to {} until a restart",
                old.output_path.display()
            );
            config.output_path = old.output_path.clone();
        }
        let fetcher = fetcher_for(&config).map_err(|e| e.to_string())?;
        self.crawler.fetcher = fetcher;
        self.crawler.site_parsers = site_parsers;
        self.crawler.host_sites = host_sites_of(&config);
        self.crawler.config = Arc::new(config);
        for (host, slot) in self.hosts.iter_mut() {
            match self.crawler.host_sites.get(host) {
                Some(site) => {
                    slot.site = site.clone();
                    slot.retired = false;
                }
                None => slot.retired = true,
            }
        }
        // Delays: the sites' new floors, then each host's robots.txt Crawl-delay again.
        let limit = self.config().politeness.per_host_concurrency;
        for (key, members) in &self.members {
            let floor = members
                .iter()
                .map(|m| self.hosts[m].site.min_delay)
                .max()
                .unwrap_or_default();
            let clock = self.clocks.get_mut(key).expect("clock exists");
            clock.set_base(floor);
            clock.limit = limit;
        }
        let ready: Vec<(String, Arc<Robots>)> = self
            .hosts
            .iter()
            .filter_map(|(host, slot)| match &slot.robots {
                RobotsState::Ready { robots, .. } => Some((host.clone(), robots.clone())),
                _ => None,
            })
            .collect();
        for (host, robots) in ready {
            self.apply_crawl_delay(&host, &robots);
        }
        // New seeds, and hosts of new sites that already have queued URLs.
        let starts = start_entries(self.config());
        let names: Vec<String> = self.config().sites.iter().map(|s| s.name.clone()).collect();
        let known: std::collections::HashSet<String> =
            self.crawler.host_sites.keys().cloned().collect();
        self.store_in_background(
            move |store| {
                store.put_meta("sites", names.join("\n").as_bytes())?;
                store.enqueue_new(&starts, now_ms())?;
                store.hosts_with_work()
            },
            move |result| {
                let (hosts, result) = match result {
                    Ok(hosts) => {
                        let hosts: Vec<String> =
                            hosts.into_iter().filter(|h| known.contains(h)).collect();
                        let n = hosts.len();
                        (hosts, Ok(n))
                    }
                    Err(e) => (Vec::new(), Err(e)),
                };
                Event::Enqueued { hosts, result }
            },
        );
        Ok(())
    }

    fn live_status(&self) -> LiveStatus {
        let now = Instant::now();
        let now_unix = now_ms();
        let s = &self.stats;
        let sites = self
            .config()
            .sites
            .iter()
            .map(|site| SiteLive {
                name: site.name.clone(),
                hosts: site.allowed_hosts().to_vec(),
                records_committed: self.site_records.get(&site.name).copied().unwrap_or(0),
                revisit_min_seconds: site.revisit.min.as_secs_f64(),
                revisit_max_seconds: site.revisit.max.as_secs_f64(),
            })
            .collect();
        let mut hosts: Vec<HostLive> = self
            .hosts
            .iter()
            .map(|(host, slot)| {
                let clock = slot.clock.as_ref().and_then(|k| self.clocks.get(k));
                HostLive {
                    host: host.clone(),
                    site: slot.site.name.clone(),
                    robots: match slot.robots {
                        RobotsState::Unknown => "unknown",
                        RobotsState::Needed { .. } => "needed",
                        RobotsState::Fetching { .. } => "fetching",
                        RobotsState::Ready { .. } => "ready",
                        RobotsState::Parked => "parked",
                    },
                    in_flight: clock.map_or(0, |c| c.in_flight),
                    leased: slot.window.len(),
                    delay_seconds: clock.map_or(0.0, |c| c.delay().as_secs_f64()),
                    next_allowed_in_seconds: clock.map_or(0.0, |c| {
                        c.next_allowed.saturating_duration_since(now).as_secs_f64()
                    }),
                    next_due_in_seconds: slot
                        .next_due_ms
                        .map(|due| due.saturating_sub(now_unix) as f64 / 1000.0),
                    last_error: slot.last_error.clone(),
                }
            })
            .collect();
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        LiveStatus {
            mode: match self.mode {
                Mode::OneShot => "crawl",
                Mode::Daemon => "daemon",
            },
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            requests: s.requests,
            robots_requests: s.robots_requests,
            pages_parsed: s.pages_parsed,
            unchanged: s.unchanged,
            records_committed: s.records,
            failed: s.failed,
            retried: s.retried,
            robots_denied: s.robots_denied,
            in_flight: self.in_flight,
            parsing: self.settling,
            sites,
            hosts,
            last_errors: self.last_errors.iter().cloned().collect(),
            extraction: self.health.report(),
        }
    }

    /// Saves a host's next allowed start (Unix ms) so that a restart keeps it.
    fn save_clock(&self, host: &str, until_ms: u64) {
        let (store, host) = (self.crawler.store.clone(), host.to_string());
        let io = self.crawler.io.clone();
        tokio::spawn(async move {
            io.run(move || {
                let saved = store.host(&host).and_then(|record| {
                    let mut record = record.unwrap_or_default();
                    record.next_allowed_ms = record.next_allowed_ms.max(until_ms);
                    store.put_host(&host, &record)
                });
                if let Err(e) = saved {
                    tracing::warn!(host, "could not save the host's clock: {e}");
                }
            })
            .await
        });
    }

    /// Saves every host's next allowed start at the end of a run.
    async fn save_clocks(&self) -> Result<(), CrawlError> {
        let now = Instant::now();
        let base = now_ms();
        let clocks: Vec<(String, u64)> = self
            .hosts
            .iter()
            .filter_map(|(host, slot)| {
                let clock = self.clocks.get(slot.clock.as_ref()?)?;
                let ms = base
                    + clock
                        .next_allowed
                        .saturating_duration_since(now)
                        .as_millis() as u64;
                Some((host.clone(), ms))
            })
            .collect();
        let store = self.crawler.store.clone();
        self.crawler
            .io
            .run(move || {
                for (host, ms) in clocks {
                    let mut record = store.host(&host)?.unwrap_or_else(HostRecord::default);
                    record.next_allowed_ms = ms;
                    store.put_host(&host, &record)?;
                }
                Ok::<_, CrawlError>(())
            })
            .await?
    }
}

/// Every site's start URLs: seeds (as sections), sitemaps and feeds.
pub(super) fn start_entries(config: &CrawlConfig) -> Vec<QueueEntry> {
    config
        .sites
        .iter()
        .flat_map(|site| {
            let seeds = site.seeds.iter().map(|u| (u, UrlKind::Section));
            let sitemaps = site.sitemaps.iter().map(|u| (u, UrlKind::Sitemap));
            let feeds = site.feeds.iter().map(|u| (u, UrlKind::Feed));
            seeds
                .chain(sitemaps)
                .chain(feeds)
                .map(|(url, kind)| QueueEntry::found(url.to_string(), &site.name, kind, 0))
        })
        .collect()
}

/// The sitemaps a host's robots.txt names that are on the site's hosts (none when
/// the site does not read robots.txt sitemaps).
pub(super) fn sitemaps_named(
    site: &Site,
    robots: &Robots,
    config: &CrawlConfig,
) -> Vec<QueueEntry> {
    if !site.robots_sitemaps {
        return Vec::new();
    }
    robots
        .sitemaps
        .iter()
        .filter_map(|s| config.normalizer.parse(s).ok())
        .filter(|url| site.allows_host(url) && !site.denies(url))
        .map(|url| QueueEntry::found(url, &site.name, UrlKind::Sitemap, 0))
        .collect()
}

/// The moment a Unix-ms time corresponds to.
fn instant_of(unix_ms: u64, now: Instant) -> Instant {
    now + Duration::from_millis(unix_ms.saturating_sub(now_ms()))
}

/// The first address of `host[:port]`, for grouping hosts by IP.
async fn resolve(host: &str) -> Option<IpAddr> {
    let target = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !host.ends_with(']')
    {
        host.to_string()
    } else {
        format!("{host}:80")
    };
    let lookup =
        tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host(target)).await;
    match lookup {
        Ok(Ok(mut addrs)) => addrs.next().map(|a| a.ip()),
        _ => {
            tracing::warn!(host, "cannot resolve; it gets a clock of its own");
            None
        }
    }
}
