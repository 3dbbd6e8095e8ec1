//! The crawl engine: wires frontier, robots.txt, politeness, fetcher, parsers, store
//! and sink into one run.
//!
//! One task owns the schedule (`scheduler`: host clocks, the ready queue, robots.txt
//! state); fetches run as their own tasks (`page`, `robots_fetch`); everything
//! CPU-bound or blocking (decoding, hashing, parsing, store commits, sink writes) runs
//! on tokio's blocking pool, never on the runtime.
//!
//! Invariants: no request to a host starts before its clock allows it (robots.txt
//! included); no URL is requested before its host's robots.txt has been read and found
//! to allow it; each leased URL is settled by exactly one store commit.

mod committer;
mod control;
mod cover;
mod known_links;
mod page;
mod pool;
mod robots_fetch;
mod robots_turn;
mod scheduler;
#[cfg(feature = "redis")]
mod shared;
mod starts;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::now_ms;
use crate::config::CrawlConfig;
use crate::fetch::{FetchError, FetchSettings, Fetcher};
use crate::metrics::Metrics;
use crate::parse::{Parser, ParserRegistry};
use crate::sink::{JsonlOutput, SinkError, Sinks};
use crate::site::{Site, UrlKind};
use crate::store::{Store, StoreError};

pub use control::{CrawlHandle, ErrorNote, HostLive, LiveStatus, RunCounts, SiteLive};
use pool::WorkerPool;
use scheduler::Scheduler;
#[cfg(feature = "redis")]
pub use shared::{crawl_load, BucketLine, CrawlLoad, SharedCrawler, WorkerHandle, WorkerStatus};

/// Threads for quick store calls. One: each thread more that touches the heap kept
/// 3-5 MB of allocator pages in a polite crawl, and these calls are short (the
/// sink's rounds, which are not, run on the CPU pool).
const IO_THREADS: usize = 1;

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
    #[error("site {site:?} uses parser {parser:?}, which is not registered (built-in parsers: article, links, selectors, command)")]
    UnknownParser { site: String, parser: String },
    #[error("a blocking task failed: {0}")]
    Join(String),
    #[error("state directory {dir} holds another crawl (sites: {stored}); this config crawls {configured}. Start over with --fresh, or choose another --state")]
    OtherCrawl {
        dir: String,
        stored: String,
        configured: String,
    },
}

impl CrawlError {
    /// The operating system's error, when the crawl stopped because its state or its
    /// output could not be written (a full disk, most often).
    pub fn storage_io_error(&self) -> Option<&std::io::Error> {
        match self {
            CrawlError::Store(e) | CrawlError::Sink(SinkError::Store(e)) => e.io_error(),
            CrawlError::Sink(SinkError::Io { source, .. }) => Some(source),
            _ => None,
        }
    }
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
    /// Revisits that found the page as it was (304 or the same bytes).
    pub unchanged: u64,
    pub records: u64,
    pub failed: u64,
    /// Failures that put the URL back in the queue for another try.
    pub retried: u64,
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
    /// URLs left queued for a retry not yet due (a one-shot crawl does not wait for
    /// them; the next run or the daemon tries them).
    pub retries_waiting: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{:?} after {:.1}s: {} pages requested (+{} robots.txt), {} parsed, {} unchanged, {} records written, {} failed, {} skipped, {} duplicates, {} denied by robots.txt, {} links ignored",
            self.stop,
            self.elapsed.as_secs_f64(),
            s.requests,
            s.robots_requests,
            s.pages_parsed,
            s.unchanged,
            self.records_delivered,
            s.failed,
            s.skipped,
            s.aliases,
            s.robots_denied,
            s.links_ignored
        )?;
        if self.retries_waiting > 0 {
            write!(
                f,
                ", {} retries not yet due left queued",
                self.retries_waiting
            )?;
        }
        Ok(())
    }
}

/// A configured crawler, ready to run.
pub struct Crawler {
    pub(crate) config: Arc<CrawlConfig>,
    pub(crate) store: Arc<dyn Store>,
    /// Where pages are settled: the store, through the thread that commits in groups.
    pub(crate) pages: Arc<dyn crate::store::PageStore>,
    pub(crate) parsers: ParserRegistry,
    /// Each site's parser, by site name.
    pub(crate) site_parsers: HashMap<String, Arc<dyn Parser>>,
    pub(crate) fetcher: Fetcher,
    /// Site of every allowed host.
    pub(crate) host_sites: HashMap<String, Arc<Site>>,
    /// CPU work: decoding, hashing, parsing.
    pub(crate) cpu: WorkerPool,
    /// Quick store calls: leases, host records, robots.txt copies.
    pub(crate) io: WorkerPool,
    pub(crate) metrics: Arc<Metrics>,
    /// Links already in the store, by their text on the page.
    pub(crate) known_links: Arc<known_links::KnownLinks>,
    /// Which listing pages show news another showed first.
    pub(crate) cover: Arc<cover::Cover>,
    control_tx: tokio::sync::mpsc::Sender<control::Control>,
    control_rx: tokio::sync::mpsc::Receiver<control::Control>,
    /// How often the scheduler logs a progress line (`None`: never).
    pub(crate) progress_every: Option<Duration>,
}

/// How a run behaves when nothing is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop: everything reachable was fetched.
    OneShot,
    /// Wait for the next revisit; listing pages are queued again after each visit.
    Daemon,
}

/// Builds a [`Crawler`]: the config, optionally a store (a sled store in the
/// config's state directory by default) and parsers registered by name, which sites
/// then name in their `parser` key.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use newscrawl::parse::{Page, ParseError, Parsed, Parser};
/// struct Headlines;
/// impl Parser for Headlines {
///     fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
///         Ok(Parsed::default())
///     }
/// }
/// # async fn run(config: newscrawl::config::CrawlConfig) -> Result<(), Box<dyn std::error::Error>> {
/// let crawler = newscrawl::crawl::Crawler::builder(config)
///     .parser("headlines", Arc::new(Headlines))
///     .build()?;
/// crawler.run(std::future::pending()).await?;
/// # Ok(()) }
/// ```
pub struct CrawlerBuilder {
    config: CrawlConfig,
    store: Option<Arc<dyn Store>>,
    parsers: ParserRegistry,
}

impl CrawlerBuilder {
    /// Uses `store` instead of a sled store in the state directory.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Registers `parser` under `name` (replacing a built-in of that name).
    pub fn parser(mut self, name: impl Into<String>, parser: Arc<dyn Parser>) -> Self {
        self.parsers.register(name, parser);
        self
    }

    /// Opens the store (unless one was given) and checks that every site's parser
    /// exists. Blocking: call it outside the async runtime's worker threads or in
    /// `spawn_blocking` when the store is opened here.
    pub fn build(self) -> Result<Crawler, CrawlError> {
        let store = match self.store {
            Some(store) => store,
            None => {
                let dir = self.config.state_dir.join("db");
                std::fs::create_dir_all(&self.config.state_dir).map_err(|e| {
                    CrawlError::Store(StoreError::Io {
                        path: self.config.state_dir.display().to_string(),
                        reason: e.to_string(),
                    })
                })?;
                Arc::new(crate::store::SledStore::open(&dir)?)
            }
        };
        Crawler::new(self.config, store, self.parsers)
    }
}

impl Crawler {
    /// A builder with the built-in parsers registered.
    pub fn builder(config: CrawlConfig) -> CrawlerBuilder {
        CrawlerBuilder {
            config,
            store: None,
            parsers: ParserRegistry::default(),
        }
    }

    pub fn new(
        config: CrawlConfig,
        store: Arc<dyn Store>,
        parsers: ParserRegistry,
    ) -> Result<Self, CrawlError> {
        let site_parsers = site_parsers(&config, &parsers)?;
        let fetcher = fetcher_for(&config)?;
        let host_sites = host_sites_of(&config);
        let pool_error =
            |e: std::io::Error| CrawlError::Join(format!("cannot start a worker pool: {e}"));
        let cpu = WorkerPool::new("newscrawl-cpu", 0, pool::CPU_NICENESS).map_err(pool_error)?;
        let io = WorkerPool::new("newscrawl-io", IO_THREADS, 0).map_err(pool_error)?;
        let pages = committer::GroupCommitter::start(store.clone()).map_err(|e| {
            CrawlError::Join(format!("cannot start the page committing thread: {e}"))
        })?;
        let (control_tx, control_rx) = tokio::sync::mpsc::channel(16);
        let cover = Arc::new(cover::Cover::from_saved(store.get_meta(cover::SAVED_KEY)));
        Ok(Self {
            config: Arc::new(config),
            store,
            pages: Arc::new(pages),
            parsers,
            site_parsers,
            fetcher,
            host_sites,
            cpu,
            io,
            metrics: Arc::new(Metrics::new()),
            known_links: Arc::default(),
            cover,
            control_tx,
            control_rx,
            progress_every: Some(Duration::from_secs(10)),
        })
    }

    /// A handle for metrics, status and reloads, valid while the crawl runs.
    pub fn handle(&self) -> CrawlHandle {
        CrawlHandle {
            control: self.control_tx.clone(),
            metrics: self.metrics.clone(),
            store: self.store.clone(),
        }
    }

    /// How often to log a progress line (default: every 10 s; `None`: never, e.g.
    /// when a progress bar shows the same).
    pub fn log_progress_every(&mut self, every: Option<Duration>) {
        self.progress_every = every;
    }

    /// Runs until nothing is due, a limit is reached, or `shutdown` completes; then
    /// lets requests in flight finish, delivers every record, and flushes the store.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        self.run_in(Mode::OneShot, shutdown).await
    }

    /// Runs until `shutdown` completes (or a limit is reached): listing pages are
    /// revisited at the pace their change rate calls for, new articles found on them
    /// are fetched, robots.txt is refreshed when it expires, and reloads sent through
    /// [`CrawlHandle::reload`] are applied.
    pub async fn run_daemon(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        self.run_in(Mode::Daemon, shutdown).await
    }

    async fn run_in(
        self,
        mode: Mode,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<Summary, CrawlError> {
        let started = Instant::now();
        let store = self.store.clone();
        let io = self.io.clone();
        let recovered = io
            .run({
                let store = store.clone();
                move || store.recover_leases(now_ms())
            })
            .await??;
        if recovered > 0 {
            tracing::info!(
                "{recovered} URLs that were in flight when the last run stopped are queued again"
            );
        }
        self.check_identity().await?;
        let revisits = self.requeue_revisits().await?;
        if revisits > 0 {
            tracing::info!(
                "{revisits} section pages and due articles queued for a conditional revisit"
            );
        }
        let seeds = starts::start_entries(&self.config);
        let new_seeds = io
            .run({
                let store = store.clone();
                move || store.enqueue_new(&seeds, now_ms())
            })
            .await??;
        tracing::debug!("{new_seeds} new seeds queued");

        let sink = {
            let store = store.clone();
            let output = JsonlOutput {
                path: self.config.output_path.clone(),
                rotate_bytes: self.config.rotate_bytes,
            };
            let sites: Vec<String> = self.config.sites.iter().map(|s| s.name.clone()).collect();
            let warc = self.config.warc_path.clone();
            io.run(move || Sinks::open(&*store, &output, &sites, warc.as_deref()))
                .await??
        };
        let sink = Arc::new(std::sync::Mutex::new(sink));
        let (sink_stop_tx, sink_stop_rx) = tokio::sync::watch::channel(false);
        let sink_task = tokio::spawn(run_sink(
            self.cpu.clone(),
            store.clone(),
            sink.clone(),
            sink_stop_rx,
            self.metrics.clone(),
        ));

        let mut scheduler = Scheduler::new(self, started, mode);
        let result = scheduler.run(shutdown).await;

        let _ = sink_stop_tx.send(true);
        let delivered = sink_task
            .await
            .map_err(|e| CrawlError::Join(e.to_string()))??;
        let stop = result?;
        let retries_waiting = io.run(move || store.retries_waiting(now_ms())).await??;
        Ok(Summary {
            stats: scheduler.stats(),
            stop,
            elapsed: started.elapsed(),
            records_delivered: delivered,
            retries_waiting,
        })
    }
}

impl Crawler {
    /// Refuses a state directory that holds another crawl (no site in common).
    async fn check_identity(&self) -> Result<(), CrawlError> {
        let names: Vec<String> = self.config.sites.iter().map(|s| s.name.clone()).collect();
        let store = self.store.clone();
        let stored = self.io.run(move || store.get_meta("sites")).await??;
        if let Some(stored) = stored {
            let stored = String::from_utf8_lossy(&stored).into_owned();
            let stored_names: Vec<&str> = stored.split('\n').filter(|n| !n.is_empty()).collect();
            if !stored_names.is_empty() && !names.iter().any(|n| stored_names.contains(&n.as_str()))
            {
                return Err(CrawlError::OtherCrawl {
                    dir: self.config.state_dir.display().to_string(),
                    stored: stored_names.join(", "),
                    configured: names.join(", "),
                });
            }
        }
        let store = self.store.clone();
        let value = names.join("\n");
        self.io
            .run(move || store.put_meta("sites", value.as_bytes()))
            .await??;
        Ok(())
    }

    /// Queues section pages again (their links change) and articles whose re-check
    /// is due, each with the validators of its last copy.
    async fn requeue_revisits(&self) -> Result<usize, CrawlError> {
        let recheck: HashMap<String, Option<Duration>> = self
            .config
            .sites
            .iter()
            .map(|s| (s.name.clone(), s.article_recheck))
            .collect();
        let store = self.store.clone();
        let now = now_ms();
        let due = move |state: &crate::store::UrlState| match state.kind {
            UrlKind::Section | UrlKind::Sitemap | UrlKind::Feed => true,
            // Fetched when the page before it asks.
            UrlKind::NextPage => false,
            UrlKind::Article | UrlKind::Page => recheck
                .get(&state.site)
                .copied()
                .flatten()
                .is_some_and(|every| {
                    now.saturating_sub(state.fetched_at_ms) >= every.as_millis() as u64
                }),
        };
        // Without article re-checks only section pages qualify: read just those.
        let sections_only = self
            .config
            .sites
            .iter()
            .all(|s| s.article_recheck.is_none());
        Ok(self
            .io
            .run(move || store.requeue_settled(now, sections_only, &due))
            .await??)
    }
}

/// Each site's parser: a registered one by name, or one built from the site's
/// `selectors` or `command` table.
pub(crate) fn site_parsers(
    config: &CrawlConfig,
    registry: &ParserRegistry,
) -> Result<HashMap<String, Arc<dyn Parser>>, CrawlError> {
    config
        .sites
        .iter()
        .map(|site| {
            let parser =
                registry
                    .for_spec(&site.parser_spec)
                    .ok_or_else(|| CrawlError::UnknownParser {
                        site: site.name.clone(),
                        parser: site.parser.clone(),
                    })?;
            Ok((site.name.clone(), parser))
        })
        .collect()
}

/// The HTTP client a config asks for.
pub(crate) fn fetcher_for(config: &CrawlConfig) -> Result<Fetcher, FetchError> {
    Fetcher::new(&FetchSettings {
        user_agent: config.user_agent.clone(),
        connect_timeout: config.connect_timeout,
        request_timeout: config.request_timeout,
        read_timeout: config.read_timeout,
        max_body_bytes: config.max_body_bytes,
        address_policy: config.address_policy.clone(),
        extra_roots: config.ca_certs.clone(),
        proxy: config.proxy.clone(),
        sites: config
            .sites
            .iter()
            .map(|site| crate::fetch::SiteTransport {
                site: site.name.clone(),
                cookies: site.cookies,
                headers: site.headers.clone(),
            })
            .collect(),
    })
}

/// The site of every allowed host (the first site that names it).
pub(crate) fn host_sites_of(config: &CrawlConfig) -> HashMap<String, Arc<Site>> {
    let mut host_sites = HashMap::new();
    for site in &config.sites {
        let site = Arc::new(site.clone());
        for host in site.allowed_hosts() {
            host_sites
                .entry(host.clone())
                .or_insert_with(|| site.clone());
        }
    }
    host_sites
}

/// Flushes the store and delivers the outbox every interval, and once more at the end,
/// on the CPU pool: nothing waits for a round, and on the store-call thread a long
/// flush would hold up leases.
async fn run_sink(
    pool: WorkerPool,
    store: Arc<dyn Store>,
    sink: Arc<std::sync::Mutex<Sinks>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) -> Result<u64, CrawlError> {
    let mut delivered = 0u64;
    loop {
        let stopping = *stop.borrow();
        let (store2, sink2) = (store.clone(), sink.clone());
        let round = pool
            .run(move || -> Result<u64, CrawlError> {
                // One flush a round makes the records durable before they are written out;
                // the offset saved by the drain is made durable by the next round's flush
                // (if the process dies first, the sink cuts and rewrites those lines).
                store2.flush()?;
                let mut sink = sink2.lock().expect("sink lock poisoned");
                let n = sink.drain(&*store2)? as u64;
                if n > 0 {
                    // Its own target, so that tools (and tests) can follow deliveries alone.
                    tracing::debug!(target: "newscrawl::delivered", "{n} records delivered");
                }
                if stopping {
                    store2.flush()?;
                }
                Ok(n)
            })
            .await??;
        delivered += round;
        metrics.records_emitted(round);
        if stopping {
            return Ok(delivered);
        }
        tokio::select! {
            _ = tokio::time::sleep(SINK_INTERVAL) => {}
            _ = stop.changed() => {}
        }
    }
}
