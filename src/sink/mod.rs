//! Sinks deliver the store's outbox to the outside world exactly once.
//!
//! The JSONL sink appends one record a line; the WARC sink ([`warc`]) appends the
//! captured HTTP exchanges. Invariant: a line is written only after
//! the store has made its record durable, and the sink's offset (outbox sequence and
//! file length) is saved in the store only after the lines are synced to disk. On
//! start-up the file is cut back to the saved length, which removes a partial last
//! line and any lines whose offset was not saved; they are then written again, so
//! after any crash every record is in the file exactly once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::store::{SinkOffset, Store, StoreError};

mod warc;

pub use warc::WarcSink;

/// Cuts an output file back to the length its last saved offset recorded (what was
/// written after it is written again); refuses a file shorter than that.
fn cut_back(file: &File, path: &Path, saved: u64) -> Result<(), SinkError> {
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every output of a crawl: the JSONL records and, when configured, the WARC file.
pub struct Sinks {
    jsonl: JsonlSink,
    warc: Option<WarcSink>,
}

impl Sinks {
    pub fn open(store: &dyn Store, jsonl: &Path, warc: Option<&Path>) -> Result<Self, SinkError> {
        Ok(Self {
            jsonl: JsonlSink::open(store, jsonl)?,
            warc: warc.map(|p| WarcSink::open(store, p)).transpose()?,
        })
    }

    /// Delivers what the store holds beyond each sink's offset; returns the number of
    /// records written to the JSONL output.
    pub fn drain(&mut self, store: &dyn Store) -> Result<usize, SinkError> {
        if let Some(warc) = &mut self.warc {
            warc.drain(store)?;
        }
        self.jsonl.drain(store)
    }
}

/// Appends records to a JSON Lines file.
pub struct JsonlSink {
    path: PathBuf,
    name: String,
    file: File,
    offset: SinkOffset,
}

impl JsonlSink {
    /// Opens the output, repairing it to the last saved offset.
    pub fn open(store: &dyn Store, path: &Path) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let name = format!("jsonl:{}", path.display());
        let offset = store.sink_offset(&name)?.unwrap_or_default();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(io)?;
        cut_back(&file, path, offset.bytes)?;
        Ok(Self {
            path: path.to_path_buf(),
            name,
            file,
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
            for (_, record) in &batch {
                buf.extend_from_slice(record);
                buf.push(b'\n');
            }
            let io = |source| SinkError::Io {
                path: self.path.display().to_string(),
                source,
            };
            self.file.write_all(&buf).map_err(io)?;
            self.file.sync_data().map_err(io)?;
            self.offset = SinkOffset {
                seq: last_seq,
                bytes: self.offset.bytes + buf.len() as u64,
            };
            store.set_sink_offset(&self.name, self.offset)?;
            written += batch.len();
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn unsaved_and_partial_lines_are_cut_and_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("db")).unwrap();
        let out = dir.path().join("out/records.jsonl");
        add_record(&store, "{\"n\":1}");
        let mut sink = JsonlSink::open(&store, &out).unwrap();
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
        let mut sink = JsonlSink::open(&store, &out).unwrap();
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
        JsonlSink::open(&store, &out)
            .unwrap()
            .drain(&store)
            .unwrap();
        std::fs::write(&out, "").unwrap();
        let err = JsonlSink::open(&store, &out).err().unwrap().to_string();
        assert!(err.contains("changed outside the crawler"), "{err}");
    }
}
