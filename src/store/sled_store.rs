//! The sled backend of [`Store`].
//!
//! Trees and keys (values are postcard-encoded unless noted):
//! - `meta`: `schema_version` -> u32 BE; `sink:<name>` -> [`SinkOffset`];
//!   `commits` -> u64 BE, page commits so far (see the watermark below)
//! - `urls`: URL fingerprint -> [`UrlState`] (the seen set)
//! - `queue`: host hash (8) + due Unix ms (8, BE) + sequence (8, BE) -> [`QueueEntry`]
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
//! Invariant: every write to `urls` (commits, new seeds) holds `commit_lock`, so
//! outbox sequence numbers are allocated and made visible in the same order, and a
//! plain read of `urls` under the lock is as good as a transactional one.
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
//! Leases live in memory: a leased URL stays in `queue`, hidden from other leases by
//! `leased`, until the commit that settles it removes its queue entry in the same
//! transaction. A process that dies leaves its leased URLs queued, so nothing needs
//! recovering, and a page costs one queue write instead of three.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::*;

const QUEUE_HOST_LEN: usize = 8;

pub struct SledStore {
    db: sled::Db,
    meta: sled::Tree,
    urls: sled::Tree,
    queue: sled::Tree,
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
    /// Held by every writer of `urls`; guards the cache of known URLs.
    commit_lock: Mutex<KnownUrls>,
    /// Queue keys of the URLs leased and not yet committed, by URL fingerprint.
    leased: Mutex<HashMap<Fingerprint, Vec<u8>>>,
}

/// Fingerprints certainly in `urls`, so that the links every page repeats (menus,
/// "most read" boxes) are not looked up again. Two generations bound the memory: when
/// the young one is full, it becomes the old one and the old one is dropped.
#[derive(Default)]
struct KnownUrls {
    young: HashSet<Fingerprint>,
    old: HashSet<Fingerprint>,
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

/// Fingerprints per generation (about 10 MB for both).
const KNOWN_URLS_GENERATION: usize = 1 << 18;

impl KnownUrls {
    fn contains(&self, fp: &Fingerprint) -> bool {
        self.young.contains(fp) || self.old.contains(fp)
    }

    fn insert(&mut self, fp: Fingerprint) {
        if self.young.len() >= KNOWN_URLS_GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(fp);
    }
}

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
            .cache_capacity(16 * 1024 * 1024)
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
        match schema {
            Some(v) => {
                let found = v.as_ref().try_into().map(u32::from_be_bytes).map_err(|_| {
                    StoreError::Corrupt {
                        tree: "meta",
                        key: "schema_version".into(),
                        reason: format!("{} bytes, expected 4", v.len()),
                    }
                })?;
                if found != SCHEMA_VERSION {
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
        Ok(Self {
            urls: db.open_tree("urls")?,
            queue: db.open_tree("queue")?,
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
        })
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
        let _known = self.commit_lock.lock().expect("commit lock poisoned");
        let trees = (&self.urls, &self.queue, &self.sections);
        let added = trees.transaction(|(urls, queue, sections)| -> TxResult<usize> {
            let mut added = 0;
            for entry in entries {
                let fp = fingerprint(entry.url.as_bytes());
                if urls.get(fp)?.is_some() {
                    continue;
                }
                urls.insert(&fp, encode(&UrlState::queued(entry)))?;
                if entry.kind.is_revisited() {
                    sections.insert(&fp, &[])?;
                }
                let seq = queue.generate_id()?;
                queue.insert(queue_key(&entry.host(), now_ms, seq), encode(entry))?;
                added += 1;
            }
            Ok(added)
        });
        unwrap_tx(added)
    }

    fn recover_leases(&self, now_ms: u64) -> Result<usize, StoreError> {
        let mut recovered = 0;
        for item in self.leases.iter() {
            let (fp, value) = item?;
            let entry: QueueEntry = decode("leases", &fp, &value)?;
            let seq = self.db.generate_id()?;
            let key = queue_key(&entry.host(), now_ms, seq);
            let result = (&self.queue, &self.leases).transaction(|(queue, leases)| {
                queue.insert(key.as_slice(), encode(&entry))?;
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
            let Some(item) = self.queue.range(from.as_slice()..).next() else {
                break;
            };
            let (key, value) = item?;
            let entry: QueueEntry = decode("queue", &key, &value)?;
            hosts.push(entry.host());
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
        let mut leased = self.leased.lock().expect("lease lock poisoned");
        let mut taken = Vec::new();
        let mut stale = Vec::new();
        let mut not_due = None;
        for item in self.queue.scan_prefix(host_prefix(host)) {
            let (key, value) = item?;
            let due = due_of(&key);
            if due > now_ms {
                not_due = Some(due);
                break;
            }
            let entry: QueueEntry = decode("queue", &key, &value)?;
            let fp = fingerprint(entry.url.as_bytes());
            if leased.contains_key(&fp) {
                continue;
            }
            // An entry settled meanwhile (e.g. as a redirect target) is dropped.
            let still_queued = match self.urls.get(fp)? {
                Some(v) => decode::<UrlState>("urls", &fp, &v)?.status == UrlStatus::Queued,
                None => true,
            };
            if !still_queued {
                stale.push(key);
                continue;
            }
            taken.push((fp, key.to_vec(), entry));
            if taken.len() >= max {
                break;
            }
        }
        if !stale.is_empty() {
            let mut batch = sled::Batch::default();
            for key in stale {
                batch.remove(key);
            }
            self.queue.apply_batch(batch)?;
        }
        if taken.is_empty() {
            return Ok(not_due.map_or(Lease::Empty, Lease::NotDue));
        }
        let mut urls = Vec::with_capacity(taken.len());
        for (fp, key, entry) in taken {
            leased.insert(fp, key);
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
        let mut known = self.commit_lock.lock().expect("commit lock poisoned");
        // Every writer of `urls` holds the lock, so plain reads here see what the
        // transaction would see: only links that are new (and not settled by this
        // commit, and not repeated on the page) go into it.
        let settled: HashSet<Fingerprint> = commit
            .state
            .iter()
            .chain(&commit.also)
            .map(|s| fingerprint(s.url.as_bytes()))
            .collect();
        let mut on_page = HashSet::with_capacity(commit.links.len());
        let mut is_new = |link: &QueueEntry| -> Result<Option<Fingerprint>, StoreError> {
            let fp = fingerprint(link.url.as_bytes());
            if settled.contains(&fp) || known.contains(&fp) || !on_page.insert(fp) {
                return Ok(None);
            }
            if self.urls.contains_key(fp)? {
                known.insert(fp);
                return Ok(None);
            }
            Ok(Some(fp))
        };
        let mut new_links = Vec::new();
        for link in &commit.links {
            if let Some(fp) = is_new(link)? {
                new_links.push((fp, link));
            }
        }
        let mut new_denied_links = Vec::new();
        for link in &commit.denied {
            if let Some(fp) = is_new(link)? {
                new_denied_links.push((fp, link));
            }
        }
        // The per-host budget: links past it are dropped unrecorded, so a later crawl
        // with a larger budget still finds them.
        let mut host_counts: Vec<(String, u64)> = Vec::new();
        let mut over_budget = 0;
        if let Some(budget) = commit.max_urls_per_host {
            let mut within = |link: &QueueEntry| -> Result<bool, StoreError> {
                let host = crate::urlnorm::host_of_normalized(&link.url);
                let i = match host_counts.iter().position(|(h, _)| h == host) {
                    Some(i) => i,
                    None => {
                        let count = match known.host_counts.get(host) {
                            Some(n) => *n,
                            None => self.host_urls.get(host)?.map_or(Ok(0), |v| {
                                v.as_ref().try_into().map(u64::from_be_bytes).map_err(|_| {
                                    StoreError::Corrupt {
                                        tree: "host_urls",
                                        key: host.to_string(),
                                        reason: format!("{} bytes, expected 8", v.len()),
                                    }
                                })
                            })?,
                        };
                        host_counts.push((host.to_string(), count));
                        host_counts.len() - 1
                    }
                };
                if host_counts[i].1 >= budget {
                    over_budget += 1;
                    return Ok(false);
                }
                host_counts[i].1 += 1;
                Ok(true)
            };
            let mut kept = Vec::with_capacity(new_links.len());
            for (fp, link) in new_links {
                if within(link)? {
                    kept.push((fp, link));
                }
            }
            new_links = kept;
            let mut kept = Vec::with_capacity(new_denied_links.len());
            for (fp, link) in new_denied_links {
                if within(link)? {
                    kept.push((fp, link));
                }
            }
            new_denied_links = kept;
        }
        let mut new_denied = Vec::new();
        for (fp, link) in new_denied_links {
            let mut state = UrlState::queued(link);
            state.status = UrlStatus::RobotsDenied;
            state.fetched_at_ms = commit.now_ms;
            state.note = Some("disallowed by robots.txt (when found)".into());
            new_denied.push((fp, state));
        }
        let refresh = &commit.refresh;
        // The queue entries of the URLs this commit settles, if they were leased.
        let lease_keys: Vec<Vec<u8>> = {
            let leased = self.leased.lock().expect("lease lock poisoned");
            settled
                .iter()
                .filter_map(|fp| leased.get(fp).cloned())
                .collect()
        };
        let trees = (
            &self.urls,
            &self.queue,
            &self.content,
            &self.outbox,
            &self.sections,
            &self.revisits,
            &self.captures,
        );
        // A listing page "changed" when it led to content not seen before.
        let found_new = new_links.iter().any(|(_, link)| !link.kind.is_revisited());
        let result = trees.transaction(
            |(urls, queue, content, outbox, sections, revisits, captures)| -> TxResult<CommitReport> {
                let mut report = CommitReport {
                    over_budget,
                    ..CommitReport::default()
                };
                for key in &lease_keys {
                    queue.remove(key.as_slice())?;
                }
                for state in commit.state.iter().chain(&commit.also) {
                    let fp = fingerprint(state.url.as_bytes());
                    // A sitemap may have listed this URL while its page was being
                    // fetched: keep what it recorded.
                    let mut state = state.clone();
                    if let Some(current) = urls.get(fp)? {
                        let current: UrlState = decode("urls", &fp, &current)
                            .map_err(ConflictableTransactionError::Abort)?;
                        state.listed_modified_ms =
                            state.listed_modified_ms.max(current.listed_modified_ms);
                    }
                    urls.insert(&fp, encode(&state))?;
                }
                if let Some(entry) = &commit.requeue {
                    let seq = queue.generate_id()?;
                    queue.insert(queue_key(&entry.host(), commit.now_ms, seq), encode(entry))?;
                }
                for (fp, state) in &new_denied {
                    urls.insert(fp, encode(state))?;
                }
                report.denied = new_denied.len();
                for (fp, link) in &new_links {
                    urls.insert(fp, encode(&UrlState::queued(link)))?;
                    if link.kind.is_revisited() {
                        sections.insert(fp, &[])?;
                    }
                    let host = link.host();
                    let seq = queue.generate_id()?;
                    queue.insert(queue_key(&host, commit.now_ms, seq), encode(link))?;
                    match report.new_links.iter_mut().find(|(h, _)| *h == host) {
                        Some((_, n)) => *n += 1,
                        None => report.new_links.push((host, 1)),
                    }
                }
                for (entry, modified_ms) in refresh {
                    let fp = fingerprint(entry.url.as_bytes());
                    let Some(value) = urls.get(fp)? else { continue };
                    let mut state: UrlState =
                        decode("urls", &fp, &value).map_err(ConflictableTransactionError::Abort)?;
                    let newer = match state.listed_modified_ms {
                        Some(listed) => *modified_ms > listed,
                        None => *modified_ms > state.fetched_at_ms,
                    };
                    state.listed_modified_ms = Some(*modified_ms);
                    if state.status != UrlStatus::Fetched || !newer {
                        urls.insert(&fp, encode(&state))?;
                        continue;
                    }
                    state.status = UrlStatus::Queued;
                    let again = QueueEntry {
                        etag: state.etag.clone(),
                        last_modified: state.last_modified.clone(),
                        ..entry.clone()
                    };
                    urls.insert(&fp, encode(&state))?;
                    let seq = queue.generate_id()?;
                    queue.insert(queue_key(&again.host(), commit.now_ms, seq), encode(&again))?;
                    report.refreshed.push(again.host());
                }
                if let Some((hash, url)) = &commit.content {
                    if content.get(hash)?.is_none() {
                        content.insert(hash, url.as_bytes())?;
                    }
                }
                for record in &commit.records {
                    // Sequence numbers start at 1: a sink offset of 0 means "nothing yet".
                    let seq = outbox.generate_id()? + 1;
                    outbox.insert(&seq.to_be_bytes(), record.as_slice())?;
                }
                report.records = commit.records.len();
                if let Some(capture) = &commit.capture {
                    let seq = captures.generate_id()? + 1;
                    captures.insert(&seq.to_be_bytes(), encode(capture))?;
                }
                if let (Some(plan), Some(state)) = (&commit.revisit, &commit.state) {
                    let changed = found_new || !report.refreshed.is_empty();
                    report.revisit_due_ms = schedule_revisit(
                        plan,
                        state,
                        changed,
                        commit.now_ms,
                        urls,
                        queue,
                        revisits,
                    )?;
                }
                Ok(report)
            },
        );
        let report = unwrap_tx(result)?;
        {
            let mut leased = self.leased.lock().expect("lease lock poisoned");
            for fp in &settled {
                leased.remove(fp);
            }
        }
        for fp in new_links
            .iter()
            .map(|(fp, _)| fp)
            .chain(new_denied.iter().map(|(fp, _)| fp))
        {
            known.insert(*fp);
        }
        for (host, count) in host_counts {
            known.hosts_changed.insert(host.clone());
            known.host_counts.insert(host, count);
        }
        known.commits += 1;
        Ok(report)
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
            let result = (&self.urls, &self.queue).transaction(|(urls, queue)| {
                urls.insert(&fp, encode(&state))?;
                queue.insert(key.as_slice(), encode(&entry))?;
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
        for item in self.queue.iter() {
            let (key, value) = item?;
            let due = due_of(&key);
            if key[..QUEUE_HOST_LEN] == last_prefix[..] {
                if let Some(last) = out.last_mut() {
                    last.1 += 1;
                    last.2 = last.2.min(due);
                }
                continue;
            }
            let entry: QueueEntry = decode("queue", &key, &value)?;
            last_prefix = key[..QUEUE_HOST_LEN].to_vec();
            out.push((entry.host(), 1, due));
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
        Ok(self.db.size_on_disk()?)
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
        let mut n = 0;
        for key in self.queue.iter().keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }

    fn url_states(&self) -> Result<Vec<UrlState>, StoreError> {
        self.urls
            .iter()
            .map(|item| {
                let (key, value) = item?;
                decode("urls", &key, &value)
            })
            .collect()
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
    queue: &sled::transaction::TransactionalTree,
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
    let seq = queue.generate_id()?;
    queue.insert(queue_key(&entry.host(), due_ms, seq), encode(&entry))?;
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

    fn entry(url: &str) -> QueueEntry {
        QueueEntry {
            url: url.into(),
            site: "s".into(),
            kind: UrlKind::Section,
            depth: 0,
            redirects: 0,
            etag: None,
            last_modified: None,
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
        let store = SledStore::open(dir.path()).unwrap();
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
            store.leases.insert(fp, encode(&leased)).unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
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
        let store = SledStore::open(dir.path()).unwrap();
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
        let mut state = UrlState::queued(&first[0]);
        state.status = UrlStatus::Fetched;
        store
            .commit(PageCommit {
                state: Some(state),
                now_ms: 2,
                ..Default::default()
            })
            .unwrap();
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
        let err = SledStore::open(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::Schema { found: 99, .. }), "{err}");
    }
}
