//! What a crawl's state holds, for people: the `status` summary and the `export` of
//! records.
//!
//! Invariant: reading only. Nothing here changes the store, so `status` and `export`
//! are safe on any state directory (but, as sled allows one process per store, not on
//! one a crawler has open).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::clock::rfc3339_secs as rfc3339;
use crate::health::HealthReport;
use crate::store::{RevisitSchedule, Store, StoreError, UrlStatus};

/// Counts and queues of one crawl's state.
#[derive(Debug, Serialize)]
pub struct Status {
    pub urls: usize,
    pub by_status: BTreeMap<String, usize>,
    pub by_kind: BTreeMap<String, usize>,
    pub queued_hosts: Vec<HostQueue>,
    /// Daemon mode: each listing page's estimated change rate and revisit interval.
    pub listing_pages: Vec<ListingPage>,
    /// The most recent failures, newest first.
    pub last_errors: Vec<UrlError>,
    pub records: u64,
    /// Sequence number of the newest record (for `export --since`).
    pub last_sequence: u64,
    pub sinks: Vec<SinkStatus>,
    pub bytes_on_disk: u64,
    /// Extraction health as the last run left it: per site, the share of recent
    /// article pages missing each field, and alerts.
    pub extraction: HealthReport,
}

#[derive(Debug, Serialize)]
pub struct HostQueue {
    pub host: String,
    pub queued: u64,
    /// RFC 3339.
    pub next_due: String,
    /// Why the host's robots.txt could not be read, when its last try failed (its URLs
    /// wait until it can be): a TLS certificate problem, an outage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robots_error: Option<String>,
}

/// A listing page's revisit schedule as the reports (`status`, `/status`) show it.
#[derive(Debug, Serialize)]
pub struct ListingPage {
    pub url: String,
    pub site: String,
    pub changes_per_hour: f64,
    pub interval_seconds: f64,
    /// The mean time from a new article to the visit that finds it.
    pub expected_latency_seconds: f64,
    pub next_due: String,
    pub last_visit: String,
    /// The last visit that found a URL never seen before (the first visit, when every
    /// URL was).
    pub last_change: Option<String>,
}

impl From<RevisitSchedule> for ListingPage {
    fn from(s: RevisitSchedule) -> Self {
        Self {
            changes_per_hour: s.estimate.changes_per_hour(),
            interval_seconds: s.estimate.interval_ms as f64 / 1000.0,
            expected_latency_seconds: s.estimate.expected_latency_ms() as f64 / 1000.0,
            next_due: rfc3339(s.next_due_ms),
            last_visit: rfc3339(s.estimate.last_visit_ms),
            last_change: s.estimate.last_change_ms.map(rfc3339),
            url: s.url,
            site: s.site,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UrlError {
    pub url: String,
    pub error: String,
    pub at: String,
}

#[derive(Debug, Serialize)]
pub struct SinkStatus {
    pub name: String,
    pub delivered_up_to: u64,
    pub bytes: u64,
}

/// Reads the whole state (a scan of every URL: seconds for millions).
pub fn status(store: &dyn Store, errors: usize) -> Result<Status, StoreError> {
    let states = store.url_states()?;
    let (records, last_sequence) = store.outbox_stats()?;
    let mut by_status = BTreeMap::new();
    let mut by_kind = BTreeMap::new();
    let mut failures = Vec::new();
    for s in &states {
        *by_status.entry(format!("{:?}", s.status)).or_insert(0) += 1;
        *by_kind.entry(format!("{:?}", s.kind)).or_insert(0) += 1;
        if s.status == UrlStatus::Failed {
            failures.push((
                s.fetched_at_ms,
                s.url.clone(),
                s.note.clone().unwrap_or_default(),
            ));
        }
    }
    failures.sort_by_key(|f| std::cmp::Reverse(f.0));
    let queued_hosts = store
        .queue_by_host()?
        .into_iter()
        .map(|(host, queued, due)| {
            let robots_error = store
                .host(&host)?
                .and_then(|record| record.robots)
                .and_then(|copy| copy.error);
            Ok(HostQueue {
                host,
                queued,
                next_due: rfc3339(due),
                robots_error,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let mut schedules = store.revisit_schedules()?;
    schedules.sort_by(|a, b| (&a.site, &a.url).cmp(&(&b.site, &b.url)));
    let listing_pages = schedules.into_iter().map(ListingPage::from).collect();
    let sinks = store
        .sink_offsets()?
        .into_iter()
        .map(|(name, o)| SinkStatus {
            name,
            delivered_up_to: o.seq,
            bytes: o.bytes,
        })
        .collect();
    Ok(Status {
        urls: states.len(),
        by_status,
        by_kind,
        queued_hosts,
        listing_pages,
        last_errors: failures
            .into_iter()
            .take(errors)
            .map(|(ms, url, error)| UrlError {
                url,
                error,
                at: rfc3339(ms),
            })
            .collect(),
        records,
        last_sequence,
        sinks,
        bytes_on_disk: store.size_on_disk()?,
        extraction: store
            .get_meta("health")?
            .and_then(|v| serde_json::from_slice(&v).ok())
            .unwrap_or_default(),
    })
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "URLs: {} ({})", self.urls, join(&self.by_status))?;
        writeln!(f, "kinds: {}", join(&self.by_kind))?;
        let queued: u64 = self.queued_hosts.iter().map(|h| h.queued).sum();
        writeln!(
            f,
            "queue: {queued} URLs on {} hosts",
            self.queued_hosts.len()
        )?;
        for h in &self.queued_hosts {
            writeln!(
                f,
                "  {:<40} {:>8} queued, next due {}",
                h.host, h.queued, h.next_due
            )?;
            if let Some(error) = &h.robots_error {
                writeln!(f, "    robots.txt unavailable: {error}")?;
            }
        }
        if !self.listing_pages.is_empty() {
            writeln!(f, "listing pages: {}", self.listing_pages.len())?;
            for l in &self.listing_pages {
                writeln!(
                    f,
                    "  {:<50} {:>7.2} changes/h, every {:>6.0} s, expected latency {:>6.0} s, next {}",
                    l.url, l.changes_per_hour, l.interval_seconds, l.expected_latency_seconds, l.next_due
                )?;
            }
        }
        writeln!(
            f,
            "records: {} (newest has sequence number {})",
            self.records, self.last_sequence
        )?;
        for s in &self.sinks {
            writeln!(
                f,
                "  {}: delivered up to {} ({} bytes)",
                s.name, s.delivered_up_to, s.bytes
            )?;
        }
        if !self.last_errors.is_empty() {
            writeln!(f, "last errors:")?;
            for e in &self.last_errors {
                writeln!(f, "  {} {} {}", e.at, e.url, e.error)?;
            }
        }
        if !self.extraction.sites.is_empty() {
            writeln!(
                f,
                "extraction (share of recent article pages missing a field):"
            )?;
            for s in &self.extraction.sites {
                let missing: Vec<String> = s
                    .missing
                    .iter()
                    .map(|(field, share)| format!("{field} {:.0}%", share * 100.0))
                    .collect();
                writeln!(
                    f,
                    "  {:<24} {} pages: {}",
                    s.site,
                    s.pages,
                    missing.join(", ")
                )?;
            }
        }
        for a in &self.extraction.alerts {
            writeln!(
                f,
                "  alert {} {}: {} stopped being found, e.g. {}",
                a.at,
                a.site,
                a.field,
                a.sample_urls.first().map_or("", String::as_str)
            )?;
        }
        write!(f, "on disk: {:.1} MB", self.bytes_on_disk as f64 / 1e6)
    }
}

/// Writes every record with a sequence number above `since`, one JSON line each, in
/// commit order; returns how many.
pub fn export(store: &dyn Store, since: u64, out: &mut dyn Write) -> Result<u64, ExportError> {
    let mut after = since;
    let mut written = 0;
    loop {
        let batch = store.outbox_after(after, 1024)?;
        let Some((last, _)) = batch.last() else {
            return Ok(written);
        };
        after = *last;
        for (_, record) in &batch {
            out.write_all(record)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write records: {0}")]
    Write(#[from] std::io::Error),
}
