//! A JSON Lines output written as a numbered series of files (`records.jsonl`, then
//! `records.1.jsonl`, ... once a file holds `rotate_bytes`), at a position its owner
//! saves after each append: the sled store for a one-machine crawl, Redis for a worker
//! of a shared one.
//!
//! Invariant: [`Series::append`] has synced the lines to disk when it returns their
//! new position, and [`Series::open`] at a saved position removes the files started
//! after it and cuts the current one back to it. What was written after the last
//! saved position is gone, to be written again, so each line is in the series once.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{cut_back, SinkError};

/// How far a series is written: which file, and its length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The file's number in the series (0: the first, `records.jsonl`).
    pub file: u32,
    pub bytes: u64,
}

/// File `n` of a series: `records.jsonl`, `records.1.jsonl`, `records.2.jsonl`, ...
pub fn series_path(base: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return base.to_path_buf();
    }
    let stem = base.file_stem().unwrap_or_default().to_string_lossy();
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{n}"),
    };
    base.with_file_name(name)
}

/// An open series, appending to its current file.
pub struct Series {
    base: PathBuf,
    path: PathBuf,
    file: File,
    at: Position,
    rotate_bytes: Option<u64>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SinkError + '_ {
    move |source| SinkError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Series {
    /// Opens the series at the position its owner saved last. With none saved, the
    /// series must not exist yet: files there were written by something else (another
    /// crawl, or this one before its state was deleted), and are refused, never cut.
    pub fn open(
        base: &Path,
        saved: Option<Position>,
        rotate_bytes: Option<u64>,
    ) -> Result<Self, SinkError> {
        if let Some(parent) = base.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io(base))?;
        }
        let at = match saved {
            Some(at) => at,
            None => {
                for n in [0, 1] {
                    let path = series_path(base, n);
                    if let Ok(meta) = std::fs::metadata(&path) {
                        if meta.len() > 0 || n > 0 {
                            return Err(SinkError::Unknown {
                                path: path.display().to_string(),
                                bytes: meta.len(),
                            });
                        }
                    }
                }
                Position::default()
            }
        };
        let mut later = at.file + 1;
        while series_path(base, later).exists() {
            let path = series_path(base, later);
            tracing::info!(file = %path.display(), "removing an output file started after the last saved offset");
            std::fs::remove_file(&path).map_err(io(&path))?;
            later += 1;
        }
        let path = series_path(base, at.file);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        cut_back(&file, &path, at.bytes)?;
        Ok(Self {
            base: base.to_path_buf(),
            path,
            file,
            at,
            rotate_bytes,
        })
    }

    /// Where the series is written up to.
    pub fn position(&self) -> Position {
        self.at
    }

    /// Appends whole lines and syncs them, first moving on to the next file when the
    /// current one holds `rotate_bytes`; returns the new position, for the owner to
    /// save. On an error nothing of `lines` counts: the file is cut back.
    pub fn append(&mut self, lines: &[u8]) -> Result<Position, SinkError> {
        if lines.is_empty() {
            return Ok(self.at);
        }
        if self
            .rotate_bytes
            .is_some_and(|limit| self.at.bytes >= limit)
        {
            self.rotate()?;
        }
        if let Err(e) = self
            .file
            .write_all(lines)
            .and_then(|()| self.file.sync_data())
        {
            let _ = self.file.set_len(self.at.bytes);
            return Err(io(&self.path)(e));
        }
        self.at.bytes += lines.len() as u64;
        Ok(self.at)
    }

    /// Moves on to the next file of the series.
    fn rotate(&mut self) -> Result<(), SinkError> {
        let next = self.at.file + 1;
        let path = series_path(&self.base, next);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        self.file = file;
        self.path = path;
        self.at = Position {
            file: next,
            bytes: 0,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_rotates_and_reopens_at_its_saved_position() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("out/records.jsonl");
        let mut series = Series::open(&base, None, Some(10)).unwrap();
        let first = series.append(b"0123456789\n").unwrap();
        assert_eq!(first, Position { file: 0, bytes: 11 });
        let second = series.append(b"abc\n").unwrap();
        assert_eq!(second, Position { file: 1, bytes: 4 });
        series.append(b"lost 0123456789\n").unwrap();
        series.append(b"lost too\n").unwrap();
        drop(series);
        assert!(series_path(&base, 2).exists());

        // Reopened where `second` was saved: later lines and files are gone.
        let mut series = Series::open(&base, Some(second), Some(10)).unwrap();
        assert!(!series_path(&base, 2).exists());
        series.append(b"again\n").unwrap();
        assert_eq!(std::fs::read(&base).unwrap(), b"0123456789\n");
        assert_eq!(
            std::fs::read(series_path(&base, 1)).unwrap(),
            b"abc\nagain\n"
        );
    }

    #[test]
    fn files_written_by_something_else_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("records.jsonl");
        std::fs::write(&base, "{}\n").unwrap();
        assert!(matches!(
            Series::open(&base, None, None),
            Err(SinkError::Unknown { bytes: 3, .. })
        ));
        std::fs::write(&base, "").unwrap();
        std::fs::write(series_path(&base, 1), "").unwrap();
        assert!(matches!(
            Series::open(&base, None, None),
            Err(SinkError::Unknown { .. })
        ));
        assert_eq!(std::fs::read(series_path(&base, 1)).unwrap(), b"");
    }

    #[test]
    fn a_file_shorter_than_its_saved_position_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("records.jsonl");
        std::fs::write(&base, "{}\n").unwrap();
        let saved = Position { file: 0, bytes: 10 };
        assert!(matches!(
            Series::open(&base, Some(saved), None),
            Err(SinkError::Shrunk {
                actual: 3,
                expected: 10,
                ..
            })
        ));
    }

    #[test]
    fn series_paths_number_the_files_before_the_extension() {
        let base = Path::new("/data/records.jsonl");
        assert_eq!(series_path(base, 0), base);
        assert_eq!(series_path(base, 2), Path::new("/data/records.2.jsonl"));
        assert_eq!(series_path(Path::new("out"), 1), Path::new("out.1"));
    }
}
