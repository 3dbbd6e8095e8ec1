//! A worker of a crawl shared through Redis: it claims hosts one request at a time
//! from the shared frontier, fetches and settles each page with the same pipeline as
//! a one-machine crawl, and completes the lease with everything the page produced.
//! It also routes links found in each bucket to their own bucket, and delivers the
//! records it committed to its own output file.
//!
//! Invariants: a request starts only under a live lease on its host, and never later
//! than the lease's deadline minus the request timeout and a safety margin, so it
//! ends before the lease does and the next holder's request cannot overlap it; every
//! claim ends in one completion or expires; the run ends only when two scans of every
//! bucket, with nothing of this worker in flight, found no work and no write between
//! them.

mod lease;
mod request;
mod server_clock;
mod setup;
mod sink;
mod watch;

pub use watch::{BucketLine, CrawlLoad, WorkerHandle, WorkerStatus};

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::known_links::KnownLinks;
use super::pool::WorkerPool;
use super::{now_ms, CrawlError, Mode, Stats, StopReason, Summary};
use crate::config::{CrawlConfig, SharedStore};
use crate::metrics::Metrics;
use crate::parse::ParserRegistry;
use crate::robots::Robots;
use crate::store::redis_frontier::{Claimed, NextClaim, RedisFrontier};
use crate::store::{RobotsCopy, StoreError};
use server_clock::ServerClock;
use setup::{Setup, SetupCell};
use sink::StreamSink;

/// A request starts no later than this before its lease's deadline minus the request
/// timeout: the time a stalled worker may lose without breaking politeness.
const SAFETY_MARGIN: Duration = Duration::from_secs(2);
/// Hosts claimed in one call, at most.
const CLAIM_BATCH: usize = 8;
/// How long before its request may start a host is claimed (the request then waits
/// for its start): about a claim's round trip to Redis on a busy machine, so that the
/// round trip is not part of the host's gap.
const CLAIM_AHEAD: Duration = Duration::from_millis(60);
/// How soon a bucket that had no work is asked again (others may add to it).
const EMPTY_RECHECK: Duration = Duration::from_millis(50);
/// The longest wait before a bucket is asked again.
const MAX_RECHECK: Duration = Duration::from_millis(250);
/// Claims of this worker not yet settled: their pages wait for or are in parsing and
/// commit, each holding its body. Claiming pauses at this many, so a parser slower
/// than the network bounds memory (requests in flight, until the server answers, are
/// bounded by `crawler.concurrency`).
const MAX_CLAIMS: usize = 128;
/// How long a worker watches a bucket closely before the next live worker does.
const WATCH_TURN: Duration = Duration::from_secs(1);
/// How often the worker looks whether the whole crawl is done.
const DONE_CHECK: Duration = Duration::from_millis(100);
/// How long a worker name is held without a heartbeat.
const WORKER_TTL: Duration = Duration::from_secs(6);
/// How often the list of live workers is read again.
const LIVE_REFRESH: Duration = Duration::from_millis(500);
/// How often the sink delivers and the router routes when idle.
const SINK_INTERVAL: Duration = Duration::from_millis(250);
const ROUTE_IDLE: Duration = Duration::from_millis(100);
const ROUTE_IDLE_MAX: Duration = Duration::from_secs(1);
/// How often links a dead worker left unrouted are looked for.
const RECLAIM_EVERY: Duration = Duration::from_secs(2);

/// When a host of a bucket's claim loop may be claimed again, as the scripts that
/// handed it on or completed its lease said, so that the loop asks Redis for it then
/// rather than at once.
#[derive(Default)]
pub(super) struct ClaimHint {
    told: Notify,
    /// The earliest hint not yet read, with the instant its script answered.
    earliest: Mutex<Option<(Instant, NextClaim)>>,
}

impl ClaimHint {
    /// A script that answered at `answered` says when the host may be claimed.
    pub(super) fn tell(&self, answered: Instant, next: Option<NextClaim>) {
        let Some(next) = next.filter(|n| n.at_ms.is_some()) else {
            return;
        };
        let local = |(at, n): &(Instant, NextClaim)| {
            *at + Duration::from_millis(n.at_ms.unwrap_or(0).saturating_sub(n.now_ms))
        };
        let mut earliest = self.earliest.lock().expect("claim hint lock poisoned");
        if earliest
            .as_ref()
            .is_none_or(|known| local(&(answered, next)) < local(known))
        {
            *earliest = Some((answered, next));
        }
        drop(earliest);
        self.told.notify_one();
    }

    /// The next hint.
    async fn next(&self) -> (Instant, NextClaim) {
        loop {
            let told = self.told.notified();
            if let Some(hint) = self
                .earliest
                .lock()
                .expect("claim hint lock poisoned")
                .take()
            {
                return hint;
            }
            told.await;
        }
    }
}

/// A worker's room for more work: requests in flight (a permit is given back when the
/// server answered) and claims not yet settled.
#[derive(Clone)]
struct Room {
    requests: Arc<Semaphore>,
    claims: Arc<Semaphore>,
}

impl Room {
    /// At least one permit of each (waiting for them), and up to `max` if free.
    async fn take(&self, max: usize) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let mut claims = self
            .claims
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let mut requests = self
            .requests
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        while requests.num_permits() < max {
            let (Ok(request), Ok(claim)) = (
                self.requests.clone().try_acquire_owned(),
                self.claims.clone().try_acquire_owned(),
            ) else {
                break;
            };
            requests.merge(request);
            claims.merge(claim);
        }
        (requests, claims)
    }
}

/// The robots.txt copy as a shared crawl keeps it: with the number of failed tries
/// in a row, so that every worker backs off the same way.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SharedRobots {
    copy: RobotsCopy,
    failures: u32,
}

/// A worker, ready to run.
pub struct SharedCrawler {
    /// The config and what is built from it; a reload swaps it.
    setup: SetupCell,
    shared: SharedStore,
    frontier: RedisFrontier,
    cpu: WorkerPool,
    metrics: Arc<Metrics>,
    known_links: Arc<KnownLinks>,
    cover: Arc<super::cover::Cover>,
    /// Parsed robots.txt copies, by host and fetch time.
    robots: Mutex<HashMap<String, (u64, Arc<Robots>)>>,
    stats: Arc<Mutex<Stats>>,
    mode: Mode,
    /// The crawl's live workers (refreshed with the heartbeat), to share the buckets
    /// out: each bucket is watched closely by one of them.
    live: Mutex<Vec<String>>,
    /// When a claimed request may start, on this machine's clock.
    server_clock: ServerClock,
    /// Pages handed on and not yet committed, whose settling is renewed.
    settling: Arc<lease::Settling>,
    /// What the listing pages this worker visited were last estimated to change, for
    /// the sites with a `max_listing_rate`.
    budgets: Mutex<crate::revisit::ListingBudgets>,
}

impl SharedCrawler {
    /// Connects to the shared store the config names and checks the sites' parsers.
    pub async fn connect(config: CrawlConfig, parsers: ParserRegistry) -> Result<Self, CrawlError> {
        let shared = config.shared.clone().ok_or_else(|| {
            CrawlError::Store(StoreError::Redis(
                "the config names no shared store (store.url or --store)".into(),
            ))
        })?;
        let frontier = frontier_of(&shared).await?;
        let setup = SetupCell::new(Setup::new(config, &parsers)?, parsers);
        let cpu = WorkerPool::new("newscrawl-cpu", 0, super::pool::CPU_NICENESS)
            .map_err(|e| CrawlError::Join(format!("cannot start a worker pool: {e}")))?;
        Ok(Self {
            setup,
            shared,
            frontier,
            cpu,
            metrics: Arc::new(Metrics::new()),
            known_links: Arc::default(),
            cover: Arc::default(),
            robots: Mutex::default(),
            stats: Arc::default(),
            mode: Mode::OneShot,
            live: Mutex::default(),
            server_clock: ServerClock::new(),
            settling: Arc::default(),
            budgets: Mutex::default(),
        })
    }

    /// When this worker should next ask `bucket` for a host whose request may start
    /// at `ready_ms` (Unix ms), asked at `asked` (Unix ms `now_ms`). One live worker
    /// at a time watches a bucket closely and asks [`CLAIM_AHEAD`] before the host's
    /// start; the others ask a few times a second (and when a host of theirs there
    /// may be claimed again), so that a host's next allowed start does not send every worker to
    /// Redis at once, and a bucket whose watcher is busy or gone is still served.
    /// Watching turns from worker to worker every second, so each worker gets a
    /// share of every bucket's hosts, a worker that joins included; a worker about to
    /// take its turn asks when the turn starts.
    fn next_ask(&self, bucket: u32, asked: Instant, now_ms: u64, ready_ms: u64) -> Instant {
        let until_ms = ready_ms.saturating_sub(millis(CLAIM_AHEAD));
        let wait = Duration::from_millis(until_ms.saturating_sub(now_ms));
        let precise = asked + wait.min(MAX_RECHECK);
        let live = self.live.lock().expect("live workers lock poisoned");
        let Some(me) = live.iter().position(|w| *w == self.shared.worker) else {
            return precise;
        };
        let turn_ms = millis(WATCH_TURN);
        let watcher = |at_ms: u64| (bucket as usize + (at_ms / turn_ms) as usize) % live.len();
        if watcher(until_ms.max(now_ms)) == me {
            return precise;
        }
        // The start of this worker's next turn, if it comes before the next look.
        let next_turn = (1..=live.len() as u64)
            .map(|k| (now_ms / turn_ms + k) * turn_ms)
            .find(|start| watcher(*start) == me)
            .map(|start| asked + Duration::from_millis(start - now_ms));
        match next_turn {
            Some(turn) => turn.min(asked + MAX_RECHECK),
            None => asked + MAX_RECHECK,
        }
    }

    /// A handle on this worker for its endpoint.
    pub fn watch(&self) -> WorkerHandle {
        WorkerHandle::of(self)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().expect("stats lock poisoned")
    }

    /// Takes this worker's name for the run, waiting out a claim left by a killed
    /// process under the same name.
    async fn hold_name(&self, token: &str) -> Result<(), CrawlError> {
        let give_up = Instant::now() + WORKER_TTL + Duration::from_secs(1);
        loop {
            if self
                .frontier
                .hold_worker_id(&self.shared.worker, token, WORKER_TTL)
                .await?
            {
                return Ok(());
            }
            if Instant::now() >= give_up {
                return Err(CrawlError::Store(StoreError::Redis(format!(
                    "worker name {:?} is held by another live worker of crawl {:?}; give each worker its own name (store.worker or --worker)",
                    self.shared.worker, self.shared.namespace
                ))));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Crawls until the shared crawl has nothing left, a limit is reached, or
    /// `shutdown` completes; then lets this worker's requests finish, delivers its
    /// records and gives its name up.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<Summary, CrawlError> {
        self.run_in(Mode::OneShot, shutdown).await
    }

    /// Crawls until `shutdown` completes (or a limit is reached): listing pages are
    /// queued again after each visit, at the pace their change estimate sets, and
    /// articles after `article_recheck`, as in a one-machine daemon.
    pub async fn run_daemon(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        self.run_in(Mode::Daemon, shutdown).await
    }

    async fn run_in(
        mut self,
        mode: Mode,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        self.mode = mode;
        let started = Instant::now();
        let token = format!("{}-{}", std::process::id(), now_ms());
        self.hold_name(&token).await?;
        if mode == Mode::Daemon {
            let saved = self.frontier.get_meta(&self.cover_key()).await;
            self.cover = Arc::new(super::cover::Cover::from_saved(saved));
        }
        let this = Arc::new(self);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let heartbeat = tokio::spawn(heartbeat(this.clone(), token.clone(), stop_rx.clone()));
        let renewal = tokio::spawn(renew_settling(this.clone(), stop_rx.clone()));
        let mut unparked = 0;
        for bucket in 0..this.frontier.buckets() {
            unparked += this.frontier.unpark(bucket).await?;
        }
        if unparked > 0 {
            tracing::info!(
                "{unparked} hosts left for later by an earlier run may be claimed again"
            );
        }
        let seeds = super::starts::start_entries(&this.setup.get().config);
        let (new_seeds, _) = this.frontier.enqueue(&seeds, 0).await?;
        tracing::info!(
            worker = %this.shared.worker,
            "joined crawl {:?} ({} buckets); {new_seeds} new seeds queued",
            this.shared.namespace,
            this.frontier.buckets()
        );
        let sink = {
            let config = &this.setup.get().config;
            let output = crate::sink::JsonlOutput {
                path: config.output_path.clone(),
                rotate_bytes: config.rotate_bytes,
            };
            let sites: Vec<String> = config.sites.iter().map(|s| s.name.clone()).collect();
            let warc = config.warc_path.as_deref();
            StreamSink::open(
                this.frontier.clone(),
                this.cpu.clone(),
                &this.shared.worker,
                &output,
                &sites,
                warc,
            )
            .await?
        };
        let sink_task = tokio::spawn(run_sink(sink, stop_rx.clone(), this.metrics.clone()));
        let router = tokio::spawn(route(this.clone(), stop_rx.clone()));

        let result = this.clone().dispatch(started, shutdown).await;

        let _ = stop_tx.send(true);
        let _ = router.await;
        let delivered = sink_task
            .await
            .map_err(|e| CrawlError::Join(e.to_string()))??;
        let _ = heartbeat.await;
        let _ = renewal.await;
        if this.mode == Mode::Daemon {
            this.save_cover().await;
        }
        if let Err(e) = this
            .frontier
            .release_worker_id(&this.shared.worker, &token)
            .await
        {
            tracing::warn!("could not give the worker name up (it expires by itself): {e}");
        }
        let (stop, retries_waiting) = result?;
        let stats = this.stats().clone();
        Ok(Summary {
            stats,
            stop,
            elapsed: started.elapsed(),
            records_delivered: delivered,
            retries_waiting,
        })
    }

    /// The name under which a worker keeps what its cover learned (`crawl::cover`):
    /// its own, as each worker judges from the listing pages it visited itself.
    fn cover_key(&self) -> String {
        format!("{}:{}", super::cover::SAVED_KEY, self.shared.worker)
    }

    /// Keeps what the cover learned for this worker's next run (logged, never fatal:
    /// without it the next run learns it again).
    async fn save_cover(&self) {
        let cover = self.cover.clone();
        let saved = match self.cpu.run(move || cover.save()).await {
            Ok(bytes) => self
                .frontier
                .put_meta(&self.cover_key(), &bytes)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = saved {
            tracing::warn!(worker = %self.shared.worker, "which listing pages show whose news was not saved ({e}); the next run learns it again");
        }
    }

    /// Claims hosts and starts their requests until the crawl is done or stopped:
    /// one claim loop per bucket, so that a host is claimed as soon as its bucket
    /// says it may be, whatever the other buckets are doing.
    async fn dispatch(
        self: Arc<Self>,
        started: Instant,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(StopReason, u64), CrawlError> {
        // Fixed at the start: a reload keeps the running concurrency and time limit.
        let (concurrency, max_time) = {
            let setup = self.setup.get();
            (setup.config.concurrency, setup.config.max_time)
        };
        let room = Room {
            requests: Arc::new(Semaphore::new(concurrency)),
            claims: Arc::new(Semaphore::new(MAX_CLAIMS)),
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let loops: Vec<_> = (0..self.frontier.buckets())
            .map(|bucket| {
                tokio::spawn(
                    self.clone()
                        .claim_loop(bucket, room.clone(), stop_rx.clone()),
                )
            })
            .collect();
        let deadline = max_time.map(|t| started + t);
        let mut quiet: Option<Vec<u64>> = None;
        // URLs left queued for later (retries not yet due) when the crawl is done.
        let mut waiting = 0;
        tokio::pin!(shutdown);
        let stop = loop {
            // The endpoint's `/healthz` reads this turn.
            self.metrics.beat(now_ms());
            let in_flight = concurrency - room.requests.available_permits();
            self.metrics.set_in_flight(in_flight);
            tokio::select! {
                _ = &mut shutdown => break StopReason::Shutdown,
                _ = tokio::time::sleep(DONE_CHECK) => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break StopReason::MaxTime;
            }
            if self
                .setup
                .get()
                .config
                .max_pages
                .is_some_and(|max| self.stats().requests >= max)
            {
                break StopReason::MaxPages;
            }
            // A daemon never runs out of work: its pages fall due again.
            if self.mode == Mode::Daemon || room.claims.available_permits() < MAX_CLAIMS {
                quiet = None;
                continue;
            }
            match self.scan().await {
                Ok(Some((writes, later))) if quiet.as_ref() == Some(&writes) => {
                    waiting = later;
                    break StopReason::Done;
                }
                Ok(scan) => quiet = scan.map(|(writes, _)| writes),
                Err(e) => {
                    tracing::warn!("could not read the crawl's progress: {e}");
                    quiet = None;
                }
            }
        };
        let _ = stop_tx.send(true);
        for claims in loops {
            let _ = claims.await;
        }
        // Let this worker's requests end and their pages commit.
        let _ = room.claims.acquire_many(MAX_CLAIMS as u32).await;
        Ok((stop, waiting))
    }

    /// Claims hosts of one bucket whenever it may have one to give and this worker
    /// has room for a request, until told to stop.
    async fn claim_loop(
        self: Arc<Self>,
        bucket: u32,
        room: Room,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        // When a host of one of this loop's leases may be claimed again.
        let hint = Arc::new(ClaimHint::default());
        let mut next_check = Instant::now();
        loop {
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep_until(next_check) => {}
                (told, next) = hint.next() => {
                    if let Some(at_ms) = next.at_ms {
                        next_check = next_check.min(self.next_ask(bucket, told, next.now_ms, at_ms));
                    }
                    continue;
                }
            }
            if *stop.borrow() {
                return;
            }
            if self
                .setup
                .get()
                .config
                .max_pages
                .is_some_and(|max| self.stats().requests >= max)
            {
                next_check = Instant::now() + MAX_RECHECK;
                continue;
            }
            // Room for one request at least (waiting for it), and for more if free.
            let (mut requests, mut claims) = tokio::select! {
                taken = room.take(CLAIM_BATCH) => taken,
                _ = stop.changed() => return,
            };
            let wanted = requests.num_permits();
            let asked = Instant::now();
            let answer = self
                .frontier
                .claim(
                    bucket,
                    &self.shared.worker,
                    wanted,
                    self.shared.lease,
                    self.setup.get().config.politeness.min_delay,
                    CLAIM_AHEAD,
                )
                .await;
            let answered = Instant::now();
            next_check = match answer {
                Ok(Claimed::Hosts {
                    claims: found,
                    next_ms,
                }) => {
                    let now_ms = found[0].now_ms;
                    self.server_clock.observe(answered, now_ms);
                    let all_taken = found.len() == wanted;
                    for claim in found {
                        // Never earlier than on Redis's clock.
                        let start_at = self
                            .server_clock
                            .local_instant_at(claim.start_ms)
                            .expect("a claim's answer was just observed");
                        let request = requests.split(1).expect("no more claims than room");
                        let unsettled = claims.split(1).expect("no more claims than room");
                        let (this, hint) = (self.clone(), hint.clone());
                        tokio::spawn(async move {
                            this.handle(claim, (asked, start_at), request, &hint).await;
                            drop(unsettled);
                        });
                    }
                    // More may be claimable at once if this claim took all it could.
                    match next_ms {
                        _ if all_taken => asked,
                        Some(ready_ms) => self.next_ask(bucket, asked, now_ms, ready_ms),
                        None => asked + EMPTY_RECHECK,
                    }
                }
                Ok(Claimed::Wait { now_ms, until_ms }) => {
                    self.server_clock.observe(answered, now_ms);
                    self.next_ask(bucket, asked, now_ms, until_ms)
                }
                Ok(Claimed::Empty) => asked + EMPTY_RECHECK,
                Err(e) => {
                    tracing::warn!(bucket, "claim failed: {e}");
                    asked + MAX_RECHECK
                }
            };
        }
    }

    /// The write counts of every bucket and the URLs queued for later (retries not
    /// yet due) if no bucket has work now or soon (URLs due, a lease, links to
    /// route), else `None`.
    async fn scan(&self) -> Result<Option<(Vec<u64>, u64)>, StoreError> {
        let mut writes = Vec::with_capacity(self.frontier.buckets() as usize);
        let mut later = 0;
        for bucket in 0..self.frontier.buckets() {
            let load = self.frontier.load(bucket).await?;
            if load.hosts > 0 || load.links > 0 {
                return Ok(None);
            }
            writes.push(load.writes);
            later += load.later;
        }
        Ok(Some((writes, later)))
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

/// Renews the worker's name until the run stops, and keeps the list of live workers
/// current (more often than names are renewed, so that a worker that joins is given
/// its turns soon).
async fn heartbeat(
    this: Arc<SharedCrawler>,
    token: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut renewed = Instant::now();
    loop {
        match this.frontier.live_workers().await {
            Ok(live) => *this.live.lock().expect("live workers lock poisoned") = live,
            Err(e) => tracing::warn!("could not list the live workers: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(LIVE_REFRESH) => {}
            _ = stop.changed() => return,
        }
        if renewed.elapsed() < WORKER_TTL / 3 {
            continue;
        }
        renewed = Instant::now();
        match this
            .frontier
            .hold_worker_id(&this.shared.worker, &token, WORKER_TTL)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(worker = %this.shared.worker, "another process took this worker's name: two workers share a name")
            }
            Err(e) => tracing::warn!("could not renew the worker's name: {e}"),
        }
    }
}

/// Renews the settling of this worker's pages (handed on, not committed) every third
/// of the settling time, until the run stops.
async fn renew_settling(this: Arc<SharedCrawler>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let settle = this.shared.lease;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(settle / 3) => {}
            _ = stop.changed() => return,
        }
        for (bucket, pages) in this.settling.by_bucket() {
            if let Err(e) = this.frontier.renew_settling(bucket, &pages, settle).await {
                tracing::warn!(
                    bucket,
                    "could not renew the settling of this worker's pages: {e}"
                );
            }
        }
    }
}

/// Routes links between buckets until the run stops; every few seconds also those a
/// worker read and did not route within a lease's time.
async fn route(this: Arc<SharedCrawler>, stop: tokio::sync::watch::Receiver<bool>) {
    let buckets = this.frontier.buckets();
    let mut last_reclaim = Instant::now();
    let mut idle = ROUTE_IDLE;
    loop {
        let reclaim = last_reclaim.elapsed() >= RECLAIM_EVERY;
        if reclaim {
            last_reclaim = Instant::now();
        }
        let mut routed = 0;
        for bucket in 0..buckets {
            match this
                .frontier
                .route_links(
                    bucket,
                    &this.shared.worker,
                    this.setup.get().config.max_urls_per_host,
                    reclaim.then_some(this.shared.lease),
                )
                .await
            {
                Ok(n) => routed += n,
                Err(e) => tracing::warn!(bucket, "routing links failed: {e}"),
            }
        }
        if *stop.borrow() {
            return;
        }
        // Links to other buckets are few on news sites: look less often while
        // there are none.
        if routed == 0 {
            tokio::time::sleep(idle).await;
            idle = (idle * 2).min(ROUTE_IDLE_MAX);
        } else {
            idle = ROUTE_IDLE;
        }
    }
}

/// What Redis says of the shared crawl `shared` names (its live workers, what is left
/// in each bucket), for `status`.
pub async fn crawl_load(shared: &SharedStore) -> Result<CrawlLoad, CrawlError> {
    let frontier = frontier_of(shared).await?;
    Ok(CrawlLoad::read(&frontier).await?)
}

/// The crawl's frontier in Redis, as its config names it.
async fn frontier_of(shared: &SharedStore) -> Result<RedisFrontier, StoreError> {
    RedisFrontier::connect(
        &shared.url,
        shared.cluster,
        &shared.namespace,
        shared.buckets,
    )
    .await
}

/// Delivers this worker's records every interval, and once more at the end.
async fn run_sink(
    mut sink: StreamSink,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<u64, CrawlError> {
    let mut delivered = 0u64;
    loop {
        let stopping = *stop.borrow();
        match sink.drain().await {
            Ok(n) => {
                delivered += n as u64;
                metrics.records_emitted(n as u64);
            }
            // Redis may come back: the next round tries again. The file is the
            // worker's own: a failure to write it ends the run.
            Err(CrawlError::Sink(crate::sink::SinkError::Store(e)) | CrawlError::Store(e))
                if !stopping =>
            {
                tracing::warn!("records not delivered this round: {e}")
            }
            Err(e) => return Err(e),
        }
        if stopping {
            return Ok(delivered);
        }
        tokio::select! {
            _ = tokio::time::sleep(SINK_INTERVAL) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_claim_hint_keeps_the_earliest_host_and_ignores_hosts_without_work() {
        let hint = ClaimHint::default();
        let at = Instant::now();
        let next = |now_ms, at_ms| NextClaim { now_ms, at_ms };
        hint.tell(at, None);
        hint.tell(at, Some(next(1_000, None)));
        assert!(hint.earliest.lock().unwrap().is_none(), "nothing to claim");
        // Due 500 ms after its script's answer, then one due 300 ms after a later one.
        hint.tell(at, Some(next(1_000, Some(1_500))));
        hint.tell(
            at + Duration::from_millis(100),
            Some(next(2_000, Some(2_300))),
        );
        hint.tell(at, Some(next(1_000, Some(1_450))));
        assert_eq!(
            hint.next().await,
            (at + Duration::from_millis(100), next(2_000, Some(2_300)))
        );
        assert!(hint.earliest.lock().unwrap().is_none(), "read once");
    }
}
