//! The seen snapshot: the file `seen.snapshot` beside sled's files, which holds the
//! fingerprints of the `seen` log's chunks up to one key, so that those chunks can
//! leave the log. Opening a store reads it with plain file reads: the seen log's
//! chunks, read through sled, stayed resident in sled's cache after they were loaded.
//!
//! Format (integers little-endian): the magic `NCSEEN01`; the last `seen` key the
//! snapshot covers (u64); the fingerprints (u64 each, as many as the file's length
//! leaves room for); then the BLAKE3 hash of everything before it (32 bytes).
//!
//! Invariant: the file is replaced whole or not at all (written beside it, synced,
//! renamed over it, and the directory synced), and it is never read without its
//! length and hash being checked.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

pub(super) const SNAPSHOT_FILE: &str = "seen.snapshot";
const MAGIC: &[u8; 8] = b"NCSEEN01";
const HEADER_LEN: u64 = 16;
const HASH_LEN: u64 = 32;

/// A snapshot read back.
pub(super) struct SeenSnapshot {
    /// The last `seen` key (a sequence number) whose fingerprints it holds.
    pub(super) covers: u64,
    pub(super) fingerprints: Vec<u64>,
}

/// Reads the snapshot in `dir`, with room for `more` fingerprints after it; `None`
/// when there is none. The error says what is wrong with the file.
pub(super) fn read(dir: &Path, more: usize) -> Result<Option<SeenSnapshot>, String> {
    let path = dir.join(SNAPSHOT_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read its {SNAPSHOT_FILE} file: {e}")),
    };
    let damaged = |what: String| format!("its {SNAPSHOT_FILE} file {what}");
    let io = |e: std::io::Error| damaged(format!("cannot be read: {e}"));
    let len = file.metadata().map_err(io)?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut hasher = blake3::Hasher::new();
    let mut header = [0u8; HEADER_LEN as usize];
    reader
        .read_exact(&mut header)
        .map_err(|_| damaged(format!("is {len} bytes, shorter than its header")))?;
    hasher.update(&header);
    if &header[..8] != MAGIC {
        return Err(damaged("does not start with NCSEEN01".into()));
    }
    let covers = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    let body = len.saturating_sub(HEADER_LEN + HASH_LEN);
    if len < HEADER_LEN + HASH_LEN || body % 8 != 0 {
        return Err(damaged(format!(
            "is {len} bytes: not a header, whole fingerprints and a hash"
        )));
    }
    let count = (body / 8) as usize;
    let mut fingerprints = Vec::with_capacity(count + more);
    let mut buffer = vec![0u8; 1 << 16];
    let mut left = count * 8;
    while left > 0 {
        let part = &mut buffer[..left.min(1 << 16)];
        reader.read_exact(part).map_err(io)?;
        hasher.update(part);
        fingerprints.extend(
            part.chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
        );
        left -= part.len();
    }
    let mut stored_hash = [0u8; HASH_LEN as usize];
    reader.read_exact(&mut stored_hash).map_err(io)?;
    if hasher.finalize().as_bytes() != &stored_hash {
        return Err(damaged("fails its checksum".into()));
    }
    Ok(Some(SeenSnapshot {
        covers,
        fingerprints,
    }))
}

/// Replaces the snapshot in `dir` with `fingerprints`, covering the `seen` log up to
/// key `covers`. When it returns, the new file is on disk.
pub(super) fn write(
    dir: &Path,
    covers: u64,
    fingerprints: impl Iterator<Item = u64>,
) -> std::io::Result<()> {
    let path = dir.join(SNAPSHOT_FILE);
    let fresh = dir.join(format!("{SNAPSHOT_FILE}.new"));
    let file = File::create(&fresh)?;
    let mut writer = HashingWriter {
        inner: BufWriter::with_capacity(1 << 16, file),
        hasher: blake3::Hasher::new(),
    };
    writer.write_all(MAGIC)?;
    writer.write_all(&covers.to_le_bytes())?;
    for fp in fingerprints {
        writer.write_all(&fp.to_le_bytes())?;
    }
    let hash = writer.hasher.finalize();
    let mut inner = writer.inner;
    inner.write_all(hash.as_bytes())?;
    let file = inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&fresh, &path)?;
    File::open(dir)?.sync_all()
}

/// Hashes what it writes.
struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read(dir.path(), 0).unwrap().is_none(),
            "no file, no snapshot"
        );
        let fps: Vec<u64> = (0..100_000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        write(dir.path(), 42, fps.iter().copied()).unwrap();
        let snapshot = read(dir.path(), 10).unwrap().unwrap();
        assert_eq!(snapshot.covers, 42);
        assert_eq!(snapshot.fingerprints, fps);
        assert!(snapshot.fingerprints.capacity() >= fps.len() + 10);
        assert!(!dir.path().join(format!("{SNAPSHOT_FILE}.new")).exists());
    }

    #[test]
    fn a_damaged_snapshot_is_refused_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SNAPSHOT_FILE);
        write(dir.path(), 7, [1, 2, 3].into_iter()).unwrap();
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        flipped[HEADER_LEN as usize + 3] ^= 1;
        std::fs::write(&path, &flipped).unwrap();
        let error = read(dir.path(), 0).err().unwrap();
        assert!(
            error.contains("seen.snapshot") && error.contains("checksum"),
            "{error}"
        );

        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        let error = read(dir.path(), 0).err().unwrap();
        assert!(error.contains("whole fingerprints"), "{error}");

        std::fs::write(&path, b"NCSEEN0").unwrap();
        let error = read(dir.path(), 0).err().unwrap();
        assert!(error.contains("shorter than its header"), "{error}");

        let mut other = good;
        other[..8].copy_from_slice(b"SOMETHIN");
        std::fs::write(&path, &other).unwrap();
        let error = read(dir.path(), 0).err().unwrap();
        assert!(error.contains("NCSEEN01"), "{error}");
    }
}
