//! A host's lease window: the few URLs leased from the frontier and not yet
//! requested, whether a refill is on its way, and whether the frontier had nothing
//! due for the host at the last refill. Pure state, no I/O: the scheduler asks it
//! what to do and tells it what the frontier answered.
//!
//! Invariants: at most one refill is on its way; a refill that started before new
//! work was queued for the host never marks the host exhausted (new work bumps the
//! generation, and only a refill of the current generation may); the window is
//! refilled before it runs dry, so dispatching never waits for the store.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{Lease, QueueEntry};

/// URLs leased per host at a time.
pub(super) const WINDOW: usize = 8;

#[derive(Debug, Default)]
pub(super) struct Window {
    urls: VecDeque<QueueEntry>,
    refilling: bool,
    /// The frontier had no due URL for the host at the last refill.
    exhausted: bool,
    /// Counts wake-ups with new work.
    generation: u64,
    /// Since when the next URL has been ready to go (for metrics).
    work_since: Option<Instant>,
    /// Unix ms of the earliest URL the frontier holds for later.
    next_due_ms: Option<u64>,
}

impl Window {
    /// New work was queued for the host: the next refill may find it.
    pub fn new_work(&mut self) {
        self.exhausted = false;
        self.generation += 1;
    }

    /// Nothing to request now, and nothing on the way.
    pub fn out_of_work(&self) -> bool {
        self.urls.is_empty() && (self.exhausted || self.refilling)
    }

    /// Whether to lease more now: the window is half empty, no refill is on its way,
    /// and the frontier may have more.
    pub fn wants_refill(&self) -> bool {
        self.urls.len() < WINDOW / 2 && !self.refilling && !self.exhausted
    }

    /// A refill starts; returns the generation it belongs to.
    pub fn refill_started(&mut self) -> u64 {
        debug_assert!(!self.refilling, "one refill at a time");
        self.refilling = true;
        self.generation
    }

    /// What a refill of `generation` found. Returns the Unix ms of the host's next
    /// URL when none is due yet (the daemon sets a timer for it).
    pub fn leased(&mut self, lease: Lease, generation: u64, now: Instant) -> Option<u64> {
        self.refilling = false;
        match lease {
            Lease::Urls(urls) => {
                if self.urls.is_empty() && self.work_since.is_none() {
                    self.work_since = Some(now);
                }
                self.urls.extend(urls);
                None
            }
            Lease::NotDue(due_ms) => {
                self.exhausted = self.generation == generation;
                self.next_due_ms = Some(due_ms);
                Some(due_ms)
            }
            Lease::Empty => {
                self.exhausted = self.generation == generation;
                self.next_due_ms = None;
                None
            }
        }
    }

    /// The next URL to request, and how long it had been ready (for metrics).
    pub fn next(&mut self, now: Instant) -> Option<(QueueEntry, Option<Duration>)> {
        let entry = self.urls.pop_front()?;
        let waited = self
            .work_since
            .take()
            .map(|since| now.saturating_duration_since(since));
        Some((entry, waited))
    }

    /// The URL just taken will be requested: the next one starts waiting now.
    pub fn requested(&mut self, now: Instant) {
        if !self.urls.is_empty() {
            self.work_since = Some(now);
        }
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn next_due_ms(&self) -> Option<u64> {
        self.next_due_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::UrlKind;

    fn urls(n: usize) -> Lease {
        Lease::Urls(
            (0..n)
                .map(|i| {
                    QueueEntry::found(format!("http://a.example/{i}"), "a", UrlKind::Article, 0)
                })
                .collect(),
        )
    }

    #[test]
    fn a_window_is_refilled_before_it_runs_dry_one_refill_at_a_time() {
        let now = Instant::now();
        let mut w = Window::default();
        assert!(w.wants_refill() && !w.out_of_work());
        let generation = w.refill_started();
        assert!(!w.wants_refill(), "one refill at a time");
        assert!(
            w.out_of_work(),
            "nothing to request while the refill is out"
        );
        assert_eq!(w.leased(urls(WINDOW), generation, now), None);
        assert!(!w.wants_refill());
        for _ in 0..=WINDOW / 2 {
            w.next(now).unwrap();
        }
        assert!(
            w.wants_refill(),
            "half empty: lease more before it is empty"
        );
        assert_eq!(w.len(), WINDOW / 2 - 1);
    }

    #[test]
    fn only_a_refill_of_the_current_generation_exhausts_the_host() {
        let now = Instant::now();
        let mut w = Window::default();
        // A refill starts, then links for the host are committed: the refill may
        // have read the frontier before them, so its empty answer proves nothing.
        let stale = w.refill_started();
        w.new_work();
        w.leased(Lease::Empty, stale, now);
        assert!(!w.out_of_work() && w.wants_refill());
        let current = w.refill_started();
        w.leased(Lease::Empty, current, now);
        assert!(w.out_of_work() && !w.wants_refill());
        // New work wakes it again.
        w.new_work();
        assert!(w.wants_refill());
    }

    #[test]
    fn a_url_due_later_is_remembered_for_the_daemon() {
        let now = Instant::now();
        let mut w = Window::default();
        let generation = w.refill_started();
        assert_eq!(w.leased(Lease::NotDue(5_000), generation, now), Some(5_000));
        assert!(w.out_of_work());
        assert_eq!(w.next_due_ms(), Some(5_000));
        let generation = {
            w.new_work();
            w.refill_started()
        };
        w.leased(Lease::Empty, generation, now);
        assert_eq!(w.next_due_ms(), None);
    }

    #[test]
    fn the_wait_of_ready_work_is_measured_from_when_it_was_ready() {
        let t0 = Instant::now();
        let mut w = Window::default();
        let generation = w.refill_started();
        w.leased(urls(2), generation, t0);
        let t1 = t0 + Duration::from_millis(30);
        let (_, waited) = w.next(t1).unwrap();
        assert_eq!(waited, Some(Duration::from_millis(30)));
        w.requested(t1);
        let t2 = t1 + Duration::from_millis(5);
        assert_eq!(w.next(t2).unwrap().1, Some(Duration::from_millis(5)));
        w.requested(t2);
        assert!(w.next(t2).is_none());
    }
}
