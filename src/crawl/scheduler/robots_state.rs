//! A host's robots.txt as the local scheduler tracks it: not read from the store yet,
//! needed, being fetched, ready, or parked after every try failed. Pure state (no
//! runtime, no I/O, times passed in), unit-tested; the scheduler does what each step
//! says and logs what each verdict means.
//!
//! Invariant: a host's pages are dispatched only from `Ready`, and only while its copy
//! is younger than `robots_ttl`; no request of the host starts while its robots.txt
//! is being fetched or the host is parked.

use std::sync::Arc;

use crate::crawl::robots_turn::{after_try, Verdict};
use crate::crawl::Mode;
use crate::politeness::Politeness;
use crate::robots::Robots;
use crate::store::RobotsCopy;

pub(super) enum HostRobots {
    /// The store has not been asked for a copy yet.
    Unknown,
    /// No usable copy: fetch one when the clock allows. `failures`: tries in a row
    /// that found none.
    Needed {
        failures: u32,
    },
    Fetching {
        failures: u32,
    },
    Ready {
        robots: Arc<Robots>,
        fetched_at_ms: u64,
    },
    /// Every try failed: the host's URLs stay queued (for the next run; in a daemon,
    /// until a timer calls [`HostRobots::unpark`]).
    Parked {
        failures: u32,
    },
}

/// What the host's next request is.
pub(super) enum Step {
    /// Read the host's record from the store first ([`HostRobots::restored`]).
    Load,
    /// Fetch robots.txt ([`HostRobots::fetching`]).
    Fetch,
    /// Nothing until an answer or a timer.
    Wait,
    /// Its next page, checked against this policy.
    Pages(Arc<Robots>),
}

impl HostRobots {
    /// The state a stored copy gives: ready while it is usable and fresh, else needed.
    pub fn restored(
        copy: Option<&RobotsCopy>,
        usable: bool,
        now_ms: u64,
        ttl_ms: u64,
        parse: impl FnOnce(&RobotsCopy) -> Robots,
    ) -> Self {
        match copy {
            Some(copy) if usable && now_ms.saturating_sub(copy.fetched_at_ms) < ttl_ms => {
                Self::Ready {
                    robots: Arc::new(parse(copy)),
                    fetched_at_ms: copy.fetched_at_ms,
                }
            }
            _ => Self::Needed { failures: 0 },
        }
    }

    /// The host's next request; a copy older than `ttl_ms` is needed again.
    pub fn next(&mut self, now_ms: u64, ttl_ms: u64) -> Step {
        match self {
            Self::Unknown => Step::Load,
            Self::Needed { .. } => Step::Fetch,
            Self::Fetching { .. } | Self::Parked { .. } => Step::Wait,
            Self::Ready {
                robots,
                fetched_at_ms,
            } => {
                if now_ms.saturating_sub(*fetched_at_ms) >= ttl_ms {
                    *self = Self::Needed { failures: 0 };
                    Step::Fetch
                } else {
                    Step::Pages(robots.clone())
                }
            }
        }
    }

    /// The fetch [`Step::Fetch`] asked for has started.
    pub fn fetching(&mut self) {
        if let Self::Needed { failures } = *self {
            *self = Self::Fetching { failures };
        }
    }

    /// The fetch ended: `usable` is the policy of a usable copy, `refused` why the
    /// host may not be connected to. Returns the verdict and the tries in a row so far.
    pub fn answered(
        &mut self,
        usable: Option<Robots>,
        refused: Option<String>,
        fetched_at_ms: u64,
        policy: &Politeness,
        mode: Mode,
    ) -> (Verdict, u32) {
        let failures = match *self {
            Self::Fetching { failures } => failures,
            _ => 0,
        };
        let tries = failures + 1;
        let verdict = after_try(usable.is_some(), refused.is_some(), tries, policy, mode);
        *self = match (verdict, usable, refused) {
            // Not an outage: the host's URLs are settled with the reason.
            (Verdict::Refused, _, Some(reason)) => Self::Ready {
                robots: Arc::new(Robots::disallow_all(reason)),
                fetched_at_ms,
            },
            (Verdict::Ready, Some(robots), _) => Self::Ready {
                robots: Arc::new(robots),
                fetched_at_ms,
            },
            (Verdict::GiveUp { .. }, ..) => Self::Parked { failures: tries },
            _ => Self::Needed { failures: tries },
        };
        (verdict, tries)
    }

    /// A parked host's rest is over: its robots.txt is tried again (once, in a row
    /// that already failed).
    pub fn unpark(&mut self) {
        if let Self::Parked { failures } = *self {
            *self = Self::Needed { failures };
        }
    }

    /// No request of the host may start in this state.
    pub fn blocks(&self) -> bool {
        matches!(self, Self::Fetching { .. } | Self::Parked { .. })
    }

    /// The policy in force, if any.
    pub fn ready(&self) -> Option<&Arc<Robots>> {
        match self {
            Self::Ready { robots, .. } => Some(robots),
            _ => None,
        }
    }

    /// The state's name in `/status`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Needed { .. } => "needed",
            Self::Fetching { .. } => "fetching",
            Self::Ready { .. } => "ready",
            Self::Parked { .. } => "parked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: u64 = 1_000;

    fn policy() -> Politeness {
        Politeness {
            max_retries: 1,
            ..Politeness::default()
        }
    }

    fn copy(status: u16, fetched_at_ms: u64) -> RobotsCopy {
        RobotsCopy {
            status,
            body: b"User-agent: *\nDisallow: /private/\n".to_vec(),
            fetched_at_ms,
            error: None,
        }
    }

    fn parse(copy: &RobotsCopy) -> Robots {
        Robots::parse(&copy.body, "newscrawl")
    }

    fn pages(step: Step) -> Arc<Robots> {
        match step {
            Step::Pages(robots) => robots,
            _ => panic!("expected pages"),
        }
    }

    #[test]
    fn a_fresh_usable_copy_from_the_store_lets_pages_go_until_it_expires() {
        let stored = copy(200, 10_000);
        let mut state = HostRobots::restored(Some(&stored), true, 10_500, TTL, parse);
        let robots = pages(state.next(10_999, TTL));
        assert!(!robots.allows("/private/a"));
        assert!(robots.allows("/news/a"));
        assert!(matches!(state.next(11_000, TTL), Step::Fetch));
        assert!(matches!(state, HostRobots::Needed { failures: 0 }));
    }

    #[test]
    fn a_stale_unusable_or_missing_copy_is_fetched() {
        let stale = copy(200, 0);
        let broken = copy(503, 10_000);
        for (stored, usable) in [(Some(&stale), true), (Some(&broken), false), (None, false)] {
            let mut state = HostRobots::restored(stored, usable, 10_000, TTL, parse);
            assert!(matches!(state.next(10_000, TTL), Step::Fetch));
        }
    }

    #[test]
    fn nothing_starts_while_the_copy_is_fetched_and_an_answer_ends_the_fetch() {
        let mut state = HostRobots::Unknown;
        assert!(matches!(state.next(0, TTL), Step::Load));
        state = HostRobots::Needed { failures: 0 };
        state.fetching();
        assert!(state.blocks());
        assert!(matches!(state.next(0, TTL), Step::Wait));
        let (verdict, tries) = state.answered(
            Some(parse(&copy(200, 5))),
            None,
            5,
            &policy(),
            Mode::OneShot,
        );
        assert_eq!((verdict, tries), (Verdict::Ready, 1));
        assert!(!state.blocks());
        assert!(!pages(state.next(6, TTL)).allows("/private/x"));
    }

    #[test]
    fn an_outage_is_retried_then_parked_and_a_daemon_tries_again_once() {
        let p = policy();
        let mut state = HostRobots::Needed { failures: 0 };
        state.fetching();
        let (verdict, tries) = state.answered(None, None, 1, &p, Mode::Daemon);
        assert!(matches!(verdict, Verdict::Retry { .. }));
        assert_eq!(tries, 1);
        assert!(matches!(state.next(1, TTL), Step::Fetch));
        state.fetching();
        let (verdict, tries) = state.answered(None, None, 2, &p, Mode::Daemon);
        assert!(matches!(verdict, Verdict::GiveUp { again_in: Some(_) }));
        assert_eq!(tries, 2);
        assert!(state.blocks());
        assert!(matches!(state.next(3, TTL), Step::Wait));
        state.unpark();
        assert!(matches!(state.next(4, TTL), Step::Fetch));
        state.fetching();
        let (verdict, tries) = state.answered(None, None, 5, &p, Mode::Daemon);
        assert!(matches!(verdict, Verdict::GiveUp { .. }), "{verdict:?}");
        assert_eq!(tries, 3);
        state.unpark();
        state.fetching();
        let (verdict, _) = state.answered(Some(Robots::allow_all()), None, 6, &p, Mode::Daemon);
        assert_eq!(verdict, Verdict::Ready);
        assert!(pages(state.next(7, TTL)).allows("/private/x"));
    }

    #[test]
    fn a_refused_host_is_ready_with_a_policy_that_denies_everything() {
        let mut state = HostRobots::Needed { failures: 0 };
        state.fetching();
        let reason = "127.0.0.1 is a private address".to_string();
        let (verdict, _) = state.answered(None, Some(reason.clone()), 9, &policy(), Mode::OneShot);
        assert_eq!(verdict, Verdict::Refused);
        let robots = pages(state.next(10, TTL));
        assert!(!robots.allows("/"));
        assert_eq!(robots.disallow_all_reason(), Some(reason.as_str()));
    }

    #[test]
    fn unpark_and_fetching_leave_other_states_alone() {
        let mut ready = HostRobots::Ready {
            robots: Arc::new(Robots::allow_all()),
            fetched_at_ms: 0,
        };
        ready.unpark();
        ready.fetching();
        assert_eq!(ready.label(), "ready");
        let mut unknown = HostRobots::Unknown;
        unknown.fetching();
        assert_eq!(unknown.label(), "unknown");
    }
}
