//! How the sled store lays out its keys and values: postcard values, frontier keys
//! (host hash, priority and due time, sequence), frontier segments (entries, length
//! first),
//! sequence-keyed trees, packed `seen` chunks, and schema 2's queue entries.
//!
//! Invariant: every key and value the store writes is built here and read back here,
//! so a layout changes in one place (and with a schema version).

use super::*;

pub(super) const QUEUE_HOST_LEN: usize = 8;

/// A URL fingerprint's first 64 bits: what the seen set keeps.
pub(super) fn short_fingerprint(fp: &Fingerprint) -> u64 {
    u64::from_le_bytes(fp[..8].try_into().expect("fingerprints are 16 bytes"))
}

/// Packs short fingerprints into a `seen` chunk.
pub(super) fn pack_seen(fps: &[u64]) -> Vec<u8> {
    fps.iter().flat_map(|fp| fp.to_le_bytes()).collect()
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("store values always serialize")
}

pub(super) fn decode<T: DeserializeOwned>(
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

pub(super) fn host_prefix(host: &str) -> [u8; QUEUE_HOST_LEN] {
    let mut out = [0u8; QUEUE_HOST_LEN];
    out.copy_from_slice(&blake3::hash(host.as_bytes()).as_bytes()[..QUEUE_HOST_LEN]);
    out
}

/// The due field's top bit: set for [`Priority::Found`], clear for
/// [`Priority::Revisit`], so a host's revisits sort before its found URLs. Keys written
/// before the bit existed read as revisits, which is the order they had.
const FOUND_BIT: u64 = 1 << 63;

pub(super) fn queue_key(host: &str, priority: Priority, due_ms: u64, seq: u64) -> Vec<u8> {
    let field = match priority {
        Priority::Revisit => due_ms & !FOUND_BIT,
        Priority::Found => due_ms | FOUND_BIT,
    };
    let mut key = Vec::with_capacity(QUEUE_HOST_LEN + 16);
    key.extend_from_slice(&host_prefix(host));
    key.extend_from_slice(&field.to_be_bytes());
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn due_field(key: &[u8]) -> u64 {
    let mut due = [0u8; 8];
    due.copy_from_slice(&key[QUEUE_HOST_LEN..QUEUE_HOST_LEN + 8]);
    u64::from_be_bytes(due)
}

pub(super) fn due_of(key: &[u8]) -> u64 {
    due_field(key) & !FOUND_BIT
}

/// The key range of `host`'s entries of one class, in the order they are served.
pub(super) fn class_range(host: &str, priority: Priority) -> (Vec<u8>, Option<Vec<u8>>) {
    let prefix = host_prefix(host);
    let mut found = prefix.to_vec();
    found.push(0x80);
    match priority {
        Priority::Revisit => (prefix.to_vec(), Some(found)),
        Priority::Found => {
            let mut end = prefix.to_vec();
            (found, increment(&mut end).then_some(end))
        }
    }
}

/// Entries in an encoded segment, read from its length prefix (a postcard varint, as
/// a `u64` is encoded) without decoding the entries.
pub(super) fn segment_len(key: &[u8], value: &[u8]) -> Result<u64, StoreError> {
    postcard::take_from_bytes::<u64>(value)
        .map(|(len, _)| len)
        .map_err(|e| StoreError::Corrupt {
            tree: "frontier",
            key: format!("{key:?}"),
            reason: format!("no segment length: {e}"),
        })
}

/// The first entry of an encoded segment, decoding no other.
pub(super) fn segment_first(key: &[u8], value: &[u8]) -> Result<Option<QueueEntry>, StoreError> {
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
pub(super) struct QueueEntryV2 {
    pub(super) url: String,
    pub(super) site: String,
    pub(super) kind: UrlKind,
    pub(super) depth: u32,
    pub(super) redirects: u8,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
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
pub(super) fn segment_value(entries: &[&QueueEntry]) -> Vec<u8> {
    encode(&entries)
}

/// Writes `entries` into the frontier inside a transaction, grouped by host in
/// segments of at most [`SEGMENT_MAX`], due at `due_ms` in class `priority`, in the
/// order given.
pub(super) fn write_segments<'a>(
    frontier: &sled::transaction::TransactionalTree,
    entries: impl IntoIterator<Item = &'a QueueEntry>,
    priority: Priority,
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
            frontier.insert(
                queue_key(host, priority, due_ms, seq),
                segment_value(segment),
            )?;
        }
    }
    Ok(())
}

/// The sequence number a key of a sequence-keyed tree (outbox, captures) holds.
pub(super) fn sequence_of(tree: &'static str, key: &[u8]) -> Result<u64, StoreError> {
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
pub(super) fn decode_sink_offset(key: &[u8], bytes: &[u8]) -> Result<SinkOffset, StoreError> {
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

/// Adds one to a big-endian byte string; false when it overflows.
pub(super) fn increment(bytes: &mut [u8]) -> bool {
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
