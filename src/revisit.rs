//! When to look at a listing page (section, feed, sitemap) again: an estimate of how
//! often it changes, and the revisit interval that follows from it.
//!
//! The estimate follows Cho and Garcia-Molina ("Estimating frequency of change", ACM
//! TOIT 2003): a page is assumed to change as a Poisson process of rate λ; a visit
//! only tells whether it changed since the last one. Of `n` visits at mean interval
//! `I`, `X` saw a change; the bias-reduced estimator is
//! `λ = -ln((n - X + 0.5) / (n + 0.5)) / I`, which stays finite when every visit saw
//! a change. Counts decay by [`DECAY`] per visit, so the estimate follows a section
//! whose rhythm changes (a busy morning, a quiet night).
//!
//! The interval follows the square-root law: for pages that change as Poisson
//! processes, the mean delay between a change and the visit that sees it, for a given
//! number of visits, is least when each page's interval is proportional to
//! 1/sqrt(rate) (not 1/rate, which costs as much delay as visiting all pages alike).
//! The lower bound sets the price of a visit: a page that changes once per `min` is
//! visited every `min`, one that changes k times less often sqrt(k) times less often,
//! `interval = sqrt(min / rate)`. One visit moves the interval by at most a factor of
//! two, and never against what it saw: a visit that found a change does not lengthen
//! it, one that found none does not shorten it, so a section that was quiet all night
//! is looked at sooner as soon as the morning's first article appears.
//!
//! A page that has shown nothing new for a time `T` is not taken for a dead one: the
//! most its silence says is that its rate is about `0.5 / T` (the posterior mean under
//! Jeffreys' prior after no event in `T`), and the rate used is never below that. So a
//! quiet page's interval grows as `sqrt(2 price T)` instead of doubling at each visit
//! (which would take a section publishing once an hour to the upper bound before its
//! next article); it reaches the upper bound only after a long silence (three weeks
//! for bounds of 2 minutes and 6 hours), and the extra visits are cheap ones, a quiet
//! page answering a conditional request with a 304. Silence means the page answered
//! as it was (a 304, the same bytes). A page that changed with only known URLs on it is
//! covered by another (a feed, a home page listing the newest): it has no such bound,
//! and its interval keeps doubling, so the requests go to the page that shows the news
//! first.
//!
//! A site's listing budget (`max_listing_rate`) raises the price of a visit until the
//! law's visits add up to the budget ([`ListingBudget`]).
//!
//! A page that another listing page is known to contain (`crawl::cover`: a section
//! whose stories the home page lists) is found [`Finding::Elsewhere`] at every visit
//! and goes to the upper bound: its visits only catch what the other page let scroll
//! off, which its next pages recover, and check that it is still contained.
//!
//! Invariants: the interval always lies within the bounds; one visit moves it by at
//! most a factor of two (a page found `Elsewhere` aside: it goes to the upper bound),
//! and without a budget never in the direction opposite to the visit's finding.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Weight left to past visits at each new one (an effective memory of ~5 visits).
pub const DECAY: f64 = 0.8;

/// The range a page's revisit interval stays in, and the price of a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisitBounds {
    pub min: Duration,
    pub max: Duration,
    /// What a visit costs, in the square-root law's terms (`interval = sqrt(price /
    /// rate)`): the site's listing budget sets it ([`ListingBudget`]); without one it
    /// is `min`.
    pub price: Option<Duration>,
}

impl RevisitBounds {
    fn clamp_ms(&self, ms: f64) -> u64 {
        let (min, max) = (self.min.as_millis() as f64, self.max.as_millis() as f64);
        ms.clamp(min, max.max(min)) as u64
    }

    fn price_ms(&self) -> f64 {
        self.price.unwrap_or(self.min).as_millis().max(1) as f64
    }
}

/// The listing budgets of a crawl's sites, by site name.
#[derive(Debug, Default)]
pub struct ListingBudgets {
    sites: std::collections::HashMap<String, ListingBudget>,
}

impl ListingBudgets {
    /// A site's revisit bounds, priced by its budget when it has one.
    pub fn bounds(
        &self,
        site: &str,
        bounds: RevisitBounds,
        per_hour: Option<f64>,
    ) -> RevisitBounds {
        match (per_hour, self.sites.get(site)) {
            (Some(per_hour), Some(budget)) => budget.bounds(bounds, per_hour),
            _ => bounds,
        }
    }

    /// Takes in a listing page's estimate after a visit, and the interval to its next.
    pub fn learn(&mut self, site: &str, url: &str, changes_per_hour: f64, interval: Duration) {
        self.sites
            .entry(site.to_string())
            .or_default()
            .learn(url, changes_per_hour, interval);
    }
}

/// A site's listing budget (`max_listing_rate`, listing requests an hour), spent where
/// it buys the most freshness: by the square-root law, page `i` is visited
/// `sqrt(rate_i)` times as often as a page that changes once an hour, all scaled so the
/// visits add up to the budget. That is the law's price `p = (sum of sqrt(rate_i) /
/// budget)^2`, never below `min`; pages that showed no change yet cost what their
/// current intervals spend (one visit per `max` once they have grown to it), taken off
/// the budget first, so that the budget holds while their intervals still grow.
///
/// Invariant: it knows each listing page by its last estimate only, so a page counts
/// once however often it is visited; the price follows the site's pages as their
/// estimates change.
#[derive(Debug, Default, Clone)]
pub struct ListingBudget {
    /// Per page: its changes an hour, and its current interval in hours.
    pages: std::collections::HashMap<String, (f64, f64)>,
}

impl ListingBudget {
    /// Takes in a listing page's current estimate, in changes an hour, and its
    /// current interval.
    pub fn learn(&mut self, url: &str, changes_per_hour: f64, interval: Duration) {
        self.pages.insert(
            url.to_string(),
            (changes_per_hour.max(0.0), interval.as_secs_f64() / 3600.0),
        );
    }

    /// The listing pages it knows.
    pub fn pages(&self) -> usize {
        self.pages.len()
    }

    /// The bounds with the price that spends `per_hour` visits an hour on the pages
    /// known.
    pub fn bounds(&self, bounds: RevisitBounds, per_hour: f64) -> RevisitBounds {
        let roots: f64 = self.pages.values().map(|(r, _)| r.sqrt()).sum();
        let (min_hours, max_hours) = (
            bounds.min.as_secs_f64() / 3600.0,
            bounds.max.as_secs_f64() / 3600.0,
        );
        // What the quiet pages spend now: one visit per current interval.
        let quiet: f64 = self
            .pages
            .values()
            .filter(|(r, _)| *r <= 0.0)
            .map(|(_, hours)| 1.0 / hours.clamp(min_hours, max_hours).max(1e-9))
            .sum();
        // Never less than a tenth of the budget for the pages that change.
        let left = (per_hour - quiet).max(per_hour / 10.0);
        if self.pages.is_empty() || left <= 0.0 {
            return bounds;
        }
        // Before any page was seen to change, the budget shared evenly.
        let price_hours = if roots > 0.0 {
            (roots / left).powi(2)
        } else {
            self.pages.len() as f64 / per_hour
        };
        let price = Duration::from_secs_f64((price_hours * 3600.0).min(bounds.max.as_secs_f64()));
        RevisitBounds {
            price: Some(price.max(bounds.min)),
            ..bounds
        }
    }
}

/// What a visit to a listing page found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// A URL never seen before (or a sitemap's newer modification time): a change.
    New,
    /// The page had changed, but every URL on it was known already: another page (a
    /// feed, a home page listing the newest) shows its news first.
    Covered,
    /// The page as it was (a 304, or the same bytes): nothing happened.
    Same,
    /// Another listing page shows this page's news and more (`crawl::cover`): whatever
    /// the visit found, it bought nothing the other page does not show, so the page
    /// is visited at the upper bound, whatever its own rate.
    Elsewhere,
}

/// What the crawl has learned about how often one page changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEstimate {
    /// Decayed count of visits that had an earlier visit to compare with.
    pub visits: f64,
    /// Decayed count of those visits that found a change.
    pub changes: f64,
    /// Decayed sum of the intervals those visits covered, in ms.
    pub span_ms: f64,
    /// The current revisit interval, in ms.
    pub interval_ms: u64,
    pub last_visit_ms: u64,
    /// The last visit that found something new: the first visit, when every link was,
    /// or a later one that found a URL never seen before. `None` once a visit found
    /// the page [`Finding::Covered`] (its silence then says nothing of its rate), and
    /// in estimates stored before the quiet-time bound; the next change sets it again.
    pub last_change_ms: Option<u64>,
}

impl ChangeEstimate {
    /// After a first visit: nothing known yet, so assume the page is busy and come
    /// back after the shortest interval (under a listing budget, after the price).
    pub fn first(now_ms: u64, bounds: &RevisitBounds) -> Self {
        Self {
            visits: 0.0,
            changes: 0.0,
            span_ms: 0.0,
            interval_ms: bounds.clamp_ms(bounds.price.map_or(0.0, |p| p.as_millis() as f64)),
            last_visit_ms: now_ms,
            last_change_ms: Some(now_ms),
        }
    }

    /// The mean time from a change to the visit that sees it, at the current interval
    /// (half the interval, for changes that come at random times).
    pub fn expected_latency_ms(&self) -> u64 {
        self.interval_ms / 2
    }

    /// Estimated changes per hour (0 until a visit could compare with another).
    pub fn changes_per_hour(&self) -> f64 {
        self.rate_per_ms() * 3_600_000.0
    }

    fn rate_per_ms(&self) -> f64 {
        if self.visits <= 0.0 || self.span_ms <= 0.0 {
            return 0.0;
        }
        let unchanged = (self.visits - self.changes).max(0.0);
        let mean_interval = self.span_ms / self.visits;
        let rate = -((unchanged + 0.5) / (self.visits + 0.5)).ln() / mean_interval;
        // No change seen gives -ln(1) = -0.0: report it as a plain 0.
        if rate > 0.0 {
            rate
        } else {
            0.0
        }
    }

    /// Takes in a visit at `now_ms` and what it found, and sets the next interval.
    pub fn observe(&mut self, now_ms: u64, finding: Finding, bounds: &RevisitBounds) {
        let changed = finding == Finding::New;
        let elapsed = now_ms.saturating_sub(self.last_visit_ms) as f64;
        // How long the page has shown nothing at all, up to this visit.
        let quiet_ms = self
            .last_change_ms
            .map(|at| now_ms.saturating_sub(at))
            .filter(|_| finding == Finding::Same);
        self.visits = self.visits * DECAY + 1.0;
        self.changes = self.changes * DECAY + if changed { 1.0 } else { 0.0 };
        self.span_ms = self.span_ms * DECAY + elapsed;
        self.last_visit_ms = now_ms;
        match finding {
            Finding::New => self.last_change_ms = Some(now_ms),
            Finding::Covered | Finding::Elsewhere => self.last_change_ms = None,
            Finding::Same => {}
        }
        let old = self.interval_ms as f64;
        if finding == Finding::Elsewhere {
            self.interval_ms = bounds.clamp_ms(f64::INFINITY);
            return;
        }
        let rate = match quiet_ms {
            Some(quiet) if quiet > 0 => self.rate_per_ms().max(0.5 / quiet as f64),
            _ => self.rate_per_ms(),
        };
        let price = bounds.price_ms();
        let wanted = if rate > 0.0 {
            (price / rate).sqrt()
        } else {
            f64::INFINITY
        };
        let step = wanted.clamp(old / 2.0, old * 2.0);
        // Under a listing budget the price decides: a page that changes between most
        // visits would otherwise never lengthen its interval to what the budget allows.
        let directed = if bounds.price.is_some() {
            step
        } else if changed {
            step.min(old)
        } else {
            step.max(old)
        };
        self.interval_ms = bounds.clamp_ms(directed);
    }

    /// Keeps the interval within new bounds (after a config reload).
    pub fn rebound(&mut self, bounds: &RevisitBounds) {
        self.interval_ms = bounds.clamp_ms(self.interval_ms as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A visit that found something new, or the page as it was.
    fn seen(changed: bool) -> Finding {
        if changed {
            Finding::New
        } else {
            Finding::Same
        }
    }

    const MIN: u64 = 60_000;
    const BOUNDS: RevisitBounds = RevisitBounds {
        min: Duration::from_secs(60),
        max: Duration::from_secs(6 * 3600),
        price: None,
    };

    /// Visits at the interval the estimate asks for; `changes(visit_start, interval)`
    /// says whether a visit found a change.
    fn simulate(visits: usize, changes: impl Fn(u64, u64) -> bool) -> ChangeEstimate {
        let mut now = 0;
        let mut estimate = ChangeEstimate::first(now, &BOUNDS);
        for _ in 0..visits {
            let interval = estimate.interval_ms;
            let changed = changes(now, interval);
            now += interval;
            estimate.observe(now, seen(changed), &BOUNDS);
        }
        estimate
    }

    #[test]
    fn a_page_another_shows_goes_to_the_upper_bound_whatever_its_rate() {
        // A busy page: every visit found something new.
        let mut estimate = simulate(10, |_, _| true);
        assert_eq!(estimate.interval_ms, MIN);
        let mut now = 10 * MIN;
        let mut intervals = Vec::new();
        while estimate.interval_ms < BOUNDS.max.as_millis() as u64 {
            now += estimate.interval_ms;
            estimate.observe(now, Finding::Elsewhere, &BOUNDS);
            intervals.push(estimate.interval_ms / MIN);
        }
        assert_eq!(intervals, [360]);
        // Its own news again: it comes back down, by halves.
        now += estimate.interval_ms;
        estimate.observe(now, Finding::New, &BOUNDS);
        assert_eq!(estimate.interval_ms / MIN, 180);
    }

    #[test]
    fn a_page_that_never_changes_backs_off_as_its_silence_grows_to_the_upper_bound() {
        let mut estimate = ChangeEstimate::first(0, &BOUNDS);
        let mut now = 0;
        let mut seen = vec![(now, estimate.interval_ms)];
        while estimate.interval_ms < BOUNDS.max.as_millis() as u64 && seen.len() < 1000 {
            now += estimate.interval_ms;
            estimate.observe(now, Finding::Same, &BOUNDS);
            seen.push((now, estimate.interval_ms));
        }
        assert!(seen.windows(2).all(|w| w[1].1 >= w[0].1), "{seen:?}");
        // The interval after a silence of T is sqrt(2 x price x T), not a doubling.
        for &(quiet, interval) in &seen[1..seen.len() - 1] {
            let law = (2.0 * MIN as f64 * quiet as f64).sqrt();
            assert!(
                (interval as f64 - law).abs() <= 0.01 * law + 1.0,
                "after {quiet} ms of silence: {interval} ms, the law says {law}"
            );
        }
        // An hour's silence: about 11 minutes, not the doubling's 32 or 64.
        let (_, after_an_hour) = *seen.iter().find(|(t, _)| *t >= 60 * MIN).unwrap();
        assert!(
            (10 * MIN..13 * MIN).contains(&after_an_hour),
            "{after_an_hour}"
        );
        // 6 hours once silent for 6h x 6h / (2 x 1 min): 45 days.
        assert_eq!(estimate.interval_ms, BOUNDS.max.as_millis() as u64);
        let days = now as f64 / (24.0 * 60.0 * MIN as f64);
        assert!((44.0..46.0).contains(&days), "{days} days");
        assert_eq!(estimate.changes_per_hour(), 0.0);
    }

    #[test]
    fn a_page_another_page_covers_backs_off_by_doubling_until_it_shows_something_first() {
        let mut covered = ChangeEstimate::first(0, &BOUNDS);
        let mut quiet = ChangeEstimate::first(0, &BOUNDS);
        let (mut a, mut b) = (0, 0);
        for _ in 0..6 {
            a += covered.interval_ms;
            covered.observe(a, Finding::Covered, &BOUNDS);
            b += quiet.interval_ms;
            quiet.observe(b, Finding::Same, &BOUNDS);
        }
        // 1, 2, 4, ... 64 minutes: its news comes through the other page.
        assert_eq!(covered.interval_ms, 64 * MIN);
        assert_eq!(covered.last_change_ms, None);
        // A silent page is still looked at every sqrt(2 x 1 min x its silence).
        assert!(quiet.interval_ms < 16 * MIN, "{}", quiet.interval_ms);
        // Once the covered page shows something first, its silence counts again.
        a += covered.interval_ms;
        covered.observe(a, Finding::New, &BOUNDS);
        assert_eq!(covered.last_change_ms, Some(a));
        let after_change = covered.interval_ms;
        a += after_change;
        covered.observe(a, Finding::Same, &BOUNDS);
        let law = (2.0 * MIN as f64 * after_change as f64).sqrt() as u64;
        assert_eq!(covered.interval_ms, law.max(after_change));
    }

    #[test]
    fn a_quiet_section_is_visited_before_its_next_article_is_long_due() {
        // One article an hour, at random: within 1.2x of the least delay the same
        // visits could give. Doubling on every visit that found nothing gave 1.5x: it
        // reached an hour's interval before the next article was due.
        let mut random = 0x9E37_79B9_7F4A_7C15u64;
        let mut uniform = move || {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            (random >> 11) as f64 / (1u64 << 53) as f64
        };
        let hour = 60 * MIN;
        let mut arrivals = Vec::new();
        let mut at = 0.0;
        while at < (200 * hour) as f64 {
            at += -uniform().max(1e-12).ln() * hour as f64;
            arrivals.push(at as u64);
        }
        let (mut now, mut visits, mut delay, mut found) = (0u64, 0u64, 0u64, 0u64);
        let mut estimate = ChangeEstimate::first(now, &BOUNDS);
        let mut next = 0;
        while now < 200 * hour {
            now += estimate.interval_ms;
            visits += 1;
            let mut changed = false;
            while next < arrivals.len() && arrivals[next] <= now {
                delay += now - arrivals[next];
                found += 1;
                next += 1;
                changed = true;
            }
            estimate.observe(now, seen(changed), &BOUNDS);
        }
        let mean_delay_min = delay as f64 / found as f64 / MIN as f64;
        let visits_per_hour = visits as f64 / 200.0;
        // The optimum for these visits: a fixed interval of 1 / visits_per_hour, half
        // of it on average.
        let optimum_min = 30.0 / visits_per_hour;
        assert!(
            mean_delay_min < 1.35 * optimum_min,
            "{mean_delay_min:.1} min for {visits_per_hour:.1} visits an hour (optimum {optimum_min:.1})"
        );
        assert!((4.0..=15.0).contains(&visits_per_hour), "{visits_per_hour}");
    }

    #[test]
    fn a_page_that_always_changes_stays_at_the_lower_bound() {
        let estimate = simulate(20, |_, _| true);
        assert_eq!(estimate.interval_ms, MIN);
    }

    #[test]
    fn the_interval_settles_at_the_square_root_of_price_and_period() {
        // A new article every 30 minutes, on the half hour.
        let period = 30 * MIN;
        let changes = |start: u64, interval: u64| (start + interval) / period > start / period;
        let estimate = simulate(200, changes);
        // sqrt(1 min x 30 min), give or take the estimator's bias on a regular process.
        let interval = estimate.interval_ms as f64;
        let law = ((MIN * period) as f64).sqrt();
        assert!(
            (0.5 * law..=2.0 * law).contains(&interval),
            "interval {interval} ms for a change every {period} ms (law: {law})"
        );
        // Two an hour, on average over visits (one visit's estimate remembers about
        // five visits, less than one period here).
        let per_hour: f64 = (150..200)
            .map(|n| simulate(n, changes).changes_per_hour())
            .sum::<f64>()
            / 50.0;
        assert!((1.0..=4.0).contains(&per_hour), "{per_hour} changes/hour");
    }

    #[test]
    fn a_page_sixteen_times_busier_is_visited_four_times_as_often() {
        // The mean interval over many visits, for a change every `period`.
        let mean_interval = |period: u64| {
            let (mut now, mut sum) = (0, 0);
            let mut estimate = ChangeEstimate::first(now, &BOUNDS);
            for visit in 0..600 {
                let interval = estimate.interval_ms;
                let changed = (now + interval) / period > now / period;
                now += interval;
                estimate.observe(now, seen(changed), &BOUNDS);
                if visit >= 100 {
                    sum += interval;
                }
            }
            sum as f64 / 500.0
        };
        // The square-root law: 4x (1/rate would give 16x).
        let ratio = mean_interval(64 * MIN) / mean_interval(4 * MIN);
        assert!((2.5..=6.0).contains(&ratio), "{ratio}");
    }

    #[test]
    fn a_change_after_a_quiet_spell_shortens_the_interval() {
        let mut estimate = simulate(10, |_, _| false);
        let quiet = estimate.interval_ms;
        let now = estimate.last_visit_ms + quiet;
        estimate.observe(now, Finding::New, &BOUNDS);
        assert!(
            estimate.interval_ms < quiet,
            "{} vs {quiet}",
            estimate.interval_ms
        );
        assert!(estimate.interval_ms >= quiet / 2);
        let after_change = estimate.interval_ms;
        estimate.observe(now + after_change, Finding::New, &BOUNDS);
        assert!(estimate.interval_ms < after_change);
    }

    #[test]
    fn a_listing_budget_sets_the_price_that_spends_it() {
        // Pages changing 16, 4 and 1 times an hour, 30 visits an hour to spend.
        let mut budget = ListingBudget::default();
        for (url, rate) in [("a", 16.0), ("b", 4.0), ("c", 1.0)] {
            budget.learn(url, rate, Duration::from_secs(60));
        }
        let bounds = budget.bounds(BOUNDS, 30.0);
        let price = bounds.price.expect("a price").as_secs_f64() / 3600.0;
        // The law's intervals at that price add up to the budget: 4 + 2 + 1 = 7 roots.
        let visits: f64 = [16.0f64, 4.0, 1.0].iter().map(|r| (r / price).sqrt()).sum();
        assert!((visits - 30.0).abs() < 0.5, "{visits} visits an hour");
        assert!((price - (7.0f64 / 30.0).powi(2)).abs() < 1e-6);
        // A budget above what `min` allows leaves the price at `min`.
        assert_eq!(budget.bounds(BOUNDS, 1e6).price, Some(BOUNDS.min));
        // Relearning a page replaces its estimate: it counts once.
        budget.learn("a", 16.0, Duration::from_secs(60));
        assert_eq!(budget.pages(), 3);
        // Nothing learned yet: the bounds as they are.
        assert_eq!(ListingBudget::default().bounds(BOUNDS, 30.0), BOUNDS);
        // Pages known but none seen to change: the budget shared evenly, which is
        // where a new page's first interval starts.
        let mut quiet = ListingBudget::default();
        for url in ["a", "b", "c"] {
            quiet.learn(url, 0.0, Duration::from_secs(360));
        }
        let even = quiet.bounds(BOUNDS, 30.0);
        assert_eq!(even.price, Some(Duration::from_secs(360)));
        assert_eq!(ChangeEstimate::first(0, &even).interval_ms, 360_000);
    }

    #[test]
    fn quiet_pages_cost_what_their_intervals_spend_until_they_reach_the_bound() {
        // One page changing 16 times an hour, three that showed no change, 30 visits
        // an hour to spend.
        let price_with_quiet_at = |interval: Duration| {
            let mut budget = ListingBudget::default();
            budget.learn("busy", 16.0, Duration::from_secs(60));
            for url in ["a", "b", "c"] {
                budget.learn(url, 0.0, interval);
            }
            budget
                .bounds(BOUNDS, 30.0)
                .price
                .expect("a price")
                .as_secs_f64()
                / 3600.0
        };
        // At the bound (`max`, six hours here) they cost a visit per six hours each.
        let settled = price_with_quiet_at(BOUNDS.max);
        assert!(
            (settled - (4.0f64 / 29.5).powi(2)).abs() < 1e-9,
            "{settled}"
        );
        // Still at 10 minutes, they spend 18 an hour: 12 left, a dearer price.
        let growing = price_with_quiet_at(Duration::from_secs(600));
        assert!(
            (growing - (4.0f64 / 12.0).powi(2)).abs() < 1e-9,
            "{growing}"
        );
        // Below `min` they are charged at `min`, as they cannot be visited sooner.
        let at_min = price_with_quiet_at(Duration::ZERO);
        assert_eq!(at_min, price_with_quiet_at(BOUNDS.min));
    }

    #[test]
    fn a_higher_price_lengthens_the_interval_by_its_square_root() {
        let priced = RevisitBounds {
            price: Some(Duration::from_secs(4 * 60)),
            ..BOUNDS
        };
        let settle = |bounds: &RevisitBounds| {
            let mut estimate = ChangeEstimate::first(0, bounds);
            let mut now = 0;
            for visit in 0..400u64 {
                now += estimate.interval_ms;
                estimate.observe(now, seen(visit % 2 == 0), bounds);
            }
            estimate
        };
        let (cheap, dear) = (settle(&BOUNDS), settle(&priced));
        assert!(
            dear.interval_ms > cheap.interval_ms,
            "{} vs {}",
            dear.interval_ms,
            cheap.interval_ms
        );
    }

    #[test]
    fn bounds_hold_after_a_reload() {
        let mut estimate = simulate(10, |_, _| false);
        let tight = RevisitBounds {
            min: Duration::from_secs(10),
            max: Duration::from_secs(120),
            price: None,
        };
        estimate.rebound(&tight);
        assert_eq!(estimate.interval_ms, 120_000);
    }
}
