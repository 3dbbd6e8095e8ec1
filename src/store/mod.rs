//! The crawl's memory: frontier queue, URL states, host records, content hashes and the
//! record outbox, behind the [`Store`] trait so another backend can replace sled.
//!
//! Invariants every backend keeps:
//! - one normalized URL, one entry: a URL is queued at most once, ever;
//! - a page's outcome (its URL state, the links it discovered, the records it produced)
//!   commits atomically in [`Store::commit`], and commits are serialized so that
//!   outbox sequence numbers grow in commit order (a sink that has read up to `n`
//!   will never see a later commit below `n`);
//! - a URL handed out by [`Store::lease`] stays leased until committed, and is not
//!   handed out again meanwhile; a crashed process's leases are queued again when the
//!   store is next opened (by [`Store::recover_leases`] where leases are persisted).

pub mod packed;
#[cfg(feature = "redis")]
pub mod redis_frontier;
mod sled_store;

use serde::{Deserialize, Serialize};

use crate::revisit::{ChangeEstimate, RevisitBounds};
use crate::site::UrlKind;

pub use sled_store::SledStore;

/// Version of the on-disk layout; a store written with another version is refused.
pub const SCHEMA_VERSION: u32 = 3;

/// 128-bit fingerprint of a normalized URL or of a page's content.
pub type Fingerprint = [u8; 16];

pub fn fingerprint(bytes: &[u8]) -> Fingerprint {
    let hash = blake3::hash(bytes);
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.as_bytes()[..16]);
    out
}

pub fn hex(fp: &Fingerprint) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state directory {path} is in use by another process (only one crawler may open it)")]
    Locked { path: String },
    #[error("state directory {path} was written with schema version {found}; this build reads version {expected}")]
    Schema {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("store value in tree {tree:?} (key {key}) is corrupt: {reason}")]
    Corrupt {
        tree: &'static str,
        key: String,
        reason: String,
    },
    #[error("state directory {path} is damaged ({reason}); the crawl did not start and did not replace it with an empty one: restore it from a copy, or start over with --fresh (which deletes it)")]
    Damaged { path: String, reason: String },
    /// sled's own error; not a `source`, as its text already carries the cause.
    #[error("store I/O error: {0}")]
    Sled(sled::Error),
    #[error("cannot create {path}: {reason}")]
    Io { path: String, reason: String },
    /// The shared (Redis) frontier's error: the server's, or an answer it should not
    /// have given.
    #[error("redis store: {0}")]
    Redis(String),
    /// The crawl's committing thread could not commit a page.
    #[error("page commit: {0}")]
    Committer(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Sled(e)
    }
}

impl StoreError {
    /// The operating system's error, when the store could not read or write its files
    /// (a full disk, a file size limit, a failing device).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            StoreError::Sled(sled::Error::Io(io)) => Some(io),
            _ => None,
        }
    }
}

/// A URL waiting in the frontier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub url: String,
    pub site: String,
    pub kind: UrlKind,
    pub depth: u32,
    /// Redirects followed to reach this URL (0 for a link).
    pub redirects: u8,
    /// Validators of the copy fetched before, for a conditional request (revisits).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The last modification the sitemap or feed that listed this URL gave (Unix ms),
    /// kept in its state once it is fetched.
    pub listed_modified_ms: Option<u64>,
}

impl QueueEntry {
    /// A URL just found (a link, a seed, a sitemap entry): no redirect behind it and no
    /// validators yet.
    pub fn found(url: impl Into<String>, site: &str, kind: UrlKind, depth: u32) -> Self {
        Self {
            url: url.into(),
            site: site.to_string(),
            kind,
            depth,
            redirects: 0,
            etag: None,
            last_modified: None,
            listed_modified_ms: None,
        }
    }

    /// A settled URL queued again, with the validators of its last copy for a
    /// conditional request.
    pub fn again(state: &UrlState) -> Self {
        Self {
            url: state.url.clone(),
            site: state.site.clone(),
            kind: state.kind,
            depth: state.depth,
            redirects: 0,
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
            listed_modified_ms: state.listed_modified_ms,
        }
    }

    /// The politeness unit of this URL (`host[:port]`).
    pub fn host(&self) -> String {
        crate::urlnorm::host_of_normalized(&self.url).to_string()
    }
}

/// Where a URL stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UrlStatus {
    Queued,
    /// Fetched and handed to the parser.
    Fetched,
    /// Fetched, but not parsed: not HTML, too large, redirected away, or a duplicate.
    Skipped,
    /// Never requested: robots.txt disallows it.
    RobotsDenied,
    /// The request failed (network error or HTTP error status).
    Failed,
    /// Same content as another URL, or a redirect to one: see `alias_of`.
    Alias,
}

/// Everything the crawl remembers about one URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlState {
    pub url: String,
    pub site: String,
    pub kind: UrlKind,
    pub depth: u32,
    pub status: UrlStatus,
    /// HTTP status of the last response, 0 when there was none.
    pub http_status: u16,
    pub fetched_at_ms: u64,
    /// Tries of the current visit (a failure that may pass counts one and queues
    /// the URL again; a new visit starts from zero).
    pub attempts: u32,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub content_hash: Option<Fingerprint>,
    pub alias_of: Option<String>,
    /// Why the URL ended as it did (error text, skip reason).
    pub note: Option<String>,
    /// Number of record versions emitted for this URL.
    pub version: u32,
    /// Fingerprint of the last record's content, to tell an edit from a page whose
    /// surroundings (menus, link boxes) changed.
    pub record_hash: Option<Fingerprint>,
    /// The last modification a sitemap or feed gave for this URL (Unix ms).
    pub listed_modified_ms: Option<u64>,
}

impl UrlState {
    /// A settled URL queued again for a new visit (a revisit, a refresh): its tries
    /// count from zero, so a page visited many times keeps its retries.
    pub fn queue_again(&mut self) {
        self.status = UrlStatus::Queued;
        self.attempts = 0;
    }

    pub fn queued(entry: &QueueEntry) -> Self {
        Self {
            url: entry.url.clone(),
            site: entry.site.clone(),
            kind: entry.kind,
            depth: entry.depth,
            status: UrlStatus::Queued,
            http_status: 0,
            fetched_at_ms: 0,
            attempts: 0,
            etag: None,
            last_modified: None,
            content_hash: None,
            alias_of: None,
            note: None,
            version: 0,
            record_hash: None,
            listed_modified_ms: entry.listed_modified_ms,
        }
    }
}

/// A host's robots.txt as last fetched, and its politeness clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub robots: Option<RobotsCopy>,
    /// Unix ms before which no request may start (survives restarts).
    pub next_allowed_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobotsCopy {
    pub fetched_at_ms: u64,
    /// HTTP status, or 0 when the request failed.
    pub status: u16,
    pub body: Vec<u8>,
    pub error: Option<String>,
}

/// Where a queued URL stands among its host's. What buys freshness is a `Revisit`: a
/// settled listing page (section, sitemap, feed) queued again for its revisit, and
/// the links a listing page's revisit found (new articles). Once due, it is served
/// before the URLs `Found` otherwise (seeds, a first visit's links, sitemap entries,
/// retries, articles queued again), so that neither a due revisit nor the articles
/// it finds wait behind the host's backlog. Within a class, the earlier due comes
/// first, and a class whose first URL is not due yet never holds the other up. Both
/// frontiers keep this order: sled in the due field of the key, Redis in the score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    Revisit,
    #[default]
    Found,
}

impl Priority {
    /// The class of a settled page of `kind` queued again.
    pub fn requeued(kind: UrlKind) -> Self {
        if kind.is_listing() {
            Self::Revisit
        } else {
            Self::Found
        }
    }
}

/// What [`Store::lease`] found for a host.
#[derive(Debug)]
pub enum Lease {
    /// Due URLs, earliest first, now leased.
    Urls(Vec<QueueEntry>),
    /// The host's earliest entry is due at this Unix ms.
    NotDue(u64),
    Empty,
}

/// The outcome of one leased URL, committed atomically.
#[derive(Debug, Default)]
pub struct PageCommit {
    /// The leased URL's final state.
    pub state: Option<UrlState>,
    /// Other URLs whose state this page settles (e.g. the target of a redirect).
    pub also: Vec<UrlState>,
    /// Newly discovered links; those already known are dropped.
    pub links: Vec<QueueEntry>,
    /// The class the new links are queued in (`Revisit` for those a listing page's
    /// revisit found).
    pub links_priority: Priority,
    /// Discovered links robots.txt disallows: those never seen are recorded as denied
    /// (so no later page queues them), not queued.
    pub denied: Vec<QueueEntry>,
    /// Puts this entry (the leased URL) back in its host's queue for another try,
    /// due at the given Unix ms: behind the URLs waiting there.
    pub requeue: Option<(QueueEntry, u64)>,
    /// URLs a sitemap or feed says were modified at the given Unix ms: each fetched one
    /// whose modification is newer than the one listed last time (or, the first time,
    /// than its fetch) is queued again, with its validators.
    pub refresh: Vec<(QueueEntry, u64)>,
    /// The listing's next page ([`UrlKind::NextPage`]): queued (again, when it was
    /// fetched before and is not waiting already) if every story link of `links` is
    /// new and none went over the host's budget, so that stories pushed off this page
    /// since the last visit are found on the next.
    pub next_page: Option<QueueEntry>,
    /// How a listing page's news relates to another listing page's (`crawl::cover`),
    /// which may overrule what its links alone say of the visit.
    pub overlap: Overlap,
    /// Records for the outbox, each [`packed::pack`]ed (a backend stores them as they
    /// are; its outbox reads give them back [`packed::unpack`]ed).
    pub records: Vec<Vec<u8>>,
    /// The page's content hash and URL, to detect the same page under other URLs.
    pub content: Option<(Fingerprint, String)>,
    /// Daemon mode: when a settled (fetched or failed) page is queued again.
    pub revisit: Option<Revisit>,
    /// The exchange as fetched, for the WARC output (when one is configured).
    pub capture: Option<Capture>,
    /// Budget of URLs discovered per host: new links (and denied ones) past it are
    /// dropped, not recorded, and counted in [`CommitReport::over_budget`].
    pub max_urls_per_host: Option<u64>,
    pub now_ms: u64,
    /// The page answered as it was (a 304, or the same bytes): for a listing page's
    /// revisit, nothing happened (see [`crate::revisit::Finding`]).
    pub unchanged: bool,
}

/// How a listing page's visit stands to the other listing pages that show the same
/// stories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overlap {
    /// Nothing known: the visit's links decide.
    #[default]
    Unknown,
    /// Another page shows the page's news and more: whatever a visit found, it is
    /// [`crate::revisit::Finding::Elsewhere`] (new stories another page would have
    /// shown, or a silence that says nothing of news the other page shows).
    Contained,
    /// The page shows another's news and more: stories the other found first since
    /// the last visit count as [`crate::revisit::Finding::New`], as the page would have
    /// shown them.
    Contains,
}

impl Overlap {
    /// The finding of a visit as its links alone say it, overruled by the overlap.
    pub fn finding(self, by_links: crate::revisit::Finding) -> crate::revisit::Finding {
        use crate::revisit::Finding;
        match (self, by_links) {
            (Overlap::Contained, _) => Finding::Elsewhere,
            (Overlap::Contains, Finding::Covered) => Finding::New,
            (_, finding) => finding,
        }
    }
}

/// When a page is looked at again (daemon mode).
#[derive(Debug, Clone, Copy)]
pub enum Revisit {
    /// A listing page: after the interval its [`ChangeEstimate`] gives, which this
    /// visit updates with whether it found new URLs.
    Adaptive(RevisitBounds),
    /// An article: after a fixed time, to catch edits.
    After(std::time::Duration),
}

/// One HTTP exchange as the crawler made it, for archives (WARC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub url: String,
    /// RFC 3339 (UTC, milliseconds).
    pub date: String,
    /// The request's header lines as sent (name, value).
    pub request_headers: Vec<(String, String)>,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub http_version: String,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    /// The payload as received after content decoding.
    pub body: Vec<u8>,
    pub ip: Option<String>,
}

/// A listing page's revisit schedule, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisitSchedule {
    pub url: String,
    pub site: String,
    pub estimate: ChangeEstimate,
    /// Unix ms of the next visit.
    pub next_due_ms: u64,
}

/// What a commit changed.
#[derive(Debug, Default, Clone)]
pub struct CommitReport {
    /// Links that were new, by host.
    pub new_links: Vec<(String, usize)>,
    /// Hosts of URLs queued again by `refresh`.
    pub refreshed: Vec<String>,
    pub records: usize,
    /// Links of [`PageCommit::denied`] that were new (and are now recorded as denied).
    pub denied: usize,
    /// New links dropped because their host has used up its URL budget.
    pub over_budget: usize,
    /// Unix ms at which the page was queued again by [`PageCommit::revisit`].
    pub revisit_due_ms: Option<u64>,
    /// A listing page's estimated changes an hour after this visit.
    pub revisit_rate: Option<f64>,
}

/// How far a sink has delivered the outbox, and the size of its output at that point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkOffset {
    pub seq: u64,
    pub bytes: u64,
    /// Which file of a rotating output `bytes` is about (0: the first).
    pub file: u32,
}

/// What a page commit resolves to, once it is in the store (not yet on disk: see
/// [`Store::flush`]).
pub type CommitFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<CommitReport, StoreError>> + Send>>;

/// What settling one page needs from the crawl's memory: the URL's recorded state,
/// the first URL seen with a content hash, and the atomic commit of the outcome. A
/// whole [`Store`] gives it (through the crawl's group committer); in a shared crawl,
/// the lease on the page's host does.
pub trait PageStore: Send + Sync {
    fn recorded_state(&self, url: &str) -> Result<Option<UrlState>, StoreError>;
    fn content_owner(&self, hash: &Fingerprint) -> Result<Option<String>, StoreError>;
    /// Commits the page's outcome: the CPU work is done before this returns (on the
    /// caller's thread, the CPU pool's), the wait is in the future (awaited on the
    /// runtime).
    fn commit(self: std::sync::Arc<Self>, commit: PageCommit) -> CommitFuture;
}

/// Storage for one crawl. Implementations are cheap to share (`Arc`) across threads;
/// every method is blocking and quick, except [`Store::flush`].
pub trait Store: Send + Sync + 'static {
    /// Queues seeds that were never seen; returns how many were new.
    fn enqueue_new(&self, entries: &[QueueEntry], now_ms: u64) -> Result<usize, StoreError>;
    /// Puts URLs leased by a process that died back in the queue; returns how many.
    fn recover_leases(&self, now_ms: u64) -> Result<usize, StoreError>;
    /// Every host with at least one queued URL.
    fn hosts_with_work(&self) -> Result<Vec<String>, StoreError>;
    /// Leases up to `max` of the host's due URLs that are not leased already.
    fn lease(&self, host: &str, now_ms: u64, max: usize) -> Result<Lease, StoreError>;
    fn host(&self, host: &str) -> Result<Option<HostRecord>, StoreError>;
    fn put_host(&self, host: &str, record: &HostRecord) -> Result<(), StoreError>;
    /// Where a URL stands: its recorded state, or [`UrlState::queued`] for a URL only
    /// queued (found by scanning its host's queue, so not for hot paths).
    fn url_state(&self, url: &str) -> Result<Option<UrlState>, StoreError>;
    /// The state recorded for a URL that was settled or queued again; `None` for one
    /// never found and for one only queued since it was found.
    fn recorded_state(&self, url: &str) -> Result<Option<UrlState>, StoreError>;
    /// The first URL seen with this content, if any.
    fn content_owner(&self, hash: &Fingerprint) -> Result<Option<String>, StoreError>;
    /// Settles a leased URL with everything its page produced, atomically.
    fn commit(&self, commit: PageCommit) -> Result<CommitReport, StoreError>;
    /// Commits several pages, with the same outcome as committing them one after the
    /// other in this order (a backend may write them together); one result each.
    fn commit_group(&self, commits: Vec<PageCommit>) -> Vec<Result<CommitReport, StoreError>> {
        commits
            .into_iter()
            .map(|commit| self.commit(commit))
            .collect()
    }
    /// Outbox records with sequence numbers above `after`, in order.
    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Captured exchanges with sequence numbers above `after`, in order.
    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Capture)>, StoreError>;
    fn sink_offset(&self, sink: &str) -> Result<Option<SinkOffset>, StoreError>;
    fn set_sink_offset(&self, sink: &str, offset: SinkOffset) -> Result<(), StoreError>;
    /// Makes every acknowledged write survive a killed process.
    fn flush(&self) -> Result<(), StoreError>;
    /// Every URL state (for reports and tests; scans the whole store).
    fn url_states(&self) -> Result<Vec<UrlState>, StoreError>;
    /// Queues again every settled URL that `due` picks (section pages, articles whose
    /// re-check is due), with the validators of its last copy; returns how many. With
    /// `sections_only`, only section pages are looked at (an index, not a full scan).
    fn requeue_settled(
        &self,
        now_ms: u64,
        sections_only: bool,
        due: &dyn Fn(&UrlState) -> bool,
    ) -> Result<usize, StoreError>;
    /// Queued URLs per host, with the earliest due time (Unix ms); scans the queue.
    fn queue_by_host(&self) -> Result<Vec<(String, u64, u64)>, StoreError>;
    /// Every sink's name and offset.
    fn sink_offsets(&self) -> Result<Vec<(String, SinkOffset)>, StoreError>;
    /// Records in the outbox, and the highest sequence number (0 when empty).
    fn outbox_stats(&self) -> Result<(u64, u64), StoreError>;
    /// Bytes on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// A value of the crawl's own (crawl identity, ...), by name.
    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Every listing page's revisit schedule (daemon mode).
    fn revisit_schedules(&self) -> Result<Vec<RevisitSchedule>, StoreError>;
    /// Queued URLs in all, from the queue's entry counts without decoding them; URLs
    /// settled by other means (a redirect's target) count until a lease reaches them.
    fn queue_len(&self) -> Result<u64, StoreError>;
    /// Queued URLs that failed before and are due after `now_ms`: retries not yet due.
    fn retries_waiting(&self, now_ms: u64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Stored values read back from damaged bytes: a value or an error, never a
        /// panic, and what decodes encodes back to the same bytes.
        #[test]
        fn store_values_decode_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            fn round_trip<T: Serialize + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
                if let Ok(value) = postcard::from_bytes::<T>(bytes) {
                    let encoded = postcard::to_stdvec(&value).unwrap();
                    let again: T = postcard::from_bytes(&encoded).unwrap();
                    proptest::prop_assert_eq!(postcard::to_stdvec(&again).unwrap(), encoded);
                }
                Ok(())
            }
            round_trip::<UrlState>(&bytes)?;
            round_trip::<QueueEntry>(&bytes)?;
            round_trip::<HostRecord>(&bytes)?;
            round_trip::<Capture>(&bytes)?;
            round_trip::<RevisitSchedule>(&bytes)?;
            round_trip::<SinkOffset>(&bytes)?;
        }
    }
}
