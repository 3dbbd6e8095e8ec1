//! The WARC/1.1 sink: every captured exchange as a `request` and a `response` record,
//! each its own gzip member, for archivists (readable by warcio, pywb, wget's tools).
//!
//! Invariant: the same exactly-once protocol as the JSONL sink. Captures are read
//! from the store only after a flush; the offset (capture sequence and file length)
//! is saved after the file is synced, and on start-up the file is cut back to the
//! saved length, which is always at a gzip member boundary. Record ids are derived
//! from the capture's key (its sequence number in the store, its stream entry in
//! Redis), so a record written again after a crash has the id it had. [`WarcFile`]
//! and [`capture_members`] are what a shared worker's sink writes with.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha1::{Digest, Sha1};

use super::SinkError;
use crate::store::{Capture, SinkOffset, Store};

/// Response headers that describe the bytes on the wire, not the decoded payload
/// the crawler keeps; they are dropped (and Content-Length rewritten).
const WIRE_HEADERS: &[&str] = &["content-encoding", "transfer-encoding", "content-length"];

/// A `.warc.gz` file written at a position its owner saves after each append (the
/// sled store for a one-machine crawl, Redis for a worker of a shared one).
pub struct WarcFile {
    path: PathBuf,
    file: File,
    bytes: u64,
}

impl WarcFile {
    /// Opens the file at the length its owner saved last, cut back to it (always a
    /// gzip member boundary); with none saved, the file must be empty (another
    /// crawl's is refused). The owner saves the length before it calls
    /// [`WarcFile::begin`], so that nothing is ever written that no saved length
    /// accounts for.
    pub fn open(path: &Path, saved: Option<u64>) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let bytes = match saved {
            Some(bytes) => bytes,
            None => {
                let found = file.metadata().map_err(io)?.len();
                if found > 0 {
                    return Err(SinkError::Unknown {
                        path: path.display().to_string(),
                        bytes: found,
                    });
                }
                0
            }
        };
        super::cut_back(&file, path, bytes)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            bytes,
        })
    }

    /// Starts an empty file with its `warcinfo` record; returns the length.
    pub fn begin(&mut self) -> Result<u64, SinkError> {
        if self.bytes > 0 {
            return Ok(self.bytes);
        }
        let info = warcinfo(&self.path);
        self.append(&info)
    }

    /// The file's length, written and synced.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends whole gzip members and syncs them; returns the new length, for the
    /// owner to save. On an error nothing of `members` counts: the file is cut back.
    pub fn append(&mut self, members: &[u8]) -> Result<u64, SinkError> {
        if members.is_empty() {
            return Ok(self.bytes);
        }
        if let Err(source) = self
            .file
            .write_all(members)
            .and_then(|()| self.file.sync_data())
        {
            let _ = self.file.set_len(self.bytes);
            return Err(SinkError::Io {
                path: self.path.display().to_string(),
                source,
            });
        }
        self.bytes += members.len() as u64;
        Ok(self.bytes)
    }
}

/// The request and response records of one capture, each its own gzip member. `key`
/// names the capture for good (its record ids derive from it), so a capture written
/// again after a crash keeps its ids.
pub fn capture_members(key: &str, capture: &Capture) -> Vec<u8> {
    let (request, response) = records(key, capture);
    let mut out = gzip(&request);
    out.extend(gzip(&response));
    out
}

/// Appends the store's captures to a `.warc.gz` file.
pub struct WarcSink {
    name: String,
    file: WarcFile,
    offset: SinkOffset,
}

impl WarcSink {
    /// Opens the output, repairing it to the last saved offset; a new file starts
    /// with a `warcinfo` record.
    pub fn open(store: &dyn Store, path: &Path) -> Result<Self, SinkError> {
        let name = format!("warc:{}", path.display());
        let saved = store.sink_offset(&name)?;
        let mut file = WarcFile::open(path, saved.map(|o| o.bytes))?;
        let mut offset = saved.unwrap_or_default();
        if saved.is_none() {
            store.set_sink_offset(&name, offset)?;
        }
        if file.bytes() == 0 {
            offset.bytes = file.begin()?;
            store.set_sink_offset(&name, offset)?;
        }
        Ok(Self { name, file, offset })
    }

    /// Writes every capture after the saved offset. The caller must have flushed the
    /// store first.
    pub fn drain(&mut self, store: &dyn Store) -> Result<usize, SinkError> {
        let mut written = 0;
        loop {
            let batch = store.captures_after(self.offset.seq, 64)?;
            let Some((last_seq, _)) = batch.last() else {
                return Ok(written);
            };
            let last_seq = *last_seq;
            let mut buf = Vec::new();
            for (seq, capture) in &batch {
                buf.extend(capture_members(&seq.to_string(), capture));
            }
            let bytes = self.file.append(&buf)?;
            self.offset = SinkOffset {
                seq: last_seq,
                bytes,
                file: 0,
            };
            store.set_sink_offset(&self.name, self.offset)?;
            written += batch.len();
        }
    }
}

fn gzip(record: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(record.len() / 3), Compression::default());
    encoder
        .write_all(record)
        .and_then(|()| encoder.finish())
        .expect("writing to memory does not fail")
}

/// `sha1:` and the base32 digest, as WARC writers put it.
fn digest(bytes: &[u8]) -> String {
    format!(
        "sha1:{}",
        data_encoding::BASE32.encode(&Sha1::digest(bytes))
    )
}

/// A stable record id: a UUID built from the capture's key, URL and role.
fn record_id(key: &str, url: &str, role: &str) -> String {
    let hash = blake3::hash(format!("{key}\n{url}\n{role}").as_bytes());
    let mut b: [u8; 16] = hash.as_bytes()[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80; // version 8: custom
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn record(headers: &[(&str, String)], block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len() + 512);
    out.extend_from_slice(b"WARC/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", block.len()).as_bytes());
    out.extend_from_slice(block);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// Header values may not break the record's framing.
fn clean(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// The request and response records of one capture.
fn records(key: &str, c: &Capture) -> (Vec<u8>, Vec<u8>) {
    let url = url::Url::parse(&c.url).ok();
    let target = url.as_ref().map_or("/".to_string(), |u| {
        let mut t = u.path().to_string();
        if let Some(q) = u.query() {
            t.push('?');
            t.push_str(q);
        }
        t
    });
    let mut request_block = format!("GET {target} {}\r\n", c.http_version);
    for (name, value) in &c.request_headers {
        request_block.push_str(&format!("{name}: {}\r\n", clean(value)));
    }
    request_block.push_str("\r\n");

    let reason = reqwest::StatusCode::from_u16(c.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut head = format!("{} {} {reason}\r\n", c.http_version, c.status);
    for (name, value) in &c.response_headers {
        if WIRE_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        head.push_str(&format!("{name}: {}\r\n", clean(value)));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", c.body.len()));
    let mut response_block = head.into_bytes();
    response_block.extend_from_slice(&c.body);

    let response_id = record_id(key, &c.url, "response");
    let mut common = vec![
        ("WARC-Date", c.date.clone()),
        ("WARC-Target-URI", clean(&c.url)),
    ];
    if let Some(ip) = &c.ip {
        common.push(("WARC-IP-Address", ip.clone()));
    }
    let mut response_headers = vec![
        ("WARC-Type", "response".to_string()),
        ("WARC-Record-ID", response_id.clone()),
    ];
    response_headers.extend(common.iter().cloned());
    response_headers.extend([
        ("WARC-Payload-Digest", digest(&c.body)),
        ("WARC-Block-Digest", digest(&response_block)),
        (
            "Content-Type",
            "application/http;msgtype=response".to_string(),
        ),
    ]);
    let mut request_headers = vec![
        ("WARC-Type", "request".to_string()),
        ("WARC-Record-ID", record_id(key, &c.url, "request")),
        ("WARC-Concurrent-To", response_id),
    ];
    request_headers.extend(common);
    request_headers.extend([
        ("WARC-Block-Digest", digest(request_block.as_bytes())),
        (
            "Content-Type",
            "application/http;msgtype=request".to_string(),
        ),
    ]);
    (
        record(&request_headers, request_block.as_bytes()),
        record(&response_headers, &response_block),
    )
}

/// The `warcinfo` record that opens a file.
fn warcinfo(path: &Path) -> Vec<u8> {
    let block = format!(
        "software: newscrawl/{}\r\nformat: WARC File Format 1.1\r\nconformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let filename = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let headers = [
        ("WARC-Type", "warcinfo".to_string()),
        ("WARC-Record-ID", record_id("0", &filename, "warcinfo")),
        ("WARC-Date", crate::clock::rfc3339_now()),
        ("WARC-Filename", clean(&filename)),
        ("Content-Type", "application/warc-fields".to_string()),
    ];
    gzip(&record(&headers, block.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_frame_their_blocks_and_drop_wire_headers() {
        let capture = Capture {
            url: "https://news.example/a?b=1".into(),
            date: "2026-11-29T08:00:00.000Z".into(),
            request_headers: vec![("host".into(), "news.example".into())],
            http_version: "HTTP/1.1".into(),
            status: 200,
            response_headers: vec![
                ("content-type".into(), "text/html".into()),
                ("content-encoding".into(), "gzip".into()),
                ("content-length".into(), "7".into()),
            ],
            body: b"<p>hi</p>".to_vec(),
            ip: Some("127.0.0.1".into()),
        };
        let (request, response) = records("7", &capture);
        let request = String::from_utf8(request).unwrap();
        assert!(request.starts_with("WARC/1.1\r\nWARC-Type: request\r\n"));
        assert!(
            request.contains("\r\n\r\nGET /a?b=1 HTTP/1.1\r\nhost: news.example\r\n\r\n\r\n\r\n")
        );
        let response = String::from_utf8(response).unwrap();
        assert!(response.contains(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nContent-Length: 9\r\n\r\n<p>hi</p>"
        ));
        assert!(!response.contains("gzip"));
        assert_eq!(
            record_id("7", &capture.url, "response"),
            record_id("7", &capture.url, "response")
        );
        assert_ne!(
            record_id("7", &capture.url, "response"),
            record_id("8", &capture.url, "response")
        );
        assert!(response.contains(&format!("WARC-Payload-Digest: {}", digest(b"<p>hi</p>"))));
    }

    #[test]
    fn a_warcinfo_written_before_its_length_was_saved_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::SledStore::open(&dir.path().join("db")).unwrap();
        let path = dir.path().join("crawl.warc.gz");
        // Opening writes nothing: its owner saves the length first, then begins.
        let mut file = WarcFile::open(&path, None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(file.begin().unwrap() > 0);
        std::fs::write(&path, b"").unwrap();

        let first = WarcSink::open(&store, &path).unwrap();
        let info = std::fs::read(&path).unwrap();
        assert_eq!(first.offset.bytes, info.len() as u64);
        assert_eq!(&info[..2], b"\x1f\x8b", "a gzip member");
        drop(first);

        // The process died after it registered the sink and wrote the warcinfo
        // record, before it saved the file's length: the next start cuts the record
        // away and writes it again, rather than refusing a file it does not know.
        let name = format!("warc:{}", path.display());
        store.set_sink_offset(&name, SinkOffset::default()).unwrap();
        let again = WarcSink::open(&store, &path).unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(again.offset.bytes, file.len() as u64);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&file[..]), &mut text)
            .unwrap();
        assert_eq!(text.matches("WARC/1.1\r\n").count(), 1, "{text}");
        assert!(text.contains("WARC-Type: warcinfo"), "{text}");

        // A file the store has no offset for is another crawl's.
        let other = tempfile::tempdir().unwrap();
        let store = crate::store::SledStore::open(&other.path().join("db")).unwrap();
        assert!(matches!(
            WarcSink::open(&store, &path),
            Err(SinkError::Unknown { .. })
        ));
    }
}
