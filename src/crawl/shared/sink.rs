//! A shared-crawl worker's output: what this worker committed, read from its output
//! streams (one per bucket) and appended exactly once to its files: records to its
//! JSONL output (one file or one per site, each a rotated [`Series`] as in the
//! one-machine sink), page exchanges to its WARC file.
//!
//! Invariant: as in the one-machine sink, lines are synced to the files before the
//! offset (each output's position and the last stream id read in each bucket, in one
//! value) is saved in Redis, and at start every output is cut back to its saved
//! position, so a crash between the two writes the same records again instead of
//! losing or doubling them. Records leave Redis once the offset past them is saved.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::crawl::pool::WorkerPool;
use crate::crawl::CrawlError;
use crate::sink::{
    capture_members, jsonl_outputs, site_of, JsonlOutput, Position, Series, SinkError, WarcFile,
};
use crate::store::redis_frontier::{unpack_capture, Delivery, RedisFrontier};
use crate::store::StoreError;

/// How far the worker's output has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StreamOffset {
    /// Each output's position, by the path of its first file.
    #[serde(default)]
    outputs: BTreeMap<String, Position>,
    /// The one output's length, as workers that wrote a single file saved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    /// The WARC file's length, when the worker writes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    warc: Option<u64>,
    /// The last stream id written, per bucket.
    after: Vec<String>,
}

/// One output file series, and the site whose records it takes (all when none).
struct Output {
    key: String,
    site: Option<String>,
    series: Series,
}

/// The worker's files. Written on the CPU pool: inflating, gzip and fsync are not
/// for the runtime's threads.
struct Files {
    worker: String,
    outputs: Vec<Output>,
    warc: Option<WarcFile>,
}

/// What one delivery wrote: its lines, and where each file now ends.
struct Written {
    lines: usize,
    outputs: Vec<(String, Position)>,
    warc: Option<u64>,
}

pub(super) struct StreamSink {
    frontier: RedisFrontier,
    pool: WorkerPool,
    worker: String,
    files: Arc<Mutex<Files>>,
    offset: StreamOffset,
    /// Lines written and synced whose offset could not be saved yet (Redis did not
    /// answer): saved before anything else is written.
    unsaved: Option<StreamOffset>,
}

impl Files {
    /// Appends the records and page exchanges of `items` (bucket, stream id, entry) to
    /// the files, synced. A failure ends the run; the next start cuts every file back
    /// to the saved offset.
    fn write(&mut self, items: &[(usize, String, Delivery)]) -> Result<Written, SinkError> {
        let mut bufs = vec![Vec::new(); self.outputs.len()];
        let mut warc_buf = Vec::new();
        let mut lines = 0;
        for (bucket, id, item) in items {
            let key = || format!("bucket {bucket}, entry {id}");
            match item {
                Delivery::Record(packed) => {
                    let record =
                        crate::store::packed::unpack(packed).map_err(|e| StoreError::Corrupt {
                            tree: "redis record stream",
                            key: key(),
                            reason: format!("record does not inflate: {e}"),
                        })?;
                    let site = site_of(&record);
                    for (output, buf) in self.outputs.iter().zip(&mut bufs) {
                        if output.site.is_none() || output.site == site {
                            buf.extend_from_slice(&record);
                            buf.push(b'\n');
                            lines += 1;
                        }
                    }
                }
                // A worker started without a WARC file (after one with) skips the
                // exchanges of pages it committed before.
                Delivery::Capture(packed) if self.warc.is_some() => {
                    let capture = unpack_capture(packed, &key())?;
                    // The entry names the exchange for good.
                    let name = format!("{}/{bucket}/{id}", self.worker);
                    warc_buf.extend(capture_members(&name, &capture));
                }
                Delivery::Capture(_) => {}
            }
        }
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for (output, buf) in self.outputs.iter_mut().zip(&bufs) {
            outputs.push((output.key.clone(), output.series.append(buf)?));
        }
        let warc = match &mut self.warc {
            Some(warc) => Some(warc.append(&warc_buf)?),
            None => None,
        };
        Ok(Written {
            lines,
            outputs,
            warc,
        })
    }
}

fn meta_name(worker: &str) -> String {
    format!("sink:{worker}")
}

impl StreamSink {
    /// Opens the worker's outputs (one JSONL file, or one per site, each rotated as
    /// the one-machine sink does; the WARC file when `warc` names one), cut back to the
    /// offset saved for this worker; refuses an output with lines in it that no saved
    /// offset accounts for (another crawl's).
    pub async fn open(
        frontier: RedisFrontier,
        pool: WorkerPool,
        worker: &str,
        jsonl: &JsonlOutput,
        sites: &[String],
        warc: Option<&Path>,
    ) -> Result<Self, SinkError> {
        let buckets = frontier.buckets() as usize;
        let corrupt = |reason: String| StoreError::Corrupt {
            tree: "redis sink offset",
            key: format!("{}:meta:{}", frontier.namespace(), meta_name(worker)),
            reason,
        };
        let saved = match frontier.get_meta(&meta_name(worker)).await? {
            Some(bytes) => {
                let offset: StreamOffset =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
                if offset.after.len() != buckets {
                    let reason = format!("{} buckets, not {buckets}", offset.after.len());
                    return Err(corrupt(reason).into());
                }
                Some(offset)
            }
            None => None,
        };
        let mut offset = saved.clone().unwrap_or(StreamOffset {
            outputs: BTreeMap::new(),
            bytes: None,
            warc: None,
            after: vec!["0-0".to_string(); buckets],
        });
        let mut outputs = Vec::new();
        for (base, site) in jsonl_outputs(jsonl, sites) {
            let key = base.display().to_string();
            let at = offset.outputs.get(&key).copied().or_else(|| {
                // A single file's length, saved before outputs were keyed by path.
                let single = outputs.is_empty() && site.is_none();
                offset
                    .bytes
                    .filter(|_| single)
                    .map(|bytes| Position { file: 0, bytes })
            });
            let series = Series::open(&base, at, jsonl.rotate_bytes)?;
            offset.outputs.insert(key.clone(), series.position());
            outputs.push(Output { key, site, series });
        }
        offset.bytes = None;
        let mut warc = warc
            .map(|path| WarcFile::open(path, offset.warc))
            .transpose()?;
        offset.warc = warc.as_ref().map(WarcFile::bytes);
        if saved.as_ref() != Some(&offset) {
            frontier
                .put_meta(
                    &meta_name(worker),
                    &serde_json::to_vec(&offset).expect("offset serializes"),
                )
                .await?;
        }
        // A new file's warcinfo record: its length is saved with the first delivery,
        // and until then a restart cuts it away and writes it again.
        if let Some(warc) = &mut warc {
            warc.begin()?;
        }
        Ok(Self {
            frontier,
            pool,
            worker: worker.to_string(),
            files: Arc::new(Mutex::new(Files {
                worker: worker.to_string(),
                outputs,
                warc,
            })),
            offset,
            unsaved: None,
        })
    }

    /// Appends every record committed since the last delivery; returns how many.
    pub async fn drain(&mut self) -> Result<usize, CrawlError> {
        if let Some(offset) = self.unsaved.take() {
            self.save(offset).await?;
        }
        let mut items = Vec::new();
        let mut after = self.offset.after.clone();
        for (bucket, last) in after.iter_mut().enumerate() {
            loop {
                let batch = self
                    .frontier
                    .records_after(bucket as u32, &self.worker, last, 1024)
                    .await?;
                let Some((id, _)) = batch.last() else { break };
                *last = id.clone();
                let full = batch.len() == 1024;
                items.extend(batch.into_iter().map(|(id, item)| (bucket, id, item)));
                if !full {
                    break;
                }
            }
        }
        if after == self.offset.after {
            return Ok(0);
        }
        let files = self.files.clone();
        let written = self
            .pool
            .run(move || {
                files
                    .lock()
                    .expect("sink files lock poisoned")
                    .write(&items)
            })
            .await??;
        let mut next = StreamOffset {
            outputs: self.offset.outputs.clone(),
            bytes: None,
            warc: written.warc.or(self.offset.warc),
            after,
        };
        next.outputs.extend(written.outputs);
        self.save(next).await?;
        Ok(written.lines)
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
