//! The crawl's wall-clock times as they are stored and written: Unix milliseconds in
//! the store, RFC 3339 text (UTC) in records, WARC headers, states and reports.
//!
//! Invariant: one spelling per use: milliseconds in records and WARC headers, whole
//! seconds in the `status` and `/status` reports.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Now, as records and WARC headers write it.
pub fn rfc3339_now() -> String {
    rfc3339(chrono::Utc::now())
}

/// A time as records, states and WARC headers write it (RFC 3339, milliseconds, UTC).
pub fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A Unix-ms time as the reports write it (RFC 3339, whole seconds, UTC).
pub fn rfc3339_secs(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
