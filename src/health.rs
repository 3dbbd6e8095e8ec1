//! Extraction health: per site, how often article pages come out without a title,
//! body, author or publication date, over a sliding window of recent article pages,
//! and an alert when a field the site used to provide stops being found (the site
//! changed its layout; its selectors or the extractor need a look).
//!
//! Invariants: a field is "established" once it was found on at least 80% of a full
//! window; an established field alerts once when it is missing from the last
//! [`RUN`] article pages in a row, and alerts again only after it recovered.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Article pages per site kept in the window.
pub const WINDOW: usize = 100;
/// Consecutive misses of an established field that raise an alert.
pub const RUN: usize = 10;
/// Found on this share of a full window: the site provides the field.
const ESTABLISHED: f64 = 0.8;
/// Sample URLs kept per alert.
const SAMPLES: usize = 3;

/// The fields watched, in this order in every array.
pub const FIELDS: [&str; 4] = ["title", "body", "authors", "published"];

/// Which fields one article page's record had.
pub type Found = [bool; 4];

/// A field that stopped being found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub site: String,
    pub field: String,
    /// Share of the window where it was found before it stopped.
    pub found_before: f64,
    pub sample_urls: Vec<String>,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Default)]
struct SiteHealth {
    window: VecDeque<Found>,
    established: [bool; 4],
    /// Consecutive misses per field, and the URLs of the latest ones.
    misses: [usize; 4],
    recent_missing: [VecDeque<String>; 4],
    alerting: [bool; 4],
}

/// The health of every site's extraction.
#[derive(Debug, Default)]
pub struct ExtractionHealth {
    sites: BTreeMap<String, SiteHealth>,
    alerts: Vec<Alert>,
}

/// One site's numbers, for `/status`, `status` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteReport {
    pub site: String,
    /// Article pages in the window.
    pub pages: usize,
    /// Share of those pages missing each field, by field name.
    pub missing: BTreeMap<String, f64>,
    /// Fields currently alerting.
    pub alerting: Vec<String>,
}

/// What is kept in the store between runs and shown by `status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub sites: Vec<SiteReport>,
    /// Every alert raised, oldest first (at most the last 50).
    pub alerts: Vec<Alert>,
}

impl ExtractionHealth {
    /// Records an article page of `site`; returns an alert when a field just stopped
    /// being found.
    pub fn observe(&mut self, site: &str, url: &str, found: Found, now: &str) -> Vec<Alert> {
        let health = self.sites.entry(site.to_string()).or_default();
        if health.window.len() == WINDOW {
            health.window.pop_front();
        }
        health.window.push_back(found);
        let mut raised = Vec::new();
        for (i, field) in FIELDS.iter().enumerate() {
            let share = health.window.iter().filter(|f| f[i]).count() as f64 / WINDOW as f64;
            if health.window.len() == WINDOW && share >= ESTABLISHED {
                health.established[i] = true;
            }
            if found[i] {
                health.misses[i] = 0;
                health.recent_missing[i].clear();
                health.alerting[i] = false;
                continue;
            }
            health.misses[i] += 1;
            let recent = &mut health.recent_missing[i];
            if recent.len() == SAMPLES {
                recent.pop_front();
            }
            recent.push_back(url.to_string());
            if health.established[i] && !health.alerting[i] && health.misses[i] >= RUN {
                health.alerting[i] = true;
                let before = health.window.len().saturating_sub(health.misses[i]).max(1);
                let found_before = health.window.iter().take(before).filter(|f| f[i]).count()
                    as f64
                    / before as f64;
                raised.push(Alert {
                    site: site.to_string(),
                    field: field.to_string(),
                    found_before,
                    sample_urls: recent.iter().cloned().collect(),
                    at: now.to_string(),
                });
            }
        }
        self.alerts.extend(raised.iter().cloned());
        let excess = self.alerts.len().saturating_sub(50);
        self.alerts.drain(..excess);
        raised
    }

    pub fn report(&self) -> HealthReport {
        HealthReport {
            sites: self.sites.iter().map(|(site, h)| h.report(site)).collect(),
            alerts: self.alerts.clone(),
        }
    }

    /// One site's numbers (`None` before its first article page).
    pub fn site_report(&self, site: &str) -> Option<SiteReport> {
        self.sites.get(site).map(|h| h.report(site))
    }
}

impl SiteHealth {
    fn report(&self, site: &str) -> SiteReport {
        let pages = self.window.len();
        let missing = FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let n = self.window.iter().filter(|x| !x[i]).count();
                (f.to_string(), n as f64 / pages.max(1) as f64)
            })
            .collect();
        let alerting = FIELDS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.alerting[*i])
            .map(|(_, f)| f.to_string())
            .collect();
        SiteReport {
            site: site.to_string(),
            pages,
            missing,
            alerting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Found = [true; 4];

    #[test]
    fn a_field_that_stops_being_found_alerts_once_with_samples() {
        let mut h = ExtractionHealth::default();
        for n in 0..WINDOW {
            assert!(h.observe("s", &format!("u{n}"), ALL, "t").is_empty());
        }
        let mut alerts = Vec::new();
        for n in 0..RUN + 5 {
            alerts.extend(h.observe("s", &format!("new{n}"), [true, true, false, true], "t"));
        }
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].field, "authors");
        assert_eq!(alerts[0].found_before, 1.0);
        assert_eq!(alerts[0].sample_urls, ["new7", "new8", "new9"]);
        let report = h.report();
        assert_eq!(report.sites[0].alerting, ["authors"]);
        assert!((report.sites[0].missing["authors"] - 0.15).abs() < 1e-9);
        // Found again: the alert clears, and a later outage alerts anew.
        h.observe("s", "back", ALL, "t");
        assert!(h.report().sites[0].alerting.is_empty());
        let again: Vec<_> = (0..RUN)
            .flat_map(|n| h.observe("s", &format!("x{n}"), [true, true, false, true], "t"))
            .collect();
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn a_field_the_site_never_had_does_not_alert() {
        let mut h = ExtractionHealth::default();
        let alerts: Vec<_> = (0..3 * WINDOW)
            .flat_map(|n| h.observe("s", &format!("u{n}"), [true, true, n % 2 == 0, false], "t"))
            .collect();
        assert!(alerts.is_empty(), "{alerts:?}");
    }
}
