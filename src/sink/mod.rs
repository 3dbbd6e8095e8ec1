//! Sinks deliver the store's outbox to the outside world exactly once.
//!
//! The JSONL sink appends one record a line; the WARC sink ([`warc`]) appends the
//! captured HTTP exchanges. Invariant: a line is written only after
//! the store has made its record durable, and the sink's offset (outbox sequence and
//! file length) is saved in the store only after the lines are synced to disk. On
//! start-up the file is cut back to the saved length, which removes a partial last
//! line and any lines whose offset was not saved; they are then written again, so
//! after any crash every record is in the file exactly once.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::store::{SinkOffset, Store, StoreError};

mod series;
mod warc;

pub use series::{series_path, Position, Series};
pub use warc::{capture_members, WarcFile, WarcSink};

/// Cuts an output file back to the length its last saved offset recorded (what was
/// written after it is written again); refuses a file shorter than that.
pub(crate) fn cut_back(file: &File, path: &Path, saved: u64) -> Result<(), SinkError> {
    let io = |source| SinkError::Io {
        path: path.display().to_string(),
        source,
    };
    let actual = file.metadata().map_err(io)?.len();
    if actual < saved {
        return Err(SinkError::Shrunk {
            path: path.display().to_string(),
            actual,
            expected: saved,
        });
    }
    if actual > saved {
        tracing::info!(
            file = %path.display(),
            "cutting {} bytes written after the last saved offset; they will be written again",
            actual - saved
        );
        file.set_len(saved).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("output file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("output file {path} is {actual} bytes, shorter than the {expected} bytes this crawl wrote to it: it was changed outside the crawler (move it away and export the records again, or start with --fresh)")]
    Shrunk {
        path: String,
        actual: u64,
        expected: u64,
    },
    #[error("output file {path} already holds {bytes} bytes that this crawl's state has no record of writing (the state directory was deleted or replaced, or the file belongs to another crawl); nothing was changed: restore the state directory, move the file away, or start over with --fresh")]
    Unknown { path: String, bytes: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every output of a crawl: the JSONL records (one file, or one per site) and, when
/// configured, the WARC file.
pub struct Sinks {
    jsonl: Vec<JsonlSink>,
    warc: Option<WarcSink>,
}

/// Where records go.
#[derive(Debug, Clone)]
pub struct JsonlOutput {
    /// The file; `{site}` in it makes one file per site.
    pub path: PathBuf,
    /// Start a new file (`records.1.jsonl`, `records.2.jsonl`, ...) once the current
    /// one holds this many bytes.
    pub rotate_bytes: Option<u64>,
}

/// The files of a JSONL output, and the site whose records each takes (all when
/// none): one file, or one per site when `{site}` is in the path.
pub fn jsonl_outputs(jsonl: &JsonlOutput, sites: &[String]) -> Vec<(PathBuf, Option<String>)> {
    let template = jsonl.path.to_string_lossy();
    if template.contains("{site}") {
        sites
            .iter()
            .map(|site| {
                let path = PathBuf::from(template.replace("{site}", site));
                (path, Some(site.clone()))
            })
            .collect()
    } else {
        vec![(jsonl.path.clone(), None)]
    }
}

impl Sinks {
    /// Opens every output; `sites` are the crawl's site names (for per-site files).
    pub fn open(
        store: &dyn Store,
        jsonl: &JsonlOutput,
        sites: &[String],
        warc: Option<&Path>,
    ) -> Result<Self, SinkError> {
        let jsonl = jsonl_outputs(jsonl, sites)
            .into_iter()
            .map(|(path, site)| JsonlSink::open(store, &path, site, jsonl.rotate_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            jsonl,
            warc: warc.map(|p| WarcSink::open(store, p)).transpose()?,
        })
    }

    /// Delivers what the store holds beyond each sink's offset; returns the number of
    /// records written to the JSONL outputs.
    pub fn drain(&mut self, store: &dyn Store) -> Result<usize, SinkError> {
        if let Some(warc) = &mut self.warc {
            warc.drain(store)?;
        }
        let mut written = 0;
        for sink in &mut self.jsonl {
            written += sink.drain(store)?;
        }
        Ok(written)
    }
}

/// The `site` of a record, read without decoding the rest.
pub(crate) fn site_of(record: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct SiteOnly<'a> {
        #[serde(borrow)]
        site: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<SiteOnly<'_>>(record)
        .ok()
        .map(|s| s.site.into_owned())
}

/// Appends the outbox's records to a JSON Lines file (or a numbered series of them).
pub struct JsonlSink {
    name: String,
    /// Only records of this site.
    site: Option<String>,
    series: Series,
    offset: SinkOffset,
}

impl JsonlSink {
    /// Opens the output, repairing it to the last saved offset (see [`Series::open`]);
    /// an output seen for the first time is registered (offset 0) before anything is
    /// written to it.
    pub fn open(
        store: &dyn Store,
        base: &Path,
        site: Option<String>,
        rotate_bytes: Option<u64>,
    ) -> Result<Self, SinkError> {
        let name = format!("jsonl:{}", base.display());
        let saved = store.sink_offset(&name)?;
        let at = saved.map(|o| Position {
            file: o.file,
            bytes: o.bytes,
        });
        let series = Series::open(base, at, rotate_bytes)?;
        let offset = match saved {
            Some(offset) => offset,
            None => {
                store.set_sink_offset(&name, SinkOffset::default())?;
                SinkOffset::default()
            }
        };
        Ok(Self {
            name,
            site,
            series,
            offset,
        })
    }

    /// Writes every outbox record after the saved offset. The caller must have
    /// flushed the store first, so nothing written here can be lost by the store.
    pub fn drain(&mut self, store: &dyn Store) -> Result<usize, SinkError> {
        let mut written = 0;
        loop {
            let batch = store.outbox_after(self.offset.seq, 1024)?;
            let Some((last_seq, _)) = batch.last() else {
                return Ok(written);
            };
            let last_seq = *last_seq;
            let mut buf = Vec::with_capacity(batch.iter().map(|(_, r)| r.len() + 1).sum());
            let mut lines = 0;
            for (_, record) in &batch {
                if let Some(site) = &self.site {
                    if site_of(record).as_deref() != Some(site.as_str()) {
                        continue;
                    }
                }
                buf.extend_from_slice(record);
                buf.push(b'\n');
                lines += 1;
            }
            let at = self.series.append(&buf)?;
            self.offset = SinkOffset {
                seq: last_seq,
                file: at.file,
                bytes: at.bytes,
            };
            store.set_sink_offset(&self.name, self.offset)?;
            written += lines;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::store::{PageCommit, SledStore};

    fn add_record(store: &SledStore, text: &str) {
        store
            .commit(PageCommit {
                records: vec![text.as_bytes().to_vec()],
                ..Default::default()
            })
            .unwrap();
    }

    fn record(site: &str, n: u32) -> String {
        format!("{{\"site\":\"{site}\",\"n\":{n}}}")
    }

    #[test]
    fn per_site_files_rotate_and_repair_to_the_saved_offset() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        let output = JsonlOutput {
            path: dir.path().join("out/{site}.jsonl"),
            rotate_bytes: Some(38),
        };
        let sites = ["a".to_string(), "b".to_string()];
        let mut sinks = Sinks::open(&store, &output, &sites, None).unwrap();
        for n in 0..3 {
            add_record(&store, &record("a", n));
            add_record(&store, &record("b", n));
            assert_eq!(sinks.drain(&store).unwrap(), 2);
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join("out").join(name)).unwrap();
        // 19-byte lines: two fill a file to the 38-byte limit, the third starts the next.
        assert_eq!(
            read("a.jsonl"),
            format!("{}\n{}\n", record("a", 0), record("a", 1))
        );
        assert_eq!(read("a.1.jsonl"), format!("{}\n", record("a", 2)));
        assert_eq!(read("b.1.jsonl"), format!("{}\n", record("b", 2)));

        // A crash after a new file was started but before its offset was saved: the
        // file goes, and its records are written again where they belong.
        drop(sinks);
        std::fs::write(dir.path().join("out/a.2.jsonl"), "torn").unwrap();
        std::fs::write(
            dir.path().join("out/a.1.jsonl"),
            format!("{}\n{{\"half", record("a", 2)),
        )
        .unwrap();
        let mut sinks = Sinks::open(&store, &output, &sites, None).unwrap();
        assert!(!dir.path().join("out/a.2.jsonl").exists());
        assert_eq!(read("a.1.jsonl"), format!("{}\n", record("a", 2)));
        add_record(&store, &record("a", 3));
        assert_eq!(sinks.drain(&store).unwrap(), 1);
        assert_eq!(
            read("a.1.jsonl"),
            format!("{}\n{}\n", record("a", 2), record("a", 3))
        );
    }

    #[test]
    fn unsaved_and_partial_lines_are_cut_and_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        let out = dir.path().join("out/records.jsonl");
        add_record(&store, "{\"n\":1}");
        let mut sink = JsonlSink::open(&store, &out, None, None).unwrap();
        assert_eq!(sink.drain(&store).unwrap(), 1);
        assert_eq!(sink.drain(&store).unwrap(), 0);
        drop(sink);

        // A crash after writing but before the offset was saved, mid-line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&out)
            .unwrap()
            .write_all(b"{\"n\":2}\n{\"n\"")
            .unwrap();
        add_record(&store, "{\"n\":2}");
        let mut sink = JsonlSink::open(&store, &out, None, None).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"n\":1}\n");
        assert_eq!(sink.drain(&store).unwrap(), 1);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
    }

    #[test]
    fn a_truncated_output_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        let out = dir.path().join("records.jsonl");
        add_record(&store, "{\"n\":1}");
        JsonlSink::open(&store, &out, None, None)
            .unwrap()
            .drain(&store)
            .unwrap();
        std::fs::write(&out, "").unwrap();
        let err = JsonlSink::open(&store, &out, None, None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("changed outside the crawler"), "{err}");
    }
}
