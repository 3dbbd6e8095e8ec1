//! Per-host politeness: the policy, each host's clock, and the queue of hosts ordered
//! by the moment they may next start a request.
//!
//! Invariant: for every clock (a host, or a group of hosts on one IP address), request
//! starts are at least `delay` apart and at most `limit` requests are in flight, where
//! `delay` = max(site `min_delay`, robots.txt `Crawl-delay`, adaptive delay, failure
//! backoff), and no request starts during a `Retry-After` pause. The scheduler finds
//! the next host whose clock has expired in O(log hosts), without scanning idle hosts.
//!
//! "Apart" is measured as the server sees it. The server starts handling request k at
//! some moment between our sending it and our receiving its answer, so the next start
//! is held to `max(start_k, answer_k) + delay`: the gap can never look shorter at the
//! server, whatever the network or our own scheduling did to request k.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::time::Instant;

use crate::durations::human_duration;

/// The politeness policy (`[politeness]` in the config).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Politeness {
    /// Minimum time between the starts of two requests to one host.
    #[serde(with = "human_duration")]
    pub min_delay: Duration,
    pub per_host_concurrency: usize,
    /// How long a robots.txt copy is used before it is fetched again.
    #[serde(with = "human_duration")]
    pub robots_ttl: Duration,
    /// Largest robots.txt `Crawl-delay` honoured; larger ones are capped, with a warning.
    #[serde(with = "human_duration")]
    pub max_crawl_delay: Duration,
    /// Follow the server's response time (as Scrapy's AutoThrottle does) above `min_delay`.
    pub adaptive: bool,
    /// With `adaptive`: the average number of requests in flight to one server to aim for.
    pub target_concurrency: f64,
    /// Cap on the adaptive delay and on the failure backoff.
    #[serde(with = "human_duration")]
    pub max_delay: Duration,
    /// Extra delay after a failure (5xx, 429, timeout, network error); it doubles with
    /// each consecutive failure up to `max_delay`, and halves with each success.
    #[serde(with = "human_duration")]
    pub error_backoff: Duration,
    /// Longest `Retry-After` pause honoured (longer ones are capped, with a warning).
    #[serde(with = "human_duration")]
    pub max_retry_after: Duration,
    /// Times a page is tried again after a failure that may be temporary; in a
    /// one-shot crawl also the robots.txt attempts before a host is left for later.
    pub max_retries: u32,
    /// How long a page that failed waits before its next try (behind the host's
    /// other queued URLs); it doubles with each failed attempt of that page.
    #[serde(with = "human_duration")]
    pub retry_delay: Duration,
    /// Hosts that resolve to the same IP address share one clock.
    pub group_by_ip: bool,
}

impl Default for Politeness {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_secs(1),
            per_host_concurrency: 1,
            robots_ttl: Duration::from_secs(24 * 3600),
            max_crawl_delay: Duration::from_secs(60),
            adaptive: true,
            target_concurrency: 1.0,
            max_delay: Duration::from_secs(60),
            error_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(600),
            max_retries: 3,
            retry_delay: Duration::from_secs(60),
            group_by_ip: false,
        }
    }
}

impl Politeness {
    /// Checks the values; the error names the key (under `politeness.`) and the reason.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.per_host_concurrency == 0 {
            return Err(("per_host_concurrency", "must be at least 1".into()));
        }
        if !(self.target_concurrency.is_finite() && self.target_concurrency > 0.0) {
            return Err(("target_concurrency", "must be a positive number".into()));
        }
        if self.max_delay < self.min_delay {
            return Err((
                "max_delay",
                format!(
                    "{:?} is below min_delay {:?}",
                    self.max_delay, self.min_delay
                ),
            ));
        }
        if self.robots_ttl.is_zero() {
            return Err(("robots_ttl", "must be positive".into()));
        }
        Ok(())
    }
}

/// What the answer to a request says about the server's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A normal answer (2xx, 3xx, 4xx other than 429) after `latency`.
    Healthy { latency: Duration },
    /// 5xx, 429, a timeout or a network error.
    Failed,
    /// The server asked for a pause (`Retry-After` on 429 or 503).
    Pause(Duration),
}

/// What a host's clock learns from its answers: the rule both engines keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pace {
    /// The AutoThrottle estimate: latency / target concurrency, smoothed.
    pub adaptive: Duration,
    /// Grows with consecutive failures, shrinks with successes ([`next_backoff`]).
    pub backoff: Duration,
}

impl Pace {
    /// The pace after an answer, and the gap the host's next request keeps after
    /// it: max(`base`, adaptive estimate, failure backoff), or the server's pause if
    /// longer. A pure function of the host's history, so the local clock and the
    /// shared (Redis) one agree.
    pub fn after(
        self,
        base: Duration,
        feedback: &Feedback,
        policy: &Politeness,
    ) -> (Self, Duration) {
        let backoff = next_backoff(self.backoff, feedback, policy);
        let adaptive = match feedback {
            Feedback::Healthy { latency } if policy.adaptive => {
                let target = latency
                    .div_f64(policy.target_concurrency)
                    .min(policy.max_delay);
                // Halfway towards the target, as AutoThrottle moves.
                (self.adaptive + target) / 2
            }
            _ => self.adaptive,
        };
        let pace = Self { adaptive, backoff };
        let gap = pace.delay(base);
        let gap = match feedback {
            Feedback::Pause(pause) => gap.max(*pause),
            _ => gap,
        };
        (pace, gap)
    }

    /// The gap between requests at this pace over the floor `base`.
    pub fn delay(&self, base: Duration) -> Duration {
        base.max(self.adaptive).max(self.backoff)
    }

    /// As a store keeps it: "backoff_ms adaptive_ms".
    pub fn to_field(&self) -> String {
        format!("{} {}", self.backoff.as_millis(), self.adaptive.as_millis())
    }

    /// Read back from [`Pace::to_field`]; what does not read is a fresh pace (a
    /// lost estimate only costs a few requests at the floor).
    pub fn from_field(field: &str) -> Self {
        let mut ms = field
            .split_whitespace()
            .map(|n| n.parse::<u64>().map(Duration::from_millis));
        match (ms.next(), ms.next()) {
            (Some(Ok(backoff)), Some(Ok(adaptive))) => Self { adaptive, backoff },
            _ => Self::default(),
        }
    }
}

/// One clock: a host, or the group of hosts that share an IP address.
#[derive(Debug, Clone)]
pub struct HostClock {
    /// max(site min_delay, Crawl-delay): the floor of every delay.
    base: Duration,
    pace: Pace,
    failures: u32,
    pub limit: usize,
    pub next_allowed: Instant,
    pub in_flight: usize,
}

impl HostClock {
    pub fn new(base: Duration, limit: usize, now: Instant) -> Self {
        Self {
            base,
            pace: Pace::default(),
            failures: 0,
            limit,
            next_allowed: now,
            in_flight: 0,
        }
    }

    /// The gap the next request must keep after the last one.
    pub fn delay(&self) -> Duration {
        self.pace.delay(self.base)
    }

    /// Raises the floor (a site's min_delay, or a robots.txt Crawl-delay).
    pub fn raise_base(&mut self, base: Duration) {
        self.base = self.base.max(base);
    }

    /// Sets the floor anew (after a config reload); a Crawl-delay must be raised
    /// again afterwards.
    pub fn set_base(&mut self, base: Duration) {
        self.base = base;
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a request may start at `now`.
    pub fn may_start(&self, now: Instant) -> bool {
        self.in_flight < self.limit && now >= self.next_allowed
    }

    /// Records a request starting at `now`.
    pub fn started(&mut self, now: Instant) {
        debug_assert!(self.may_start(now));
        self.in_flight += 1;
        self.next_allowed = self.next_allowed.max(now + self.delay());
    }

    /// Records the server's answer to a request (or its failure) at `at`, and what it
    /// says about the server.
    pub fn answered(&mut self, at: Instant, feedback: Feedback, policy: &Politeness) {
        match feedback {
            Feedback::Healthy { .. } => self.failures = 0,
            Feedback::Failed => self.failures += 1,
            Feedback::Pause(_) => {}
        }
        let (pace, gap) = self.pace.after(self.base, &feedback, policy);
        self.pace = pace;
        self.next_allowed = self.next_allowed.max(at + gap);
    }

    pub fn finished(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Pushes the next start back to at least `at` (a clock carried over from an
    /// earlier run, or a robots.txt retry).
    pub fn not_before(&mut self, at: Instant) {
        self.next_allowed = self.next_allowed.max(at);
    }
}

/// A host's failure backoff after an answer, the one rule of both engines: a failure
/// doubles it (starting at `error_backoff`, up to `max_delay`); a success halves it,
/// and drops it once it is under half of `error_backoff`; a pause leaves it as it is.
pub fn next_backoff(backoff: Duration, feedback: &Feedback, policy: &Politeness) -> Duration {
    match feedback {
        Feedback::Healthy { .. } => {
            let halved = backoff / 2;
            if halved < policy.error_backoff / 2 {
                Duration::ZERO
            } else {
                halved
            }
        }
        Feedback::Failed => backoff
            .saturating_mul(2)
            .max(policy.error_backoff)
            .min(policy.max_delay),
        Feedback::Pause(_) => backoff,
    }
}

/// How long a page waits before its next try after its `attempts`-th attempt failed:
/// `retry_delay`, doubled for each earlier failed attempt, at most a day.
pub fn retry_wait(attempts: u32, policy: &Politeness) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    policy
        .retry_delay
        .saturating_mul(1 << doublings)
        .min(Duration::from_secs(24 * 3600))
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Hosts waiting for their clock, earliest first. A host is in the queue at most
/// once (re-arming it earlier replaces the later entry).
#[derive(Debug, Default)]
pub struct ReadyQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, String)>>,
    armed: HashMap<String, (Instant, u64)>,
    seq: u64,
}

impl ReadyQueue {
    /// Schedules `host` to be looked at from `at` on.
    pub fn arm(&mut self, host: &str, at: Instant) {
        if let Some((current, _)) = self.armed.get(host) {
            if *current <= at {
                return;
            }
        }
        self.seq += 1;
        self.armed.insert(host.to_string(), (at, self.seq));
        self.heap.push(Reverse((at, self.seq, host.to_string())));
    }

    pub fn is_armed(&self, host: &str) -> bool {
        self.armed.contains_key(host)
    }

    /// The earliest armed moment.
    pub fn next_at(&mut self) -> Option<Instant> {
        self.drop_stale();
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Takes a host whose moment has come.
    pub fn pop_due(&mut self, now: Instant) -> Option<String> {
        self.drop_stale();
        let Reverse((at, _, _)) = self.heap.peek()?;
        if *at > now {
            return None;
        }
        let Reverse((_, _, host)) = self.heap.pop().expect("peeked");
        self.armed.remove(&host);
        Some(host)
    }

    pub fn is_empty(&mut self) -> bool {
        self.next_at().is_none()
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse((at, seq, host))) = self.heap.peek() {
            if self.armed.get(host) == Some(&(*at, *seq)) {
                return;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy() -> Politeness {
        Politeness {
            min_delay: 500 * MS,
            error_backoff: 1000 * MS,
            max_delay: 8000 * MS,
            ..Politeness::default()
        }
    }

    #[test]
    fn clock_spaces_starts_from_the_answer_and_caps_in_flight() {
        let t0 = Instant::now();
        let p = policy();
        let mut clock = HostClock::new(p.min_delay, 1, t0);
        assert!(clock.may_start(t0));
        clock.started(t0);
        assert!(!clock.may_start(t0 + 600 * MS), "one in flight");
        clock.answered(t0 + 100 * MS, Feedback::Healthy { latency: 100 * MS }, &p);
        clock.finished();
        assert!(
            !clock.may_start(t0 + 599 * MS),
            "the gap runs from the answer"
        );
        assert!(clock.may_start(t0 + 600 * MS));
    }

    #[test]
    fn adaptive_delay_follows_slow_servers_but_never_goes_below_the_floor() {
        let t0 = Instant::now();
        let p = policy();
        let mut clock = HostClock::new(p.min_delay, 1, t0);
        for _ in 0..20 {
            clock.answered(t0, Feedback::Healthy { latency: 2000 * MS }, &p);
        }
        assert!(
            clock.delay() > 1900 * MS && clock.delay() <= 2000 * MS,
            "{:?}",
            clock.delay()
        );
        for _ in 0..20 {
            clock.answered(t0, Feedback::Healthy { latency: MS }, &p);
        }
        assert_eq!(clock.delay(), p.min_delay);
        let fixed = Politeness {
            adaptive: false,
            ..policy()
        };
        let mut clock = HostClock::new(p.min_delay, 1, t0);
        clock.answered(t0, Feedback::Healthy { latency: 2000 * MS }, &fixed);
        assert_eq!(clock.delay(), p.min_delay);
    }

    #[test]
    fn failures_back_off_exponentially_and_recover_gradually() {
        let t0 = Instant::now();
        let p = policy();
        let mut clock = HostClock::new(p.min_delay, 1, t0);
        let mut delays = Vec::new();
        for _ in 0..5 {
            clock.answered(t0, Feedback::Failed, &p);
            delays.push(clock.delay().as_millis());
        }
        assert_eq!(delays, [1000, 2000, 4000, 8000, 8000]);
        let mut recovering = Vec::new();
        for _ in 0..6 {
            clock.answered(t0, Feedback::Healthy { latency: MS }, &p);
            recovering.push(clock.delay().as_millis());
        }
        assert_eq!(recovering, [4000, 2000, 1000, 500, 500, 500]);
        assert_eq!(clock.failures(), 0);
    }

    #[test]
    fn the_backoff_rule_both_engines_use() {
        let p = policy();
        let failed = |b| next_backoff(b, &Feedback::Failed, &p);
        let healthy = |b| next_backoff(b, &Feedback::Healthy { latency: MS }, &p);
        assert_eq!(failed(Duration::ZERO), p.error_backoff);
        assert_eq!(failed(p.error_backoff), p.error_backoff * 2);
        assert_eq!(failed(p.max_delay), p.max_delay, "capped");
        // A success halves it; a failure after it doubles from there, not from scratch.
        assert_eq!(healthy(4 * p.error_backoff), 2 * p.error_backoff);
        assert_eq!(failed(healthy(4 * p.error_backoff)), 4 * p.error_backoff);
        // Under half of error_backoff it is gone.
        assert_eq!(healthy(p.error_backoff / 2), Duration::ZERO);
        let pause = Feedback::Pause(30_000 * MS);
        assert_eq!(next_backoff(p.error_backoff, &pause, &p), p.error_backoff);
    }

    #[test]
    fn the_pace_rule_takes_the_largest_of_floor_estimate_backoff_and_pause() {
        let policy = Politeness {
            error_backoff: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            target_concurrency: 1.0,
            ..Politeness::default()
        };
        let base = Duration::from_secs(1);
        let healthy = |ms| Feedback::Healthy {
            latency: Duration::from_millis(ms),
        };
        // A slow server: the estimate moves halfway towards its latency each time.
        let (pace, gap) = Pace::default().after(base, &healthy(4000), &policy);
        assert_eq!(
            (pace.adaptive, gap),
            (Duration::from_secs(2), Duration::from_secs(2))
        );
        let (pace, gap) = pace.after(base, &healthy(4000), &policy);
        assert_eq!(gap, Duration::from_secs(3));
        // Failures: the backoff doubles from error_backoff up to max_delay; the gap is
        // the larger of it and the estimate, not their sum.
        let (pace, gap) = pace.after(base, &Feedback::Failed, &policy);
        assert_eq!(
            (pace.backoff, gap),
            (Duration::from_secs(2), Duration::from_secs(3))
        );
        let (pace, _) = pace.after(base, &Feedback::Failed, &policy);
        let (pace, gap) = pace.after(base, &Feedback::Failed, &policy);
        assert_eq!(
            (pace.backoff, gap),
            (Duration::from_secs(8), Duration::from_secs(8))
        );
        // A pause longer than everything else is the gap; the estimate is kept.
        let (after, gap) = pace.after(base, &Feedback::Pause(Duration::from_secs(30)), &policy);
        assert_eq!((after, gap), (pace, Duration::from_secs(30)));
        // Without `adaptive` a slow answer teaches nothing.
        let fixed = Politeness {
            adaptive: false,
            ..policy.clone()
        };
        assert_eq!(
            Pace::default().after(base, &healthy(4000), &fixed),
            (Pace::default(), base)
        );
        // As a store keeps it; an older or damaged field reads as a fresh pace.
        assert_eq!(Pace::from_field(&pace.to_field()), pace);
        assert_eq!(Pace::from_field("1234"), Pace::default());
    }

    #[test]
    fn a_failed_page_waits_longer_after_each_attempt_up_to_a_day() {
        let p = Politeness {
            retry_delay: Duration::from_secs(60),
            ..Politeness::default()
        };
        assert_eq!(retry_wait(1, &p), Duration::from_secs(60));
        assert_eq!(retry_wait(2, &p), Duration::from_secs(120));
        assert_eq!(retry_wait(3, &p), Duration::from_secs(240));
        assert_eq!(retry_wait(40, &p), Duration::from_secs(24 * 3600));
        let now = Politeness {
            retry_delay: Duration::ZERO,
            ..p
        };
        assert_eq!(retry_wait(3, &now), Duration::ZERO);
    }

    #[test]
    fn retry_after_pauses_the_clock() {
        let t0 = Instant::now();
        let p = policy();
        let mut clock = HostClock::new(p.min_delay, 1, t0);
        clock.answered(t0, Feedback::Pause(30_000 * MS), &p);
        assert!(!clock.may_start(t0 + 29_999 * MS));
        assert!(clock.may_start(t0 + 30_000 * MS));
    }

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn policy_validation_names_the_key() {
        let bad = Politeness {
            target_concurrency: 0.0,
            ..Politeness::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "target_concurrency");
        let bad = Politeness {
            max_delay: Duration::ZERO,
            ..Politeness::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "max_delay");
    }

    #[test]
    fn ready_queue_orders_hosts_and_keeps_one_entry_each() {
        let t0 = Instant::now();
        let mut q = ReadyQueue::default();
        q.arm("b", t0 + 20 * MS);
        q.arm("a", t0 + 10 * MS);
        q.arm("b", t0 + 5 * MS); // earlier wins
        q.arm("a", t0 + 50 * MS); // later is ignored
        assert_eq!(q.next_at(), Some(t0 + 5 * MS));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(q.pop_due(t0 + 100 * MS).as_deref(), Some("b"));
        assert_eq!(q.pop_due(t0 + 100 * MS).as_deref(), Some("a"));
        assert_eq!(q.pop_due(t0 + 100 * MS), None);
        assert!(q.is_empty());
    }
}
