//! Fetching one host's robots.txt and turning the copy into a policy.
//!
//! RFC 9309 as the crawl applies it: 2xx is parsed; up to five redirects are followed
//! (each hop keeps the host's gap); 4xx means no restrictions; 5xx, timeouts and
//! network errors mean "unavailable", which the scheduler treats as "disallow
//! everything" until a retry succeeds. Invariant: only a usable copy (2xx or 4xx)
//! ever becomes a [`Robots`] that URLs are checked against, so an outage never marks
//! URLs as denied.

use std::sync::Arc;
use std::time::Duration;

use ::url::Url;
use tokio::time::Instant;

use super::pool::WorkerPool;
use crate::clock::now_ms;
use crate::fetch::{BodyLimit, Fetcher, Response, Validators};
use crate::metrics::Metrics;
use crate::politeness::Feedback;
use crate::robots::Robots;
use crate::store::{HostRecord, RobotsCopy, Store};

/// Redirects followed while fetching robots.txt (RFC 9309 asks for at least five).
const MAX_REDIRECTS: usize = 5;

/// Whether a stored copy can be used to check URLs (2xx parsed, 4xx allow-all). A 429
/// asks the crawler to slow down, not that nothing is restricted: it counts as
/// unavailable, like a 5xx.
pub(super) fn is_usable(copy: &RobotsCopy) -> bool {
    (200..500).contains(&copy.status) && copy.status != 429
}

/// The policy of a usable copy.
pub(super) fn policy_of(copy: &RobotsCopy, token: &str) -> Robots {
    match copy.status {
        200..=299 => Robots::parse(&copy.body, token),
        _ => Robots::allow_all(),
    }
}

/// Why a copy is unusable, for logs.
pub(super) fn unavailable_reason(copy: &RobotsCopy) -> String {
    match (&copy.error, copy.status) {
        (Some(e), 0) => format!("request failed: {e}"),
        (_, status) => format!("HTTP {status}"),
    }
}

/// What a robots.txt fetch needs.
pub(super) struct RobotsJob {
    pub fetcher: Fetcher,
    pub io: WorkerPool,
    pub store: Arc<dyn Store>,
    pub host: String,
    pub url: String,
    /// The host's gap, kept between redirect hops.
    pub delay: Duration,
    pub metrics: Arc<Metrics>,
}

/// A robots.txt request's result: the copy, when the server answered, what the answer
/// says about the server, and why the host may not be connected to (if so).
pub(super) struct RobotsFetched {
    pub copy: RobotsCopy,
    pub answered_at: Instant,
    pub feedback: Feedback,
    pub refused: Option<String>,
}

/// Fetches a host's robots.txt from `url`, following redirects with `delay` between
/// hops.
pub(super) async fn fetch_robots(
    fetcher: &Fetcher,
    metrics: &Metrics,
    host: &str,
    url: &str,
    delay: Duration,
) -> RobotsFetched {
    let mut target = Url::parse(url).ok();
    let mut copy = RobotsCopy {
        fetched_at_ms: now_ms(),
        status: 0,
        body: Vec::new(),
        error: Some(format!("invalid robots.txt URL {url}")),
    };
    let mut answered_at = Instant::now();
    let mut feedback = Feedback::Failed;
    let mut refused = None;
    for hop in 0..=MAX_REDIRECTS {
        let Some(url) = target.take() else { break };
        if hop > 0 {
            tokio::time::sleep_until(answered_at + delay).await;
        }
        let sent = Instant::now();
        let response = fetcher
            .get_limited(
                &url,
                &Validators::default(),
                BodyLimit::Truncate(crate::robots::MAX_ROBOTS_BYTES as u64),
            )
            .await;
        match &response {
            Ok(r) => metrics.request(
                "robots",
                Some(r.status),
                r.body.len() as u64,
                sent.elapsed(),
            ),
            Err(_) => metrics.request("robots", None, 0, sent.elapsed()),
        }
        answered_at = response
            .as_ref()
            .map_or_else(|_| Instant::now(), |r| r.answered_at);
        copy = match response {
            Ok(Response {
                status,
                location,
                body,
                truncated,
                ..
            }) => {
                if truncated {
                    tracing::info!(
                        host,
                        "robots.txt is larger than {} bytes; the rules in its first {} bytes apply",
                        body.len(),
                        body.len()
                    );
                }
                feedback = if status >= 500 || status == 429 {
                    Feedback::Failed
                } else {
                    Feedback::Healthy {
                        latency: answered_at.saturating_duration_since(sent),
                    }
                };
                if (300..400).contains(&status) {
                    target = location.and_then(|l| Url::parse(&l).ok());
                    if target.is_some() && hop < MAX_REDIRECTS {
                        continue;
                    }
                    // A robots.txt that redirects too often (or nowhere) is
                    // unavailable in the 4xx sense: no restrictions.
                    RobotsCopy {
                        fetched_at_ms: now_ms(),
                        status: 404,
                        body: Vec::new(),
                        error: Some(format!("redirect chain ended at HTTP {status}")),
                    }
                } else {
                    RobotsCopy {
                        fetched_at_ms: now_ms(),
                        status,
                        body,
                        error: None,
                    }
                }
            }
            Err(e) => {
                feedback = Feedback::Failed;
                if let crate::fetch::FetchError::Tls(_) = &e {
                    tracing::warn!(host, "robots.txt: {e}");
                }
                if let crate::fetch::FetchError::Refused(reason) = &e {
                    refused = Some(reason.clone());
                }
                RobotsCopy {
                    fetched_at_ms: now_ms(),
                    status: 0,
                    body: Vec::new(),
                    error: Some(e.to_string()),
                }
            }
        };
        break;
    }
    RobotsFetched {
        copy,
        answered_at,
        feedback,
        refused,
    }
}

impl RobotsJob {
    /// Fetches and stores the copy in the host's record; returns the result for the
    /// scheduler.
    pub async fn run(self) -> RobotsFetched {
        let fetched = fetch_robots(
            &self.fetcher,
            &self.metrics,
            &self.host,
            &self.url,
            self.delay,
        )
        .await;
        let (store, host) = (self.store.clone(), self.host.clone());
        let saved_copy = fetched.copy.clone();
        let saved = self
            .io
            .run(move || {
                let mut record = store.host(&host)?.unwrap_or_else(HostRecord::default);
                record.robots = Some(saved_copy);
                store.put_host(&host, &record)
            })
            .await;
        match saved {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(host = self.host, "could not save robots.txt copy: {e}"),
            Err(e) => tracing::warn!(host = self.host, "could not save robots.txt copy: {e}"),
        }
        fetched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(status: u16, body: &str) -> RobotsCopy {
        RobotsCopy {
            fetched_at_ms: 0,
            status,
            body: body.as_bytes().to_vec(),
            error: None,
        }
    }

    #[test]
    fn status_classes() {
        let disallow = "User-agent: *\nDisallow: /\n";
        assert!(is_usable(&copy(200, disallow)));
        assert!(!policy_of(&copy(200, disallow), "newscrawl").allows("/a"));
        assert!(is_usable(&copy(404, disallow)));
        assert!(
            policy_of(&copy(404, disallow), "newscrawl").allows("/a"),
            "4xx: no restrictions"
        );
        assert!(is_usable(&copy(401, "")));
        assert!(!is_usable(&copy(429, "")), "429: slow down, not allow-all");
        assert!(!is_usable(&copy(503, "")));
        assert!(!is_usable(&copy(0, "")));
        assert_eq!(unavailable_reason(&copy(503, "")), "HTTP 503");
    }
}
