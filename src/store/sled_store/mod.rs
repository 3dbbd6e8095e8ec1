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
//! - `outbox`: sequence (8, BE) -> record (JSON bytes)
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
mod seen_set;
mod seen_snapshot;

use seen_set::SeenSet;
use seen_snapshot::SNAPSHOT_FILE;

const QUEUE_HOST_LEN: usize = 8;

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

/// A URL fingerprint's first 64 bits: what the seen set keeps.
fn short_fingerprint(fp: &Fingerprint) -> u64 {
    u64::from_le_bytes(fp[..8].try_into().expect("fingerprints are 16 bytes"))
}

/// Packs short fingerprints into a `seen` chunk.
fn pack_seen(fps: &[u64]) -> Vec<u8> {
    fps.iter().flat_map(|fp| fp.to_le_bytes()).collect()
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

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("store values always serialize")
}

fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

fn host_prefix(host: &str) -> [u8; QUEUE_HOST_LEN] {
    let mut out = [0u8; QUEUE_HOST_LEN];
    out.copy_from_slice(&blake3::hash(host.as_bytes()).as_bytes()[..QUEUE_HOST_LEN]);
    out
}

fn queue_key(host: &str, due_ms: u64, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(QUEUE_HOST_LEN + 16);
    key.extend_from_slice(&host_prefix(host));
    key.extend_from_slice(&due_ms.to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn due_of(key: &[u8]) -> u64 {
    let mut due = [0u8; 8];
    due.copy_from_slice(&key[QUEUE_HOST_LEN..QUEUE_HOST_LEN + 8]);
    u64::from_be_bytes(due)
}

/// Entries in an encoded segment, read from its length prefix (a postcard varint, as
/// a `u64` is encoded) without decoding the entries.
fn segment_len(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    postcard::take_from_bytes::<u64>(value)
        .map(|(len, _)| len)
        .map_err(|e| StoreError::Corrupt {
            tree: "frontier",
            key: format!("{key:?}"),
            reason: format!("no segment length: {e}"),
        })
}

/// The first entry of an encoded segment, decoding no other.
fn segment_first(key: &[u8], value: &[u8]) -> Result<Option<QueueEntry>, StoreError> {
    if segment_len(key, value)? == 0 {
        return Ok(None);
    }
    postcard::take_from_bytes::<(u64, QueueEntry)>(value)
        .map(|((_, first), _)| Some(first))
        .map_err(|e| StoreError::Corrupt {
            tree: "frontier",
            key: format!("{key:?}"),
            reason: e.to_string(),
        })
}

/// A [`QueueEntry`] as schema 2 (and the `leases` tree) stored it.
#[derive(Deserialize, Serialize)]
struct QueueEntryV2 {
    url: String,
    site: String,
    kind: UrlKind,
    depth: u32,
    redirects: u8,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl From<QueueEntryV2> for QueueEntry {
    fn from(old: QueueEntryV2) -> Self {
        QueueEntry {
            url: old.url,
            site: old.site,
            kind: old.kind,
            depth: old.depth,
            redirects: old.redirects,
            etag: old.etag,
            last_modified: old.last_modified,
            listed_modified_ms: None,
        }
    }
}

/// A segment as stored: a sequence of entries, length first.
fn segment_value(entries: &[&QueueEntry]) -> Vec<u8> {
    encode(&entries)
}

/// Writes `entries` into the frontier inside a transaction, grouped by host in
/// segments of at most [`SEGMENT_MAX`], due at `due_ms`, in the order given.
fn write_segments<'a>(
    frontier: &sled::transaction::TransactionalTree,
    entries: impl IntoIterator<Item = &'a QueueEntry>,
    due_ms: u64,
) -> TxResult<()> {
    let mut by_host: Vec<(&str, Vec<&QueueEntry>)> = Vec::new();
    for entry in entries {
        let host = crate::urlnorm::host_of_normalized(&entry.url);
        match by_host.iter_mut().find(|(h, _)| *h == host) {
            Some((_, list)) => list.push(entry),
            None => by_host.push((host, vec![entry])),
        }
    }
    for (host, list) in by_host {
        for segment in list.chunks(SEGMENT_MAX) {
            let seq = frontier.generate_id()?;
            frontier.insert(queue_key(host, due_ms, seq), segment_value(segment))?;
        }
    }
    Ok(())
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, refusing another schema version or a
    /// directory held by another process.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.display().to_string();
        let damaged = |reason: String| StoreError::Damaged {
            path: path.clone(),
            reason,
        };
        // Files of an earlier run: a store that then opens empty was lost, not new.
        let existed = dir.join("db").exists() || dir.join("conf").exists();
        let config = sled::Config::new()
            .path(dir)
            // 4 MB rather than 16: 3-6 MB less RSS in a polite crawl at the same
            // speed; 1 MB slowed the page commit, which then reads nodes back from disk.
            .cache_capacity(4 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .mode(sled::Mode::HighThroughput);
        // sled panics on some kinds of damage while recovering; that is a damaged
        // directory to report, not a crash.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || config.open()))
            .map_err(|panic| {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "sled panicked while reading it".into());
                damaged(format!("reading it failed: {reason}"))
            })?;
        let db = opened.map_err(|e| match e {
            sled::Error::Io(ref io) if io.to_string().contains("lock") => {
                StoreError::Locked { path: path.clone() }
            }
            sled::Error::Corruption { .. } => damaged(e.to_string()),
            other => StoreError::Sled(other),
        })?;
        let meta = db.open_tree("meta")?;
        let commits =
            match meta.get("commits")? {
                Some(v) => v.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt {
                        tree: "meta",
                        key: "commits".into(),
                        reason: format!("{} bytes, expected 8", v.len()),
                    }
                })?,
                None => 0,
            };
        if let Some(flushed) = read_watermark(dir).map_err(&damaged)? {
            if commits < flushed {
                return Err(damaged(format!(
                    "it holds {commits} page commits but {flushed} were on disk: part of its log was lost"
                )));
            }
        }
        let schema = meta.get("schema_version")?;
        if schema.is_none() && existed && db.tree_names().len() > 2 {
            return Err(damaged("its schema version is missing".into()));
        }
        let mut migrate = false;
        match schema {
            Some(v) => {
                let found = v.as_ref().try_into().map(u32::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt {
                        tree: "meta",
                        key: "schema_version".into(),
                        reason: format!("{} bytes, expected 4", v.len()),
                    }
                })?;
                if found == SCHEMA_WITH_QUEUE_ENTRIES {
                    migrate = true;
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema {
                        path,
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        let store = Self {
            urls: db.open_tree("urls")?,
            frontier: db.open_tree("frontier")?,
            seen_log: db.open_tree("seen")?,
            leases: db.open_tree("leases")?,
            hosts: db.open_tree("hosts")?,
            content: db.open_tree("content")?,
            outbox: db.open_tree("outbox")?,
            sections: db.open_tree("sections")?,
            revisits: db.open_tree("revisits")?,
            captures: db.open_tree("captures")?,
            host_urls: db.open_tree("host_urls")?,
            meta,
            db,
            commit_lock: Mutex::new(KnownUrls {
                commits,
                ..KnownUrls::default()
            }),
            dir: dir.to_path_buf(),
            leased: Mutex::default(),
        };
        if migrate {
            store.migrate_from_schema_2()?;
        }
        let seen = store.load_seen()?;
        store.commit_lock.lock().expect("commit lock poisoned").seen = seen;
        Ok(store)
    }

    /// Moves a schema 2 store's queue (one entry per key) into frontier segments of one
    /// entry and its URLs into the seen log. The old queue stays until the new schema
    /// version is written, so a migration cut short starts over on the next open.
    fn migrate_from_schema_2(&self) -> Result<(), StoreError> {
        self.frontier.clear()?;
        self.seen_log.clear()?;
        let mut fps = Vec::new();
        for key in self.urls.iter().keys() {
            let key = key?;
            let fp: Fingerprint = key.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                tree: "urls",
                key: format!("{key:?}"),
                reason: "key is not 16 bytes".into(),
            })?;
            fps.push(short_fingerprint(&fp));
        }
        let old_queue = self.db.open_tree("queue")?;
        let mut batch = sled::Batch::default();
        for (n, item) in old_queue.iter().enumerate() {
            let (key, value) = item?;
            let entry: QueueEntry = decode::<QueueEntryV2>("queue", &key, &value)?.into();
            fps.push(short_fingerprint(&fingerprint(entry.url.as_bytes())));
            batch.insert(key, segment_value(&[&entry]));
            if n % 10_000 == 9_999 {
                self.frontier.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.frontier.apply_batch(batch)?;
        for chunk in fps.chunks(MIGRATED_SEEN_CHUNK) {
            let seq = self.db.generate_id()?;
            self.seen_log.insert(seq.to_be_bytes(), pack_seen(chunk))?;
        }
        self.meta
            .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        self.db.drop_tree("queue")?;
        self.db.flush()?;
        tracing::info!(path = %self.dir.display(), urls = fps.len(), "state directory moved from schema {SCHEMA_WITH_QUEUE_ENTRIES} to {SCHEMA_VERSION}");
        Ok(())
    }

    /// Reads the seen set: the snapshot file, then the seen log's chunks after it.
    /// When the log has more than [`SEEN_CHUNKS_BEFORE_MERGE`] chunks after the
    /// snapshot, they are moved into a new snapshot (`seen_snapshot`).
    fn load_seen(&self) -> Result<SeenSet, StoreError> {
        let damaged = |reason: String| StoreError::Damaged {
            path: self.dir.display().to_string(),
            reason,
        };
        let corrupt = |key: &[u8], reason: String| StoreError::Corrupt {
            tree: "seen",
            key: format!("{key:?}"),
            reason,
        };
        let moved_up_to = match self.meta.get(SEEN_SNAPSHOT_KEY)? {
            Some(v) => Some(v.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| {
                StoreError::Corrupt {
                    tree: "meta",
                    key: SEEN_SNAPSHOT_KEY.into(),
                    reason: format!("{} bytes, expected 8", v.len()),
                }
            })?),
            None => None,
        };
        // Sized first, so that the array never grows while it is read.
        let mut logged = 0;
        for item in self.seen_log.iter() {
            let (key, value) = item?;
            if value.len() % 8 != 0 || key.len() != 8 {
                return Err(corrupt(
                    &key,
                    format!(
                        "{} bytes, not whole fingerprints under an 8-byte key",
                        value.len()
                    ),
                ));
            }
            logged += value.len() / 8;
        }
        let snapshot = seen_snapshot::read(&self.dir, logged).map_err(&damaged)?;
        let covers = snapshot.as_ref().map(|s| s.covers);
        match (covers, moved_up_to) {
            (None, Some(moved)) => {
                return Err(damaged(format!(
                    "its {SNAPSHOT_FILE} file is missing, but the seen log up to key {moved} was moved into it"
                )))
            }
            (Some(covers), Some(moved)) if covers < moved => {
                return Err(damaged(format!(
                    "its {SNAPSHOT_FILE} file covers the seen log up to key {covers}, but the log up to key {moved} was moved into it: it is an older file"
                )))
            }
            _ => {}
        }
        let mut all = snapshot.map_or_else(|| Vec::with_capacity(logged), |s| s.fingerprints);
        let mut chunks_after = 0;
        let mut last = None;
        for item in self.seen_log.iter() {
            let (key, value) = item?;
            let seq = u64::from_be_bytes(key.as_ref().try_into().expect("checked above"));
            if covers.is_some_and(|covers| seq <= covers) {
                // Moved into the snapshot by an open that stopped before removing it.
                continue;
            }
            chunks_after += 1;
            last = Some(seq);
            all.extend(
                value
                    .chunks_exact(8)
                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
            );
        }
        let seen = SeenSet::from_unsorted(all);
        let snapshot_covers = match last {
            Some(last) if chunks_after > SEEN_CHUNKS_BEFORE_MERGE => {
                seen_snapshot::write(&self.dir, last, seen.iter()).map_err(|e| StoreError::Io {
                    path: self.dir.join(SNAPSHOT_FILE).display().to_string(),
                    reason: e.to_string(),
                })?;
                self.meta.insert(SEEN_SNAPSHOT_KEY, &last.to_be_bytes())?;
                self.db.flush()?;
                Some(last)
            }
            _ => covers,
        };
        if let Some(covers) = snapshot_covers {
            self.remove_seen_chunks_up_to(covers)?;
        }
        Ok(seen)
    }

    /// Removes the seen log's chunks a snapshot holds, a batch at a time.
    fn remove_seen_chunks_up_to(&self, covers: u64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (n, key) in self
            .seen_log
            .range(..=covers.to_be_bytes())
            .keys()
            .enumerate()
        {
            batch.remove(key?);
            if n % 100 == 99 {
                self.seen_log.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.seen_log.apply_batch(batch)?;
        Ok(())
    }
}

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
            write_segments(frontier, fresh.iter().map(|(_, e)| *e), now_ms)?;
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
            let key = queue_key(&entry.host(), now_ms, seq);
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
        let mut not_due = None;
        for item in self.frontier.scan_prefix(host_prefix(host)) {
            let (key, value) = item?;
            let due = due_of(&key);
            if due > now_ms {
                not_due = Some(due);
                break;
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
                break;
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
            out.push((seq, value.to_vec()));
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
            state.status = UrlStatus::Queued;
            let seq = self.db.generate_id()?;
            let key = queue_key(&entry.host(), now_ms, seq);
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

/// The sequence number a key of a sequence-keyed tree (outbox, captures) holds.
fn sequence_of(tree: &'static str, key: &[u8]) -> Result<u64, StoreError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            tree,
            key: format!("{key:?}"),
            reason: "key is not 8 bytes".into(),
        })
}

/// A sink offset; those written before outputs could rotate lack the file index
/// (and are about file 0).
fn decode_sink_offset(key: &[u8], bytes: &[u8]) -> Result<SinkOffset, StoreError> {
    #[derive(Deserialize)]
    struct Before {
        seq: u64,
        bytes: u64,
    }
    match postcard::from_bytes::<SinkOffset>(bytes) {
        Ok(offset) => Ok(offset),
        Err(_) => decode::<Before>("meta", key, bytes).map(|b| SinkOffset {
            seq: b.seq,
            bytes: b.bytes,
            file: 0,
        }),
    }
}

/// Queues a settled page again as `plan` says (inside a commit's transaction), and
/// returns when it is due. Pages that were not fetched or failed (skipped, aliases)
/// are not revisited: another URL stands for them.
fn schedule_revisit(
    plan: &Revisit,
    state: &UrlState,
    changed: bool,
    now_ms: u64,
    urls: &sled::transaction::TransactionalTree,
    frontier: &sled::transaction::TransactionalTree,
    revisits: &sled::transaction::TransactionalTree,
) -> TxResult<Option<u64>> {
    if !matches!(state.status, UrlStatus::Fetched | UrlStatus::Failed) {
        return Ok(None);
    }
    let fp = fingerprint(state.url.as_bytes());
    let due_ms = match plan {
        Revisit::After(after) => {
            if state.status != UrlStatus::Fetched {
                return Ok(None);
            }
            now_ms + after.as_millis() as u64
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
                        estimate.observe(now_ms, changed, bounds);
                    } else {
                        // A failed visit says nothing about change: keep the pace.
                        estimate.rebound(bounds);
                    }
                    estimate
                }
            };
            let due_ms = now_ms + estimate.interval_ms;
            let schedule = RevisitSchedule {
                url: state.url.clone(),
                site: state.site.clone(),
                estimate,
                next_due_ms: due_ms,
            };
            revisits.insert(&fp, encode(&schedule))?;
            due_ms
        }
    };
    let entry = QueueEntry::again(state);
    let mut queued = state.clone();
    queued.status = UrlStatus::Queued;
    if let Some(current) = urls.get(fp)? {
        // Keep what the commit wrote (e.g. a sitemap's lastmod), only requeued.
        queued = decode("urls", &fp, &current).map_err(ConflictableTransactionError::Abort)?;
        queued.status = UrlStatus::Queued;
    }
    urls.insert(&fp, encode(&queued))?;
    write_segments(frontier, [&entry], due_ms)?;
    Ok(Some(due_ms))
}

/// Adds one to a big-endian byte string; false when it overflows.
fn increment(bytes: &mut [u8]) -> bool {
    for b in bytes.iter_mut().rev() {
        if *b == 0xff {
            *b = 0;
        } else {
            *b += 1;
            return true;
        }
    }
    false
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
        };
        let section = "http://a.example/news";
        store.enqueue_new(&[entry(section)], 0).unwrap();
        // Visits the section at `now`, finding `links`; returns when it is due again.
        let visit = |now: u64, links: Vec<QueueEntry>| -> u64 {
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
        now = first;
        let quiet = visit(now, vec![]);
        assert_eq!(quiet - now, 120_000, "nothing new: the interval doubles");
        now = quiet;
        let known_only = visit(now, vec![entry(section)]);
        assert_eq!(known_only - now, 240_000, "known links are no change");
        now = known_only;
        let busy = visit(now, vec![article(1)]);
        assert!(busy - now < 240_000, "a new article shortens the interval");
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
                .insert(queue_key("a.example", 5, 1), legacy(&queued))
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
