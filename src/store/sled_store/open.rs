//! Opening a sled store: checking its schema and its commit watermark (a log cut
//! short is reported, never used), moving schema 2's queue into the frontier, and
//! reading the seen set into memory (its snapshot, then the chunks after it).
//!
//! Invariant: a store is either opened whole, with the seen set matching `seen` on
//! disk, or not at all, with an error that names what is wrong.

use super::*;

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
