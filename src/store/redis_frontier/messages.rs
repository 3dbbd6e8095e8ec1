//! What passes between a worker and the shared frontier: a claim of a host's next
//! request, the page it carries, the completion that settles it, and what a bucket
//! holds.
//!
//! Invariant: these are plain values; every Redis key and script stays in the
//! frontier's own module.

use std::time::Duration;

use super::number;
use crate::politeness::Pace;
use crate::store::{
    Capture, Fingerprint, Priority, QueueEntry, RevisitSchedule, StoreError, UrlState,
};

/// A host claimed for one request.
#[derive(Debug, Clone)]
pub struct Claim {
    pub bucket: u32,
    pub host: String,
    pub epoch: String,
    /// The Redis server's clock when the claim was made, the lease's deadline and
    /// the earliest start of its request, on the same clock (Unix ms).
    pub now_ms: u64,
    pub deadline_ms: u64,
    pub start_ms: u64,
    /// The URL to request; `None`: the host's robots.txt is to be fetched first.
    pub page: Option<ClaimedPage>,
    /// The host's stored robots.txt copy (as the worker encoded it), if any.
    pub robots: Option<Vec<u8>>,
    /// What the host's clock learned from its answers so far.
    pub pace: Pace,
}

#[derive(Debug, Clone)]
pub struct ClaimedPage {
    pub entry: QueueEntry,
    /// The URL's recorded state, when it was settled before (a retry or a revisit).
    pub state: Option<UrlState>,
    /// A listing page's revisit schedule (daemon mode), once it has one.
    pub revisit: Option<RevisitSchedule>,
}

/// What a claim on one bucket found.
#[derive(Debug)]
pub enum Claimed {
    Hosts {
        claims: Vec<Claim>,
        /// When the bucket's next other host may be claimed (`None`: no other host
        /// has work), on the server's clock.
        next_ms: Option<u64>,
    },
    /// Nothing claimable before this time on the server's clock (`now_ms`).
    Wait { now_ms: u64, until_ms: u64 },
    /// The bucket has no host with work.
    Empty,
}

/// What a lease's completion commits.
#[derive(Debug, Default)]
pub struct Completion {
    /// The URL settled (or kept queued) and its new state.
    pub url: Option<String>,
    pub state: Option<UrlState>,
    /// Keep the URL queued, due this long after now (a retry), instead of removing it.
    pub requeue_after: Option<Duration>,
    /// From now until the host's next request may start.
    pub next_gap: Duration,
    /// The host's delay and pace, kept for the next lease.
    pub delay: Duration,
    pub pace: Pace,
    pub content: Option<Fingerprint>,
    /// A robots.txt copy (encoded by the worker) and how long it may be used; an
    /// empty copy keeps the stored one and only sets how long it may be used.
    pub robots: Option<(Vec<u8>, Duration)>,
    pub max_urls_per_host: u64,
    /// Leave the host's URLs queued but unclaimed until a worker starts.
    pub park: bool,
    pub records: Vec<Vec<u8>>,
    /// The page's exchange for the WARC output ([`pack_capture`]), when one is kept.
    pub capture: Option<Vec<u8>>,
    pub links: Vec<QueueEntry>,
    /// The class the new links of this bucket are queued in (links to hosts of other
    /// buckets are routed, and queued as found).
    pub links_priority: Priority,
    /// States of links to this host that robots.txt disallows.
    pub denied: Vec<UrlState>,
    /// The listing's next page ([`crate::store::PageCommit::next_page`]); one on another
    /// host is not queued.
    pub next_page: Option<QueueEntry>,
    /// Queue the settled URL again (daemon mode).
    pub revisit: Option<RevisitPlan>,
    /// The lease was handed on when its answer came ([`RedisFrontier::hand_on`]):
    /// this commits its page (under the lease's epoch, while the URL is still
    /// settling) and leaves the host's clock to the hand-on.
    pub settles_handed_on: bool,
}

/// When a settled page is queued again: one plan if the visit found something new
/// (a queued link that is not a listing page), one if it did not. Which applies is
/// known only inside the completion, which picks one, so the page is never left
/// settled without its revisit.
#[derive(Debug)]
pub struct RevisitPlan {
    /// The entry to queue (with the validators of the copy just fetched).
    pub entry: QueueEntry,
    pub if_changed: (Duration, Option<RevisitSchedule>),
    pub if_unchanged: (Duration, Option<RevisitSchedule>),
}

/// When a host may next be claimed, as the script that changed it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextClaim {
    /// The Redis server's clock then (Unix ms).
    pub now_ms: u64,
    /// The host's time in the ready set; `None`: it has no work (or is leased).
    pub at_ms: Option<u64>,
}

impl NextClaim {
    pub(super) fn read(now: &[u8], at: &[u8]) -> Result<Self, StoreError> {
        let at = match at {
            b"-1" | b"0" => None,
            at => Some(number(at, "next claim")?),
        };
        Ok(Self {
            now_ms: number(now, "now")?,
            at_ms: at,
        })
    }
}

/// What a completion changed.
#[derive(Debug, Default)]
pub struct Completed {
    /// False when the lease had been lost: nothing was committed.
    pub accepted: bool,
    /// New links queued in the lease's bucket, by host (links to other buckets are
    /// counted when they are routed).
    pub new_links: Vec<(String, usize)>,
    pub over_budget: usize,
    pub denied: usize,
    /// A queued link was not a listing page (the page's revisit took `if_changed`).
    pub changed: bool,
    /// When the host may be claimed again.
    pub next_claim: Option<NextClaim>,
}

/// What is left in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLoad {
    /// Hosts with work now or soon (a URL due, a lease, a gap, a page settling);
    /// counted up to the first.
    pub hosts: u64,
    /// When no host has work soon: the URLs queued for later (retries not yet due).
    pub later: u64,
    /// Links waiting to be routed to their bucket.
    pub links: u64,
    /// Writes to the bucket so far.
    pub writes: u64,
    /// Hosts in the bucket's ready set: URLs queued, a request in flight or a page
    /// settling.
    pub ready: u64,
}

/// An entry of a worker's output stream, as it was packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A record ([`crate::store::packed`]).
    Record(Vec<u8>),
    /// A page exchange ([`pack_capture`]).
    Capture(Vec<u8>),
}

/// A page exchange as it travels through Redis: its postcard encoding, packed.
pub fn pack_capture(capture: &Capture) -> Vec<u8> {
    crate::store::packed::pack(&postcard::to_stdvec(capture).expect("a capture serializes"))
}

/// A page exchange read back from Redis; `key` names it in an error.
pub fn unpack_capture(packed: &[u8], key: &str) -> Result<Capture, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: "redis record stream",
        key: key.to_string(),
        reason,
    };
    let bytes = crate::store::packed::unpack(packed)
        .map_err(|e| corrupt(format!("page exchange does not inflate: {e}")))?;
    postcard::from_bytes(&bytes).map_err(|e| corrupt(format!("page exchange does not decode: {e}")))
}
