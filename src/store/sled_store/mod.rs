//! The sled backend of [`Store`].
//!
//! Trees and keys (values are postcard-encoded unless noted):
//! - `meta`: `schema_version` -> u32 BE; `sink:<name>` -> [`SinkOffset`];
//!   `commits` -> u64 BE, page commits so far (see the watermark below)
//! - `urls`: URL fingerprint -> [`UrlState`], for every URL that was settled (fetched,
//!   skipped, failed, denied) or queued again; a URL only queued has no entry here
//! - `frontier`: host hash (8) + due Unix ms (8, BE) + sequence (8, BE) -> a segment:
//!   up to [`SEGMENT_MAX`] [`QueueEntry`]s of that host, found by one commit
//! - `seen`: sequence (8, BE) -> the 64-bit fingerprints (8 bytes each, LE) of the URLs
//!   a commit made known; read whole into memory on open (the seen set), with the
//!   file `seen.snapshot`, which holds the chunks up to `meta.seen_snapshot`
//!   (`seen_snapshot`)
//! - `queue`: schema 2's frontier (one [`QueueEntry`] per key), moved into `frontier`
//!   and `seen` when such a store is opened, then emptied
//! - `leases`: URL fingerprint -> [`QueueEntry`]; written by versions before leases
//!   were kept in memory, emptied back into the queue on open by `recover_leases`
//! - `hosts`: host -> [`HostRecord`]
//! - `content`: content fingerprint -> first URL with that content (UTF-8)
//! - `outbox`: sequence (8, BE) -> record (`store::packed`: deflated JSON)
//! - `sections`: URL fingerprint -> nothing; the pages revisited on every run (section
//!   pages, sitemaps, feeds), so that the revisit reads them without scanning every URL
//! - `captures`: sequence (8, BE) -> [`Capture`] (only when a WARC output is configured)
//! - `revisits`: URL fingerprint -> [`RevisitSchedule`] (daemon mode: what is known of
//!   a listing page's change rate, and when it is due again)
//! - `host_urls`: host -> u64 BE, URLs pages have led to on that host (queued or
//!   denied), for [`PageCommit::max_urls_per_host`]; absent in stores written before
//!   it, where counting starts at the first commit
//!
//! Invariant: every write to `urls` and `seen` and every new `frontier` segment
//! (commits, new seeds) holds `commit_lock`, so outbox sequence numbers are allocated
//! and made visible in the same order, and the in-memory seen set changes only with
//! what is on disk. (Leases remove segments that hold nothing left to lease, under the
//! lease lock alone: no commit writes to an existing segment.)
//!
//! The frontier is built for few writes: a URL found costs no write of its own. A
//! commit writes one `frontier` segment per host it found URLs on and one `seen`
//! chunk, whatever the number of links; a URL gets its own `urls` entry only when it
//! is settled. The seen set (64-bit fingerprints, as Heritrix's) lives in memory: about
//! 8.5 bytes per URL ever found (`seen_set`). Two URLs whose fingerprints collide in 64 bits (odds of
//! about 1 in 370,000 at 10 million URLs) would make the second look already found.
//!
//! Loss detection: sled recovers a log that was cut short (a truncated or damaged file)
//! by replaying the part it can read, silently dropping the rest. So commits are
//! counted, and each flush writes the count to `meta.commits` just before sled's flush
//! and, once that returned, to the file `watermark` beside sled's files. A log cut
//! anywhere before the last flushed `meta.commits` opens with fewer commits than its
//! watermark: it lost data and is reported as damaged, not used.
//!
//! Counters written by flushes, not commits (`meta.commits`, `host_urls`): a page
//! commit writes only what the page changed. After a kill -9, `host_urls` can lag by
//! what was added since the last flush (the crawl flushes every 250 ms), which only
//! lets a trap grow that much further.
//!
//! Leases live in memory: a lease reads its host's segments in order and remembers
//! how far it got in each; a leased URL stays in its segment, hidden from other leases
//! by `leased`. The commit that settles the last URL of a segment removes the segment
//! in the same transaction. A process that dies leaves its segments in place; on the
//! next run, leases skip the URLs `urls` says were settled, so nothing needs recovering.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::*;

mod commit;
mod encoding;
mod open;
mod seen_set;
mod seen_snapshot;

use crate::revisit::Finding;
use encoding::*;

use seen_set::SeenSet;
use seen_snapshot::SNAPSHOT_FILE;

/// Most URLs a frontier segment holds. A lease decodes the segment it reads from, so a
/// segment is kept small enough to decode for every lease of a few URLs. It also sets
/// the size of the frontier's sled leaves (up to 16 entries each), and sled 0.34 keeps
/// every leaf it reads resident until its cache's access log has counted it: each of
/// its 256 cache shards counts accesses 64 at a time, so up to 16,384 leaves are
/// resident uncounted. Reading the first segment of 10,000 hosts held about 430 MB
/// with 64-URL segments and about 50 MB with 16; enqueueing still runs at 295,000-360,000 URLs/s.
pub const SEGMENT_MAX: usize = 16;

/// The schema this build migrates from (see `migrate_from_schema_2`).
const SCHEMA_WITH_QUEUE_ENTRIES: u32 = 2;

pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    urls: sled::Tree,
    frontier: sled::Tree,
    seen_log: sled::Tree,
    leases: sled::Tree,
    hosts: sled::Tree,
    content: sled::Tree,
    outbox: sled::Tree,
    sections: sled::Tree,
    revisits: sled::Tree,
    captures: sled::Tree,
    host_urls: sled::Tree,
    /// Where sled's files (and the watermark) are.
    dir: std::path::PathBuf,
    /// Held by every writer of `urls`, `frontier` and `seen`; guards the seen set.
    commit_lock: Mutex<KnownUrls>,
    /// What leases took from the frontier and have not committed.
    leased: Mutex<Leases>,
}

/// How far leases have read each segment, and which segment each leased URL is from.
#[derive(Default)]
struct Leases {
    by_url: HashMap<Fingerprint, Vec<u8>>,
    segments: HashMap<Vec<u8>, Cursor>,
}

/// A lease's place in one segment.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// Entries in the segment.
    len: usize,
    /// Entries before this one were leased or skipped.
    next: usize,
    /// Leased entries not yet committed.
    outstanding: usize,
}

impl Cursor {
    /// Every entry was leased or skipped, and every lease committed: the segment can go.
    fn finished(&self) -> bool {
        self.next >= self.len && self.outstanding == 0
    }
}

/// The seen set and the counters commits keep in memory.
#[derive(Default)]
struct KnownUrls {
    /// Short fingerprints of every URL found (queued, settled or denied).
    seen: SeenSet,
    /// URLs pages added to each host, for the hosts read so far (`host_urls` plus
    /// what commits added since the last flush).
    host_counts: HashMap<String, u64>,
    /// Hosts whose count changed since the last flush.
    hosts_changed: HashSet<String>,
    /// Commits so far: `meta.commits` plus those since the last flush.
    commits: u64,
}

/// The file beside sled's that holds the number of commits known to be on disk.
const WATERMARK_FILE: &str = "watermark";

fn read_watermark(dir: &Path) -> Result<Option<u64>, String> {
    match std::fs::read_to_string(dir.join(WATERMARK_FILE)) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("its {WATERMARK_FILE} file holds {text:?}, not a number")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read its {WATERMARK_FILE} file: {e}")),
    }
}

impl KnownUrls {
    fn contains(&self, fp: &Fingerprint) -> bool {
        self.seen.contains(short_fingerprint(fp))
    }
}

/// Most fingerprints of one `seen` chunk written by the move from schema 2.
const MIGRATED_SEEN_CHUNK: usize = 1 << 16;
/// `seen` chunks after the snapshot beyond which opening moves them into a new one.
const SEEN_CHUNKS_BEFORE_MERGE: usize = 1024;
/// The `meta` key of the last `seen` key moved into the snapshot (u64 BE).
const SEEN_SNAPSHOT_KEY: &str = "seen_snapshot";

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn unwrap_tx<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    })
}

impl Store for SledStore {
    fn enqueue_new(&self, entries: &[QueueEntry], now_ms: u64) -> Result<usize, StoreError> {
        let mut known = self.commit_lock.lock().expect("commit lock poisoned");
        let mut fresh = Vec::new();
        let mut fresh_fps = Vec::new();
        let mut in_batch = HashSet::new();
        for entry in entries {
            let fp = fingerprint(entry.url.as_bytes());
            let short = short_fingerprint(&fp);
            if known.seen.contains(short) || !in_batch.insert(short) {
                continue;
            }
            fresh.push((fp, entry));
            fresh_fps.push(short);
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        let trees = (&self.frontier, &self.sections, &self.seen_log);
        let result = trees.transaction(|(frontier, sections, seen_log)| -> TxResult<()> {
            for (fp, entry) in &fresh {
                if entry.kind.is_revisited() {
                    sections.insert(fp, &[])?;
                }
            }
            write_segments(
                frontier,
                fresh.iter().map(|(_, e)| *e),
                Priority::Found,
                now_ms,
            )?;
            let seq = seen_log.generate_id()?;
            seen_log.insert(&seq.to_be_bytes(), pack_seen(&fresh_fps))?;
            Ok(())
        });
        unwrap_tx(result)?;
        known.seen.extend(fresh_fps);
        Ok(fresh.len())
    }

    fn recover_leases(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut recovered = 0;
        for item in self.leases.iter() {
            let (fp, value) = item?;
            let entry: QueueEntry = decode::<QueueEntryV2>("leases", &fp, &value)?.into();
            let seq = self.db.generate_id()?;
            let key = queue_key(&entry.host(), Priority::requeued(entry.kind), now_ms, seq);
            let result = (&self.frontier, &self.leases).transaction(|(frontier, leases)| {
                frontier.insert(key.as_slice(), segment_value(&[&entry]))?;
                leases.remove(&fp)?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            });
            unwrap_tx(result)?;
            recovered += 1;
        }
        Ok(recovered)
    }

    fn hosts_with_work(&self) -> Result<Vec<String>, StoreError> {
        let mut hosts = Vec::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let Some(item) = self.frontier.range(from.as_slice()..).next() else {
                break;
            };
            let (key, value) = item?;
            if let Some(entry) = segment_first(&key, &value)? {
                hosts.push(entry.host());
            }
            // Jump past every key of this host prefix.
            let mut next = key[..QUEUE_HOST_LEN].to_vec();
            if !increment(&mut next) {
                break;
            }
            from = next;
        }
        Ok(hosts)
    }

    fn lease(&self, host: &str, now_ms: u64, max: usize) -> Result<Lease, StoreError> {
        let mut leases = self.leased.lock().expect("lease lock poisoned");
        let leases = &mut *leases;
        let mut taken = Vec::new();
        let mut finished = Vec::new();
        let mut not_due: Option<u64> = None;
        // Due revisits first, then the URLs found (`Priority`); a class whose first
        // entry is not due yet is left for the other.
        'classes: for priority in [Priority::Revisit, Priority::Found] {
            let (from, to) = class_range(host, priority);
            let entries = match to {
                Some(to) => self.frontier.range(from..to),
                None => self.frontier.range(from..),
            };
            for item in entries {
                let (key, value) = item?;
                let due = due_of(&key);
                if due > now_ms {
                    not_due = Some(not_due.map_or(due, |d| d.min(due)));
                    continue 'classes;
                }
                let known = leases.segments.get(key.as_ref()).copied();
                if let Some(cursor) = known.filter(|c| c.next >= c.len) {
                    // Read to its end; it goes when its last lease commits.
                    if cursor.finished() {
                        finished.push(key.to_vec());
                    }
                    continue;
                }
                let entries: Vec<QueueEntry> = decode("frontier", &key, &value)?;
                let mut cursor = known.unwrap_or(Cursor {
                    len: entries.len(),
                    next: 0,
                    outstanding: 0,
                });
                while cursor.next < entries.len() && taken.len() < max {
                    let entry = &entries[cursor.next];
                    cursor.next += 1;
                    let fp = fingerprint(entry.url.as_bytes());
                    if leases.by_url.contains_key(&fp) {
                        continue;
                    }
                    // An entry settled meanwhile (e.g. as a redirect target) is skipped.
                    let still_queued = match self.urls.get(fp)? {
                        Some(v) => decode::<UrlState>("urls", &fp, &v)?.status == UrlStatus::Queued,
                        None => true,
                    };
                    if still_queued {
                        cursor.outstanding += 1;
                        taken.push((fp, key.to_vec(), entry.clone()));
                    }
                }
                if cursor.finished() {
                    leases.segments.remove(key.as_ref());
                    finished.push(key.to_vec());
                } else {
                    leases.segments.insert(key.to_vec(), cursor);
                }
                if taken.len() >= max {
                    break 'classes;
                }
            }
        }
        if !finished.is_empty() {
            let mut batch = sled::Batch::default();
            for key in finished {
                leases.segments.remove(&key);
                batch.remove(key);
            }
            self.frontier.apply_batch(batch)?;
        }
        if taken.is_empty() {
            return Ok(not_due.map_or(Lease::Empty, Lease::NotDue));
        }
        let mut urls = Vec::with_capacity(taken.len());
        for (fp, key, entry) in taken {
            leases.by_url.insert(fp, key);
            urls.push(entry);
        }
        Ok(Lease::Urls(urls))
    }

    fn host(&self, host: &str) -> Result<Option<HostRecord>, StoreError> {
        match self.hosts.get(host)? {
            Some(v) => Ok(Some(decode("hosts", host.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    fn put_host(&self, host: &str, record: &HostRecord) -> Result<(), StoreError> {
        self.hosts.insert(host, encode(record))?;
        Ok(())
    }

    fn url_state(&self, url: &str) -> Result<Option<UrlState>, StoreError> {
        if let Some(state) = self.recorded_state(url)? {
            return Ok(Some(state));
        }
        let fp = fingerprint(url.as_bytes());
        let seen = {
            let known = self.commit_lock.lock().expect("commit lock poisoned");
            known.contains(&fp)
        };
        if !seen {
            return Ok(None);
        }
        // Only queued: its entry is in one of its host's segments.
        let host = crate::urlnorm::host_of_normalized(url);
        for item in self.frontier.scan_prefix(host_prefix(host)) {
            let (key, value) = item?;
            let segment: Vec<QueueEntry> = decode("frontier", &key, &value)?;
            if let Some(entry) = segment.iter().find(|e| e.url == url) {
                return Ok(Some(UrlState::queued(entry)));
            }
        }
        Ok(None)
    }

    fn recorded_state(&self, url: &str) -> Result<Option<UrlState>, StoreError> {
        let fp = fingerprint(url.as_bytes());
        match self.urls.get(fp)? {
            Some(v) => Ok(Some(decode("urls", &fp, &v)?)),
            None => Ok(None),
        }
    }

    fn content_owner(&self, hash: &Fingerprint) -> Result<Option<String>, StoreError> {
        Ok(self
            .content
            .get(hash)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn commit(&self, commit: PageCommit) -> Result<CommitReport, StoreError> {
        let mut reports = self.commit_together(std::slice::from_ref(&commit))?;
        Ok(reports.pop().expect("one report per commit"))
    }

    fn commit_group(&self, commits: Vec<PageCommit>) -> Vec<Result<CommitReport, StoreError>> {
        if commits.len() > 1 {
            match self.commit_together(&commits) {
                Ok(reports) => return reports.into_iter().map(Ok).collect(),
                // One commit's error must not fail the others: each goes alone.
                Err(e) => tracing::debug!(
                    "a group of {} commits failed ({e}); committing them one by one",
                    commits.len()
                ),
            }
        }
        commits
            .into_iter()
            .map(|commit| self.commit(commit))
            .collect()
    }

    fn outbox_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for item in self.outbox.range(start..).take(limit) {
            let (key, value) = item?;
            let seq = sequence_of("outbox", &key)?;
            let record = packed::unpack(&value).map_err(|e| StoreError::Corrupt {
                tree: "outbox",
                key: seq.to_string(),
                reason: format!("record does not inflate: {e}"),
            })?;
            out.push((seq, record));
        }
        Ok(out)
    }

    fn captures_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Capture)>, StoreError> {
        let start = after.saturating_add(1).to_be_bytes();
        let mut out = Vec::new();
        for item in self.captures.range(start..).take(limit) {
            let (key, value) = item?;
            let seq = sequence_of("captures", &key)?;
            out.push((seq, decode("captures", &key, &value)?));
        }
        Ok(out)
    }

    fn sink_offset(&self, sink: &str) -> Result<Option<SinkOffset>, StoreError> {
        let key = format!("sink:{sink}");
        match self.meta.get(&key)? {
            Some(v) => Ok(Some(decode_sink_offset(key.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    fn set_sink_offset(&self, sink: &str, offset: SinkOffset) -> Result<(), StoreError> {
        self.meta.insert(format!("sink:{sink}"), encode(&offset))?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        // The counters, written under the lock so that two flushes cannot write them
        // out of order.
        let commits = {
            let mut known = self.commit_lock.lock().expect("commit lock poisoned");
            let mut counts = sled::Batch::default();
            for host in known.hosts_changed.drain().collect::<Vec<_>>() {
                let count = known.host_counts[&host];
                counts.insert(host.as_bytes(), &count.to_be_bytes());
            }
            self.host_urls.apply_batch(counts)?;
            self.meta.insert("commits", &known.commits.to_be_bytes())?;
            known.commits
        };
        self.db.flush()?;
        // Written whole or not at all: a new file renamed over the old one.
        let path = self.dir.join(WATERMARK_FILE);
        let fresh = self.dir.join(format!("{WATERMARK_FILE}.new"));
        let io = |e: std::io::Error| StoreError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::write(&fresh, commits.to_string()).map_err(io)?;
        std::fs::rename(&fresh, &path).map_err(io)?;
        Ok(())
    }

    fn requeue_settled(
        &self,
        now_ms: u64,
        sections_only: bool,
        due: &dyn Fn(&UrlState) -> bool,
    ) -> Result<usize, StoreError> {
        let _known = self.commit_lock.lock().expect("commit lock poisoned");
        let mut requeued = 0;
        let candidates: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> = if sections_only {
            Box::new(self.sections.iter().keys())
        } else {
            Box::new(self.urls.iter().keys())
        };
        for fp in candidates {
            let fp = fp?;
            let Some(value) = self.urls.get(&fp)? else {
                continue;
            };
            let mut state: UrlState = decode("urls", &fp, &value)?;
            if !matches!(state.status, UrlStatus::Fetched) || !due(&state) {
                continue;
            }
            let entry = QueueEntry::again(&state);
            state.queue_again();
            let seq = self.db.generate_id()?;
            let key = queue_key(&entry.host(), Priority::requeued(entry.kind), now_ms, seq);
            let result = (&self.urls, &self.frontier).transaction(|(urls, frontier)| {
                urls.insert(&fp, encode(&state))?;
                frontier.insert(key.as_slice(), segment_value(&[&entry]))?;
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            });
            unwrap_tx(result)?;
            requeued += 1;
        }
        Ok(requeued)
    }

    fn queue_by_host(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut out: Vec<(String, u64, u64)> = Vec::new();
        let mut last_prefix: Vec<u8> = Vec::new();
        for item in self.frontier.iter() {
            let (key, value) = item?;
            let due = due_of(&key);
            let segment: Vec<QueueEntry> = decode("frontier", &key, &value)?;
            let mut queued = 0;
            for entry in &segment {
                let fp = fingerprint(entry.url.as_bytes());
                queued += match self.urls.get(fp)? {
                    Some(v) => {
                        u64::from(decode::<UrlState>("urls", &fp, &v)?.status == UrlStatus::Queued)
                    }
                    None => 1,
                };
            }
            let Some(first) = segment.first().filter(|_| queued > 0) else {
                continue;
            };
            match out.last_mut() {
                Some(last) if key[..QUEUE_HOST_LEN] == last_prefix[..] => {
                    last.1 += queued;
                    last.2 = last.2.min(due);
                }
                _ => {
                    last_prefix = key[..QUEUE_HOST_LEN].to_vec();
                    out.push((first.host(), queued, due));
                }
            }
        }
        Ok(out)
    }

    fn sink_offsets(&self) -> Result<Vec<(String, SinkOffset)>, StoreError> {
        self.meta
            .scan_prefix("sink:")
            .map(|item| {
                let (key, value) = item?;
                let name = String::from_utf8_lossy(&key["sink:".len()..]).into_owned();
                Ok((name, decode_sink_offset(&key, &value)?))
            })
            .collect()
    }

    fn outbox_stats(&self) -> Result<(u64, u64), StoreError> {
        let last = match self.outbox.last()? {
            Some((key, _)) => u64::from_be_bytes(key.as_ref().try_into().unwrap_or([0; 8])),
            None => 0,
        };
        Ok((self.outbox.len() as u64, last))
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let snapshot = std::fs::metadata(self.dir.join(SNAPSHOT_FILE)).map_or(0, |m| m.len());
        Ok(self.db.size_on_disk()? + snapshot)
    }

    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(format!("crawl:{name}"))?.map(|v| v.to_vec()))
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta.insert(format!("crawl:{name}"), value)?;
        Ok(())
    }

    fn revisit_schedules(&self) -> Result<Vec<RevisitSchedule>, StoreError> {
        self.revisits
            .iter()
            .map(|item| {
                let (key, value) = item?;
                decode("revisits", &key, &value)
            })
            .collect()
    }

    fn queue_len(&self) -> Result<u64, StoreError> {
        let mut entries = 0;
        for item in self.frontier.iter() {
            let (key, value) = item?;
            entries += segment_len(&key, &value)?;
        }
        // Less what leases read and did not leave outstanding (leased and committed,
        // or skipped as settled).
        let leases = self.leased.lock().expect("lease lock poisoned");
        let consumed: u64 = leases
            .segments
            .values()
            .map(|c| (c.next - c.outstanding.min(c.next)) as u64)
            .sum();
        Ok(entries.saturating_sub(consumed))
    }

    fn retries_waiting(&self, now_ms: u64) -> Result<u64, StoreError> {
        let mut waiting = 0;
        for item in self.frontier.iter() {
            let (key, value) = item?;
            if due_of(&key) <= now_ms {
                continue;
            }
            let entries: Vec<QueueEntry> = decode("frontier", &key, &value)?;
            for entry in entries {
                let fp = fingerprint(entry.url.as_bytes());
                if let Some(v) = self.urls.get(fp)? {
                    let state: UrlState = decode("urls", &fp, &v)?;
                    waiting += u64::from(state.status == UrlStatus::Queued && state.attempts > 0);
                }
            }
        }
        Ok(waiting)
    }

    fn url_states(&self) -> Result<Vec<UrlState>, StoreError> {
        let mut states = Vec::new();
        let mut recorded = HashSet::new();
        for item in self.urls.iter() {
            let (key, value) = item?;
            recorded.insert(key.to_vec());
            states.push(decode("urls", &key, &value)?);
        }
        // URLs only queued have no state of their own.
        for item in self.frontier.iter() {
            let (key, value) = item?;
            let segment: Vec<QueueEntry> = decode("frontier", &key, &value)?;
            for entry in &segment {
                let fp = fingerprint(entry.url.as_bytes());
                if recorded.insert(fp.to_vec()) {
                    states.push(UrlState::queued(entry));
                }
            }
        }
        Ok(states)
    }
}

/// Queues a settled page again as `plan` says (inside a commit's transaction), and
/// returns when it is due, with a listing page's estimated changes an hour. Pages
/// that were not fetched or failed (skipped, aliases) are not revisited: another URL
/// stands for them.
fn schedule_revisit(
    plan: &Revisit,
    state: &UrlState,
    finding: Finding,
    now_ms: u64,
    urls: &sled::transaction::TransactionalTree,
    frontier: &sled::transaction::TransactionalTree,
    revisits: &sled::transaction::TransactionalTree,
) -> TxResult<Option<(u64, Option<f64>)>> {
    if !matches!(state.status, UrlStatus::Fetched | UrlStatus::Failed) {
        return Ok(None);
    }
    let fp = fingerprint(state.url.as_bytes());
    let (due_ms, rate) = match plan {
        Revisit::After(after) => {
            if state.status != UrlStatus::Fetched {
                return Ok(None);
            }
            (now_ms + after.as_millis() as u64, None)
        }
        Revisit::Adaptive(bounds) => {
            let known = match revisits.get(fp)? {
                Some(v) => Some(
                    decode::<RevisitSchedule>("revisits", &fp, &v)
                        .map_err(ConflictableTransactionError::Abort)?,
                ),
                None => None,
            };
            let estimate = match known {
                None => ChangeEstimate::first(now_ms, bounds),
                Some(known) => {
                    let mut estimate = known.estimate;
                    if state.status == UrlStatus::Fetched {
                        estimate.observe(now_ms, finding, bounds);
                    } else {
                        // A failed visit says nothing about change: keep the pace.
                        estimate.rebound(bounds);
                    }
                    estimate
                }
            };
            let due_ms = now_ms + estimate.interval_ms;
            let rate = estimate.changes_per_hour();
            let schedule = RevisitSchedule {
                url: state.url.clone(),
                site: state.site.clone(),
                estimate,
                next_due_ms: due_ms,
            };
            revisits.insert(&fp, encode(&schedule))?;
            (due_ms, Some(rate))
        }
    };
    let entry = QueueEntry::again(state);
    let mut queued = state.clone();
    if let Some(current) = urls.get(fp)? {
        // Keep what the commit wrote (e.g. a sitemap's lastmod), only requeued.
        queued = decode("urls", &fp, &current).map_err(ConflictableTransactionError::Abort)?;
    }
    queued.queue_again();
    urls.insert(&fp, encode(&queued))?;
    write_segments(frontier, [&entry], Priority::requeued(entry.kind), due_ms)?;
    Ok(Some((due_ms, rate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::revisit::RevisitBounds;

    /// Opens a store another handle in this process just closed: sled's background
    /// thread lets go of the directory's lock shortly after the handle is dropped.
    fn reopen(dir: &Path) -> SledStore {
        open_when_unlocked(dir).unwrap()
    }

    /// Opens the store in `dir` once the last opener's lock is gone.
    fn open_when_unlocked(dir: &Path) -> Result<SledStore, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match SledStore::open(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                other => return other,
            }
        }
    }

    /// Commits each of `leased` as fetched, one page at a time.
    fn settle_fetched(store: &SledStore, leased: &[QueueEntry], now_ms: u64) {
        for url in leased {
            let mut state = UrlState::queued(url);
            state.status = UrlStatus::Fetched;
            store
                .commit(PageCommit {
                    state: Some(state),
                    now_ms,
                    ..Default::default()
                })
                .unwrap();
        }
    }

    /// An entry as schema 2 encoded it.
    fn legacy(entry: &QueueEntry) -> Vec<u8> {
        encode(&QueueEntryV2 {
            url: entry.url.clone(),
            site: entry.site.clone(),
            kind: entry.kind,
            depth: entry.depth,
            redirects: entry.redirects,
            etag: entry.etag.clone(),
            last_modified: entry.last_modified.clone(),
        })
    }

    fn entry(url: &str) -> QueueEntry {
        QueueEntry {
            url: url.into(),
            site: "s".into(),
            kind: UrlKind::Section,
            depth: 0,
            redirects: 0,
            etag: None,
            last_modified: None,
            listed_modified_ms: None,
        }
    }

    #[test]
    fn urls_are_queued_once_and_leased_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let seeds = [
            entry("http://a.example/1"),
            entry("http://a.example/2"),
            entry("http://b.example/1"),
        ];
        assert_eq!(store.enqueue_new(&seeds, 10).unwrap(), 3);
        assert_eq!(store.enqueue_new(&seeds, 10).unwrap(), 0);
        let mut hosts = store.hosts_with_work().unwrap();
        hosts.sort();
        assert_eq!(hosts, ["a.example", "b.example"]);
        assert!(matches!(
            store.lease("a.example", 5, 1).unwrap(),
            Lease::NotDue(10)
        ));
        let Lease::Urls(first) = store.lease("a.example", 10, 1).unwrap() else {
            panic!()
        };
        assert_eq!(first[0].url, "http://a.example/1");

        // A commit that settles the lease and finds a known and a new link.
        let mut state = UrlState::queued(&first[0]);
        state.status = UrlStatus::Fetched;
        let report = store
            .commit(PageCommit {
                state: Some(state),
                links: vec![
                    entry("http://a.example/2"),
                    entry("http://a.example/3"),
                    entry("http://a.example/3"),
                ],
                records: vec![b"{\"r\":1}".to_vec()],
                now_ms: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(report.new_links, [("a.example".to_string(), 1)]);
        assert_eq!(store.outbox_after(0, 10).unwrap().len(), 1);
        let urls: Vec<_> = std::iter::from_fn(|| match store.lease("a.example", 10, 1).unwrap() {
            Lease::Urls(mut l) => Some(l.remove(0).url),
            _ => None,
        })
        .collect();
        assert_eq!(urls, ["http://a.example/2", "http://a.example/3"]);
    }

    #[test]
    fn leases_of_a_dead_process_return_to_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .enqueue_new(&[entry("http://a.example/1")], 1)
                .unwrap();
            assert!(matches!(
                store.lease("a.example", 1, 8).unwrap(),
                Lease::Urls(_)
            ));
            assert!(matches!(
                store.lease("a.example", 1, 8).unwrap(),
                Lease::Empty
            ));
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        // Leases are not persisted: the URL never left the queue.
        assert_eq!(store.recover_leases(2).unwrap(), 0);
        assert!(matches!(
            store.lease("a.example", 2, 8).unwrap(),
            Lease::Urls(_)
        ));
    }

    #[test]
    fn leases_persisted_by_an_older_version_return_to_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            let leased = entry("http://a.example/1");
            let fp = fingerprint(leased.url.as_bytes());
            store
                .urls
                .insert(fp, encode(&UrlState::queued(&leased)))
                .unwrap();
            store.leases.insert(fp, legacy(&leased)).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        assert!(matches!(
            store.lease("a.example", 2, 8).unwrap(),
            Lease::Empty
        ));
        assert_eq!(store.recover_leases(2).unwrap(), 1);
        match store.lease("a.example", 2, 8).unwrap() {
            Lease::Urls(urls) => assert_eq!(urls[0].url, "http://a.example/1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_host_gets_no_more_urls_than_its_budget_even_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let links = |from: u32, to: u32| -> Vec<QueueEntry> {
            (from..to)
                .map(|i| entry(&format!("http://trap.example/cal/{i}")))
                .chain([entry(&format!("http://b.example/{from}"))])
                .collect()
        };
        {
            let store = SledStore::open(dir.path()).unwrap();
            let report = store
                .commit(PageCommit {
                    links: links(0, 4),
                    max_urls_per_host: Some(5),
                    now_ms: 1,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(report.over_budget, 0);
            let report = store
                .commit(PageCommit {
                    links: links(4, 8),
                    denied: vec![entry("http://trap.example/print/1")],
                    max_urls_per_host: Some(5),
                    now_ms: 2,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(
                report.new_links,
                [
                    ("trap.example".to_string(), 1),
                    ("b.example".to_string(), 1)
                ]
            );
            assert_eq!(report.over_budget, 4, "three links and the denied one");
            assert!(
                store
                    .url_state("http://trap.example/cal/5")
                    .unwrap()
                    .is_none(),
                "not recorded"
            );
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        let report = store
            .commit(PageCommit {
                links: links(8, 9),
                max_urls_per_host: Some(5),
                now_ms: 3,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(report.over_budget, 1, "the count survives a restart");
        let report = store
            .commit(PageCommit {
                links: links(9, 10),
                max_urls_per_host: Some(6),
                now_ms: 4,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(report.over_budget, 0, "a larger budget lets more in");
    }

    #[test]
    fn links_robots_txt_disallows_are_recorded_as_denied_not_queued() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let known = entry("http://a.example/print/known");
        store.enqueue_new(std::slice::from_ref(&known), 1).unwrap();
        let fresh = entry("http://a.example/print/1");
        let report = store
            .commit(PageCommit {
                denied: vec![fresh.clone(), fresh.clone(), known.clone()],
                now_ms: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(report.denied, 1, "new ones only, each once");
        assert!(report.new_links.is_empty());
        let state = store.url_state(&fresh.url).unwrap().unwrap();
        assert_eq!(state.status, UrlStatus::RobotsDenied);
        // A URL already known keeps its state, and only it is queued.
        let kept = store.url_state(&known.url).unwrap().unwrap();
        assert_eq!(kept.status, UrlStatus::Queued);
        assert_eq!(store.queue_len().unwrap(), 1);
        // Found again on another page, it is not new.
        let again = store
            .commit(PageCommit {
                links: vec![fresh],
                now_ms: 3,
                ..Default::default()
            })
            .unwrap();
        assert!(again.new_links.is_empty());
    }

    #[test]
    fn a_leased_url_is_not_leased_again_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let urls = [entry("http://a.example/1"), entry("http://a.example/2")];
        store.enqueue_new(&urls, 1).unwrap();
        let Lease::Urls(first) = store.lease("a.example", 1, 1).unwrap() else {
            panic!("nothing leased")
        };
        let Lease::Urls(second) = store.lease("a.example", 1, 1).unwrap() else {
            panic!("nothing leased")
        };
        assert_ne!(first[0].url, second[0].url);
        assert!(matches!(
            store.lease("a.example", 1, 8).unwrap(),
            Lease::Empty
        ));
        // Settling the first takes it out of the queue for good.
        settle_fetched(&store, &first, 2);
        assert_eq!(store.queue_len().unwrap(), 1);
    }

    #[test]
    fn a_page_commit_keeps_what_a_sitemap_recorded_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let page = entry("http://a.example/story");
        store.enqueue_new(std::slice::from_ref(&page), 1).unwrap();
        // The page's job reads its state before fetching ...
        let mut settled = store.url_state(&page.url).unwrap().unwrap();
        // ... a sitemap lists it with a modification time ...
        store
            .commit(PageCommit {
                refresh: vec![(page.clone(), 5_000)],
                now_ms: 2,
                ..Default::default()
            })
            .unwrap();
        // ... and the page's own commit must not erase that.
        settled.status = UrlStatus::Fetched;
        store
            .commit(PageCommit {
                state: Some(settled),
                now_ms: 3,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            store
                .url_state(&page.url)
                .unwrap()
                .unwrap()
                .listed_modified_ms,
            Some(5_000)
        );
    }

    #[test]
    fn a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path())
            .err()
            .expect("second open must fail");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    }

    #[test]
    fn a_revisited_section_is_queued_again_at_the_pace_its_changes_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let bounds = RevisitBounds {
            min: std::time::Duration::from_secs(60),
            max: std::time::Duration::from_secs(3600),
            price: None,
        };
        let section = "http://a.example/news";
        store.enqueue_new(&[entry(section)], 0).unwrap();
        // Visits the section at `now`, finding `links` (none: it answered 304); returns
        // when it is due again.
        let visit = |now: u64, links: Vec<QueueEntry>| -> u64 {
            let unchanged = links.is_empty();
            let Lease::Urls(leased) = store.lease("a.example", now, 8).unwrap() else {
                panic!("the section is due at {now}")
            };
            assert_eq!(leased.len(), 1);
            let mut state = UrlState::queued(&leased[0]);
            state.status = UrlStatus::Fetched;
            state.etag = Some(format!("\"{now}\""));
            let report = store
                .commit(PageCommit {
                    state: Some(state),
                    links,
                    revisit: Some(Revisit::Adaptive(bounds)),
                    now_ms: now,
                    unchanged,
                    ..Default::default()
                })
                .unwrap();
            // Queued again, with the validators of this visit, not due before then.
            let due = report.revisit_due_ms.expect("queued again");
            assert_eq!(store.revisit_schedules().unwrap()[0].next_due_ms, due);
            assert_eq!(
                store.url_state(section).unwrap().unwrap().status,
                UrlStatus::Queued
            );
            due
        };
        let article = |n: u32| QueueEntry {
            kind: UrlKind::Article,
            ..entry(&format!("http://a.example/a/{n}"))
        };
        let mut now = 1_000;
        let first = visit(now, vec![]);
        assert_eq!(
            first - now,
            60_000,
            "a new section starts at the lower bound"
        );
        assert!(
            matches!(store.lease("a.example", first - 1, 8).unwrap(), Lease::NotDue(d) if d == first)
        );
        let start = now;
        now = first;
        // Nothing new for T: the interval grows to sqrt(2 x price x T).
        let law = |quiet: u64| (2.0 * 60_000.0 * quiet as f64).sqrt() as u64;
        let quiet = visit(now, vec![]);
        assert_eq!(
            quiet - now,
            law(now - start),
            "nothing new: the interval grows"
        );
        now = quiet;
        // Changed, with only known links on it: covered by another page, so no change,
        // and its silence no longer bounds the interval (which doubles).
        let known_only = visit(now, vec![entry(section)]);
        assert_eq!(
            known_only - now,
            2 * (quiet - first),
            "known links are no change"
        );
        now = known_only;
        let before = known_only - quiet;
        let busy = visit(now, vec![article(1)]);
        assert!(busy - now < before, "a new article shortens the interval");
        // The article itself was queued for now, the section for later.
        let Lease::Urls(due_now) = store.lease("a.example", now, 8).unwrap() else {
            panic!()
        };
        assert_eq!(due_now[0].url, "http://a.example/a/1");
        let schedules = store.revisit_schedules().unwrap();
        assert_eq!(schedules.len(), 1);
        assert_eq!(schedules[0].next_due_ms, busy);
        assert_eq!(schedules[0].estimate.last_change_ms, Some(now));
        let queued = store.lease("a.example", busy, 8).unwrap();
        let Lease::Urls(again) = queued else { panic!() };
        assert_eq!(again[0].etag.as_deref(), Some(&*format!("\"{now}\"")));
    }

    #[test]
    fn a_listing_pages_overlap_with_another_decides_what_its_visit_found() {
        let bounds = RevisitBounds {
            min: std::time::Duration::from_secs(60),
            max: std::time::Duration::from_secs(3600),
            price: None,
        };
        let section = "http://a.example/news";
        // Two visits of the section, the second finding `links` with `overlap`: how
        // long after it the section is due again.
        let second_interval = |links: Vec<QueueEntry>, overlap: Overlap| -> u64 {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            store.enqueue_new(&[entry(section)], 0).unwrap();
            let mut due = 1_000;
            for (links, overlap) in [(vec![], Overlap::Unknown), (links, overlap)] {
                let Lease::Urls(leased) = store.lease("a.example", due, 8).unwrap() else {
                    panic!("the section is due at {due}")
                };
                let mut state = UrlState::queued(&leased[0]);
                state.status = UrlStatus::Fetched;
                let now = due;
                due = store
                    .commit(PageCommit {
                        state: Some(state),
                        unchanged: links.is_empty(),
                        links,
                        revisit: Some(Revisit::Adaptive(bounds)),
                        now_ms: now,
                        overlap,
                        ..Default::default()
                    })
                    .unwrap()
                    .revisit_due_ms
                    .expect("queued again");
                if overlap != Overlap::Unknown || now > 1_000 {
                    return due - now;
                }
            }
            unreachable!()
        };
        let article = QueueEntry {
            kind: UrlKind::Article,
            ..entry("http://a.example/a/1")
        };
        let known = entry(section);
        let new = second_interval(vec![article.clone()], Overlap::Unknown);
        let covered = second_interval(vec![known.clone()], Overlap::Unknown);
        assert!(new < covered, "{new} {covered}");
        // A page that contains others: stories they found first are its news.
        assert_eq!(second_interval(vec![known.clone()], Overlap::Contains), new);
        // A page another contains: whatever its visit found (a new story, known ones,
        // or the page as it was), another page shows it, and it backs off faster
        // than a covered page.
        let elsewhere = second_interval(vec![], Overlap::Contained);
        assert!(elsewhere > covered, "{elsewhere} {covered}");
        assert_eq!(
            second_interval(vec![article], Overlap::Contained),
            elsewhere
        );
        assert_eq!(second_interval(vec![known], Overlap::Contained), elsewhere);
        let same = second_interval(vec![], Overlap::Unknown);
        assert!(same < covered, "{same} {covered}");
    }

    #[test]
    fn another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .meta
                .insert("schema_version", &99u32.to_be_bytes())
                .unwrap();
            store.flush().unwrap();
        }
        // (The closed handle's lock goes with sled's background thread.)
        let err = open_when_unlocked(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::Schema { found: 99, .. }), "{err}");
    }

    #[test]
    fn a_due_revisit_is_leased_before_the_hosts_older_found_urls() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let put = |url: &str, priority: Priority, due_ms: u64, seq: u64| {
            let entry = entry(url);
            store
                .frontier
                .insert(
                    queue_key("a.example", priority, due_ms, seq),
                    segment_value(&[&entry]),
                )
                .unwrap();
            entry
        };
        let old = put("http://a.example/old", Priority::Found, 10, 1);
        let older = put("http://a.example/older", Priority::Found, 5, 2);
        let section = put("http://a.example/section", Priority::Revisit, 50, 3);
        let later = put("http://a.example/later", Priority::Revisit, 500, 4);
        let lease = |now_ms: u64, max: usize| match store.lease("a.example", now_ms, max).unwrap() {
            Lease::Urls(urls) => urls,
            other => panic!("{other:?}"),
        };
        // Before the revisit is due, the found URLs go, earliest first: a revisit not
        // due yet holds nothing up.
        assert_eq!(lease(20, 1), [older]);
        // Once due, the revisit comes before the found URL still queued.
        assert_eq!(lease(60, 8), [section, old]);
        // Nothing left due: the earliest due time of either class.
        assert!(matches!(
            store.lease("a.example", 60, 8).unwrap(),
            Lease::NotDue(500)
        ));
        assert_eq!(lease(500, 8), [later]);
        // What a listing page's revisit found goes before the older found URLs too.
        let found = put("http://a.example/found", Priority::Found, 600, 5);
        let fresh = entry("http://a.example/fresh");
        store
            .commit(PageCommit {
                links: vec![fresh.clone()],
                links_priority: Priority::Revisit,
                now_ms: 700,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(lease(800, 8), [fresh, found]);
    }

    #[test]
    fn a_schema_2_store_is_moved_to_segments_and_keeps_what_it_knew() {
        let dir = tempfile::tempdir().unwrap();
        let settled = entry("http://a.example/settled");
        let queued = entry("http://a.example/queued");
        {
            // Schema 2's layout, written by hand: one queue entry per key.
            let db = sled::open(dir.path()).unwrap();
            let meta = db.open_tree("meta").unwrap();
            meta.insert("schema_version", &2u32.to_be_bytes()).unwrap();
            let mut state = UrlState::queued(&settled);
            state.status = UrlStatus::Fetched;
            db.open_tree("urls")
                .unwrap()
                .insert(fingerprint(settled.url.as_bytes()), encode(&state))
                .unwrap();
            db.open_tree("queue")
                .unwrap()
                // Schema 2's keys have no priority bit: they read as revisits.
                .insert(
                    queue_key("a.example", Priority::Revisit, 5, 1),
                    legacy(&queued),
                )
                .unwrap();
            db.flush().unwrap();
        }
        let store = reopen(dir.path());
        // Both URLs are known: found again, neither is new.
        let report = store
            .commit(PageCommit {
                links: vec![settled.clone(), queued.clone()],
                now_ms: 6,
                ..Default::default()
            })
            .unwrap();
        assert!(report.new_links.is_empty(), "{report:?}");
        match store.lease("a.example", 6, 8).unwrap() {
            Lease::Urls(urls) => assert_eq!(urls, [queued]),
            other => panic!("{other:?}"),
        }
        store.flush().unwrap();
        drop(store);
        // Opened again, it is schema 3 and stays as it is.
        let store = reopen(dir.path());
        assert_eq!(
            store.meta.get("schema_version").unwrap().unwrap().as_ref(),
            &SCHEMA_VERSION.to_be_bytes()
        );
        assert_eq!(store.queue_len().unwrap(), 1);
    }

    #[test]
    fn the_seen_set_survives_reopening_and_moves_into_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (urls, _) = store_with_a_long_seen_log(dir.path());
        let store = reopen(dir.path());
        assert_eq!(store.seen_log.iter().count(), 0, "every chunk moved");
        assert!(dir.path().join(SNAPSHOT_FILE).exists());
        store
            .enqueue_new(&[entry("http://h1.example/after")], 2)
            .unwrap();
        store.flush().unwrap();
        drop(store);
        let store = reopen(dir.path());
        assert_eq!(store.seen_log.iter().count(), 1, "only what came after");
        assert_eq!(store.enqueue_new(&urls, 2).unwrap(), 0, "all still known");
        assert_eq!(
            store
                .enqueue_new(&[entry("http://h1.example/after")], 2)
                .unwrap(),
            0
        );
        assert_eq!(store.queue_len().unwrap(), urls.len() as u64 + 1);
    }

    /// A store whose seen log has enough chunks to be moved into a snapshot on its
    /// next open; the URLs it knows (one chunk each, in order) and the chunks' keys.
    fn store_with_a_long_seen_log(dir: &Path) -> (Vec<QueueEntry>, Vec<u64>) {
        let urls: Vec<QueueEntry> = (0..SEEN_CHUNKS_BEFORE_MERGE + 10)
            .map(|i| entry(&format!("http://h{}.example/{i}", i % 7)))
            .collect();
        let store = reopen(dir);
        for url in &urls {
            assert_eq!(store.enqueue_new(std::slice::from_ref(url), 1).unwrap(), 1);
        }
        store.flush().unwrap();
        let keys = store.seen_log.iter().keys();
        let keys = keys.map(|k| u64::from_be_bytes(k.unwrap().as_ref().try_into().unwrap()));
        (urls, keys.collect())
    }

    #[test]
    fn an_open_cut_short_after_the_snapshot_was_written_loses_and_repeats_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (urls, keys) = store_with_a_long_seen_log(dir.path());
        // As an open would leave it if it stopped between writing the snapshot and
        // recording it: a snapshot of the first 100 chunks, all chunks still logged.
        let first_100: Vec<u64> = urls[..100]
            .iter()
            .map(|u| short_fingerprint(&fingerprint(u.url.as_bytes())))
            .collect();
        seen_snapshot::write(dir.path(), keys[99], first_100.into_iter()).unwrap();
        let store = reopen(dir.path());
        assert_eq!(
            store.seen_log.iter().count(),
            urls.len() - 100,
            "the chunks in the snapshot went, too few others to move"
        );
        assert_eq!(store.enqueue_new(&urls, 2).unwrap(), 0, "all still known");
    }

    #[test]
    fn a_missing_or_older_seen_snapshot_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        store_with_a_long_seen_log(dir.path());
        drop(reopen(dir.path()));
        let path = dir.path().join(SNAPSHOT_FILE);
        let kept = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let Err(StoreError::Damaged { reason, .. }) = open_when_unlocked(dir.path()) else {
            panic!("a store without its snapshot opened");
        };
        assert!(reason.contains("seen.snapshot file is missing"), "{reason}");
        seen_snapshot::write(dir.path(), 3, [1, 2].into_iter()).unwrap();
        let Err(StoreError::Damaged { reason, .. }) = open_when_unlocked(dir.path()) else {
            panic!("a store with an older snapshot opened");
        };
        assert!(reason.contains("older file"), "{reason}");
        std::fs::write(&path, kept).unwrap();
        assert!(
            open_when_unlocked(dir.path()).is_ok(),
            "its own snapshot back"
        );
    }

    #[test]
    fn a_segment_goes_once_its_urls_are_settled_and_a_restart_skips_settled_ones() {
        let dir = tempfile::tempdir().unwrap();
        let urls: Vec<QueueEntry> = (0..SEGMENT_MAX + 3)
            .map(|i| entry(&format!("http://a.example/{i}")))
            .collect();
        let settle = |store: &SledStore, leased: &[QueueEntry]| settle_fetched(store, leased, 2);
        {
            let store = reopen(dir.path());
            store.enqueue_new(&urls, 1).unwrap();
            assert_eq!(store.frontier.len(), 2, "segments of at most {SEGMENT_MAX}");
            let Lease::Urls(first) = store.lease("a.example", 1, SEGMENT_MAX).unwrap() else {
                panic!("nothing leased")
            };
            assert_eq!(first, urls[..SEGMENT_MAX]);
            settle(&store, &first[..10]);
            assert_eq!(store.frontier.len(), 2, "ten leases still out");
            settle(&store, &first[10..]);
            assert_eq!(
                store.frontier.len(),
                1,
                "the first segment went with its last commit"
            );
            // The process dies with one URL of the second segment settled.
            let Lease::Urls(second) = store.lease("a.example", 1, 1).unwrap() else {
                panic!("nothing leased")
            };
            settle(&store, &second);
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        let Lease::Urls(rest) = store.lease("a.example", 3, 8).unwrap() else {
            panic!("nothing leased")
        };
        assert_eq!(rest, urls[SEGMENT_MAX + 1..]);
        settle(&store, &rest);
        assert!(matches!(
            store.lease("a.example", 3, 8).unwrap(),
            Lease::Empty
        ));
        assert_eq!(store.frontier.len(), 0);
        assert_eq!(store.queue_len().unwrap(), 0);
    }
}
