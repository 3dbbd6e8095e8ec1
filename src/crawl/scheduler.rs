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

use super::control::{Control, ErrorNote, HostLive, LiveStatus, RunCounts, SiteLive};
use super::page::{revisit_of, PageJob, PageOutcome};
use super::robots_fetch::{is_usable, policy_of, unavailable_reason, RobotsJob};
use super::robots_turn::{crawl_delay, Verdict};
use super::starts::{sitemaps_named, start_entries};
use super::{fetcher_for, host_sites_of, CrawlError, Crawler, Mode, Stats, StopReason};
use crate::clock::{now_ms, rfc3339_now};
use crate::config::CrawlConfig;
use crate::health::{ExtractionHealth, HealthReport};
use crate::politeness::{Feedback, HostClock, ReadyQueue};
use crate::revisit::ListingBudgets;
use crate::robots::Robots;
use crate::site::{path_and_query, Site};
use crate::store::{
    HostRecord, Lease, PageCommit, QueueEntry, RobotsCopy, Store, StoreError, UrlState, UrlStatus,
};
use crate::urlnorm::host_key;

mod events;
mod persist;
mod reload;
mod robots_state;
mod window;

use robots_state::{HostRobots, Step};

use window::{Window, WINDOW};

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

struct HostSlot {
    site: Arc<Site>,
    /// The clock this host uses; `None` while its address is being resolved.
    clock: Option<String>,
    robots: HostRobots,
    /// Scheme for robots.txt: that of the site's first start URL (seed, feed or
    /// sitemap) on the host, else https.
    scheme: String,
    /// URLs leased from the store and not yet requested; only a few per host are
    /// held in memory.
    window: Window,
    /// The host belongs to no site of the current config (dropped by a reload): its
    /// URLs stay queued, untouched.
    retired: bool,
    last_error: Option<ErrorNote>,
}

/// Failures kept for `/status`.
const LAST_ERRORS: usize = 20;
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
    /// What each site's listing pages were last estimated to change, for the sites
    /// with a `max_listing_rate`.
    budgets: ListingBudgets,
    health: ExtractionHealth,
}

impl Scheduler {
    pub fn new(crawler: Crawler, started: Instant, mode: Mode) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        // A restarted daemon spends its listing budgets on what it learned before.
        let mut budgets = ListingBudgets::default();
        let budgeted = crawler
            .config
            .sites
            .iter()
            .any(|s| s.max_listing_rate.is_some());
        if mode == Mode::Daemon && budgeted {
            match crawler.store.revisit_schedules() {
                Ok(schedules) => {
                    for s in schedules {
                        let interval = Duration::from_millis(s.estimate.interval_ms);
                        budgets.learn(&s.site, &s.url, s.estimate.changes_per_hour(), interval);
                    }
                }
                Err(e) => tracing::warn!("listing estimates not read ({e}); budgets start empty"),
            }
        }
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
            budgets,
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
        self.save_cover().await;
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
                    robots: HostRobots::Unknown,
                    scheme,
                    window: Window::default(),
                    retired: false,
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
            slot.window.new_work();
        }
        if slot.retired || slot.window.out_of_work() || slot.robots.blocks() {
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
            let ttl_ms = self.config().politeness.robots_ttl.as_millis() as u64;
            let slot = self.hosts.get_mut(host).expect("slot exists");
            match slot.robots.next(now_ms(), ttl_ms) {
                Step::Load => {
                    self.load_host_record(host, now).await?;
                    continue;
                }
                Step::Fetch => {
                    self.start_robots_fetch(host, now);
                    return Ok(());
                }
                Step::Wait => return Ok(()),
                Step::Pages(robots) => {
                    self.dispatch_page(host, robots, now);
                    return Ok(());
                }
            }
        }
    }

    /// Reads what an earlier run left for the host: its robots.txt copy and its clock.
    async fn load_host_record(&mut self, host: &str, now: Instant) -> Result<(), CrawlError> {
        let record = {
            let (store, host) = (self.crawler.store.clone(), host.to_string());
            self.crawler.io.run(move || store.host(&host)).await??
        };
        let token = self.crawler.config.robots_token.clone();
        let ttl_ms = self.config().politeness.robots_ttl.as_millis() as u64;
        let mut robots = HostRobots::Needed { failures: 0 };
        if let Some(record) = record {
            // The host was contacted before: never sooner than one delay after this
            // run started, nor before a pause the last run saved.
            let saved =
                now + Duration::from_millis(record.next_allowed_ms.saturating_sub(now_ms()));
            let started = self.started;
            let clock = self.clock_of(host);
            let resume_at = saved.max(started + clock.delay());
            clock.not_before(resume_at);
            let copy = record.robots.as_ref();
            let usable = copy.is_some_and(is_usable);
            robots = HostRobots::restored(copy, usable, now_ms(), ttl_ms, |copy| {
                policy_of(copy, &token)
            });
            if let Some(parsed) = robots.ready().cloned() {
                self.apply_crawl_delay(host, &parsed);
            }
        }
        self.hosts.get_mut(host).expect("slot exists").robots = robots;
        Ok(())
    }

    fn apply_crawl_delay(&mut self, host: &str, robots: &Robots) {
        let Some((delay, capped)) = crawl_delay(robots.crawl_delay, &self.config().politeness)
        else {
            return;
        };
        if capped {
            let (seconds, max) = (
                robots.crawl_delay.unwrap_or_default(),
                self.config().politeness.max_crawl_delay,
            );
            tracing::warn!(host, "robots.txt asks for Crawl-delay {seconds}s; capped at {max:?} (politeness.max_crawl_delay)");
        }
        self.clock_of(host).raise_base(delay);
    }

    fn start_robots_fetch(&mut self, host: &str, now: Instant) {
        let clock = self.clock_of(host);
        clock.started(now);
        let delay = clock.delay();
        self.in_flight += 1;
        self.stats.robots_requests += 1;
        let slot = self.hosts.get_mut(host).expect("slot exists");
        slot.robots.fetching();
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
    fn dispatch_page(&mut self, host: &str, robots: Arc<Robots>, now: Instant) {
        loop {
            if self.hosts[host].window.wants_refill() {
                self.refill(host);
            }
            let slot = self.hosts.get_mut(host).expect("slot exists");
            let Some((entry, waited)) = slot.window.next(now) else {
                return;
            };
            if let Some(waited) = waited {
                self.crawler.metrics.host_waited(waited);
            }
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
            slot.window.requested(now);
            let site = slot.site.clone();
            let revisit = revisit_of(self.mode, entry.kind, &site, &self.budgets);
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
                cover: self.crawler.cover.clone(),
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
        let generation = slot.window.refill_started();
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

    /// Daemon mode: a host's next queued URL fell due, or its robots.txt may be tried
    /// again.
    fn timer_fired(&mut self, host: &str, now: Instant) {
        let Some(slot) = self.hosts.get_mut(host) else {
            return;
        };
        slot.robots.unpark();
        self.wake_host(host, now, true);
    }
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
