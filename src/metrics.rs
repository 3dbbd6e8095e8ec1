//! The crawl's counters, gauges and histograms, kept in a Prometheus registry: the
//! daemon serves them on `/metrics`, the command line's progress bar reads them.
//!
//! Invariant: every request the crawler makes (robots.txt included) is counted exactly
//! once in `newscrawl_requests_total`, when it ends, so the counter matches the
//! servers' access logs once no request is in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// What a request was for and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `page` or `robots`.
    pub kind: &'static str,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `error` when no response came.
    pub class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FieldLabels {
    pub site: String,
    pub field: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListingLabels {
    pub site: String,
    pub url: String,
}

/// A listing page's revisit schedule as `/metrics` shows it.
pub struct ListingGauges<'a> {
    pub site: &'a str,
    pub url: &'a str,
    pub changes_per_hour: f64,
    pub interval_seconds: f64,
    pub expected_latency_seconds: f64,
}

/// The crawl's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes: Counter,
    latency: Histogram,
    host_wait: Counter<f64, AtomicU64>,
    robots_denied: Counter,
    records: Counter,
    pages_parsed: Counter,
    links_queued: Counter,
    links_over_budget: Counter,
    errors: Family<ErrorLabels, Counter>,
    queue_depth: Gauge,
    in_flight: Gauge,
    extraction_missing: Family<FieldLabels, Gauge<f64, AtomicU64>>,
    extraction_alerts: Counter,
    listing_rate: Family<ListingLabels, Gauge<f64, AtomicU64>>,
    listing_interval: Family<ListingLabels, Gauge<f64, AtomicU64>>,
    listing_latency: Family<ListingLabels, Gauge<f64, AtomicU64>>,
    /// Unix ms of the scheduler's last turn (for `/healthz`).
    heartbeat_ms: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The class label of an HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("newscrawl");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests made, by kind (page, robots) and outcome class (2xx..5xx, error)",
            requests.clone(),
        );
        let bytes = Counter::default();
        registry.register(
            "response_bytes",
            "Body bytes received (after decompression)",
            bytes.clone(),
        );
        let latency = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "fetch_duration_seconds",
            "Time from sending a request to having its whole body",
            latency.clone(),
        );
        let host_wait = Counter::<f64, AtomicU64>::default();
        registry.register(
            "host_wait_seconds",
            "Time URLs ready to fetch waited for their host's politeness clock or a free slot",
            host_wait.clone(),
        );
        let robots_denied = Counter::default();
        registry.register(
            "robots_denied",
            "URLs not requested because robots.txt disallows them",
            robots_denied.clone(),
        );
        let records = Counter::default();
        registry.register(
            "records_emitted",
            "Records delivered to the sink",
            records.clone(),
        );
        let pages_parsed = Counter::default();
        registry.register(
            "pages_parsed",
            "Pages handed to a parser",
            pages_parsed.clone(),
        );
        let links_queued = Counter::default();
        registry.register(
            "links_queued",
            "New URLs added to the frontier",
            links_queued.clone(),
        );
        let links_over_budget = Counter::default();
        registry.register(
            "links_over_budget",
            "New links dropped because their host used up crawler.max_urls_per_host",
            links_over_budget.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "errors",
            "Pages that ended in an error, by kind",
            errors.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "URLs in the local frontier (counted when scraped; 0 for a shared-crawl worker, whose queue is in Redis)",
            queue_depth.clone(),
        );
        let in_flight = Gauge::default();
        registry.register("in_flight", "Requests in flight", in_flight.clone());
        let extraction_missing = Family::<FieldLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "extraction_missing_ratio",
            "Share of a site's recent article pages whose record lacks the field",
            extraction_missing.clone(),
        );
        let extraction_alerts = Counter::default();
        registry.register(
            "extraction_alerts",
            "Times a field a site used to provide stopped being found",
            extraction_alerts.clone(),
        );
        let listing_rate = Family::<ListingLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "listing_changes_per_hour",
            "A listing page's estimated new articles an hour (set when scraped)",
            listing_rate.clone(),
        );
        let listing_interval = Family::<ListingLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "listing_interval_seconds",
            "A listing page's revisit interval (set when scraped)",
            listing_interval.clone(),
        );
        let listing_latency = Family::<ListingLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "listing_expected_latency_seconds",
            "Mean time from a new article on a listing page to the visit that finds it (set when scraped)",
            listing_latency.clone(),
        );
        Self {
            registry,
            requests,
            bytes,
            latency,
            host_wait,
            robots_denied,
            records,
            pages_parsed,
            links_queued,
            links_over_budget,
            errors,
            queue_depth,
            in_flight,
            extraction_missing,
            extraction_alerts,
            listing_rate,
            listing_interval,
            listing_latency,
            heartbeat_ms: AtomicU64::new(0),
        }
    }

    /// A request ended: with a response of `status` (and `bytes` of body), or with no
    /// response (`None`).
    pub fn request(&self, kind: &'static str, status: Option<u16>, bytes: u64, took: Duration) {
        let class = status.map_or("error", status_class);
        self.requests
            .get_or_create(&RequestLabels { kind, class })
            .inc();
        self.bytes.inc_by(bytes);
        self.latency.observe(took.as_secs_f64());
    }

    pub fn host_waited(&self, wait: Duration) {
        self.host_wait.inc_by(wait.as_secs_f64());
    }

    pub fn robots_denied(&self) {
        self.robots_denied.inc();
    }

    pub fn records_emitted(&self, n: u64) {
        self.records.inc_by(n);
    }

    pub fn page_parsed(&self) {
        self.pages_parsed.inc();
    }

    pub fn links_queued(&self, n: u64) {
        self.links_queued.inc_by(n);
    }

    pub fn links_over_budget(&self, n: u64) {
        self.links_over_budget.inc_by(n);
    }

    pub fn error(&self, kind: &'static str) {
        self.errors.get_or_create(&ErrorLabels { kind }).inc();
    }

    /// A site's extraction health: the share of recent article pages missing each field.
    pub fn set_extraction(&self, report: &crate::health::SiteReport) {
        for field in crate::health::FIELDS {
            let share = report.missing.get(field).copied().unwrap_or(0.0);
            self.extraction_missing
                .get_or_create(&FieldLabels {
                    site: report.site.clone(),
                    field,
                })
                .set(share);
        }
    }

    /// Replaces the listing pages' gauges with these schedules.
    pub fn set_listings<'a>(&self, pages: impl IntoIterator<Item = ListingGauges<'a>>) {
        self.listing_rate.clear();
        self.listing_interval.clear();
        self.listing_latency.clear();
        for page in pages {
            let labels = ListingLabels {
                site: page.site.to_string(),
                url: page.url.to_string(),
            };
            self.listing_rate
                .get_or_create(&labels)
                .set(page.changes_per_hour);
            self.listing_interval
                .get_or_create(&labels)
                .set(page.interval_seconds);
            self.listing_latency
                .get_or_create(&labels)
                .set(page.expected_latency_seconds);
        }
    }

    pub fn extraction_alert(&self) {
        self.extraction_alerts.inc();
    }

    pub fn set_queue_depth(&self, n: u64) {
        self.queue_depth.set(n as i64);
    }

    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.set(n as i64);
    }

    pub fn beat(&self, now_ms: u64) {
        self.heartbeat_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms.load(Ordering::Relaxed)
    }

    /// Requests made so far (pages and robots.txt).
    pub fn requests_total(&self) -> u64 {
        let mut total = 0;
        for kind in ["page", "robots"] {
            for class in ["2xx", "3xx", "4xx", "5xx", "other", "error"] {
                if let Some(c) = self.requests.get(&RequestLabels { kind, class }) {
                    total += c.get();
                }
            }
        }
        total
    }

    pub fn errors_total(&self) -> u64 {
        ERROR_KINDS
            .iter()
            .filter_map(|&kind| self.errors.get(&ErrorLabels { kind }).map(|c| c.get()))
            .sum()
    }

    pub fn records_total(&self) -> u64 {
        self.records.get()
    }

    pub fn queue_depth(&self) -> u64 {
        self.queue_depth.get().max(0) as u64
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

/// Every error kind [`Metrics::error`] is called with.
pub const ERROR_KINDS: &[&str] = &[
    "timeout",
    "connect",
    "network",
    "too_large",
    "http_4xx",
    "http_5xx",
    "redirect",
    "parse",
    "robots_unavailable",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_exposition_names_counters_with_their_labels() {
        let m = Metrics::new();
        m.request("page", Some(200), 1000, Duration::from_millis(20));
        m.request("page", Some(404), 10, Duration::from_millis(20));
        m.request("robots", None, 0, Duration::from_millis(20));
        m.error("timeout");
        let text = m.render();
        assert!(
            text.contains("newscrawl_requests_total{kind=\"page\",class=\"2xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("newscrawl_requests_total{kind=\"robots\",class=\"error\"} 1"));
        assert!(text.contains("newscrawl_response_bytes_total 1010"));
        assert!(text.contains("newscrawl_fetch_duration_seconds_count 3"));
        assert!(text.contains("newscrawl_errors_total{kind=\"timeout\"} 1"));
        assert_eq!(m.requests_total(), 3);
        assert_eq!(m.errors_total(), 1);
    }
}
