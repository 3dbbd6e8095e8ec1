//! The Redis server's clock as seen from this worker, bounded from below: a claim's
//! answer says that the server's clock read at least `now_ms` when the answer
//! arrived, so from any answer one can tell a local instant by which the server's
//! clock has surely passed a given time. The tightest bound of the last second or two
//! is kept: the answer that spent least time on its way back.
//!
//! Invariant: [`ServerClock::local_instant_at`] is never earlier than the instant
//! the server's clock reads that time, provided both clocks run at the same rate over
//! two seconds (NTP slews a clock by at most 0.5 ms a second; a request's gap counts
//! from the end of the answer before it, whose own duration covers that).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Bounds older than this are dropped, so that a drifting clock cannot build up.
const WINDOW: Duration = Duration::from_secs(1);

pub(super) struct ServerClock {
    base: Instant,
    bounds: Mutex<Bounds>,
}

/// The best lower bound of the server's clock minus the local one (µs), in the
/// current window and in the one before it.
#[derive(Default)]
struct Bounds {
    window: u64,
    current: Option<i64>,
    previous: Option<i64>,
}

impl ServerClock {
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            bounds: Mutex::default(),
        }
    }

    fn local_us(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.base).as_micros() as i64
    }

    /// The server's clock read `server_ms` before an answer that arrived at `arrived`.
    pub fn observe(&self, arrived: Instant, server_ms: u64) {
        let offset = server_ms as i64 * 1000 - self.local_us(arrived);
        let window = (self.local_us(arrived) as u64) / WINDOW.as_micros() as u64;
        let mut bounds = self.bounds.lock().expect("server clock lock poisoned");
        if window > bounds.window {
            bounds.previous = (window == bounds.window + 1)
                .then_some(bounds.current)
                .flatten();
            bounds.current = None;
            bounds.window = window;
        }
        bounds.current = Some(bounds.current.map_or(offset, |best| best.max(offset)));
    }

    /// The earliest local instant by which the server's clock surely reads
    /// `server_ms`; `None` before any answer was observed.
    pub fn local_instant_at(&self, server_ms: u64) -> Option<Instant> {
        let bounds = self.bounds.lock().expect("server clock lock poisoned");
        let best = bounds.current.into_iter().chain(bounds.previous).max()?;
        let local_us = server_ms as i64 * 1000 - best;
        Some(self.base + Duration::from_micros(local_us.max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_recent_bound_is_used_and_never_runs_early() {
        let clock = ServerClock::new();
        assert_eq!(clock.local_instant_at(5), None);
        let at = clock.base + Duration::from_millis(100);
        // The server read 1,000,000 ms before this answer arrived.
        clock.observe(at, 1_000_000);
        assert_eq!(
            clock.local_instant_at(1_000_050),
            Some(at + Duration::from_millis(50))
        );
        // An answer that came back faster (the server read later for the same
        // arrival) is a tighter bound: the server's clock is ahead by 3 ms more.
        clock.observe(at + Duration::from_millis(10), 1_000_013);
        assert_eq!(
            clock.local_instant_at(1_000_050),
            Some(at + Duration::from_millis(47))
        );
        // A slower one changes nothing.
        clock.observe(at + Duration::from_millis(20), 1_000_015);
        assert_eq!(
            clock.local_instant_at(1_000_050),
            Some(at + Duration::from_millis(47))
        );
        // Two windows later, only new answers count.
        clock.observe(at + Duration::from_secs(2), 1_002_000);
        assert_eq!(
            clock.local_instant_at(1_002_050),
            Some(at + Duration::from_millis(2_050))
        );
    }
}
