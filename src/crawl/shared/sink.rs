//! A shared-crawl worker's output: the records this worker committed, read from its
//! record streams (one per bucket) and appended to its JSONL file exactly once.
//!
//! Invariant: as in the one-machine sink, lines are synced to the file before the
//! offset (the file's length and the last stream id read in each bucket) is saved in
//! Redis, and at start the file is cut back to the saved length, so a crash between
//! the two writes the same records again instead of losing or doubling them. Records
//! leave Redis once the offset past them is saved.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sink::{cut_back, SinkError};
use crate::store::redis_frontier::RedisFrontier;
use crate::store::StoreError;

/// How far the worker's output has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StreamOffset {
    /// The output file's length.
    bytes: u64,
    /// The last record stream id written, per bucket.
    after: Vec<String>,
}

pub(super) struct StreamSink {
    frontier: RedisFrontier,
    worker: String,
    path: PathBuf,
    file: File,
    offset: StreamOffset,
    /// Lines written and synced whose offset could not be saved yet (Redis did not
    /// answer): saved before anything else is written.
    unsaved: Option<StreamOffset>,
}

fn meta_name(worker: &str) -> String {
    format!("sink:{worker}")
}

impl StreamSink {
    /// Opens the output file, cut back to the offset saved for this worker; refuses a
    /// non-empty file when no offset was ever saved (it is another crawl's).
    pub async fn open(
        frontier: RedisFrontier,
        worker: &str,
        path: &Path,
    ) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let buckets = frontier.buckets() as usize;
        let offset = match frontier.get_meta(&meta_name(worker)).await? {
            Some(bytes) => {
                let offset: StreamOffset =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        tree: "redis sink offset",
                        key: format!("{}:meta:{}", frontier.namespace(), meta_name(worker)),
                        reason: e.to_string(),
                    })?;
                if offset.after.len() != buckets {
                    return Err(StoreError::Corrupt {
                        tree: "redis sink offset",
                        key: format!("{}:meta:{}", frontier.namespace(), meta_name(worker)),
                        reason: format!("{} buckets, not {buckets}", offset.after.len()),
                    }
                    .into());
                }
                offset
            }
            None => {
                let bytes = file.metadata().map_err(io)?.len();
                if bytes > 0 {
                    return Err(SinkError::Unknown {
                        path: path.display().to_string(),
                        bytes,
                    });
                }
                let offset = StreamOffset {
                    bytes: 0,
                    after: vec!["0-0".to_string(); buckets],
                };
                frontier
                    .put_meta(
                        &meta_name(worker),
                        &serde_json::to_vec(&offset).expect("offset serializes"),
                    )
                    .await?;
                offset
            }
        };
        cut_back(&file, path, offset.bytes)?;
        Ok(Self {
            frontier,
            worker: worker.to_string(),
            path: path.to_path_buf(),
            file,
            offset,
            unsaved: None,
        })
    }

    /// Appends every record committed since the last delivery; returns how many.
    pub async fn drain(&mut self) -> Result<usize, SinkError> {
        if let Some(offset) = self.unsaved.take() {
            self.save(offset).await?;
        }
        let mut buf = Vec::new();
        let mut after = self.offset.after.clone();
        let mut lines = 0;
        for (bucket, last) in after.iter_mut().enumerate() {
            loop {
                let batch = self
                    .frontier
                    .records_after(bucket as u32, &self.worker, last, 1024)
                    .await?;
                let Some((id, _)) = batch.last() else { break };
                *last = id.clone();
                for (id, packed) in &batch {
                    let record =
                        crate::store::packed::unpack(packed).map_err(|e| StoreError::Corrupt {
                            tree: "redis record stream",
                            key: format!("bucket {bucket}, entry {id}"),
                            reason: format!("record does not inflate: {e}"),
                        })?;
                    buf.extend_from_slice(&record);
                    buf.push(b'\n');
                    lines += 1;
                }
                if batch.len() < 1024 {
                    break;
                }
            }
        }
        if lines == 0 {
            return Ok(0);
        }
        let io = |source| SinkError::Io {
            path: self.path.display().to_string(),
            source,
        };
        if let Err(e) = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data())
        {
            // Nothing of this batch counts: cut what may have been written.
            let _ = self.file.set_len(self.offset.bytes);
            return Err(io(e));
        }
        self.save(StreamOffset {
            bytes: self.offset.bytes + buf.len() as u64,
            after,
        })
        .await?;
        Ok(lines)
    }

    /// Saves the offset of lines already synced; kept for the next round if Redis
    /// does not answer (the lines stay: the offset may have been saved after all).
    async fn save(&mut self, offset: StreamOffset) -> Result<(), SinkError> {
        let saved = self
            .frontier
            .put_meta(
                &meta_name(&self.worker),
                &serde_json::to_vec(&offset).expect("offset serializes"),
            )
            .await;
        match saved {
            Ok(()) => {
                // Delivered records leave Redis (the last one stays, harmlessly).
                for (bucket, (before, after)) in
                    self.offset.after.iter().zip(&offset.after).enumerate()
                {
                    if before != after {
                        if let Err(e) = self
                            .frontier
                            .trim_records(bucket as u32, &self.worker, after)
                            .await
                        {
                            tracing::warn!("delivered records not trimmed from Redis: {e}");
                        }
                    }
                }
                self.offset = offset;
                Ok(())
            }
            Err(e) => {
                self.unsaved = Some(offset);
                Err(e.into())
            }
        }
    }
}
