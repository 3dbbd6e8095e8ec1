//! What one try of a host's robots.txt leads to, and the gap its Crawl-delay sets: the
//! rules both engines follow, the local scheduler through its host state
//! (`scheduler::robots_state`) and a shared worker through the copy it stores.
//!
//! Invariant: a host whose robots.txt cannot be read gets `max_retries` more tries,
//! each after the failure backoff, then none in a one-shot crawl (its URLs stay queued
//! for a later run) and one every [`PARKED_RETRY`] in a daemon; none of its pages is
//! requested meanwhile.

use std::time::Duration;

use super::Mode;
use crate::politeness::Politeness;

/// A daemon's wait between two tries of a robots.txt that stayed unavailable after
/// every retry.
pub(crate) const PARKED_RETRY: Duration = Duration::from_secs(15 * 60);

/// Where a try of robots.txt leaves the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A usable copy (2xx or 4xx): URLs are checked against it until `robots_ttl`.
    Ready,
    /// The host's address may not be connected to (`netguard`): none of its URLs is
    /// requested.
    Refused,
    /// Unavailable: try again after `wait`.
    Retry { wait: Duration },
    /// Unavailable after every try: a daemon tries again after `again_in`; a one-shot
    /// crawl leaves the host's URLs queued for a later run.
    GiveUp { again_in: Option<Duration> },
}

/// The verdict after the host's `tries`-th try in a row (counted since its last
/// usable copy, this one included).
pub(crate) fn after_try(
    usable: bool,
    refused: bool,
    tries: u32,
    policy: &Politeness,
    mode: Mode,
) -> Verdict {
    if refused {
        Verdict::Refused
    } else if usable {
        Verdict::Ready
    } else if tries > policy.max_retries {
        Verdict::GiveUp {
            again_in: (mode == Mode::Daemon).then_some(PARKED_RETRY),
        }
    } else {
        Verdict::Retry {
            wait: retry_wait(tries, policy),
        }
    }
}

/// How long after the `tries`-th failed try in a row the host's robots.txt is tried
/// again: the retry wait, or a daemon's rest once it gave up (a one-shot crawl that
/// gave up tries again in its next run, after the retry wait). The shared engine keeps
/// an unusable copy this long; the local one waits on the host's clock and a timer.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn next_try_in(tries: u32, policy: &Politeness, mode: Mode) -> Duration {
    match after_try(false, false, tries, policy, mode) {
        Verdict::GiveUp {
            again_in: Some(rest),
        } => rest,
        _ => retry_wait(tries, policy),
    }
}

/// The wait after the `tries`-th failed try in a row: `error_backoff`, doubled for each
/// earlier one, at most `max_delay`. It is the failure backoff a host's pace reaches
/// after as many failures ([`crate::politeness::next_backoff`]), so the local clock,
/// which keeps that backoff, waits as long.
pub(crate) fn retry_wait(tries: u32, policy: &Politeness) -> Duration {
    let doublings = tries.saturating_sub(1).min(20);
    policy
        .error_backoff
        .saturating_mul(1 << doublings)
        .min(policy.max_delay)
}

/// The gap a copy's `Crawl-delay` (in seconds) asks for, capped at `max_crawl_delay`,
/// and whether it was capped; none for a value that is not a positive number.
pub(crate) fn crawl_delay(seconds: Option<f64>, policy: &Politeness) -> Option<(Duration, bool)> {
    let seconds = seconds.filter(|s| s.is_finite() && *s > 0.0)?;
    let asked = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
    let max = policy.max_crawl_delay;
    Some((asked.min(max), asked > max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::politeness::{next_backoff, Feedback};

    fn policy() -> Politeness {
        Politeness {
            max_retries: 2,
            error_backoff: Duration::from_secs(5),
            max_delay: Duration::from_secs(60),
            ..Politeness::default()
        }
    }

    #[test]
    fn a_usable_copy_is_ready_and_a_refused_host_is_refused_whatever_the_tries() {
        for mode in [Mode::OneShot, Mode::Daemon] {
            assert_eq!(after_try(true, false, 7, &policy(), mode), Verdict::Ready);
            assert_eq!(after_try(false, true, 1, &policy(), mode), Verdict::Refused);
            assert_eq!(after_try(true, true, 1, &policy(), mode), Verdict::Refused);
        }
    }

    #[test]
    fn an_unavailable_copy_is_tried_max_retries_more_times_then_given_up() {
        let p = policy();
        for mode in [Mode::OneShot, Mode::Daemon] {
            assert_eq!(
                after_try(false, false, 1, &p, mode),
                Verdict::Retry {
                    wait: Duration::from_secs(5)
                }
            );
            assert_eq!(
                after_try(false, false, 2, &p, mode),
                Verdict::Retry {
                    wait: Duration::from_secs(10)
                }
            );
        }
        assert_eq!(
            after_try(false, false, 3, &p, Mode::OneShot),
            Verdict::GiveUp { again_in: None }
        );
        assert_eq!(
            after_try(false, false, 3, &p, Mode::Daemon),
            Verdict::GiveUp {
                again_in: Some(PARKED_RETRY)
            }
        );
        // A daemon's later tries, after a rest, give up again at once.
        assert_eq!(
            after_try(false, false, 4, &p, Mode::Daemon),
            Verdict::GiveUp {
                again_in: Some(PARKED_RETRY)
            }
        );
    }

    #[test]
    fn the_next_try_of_an_unavailable_copy_is_after_the_wait_or_a_daemons_rest() {
        let p = policy();
        assert_eq!(next_try_in(1, &p, Mode::Daemon), Duration::from_secs(5));
        assert_eq!(next_try_in(3, &p, Mode::Daemon), PARKED_RETRY);
        assert_eq!(next_try_in(3, &p, Mode::OneShot), Duration::from_secs(20));
    }

    #[test]
    fn the_retry_wait_is_the_backoff_a_clock_reaches_after_as_many_failures() {
        let p = policy();
        let mut backoff = Duration::ZERO;
        for tries in 1..=12 {
            backoff = next_backoff(backoff, &Feedback::Failed, &p);
            assert_eq!(retry_wait(tries, &p), backoff, "after {tries} failures");
        }
        assert_eq!(retry_wait(u32::MAX, &p), p.max_delay);
    }

    #[test]
    fn crawl_delay_is_capped_and_nonsense_is_ignored() {
        let p = Politeness {
            max_crawl_delay: Duration::from_secs(60),
            ..Politeness::default()
        };
        assert_eq!(crawl_delay(None, &p), None);
        assert_eq!(
            crawl_delay(Some(2.5), &p),
            Some((Duration::from_millis(2500), false))
        );
        assert_eq!(
            crawl_delay(Some(3600.0), &p),
            Some((Duration::from_secs(60), true))
        );
        assert_eq!(
            crawl_delay(Some(1e300), &p),
            Some((Duration::from_secs(60), true))
        );
        for nonsense in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(crawl_delay(Some(nonsense), &p), None, "{nonsense}");
        }
    }
}
