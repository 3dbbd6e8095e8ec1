//! Per-host politeness: each host's clock, and the queue of hosts ordered by the
//! moment they may next start a request.
//!
//! Invariant: for every host, request starts are at least `delay` apart and at most
//! `limit` requests are in flight; the scheduler finds the next host whose clock has
//! expired in O(log hosts), without scanning idle hosts.
//!
//! "Apart" is measured as the server sees it. The server starts handling request k at
//! some moment between our sending it and our receiving its answer, so the next start
//! is held to `max(start_k, answer_k) + delay`: the gap can never look shorter at the
//! server, whatever the network or our own scheduling did to request k.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

/// One host's clock.
#[derive(Debug, Clone)]
pub struct HostClock {
    pub delay: Duration,
    pub limit: usize,
    pub next_allowed: Instant,
    pub in_flight: usize,
}

impl HostClock {
    pub fn new(delay: Duration, limit: usize, now: Instant) -> Self {
        Self {
            delay,
            limit,
            next_allowed: now,
            in_flight: 0,
        }
    }

    /// Whether a request may start at `now`.
    pub fn may_start(&self, now: Instant) -> bool {
        self.in_flight < self.limit && now >= self.next_allowed
    }

    /// Records a request starting at `now`.
    pub fn started(&mut self, now: Instant) {
        debug_assert!(self.may_start(now));
        self.in_flight += 1;
        self.next_allowed = now + self.delay;
    }

    /// Records that the server answered a request (or the request failed) at `at`.
    pub fn answered(&mut self, at: Instant) {
        self.not_before(at + self.delay);
    }

    pub fn finished(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Pushes the next start back to at least `at` (a pause asked for by the server,
    /// or a clock carried over from an earlier run).
    pub fn not_before(&mut self, at: Instant) {
        self.next_allowed = self.next_allowed.max(at);
    }
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

    #[test]
    fn clock_spaces_starts_and_caps_in_flight() {
        let t0 = Instant::now();
        let mut clock = HostClock::new(Duration::from_millis(500), 1, t0);
        assert!(clock.may_start(t0));
        clock.started(t0);
        assert!(
            !clock.may_start(t0 + Duration::from_millis(600)),
            "one in flight"
        );
        clock.finished();
        assert!(!clock.may_start(t0 + Duration::from_millis(499)));
        assert!(clock.may_start(t0 + Duration::from_millis(500)));
        clock.not_before(t0 + Duration::from_secs(5));
        assert!(!clock.may_start(t0 + Duration::from_secs(4)));
    }

    #[test]
    fn ready_queue_orders_hosts_and_keeps_one_entry_each() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = ReadyQueue::default();
        q.arm("b", t0 + ms(20));
        q.arm("a", t0 + ms(10));
        q.arm("b", t0 + ms(5)); // earlier wins
        q.arm("a", t0 + ms(50)); // later is ignored
        assert_eq!(q.next_at(), Some(t0 + ms(5)));
        assert_eq!(q.pop_due(t0), None);
        assert_eq!(q.pop_due(t0 + ms(100)).as_deref(), Some("b"));
        assert_eq!(q.pop_due(t0 + ms(100)).as_deref(), Some("a"));
        assert_eq!(q.pop_due(t0 + ms(100)), None);
        assert!(q.is_empty());
    }
}
