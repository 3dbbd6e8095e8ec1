//! Reading a WARC file back with an independent reader (the `warc` crate), and what
//! a fixture server's log says should be in it.

use std::path::Path;

use newscrawl::fixture::FixtureServer;

/// The records of a WARC file as the `warc` crate reads them.
pub fn read_warc(path: &Path) -> Vec<serde_json::Value> {
    use sha1::Digest;
    use warc::{WarcHeader, WarcReader};
    let reader = WarcReader::from_path_gzip(path).expect("the file opens");
    let mut out = Vec::new();
    for record in reader.iter_records() {
        let record = record.expect("every record parses");
        let header = |h: WarcHeader| record.header(h).map(|v| v.into_owned());
        let mut item = serde_json::json!({
            "type": record.warc_type().to_string(),
            "uri": header(WarcHeader::TargetURI),
            "id": record.warc_id(),
            "concurrent": header(WarcHeader::ConcurrentTo),
        });
        if record.warc_type().to_string() == "response" {
            let body = record.body();
            let split = body
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("an HTTP head");
            let status_line = String::from_utf8_lossy(&body[..split]);
            let status: u64 = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("a status code");
            let payload = &body[split + 4..];
            let digest = format!(
                "sha1:{}",
                data_encoding::BASE32.encode(&sha1::Sha1::digest(payload))
            );
            item["status"] = status.into();
            item["digest_ok"] = (Some(digest) == header(WarcHeader::PayloadDigest)).into();
            item["length"] = (payload.len() as u64).into();
        }
        out.push(item);
    }
    out
}

/// Response records by (URL, status), from the file and from the server's log.
pub fn responses(records: &[serde_json::Value]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = records
        .iter()
        .filter(|r| r["type"] == "response")
        .map(|r| {
            (
                r["uri"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The page requests (not robots.txt) the server answered, by (URL, status).
pub fn logged(server: &FixtureServer) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = server
        .requests()
        .iter()
        .filter(|r| r.target != "/robots.txt")
        .map(|r| {
            (
                format!("{}{}", server.origin(), r.target),
                u64::from(r.status),
            )
        })
        .collect();
    out.sort();
    out
}
