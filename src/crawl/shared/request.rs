//! One request under a lease: robots.txt when the host's copy is due, else the
//! claimed page (checked against the copy, then fetched and settled through the page
//! pipeline, whose commit completes the lease).
//!
//! Invariant: every claim handled here ends in exactly one completion (for a page:
//! the hand-on when the server answered, then the commit that settles it), or in none
//! when the request may no longer start within the lease (which then expires: the URL
//! stays queued, and the host's next request waits for the deadline plus its delay).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::url::Url;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::lease::LeasedPage;
use super::setup::Setup;
use super::{millis, ClaimHint, SharedCrawler, SharedRobots, SAFETY_MARGIN};
use crate::clock::now_ms;
use crate::crawl::page::{revisit_of, PageJob, PageOutcome};
use crate::crawl::robots_fetch::{fetch_robots, is_usable, policy_of, RobotsFetched};
use crate::crawl::robots_turn::{after_try, crawl_delay, next_try_in, Verdict};
use crate::crawl::CrawlError;
use crate::politeness::Feedback;
use crate::robots::Robots;
use crate::site::{path_and_query, Site};
use crate::store::redis_frontier::{Claim, Completion};
use crate::store::{RobotsCopy, UrlState, UrlStatus};

impl SharedCrawler {
    /// Makes one request under `claim` (asked for at `asked`), not before `start_at`,
    /// and completes the lease. `request` is this worker's room for one request in
    /// flight: given back when the server answered (or when no request is made).
    /// `hint` is told when the host may be claimed again.
    pub(super) async fn handle(
        self: &Arc<Self>,
        claim: Claim,
        (asked, start_at): (Instant, Instant),
        request: OwnedSemaphorePermit,
        hint: &Arc<ClaimHint>,
    ) {
        let host = claim.host.clone();
        // This request's config, to its end, whatever a reload does meanwhile.
        let setup = self.setup.get();
        // On this machine's clock, the last moment a request may start: counted from
        // before the claim was made, so it is never later than on Redis's clock.
        let lease_left = Duration::from_millis(claim.deadline_ms.saturating_sub(claim.now_ms));
        let start_by = (asked + lease_left)
            .checked_sub(setup.config.request_timeout + SAFETY_MARGIN)
            .unwrap_or(asked);
        tokio::time::sleep_until(start_at).await;
        let result = match setup.host_sites.get(&host).cloned() {
            None => {
                tracing::warn!(
                    host,
                    "host belongs to no site of this worker's config; left for later"
                );
                self.release(&setup, &claim, Duration::ZERO, true, hint)
                    .await
            }
            Some(site) => match &claim.page {
                None => {
                    self.fetch_robots(&setup, &claim, &site, start_by, hint)
                        .await
                }
                Some(_) => {
                    self.fetch_page(&setup, &claim, site, start_by, request, hint)
                        .await
                }
            },
        };
        if let Err(e) = result {
            tracing::warn!(host, "{e}");
        }
    }

    /// The completion of a lease that made no request: the host keeps its site's
    /// `min_delay` and its pace.
    fn unrequested(setup: &Setup, claim: &Claim) -> Completion {
        Completion {
            delay: setup
                .host_sites
                .get(&claim.host)
                .map_or(setup.config.politeness.min_delay, |s| s.min_delay),
            pace: claim.pace,
            ..Default::default()
        }
    }

    /// Ends a lease without a request.
    async fn release(
        &self,
        setup: &Setup,
        claim: &Claim,
        gap: Duration,
        park: bool,
        hint: &ClaimHint,
    ) -> Result<(), CrawlError> {
        let done = Completion {
            next_gap: gap,
            park,
            ..Self::unrequested(setup, claim)
        };
        self.complete(claim, done, hint).await
    }

    /// Completes a lease and tells the claim loop when its host may be claimed again.
    async fn complete(
        &self,
        claim: &Claim,
        done: Completion,
        hint: &ClaimHint,
    ) -> Result<(), CrawlError> {
        let completed = self
            .frontier
            .complete(claim, &self.shared.worker, done)
            .await?;
        hint.tell(Instant::now(), completed.next_claim);
        Ok(())
    }

    fn decode_robots(&self, claim: &Claim) -> Option<SharedRobots> {
        let bytes = claim.robots.as_ref()?;
        match postcard::from_bytes(bytes) {
            Ok(robots) => Some(robots),
            Err(e) => {
                tracing::warn!(
                    host = claim.host,
                    "stored robots.txt copy is corrupt ({e}); fetching it again"
                );
                None
            }
        }
    }

    /// The host's delay under a robots.txt policy: max(site min_delay, Crawl-delay
    /// capped at `max_crawl_delay`).
    fn delay_of(setup: &Setup, site: &Site, robots: Option<&Robots>) -> Duration {
        let crawl_delay = robots
            .and_then(|r| crawl_delay(r.crawl_delay, &setup.config.politeness))
            .map_or(Duration::ZERO, |(delay, _)| delay);
        site.min_delay.max(crawl_delay)
    }

    async fn fetch_robots(
        &self,
        setup: &Setup,
        claim: &Claim,
        site: &Site,
        start_by: Instant,
        hint: &ClaimHint,
    ) -> Result<(), CrawlError> {
        if Instant::now() > start_by {
            tracing::warn!(
                host = claim.host,
                "lease too short to start the robots.txt request; it is left to expire"
            );
            return Ok(());
        }
        let scheme = site
            .seeds
            .iter()
            .chain(&site.sitemaps)
            .chain(&site.feeds)
            .filter_map(|u| Url::parse(u.as_ref()).ok())
            .find(|u| crate::urlnorm::host_key(u).as_deref() == Some(claim.host.as_str()))
            .map_or_else(|| "https".to_string(), |u| u.scheme().to_string());
        let url = format!("{scheme}://{}/robots.txt", claim.host);
        let previous = self.decode_robots(claim);
        let RobotsFetched {
            copy,
            feedback,
            refused,
            ..
        } = fetch_robots(
            &setup.fetcher,
            &self.metrics,
            &claim.host,
            &url,
            site.min_delay,
        )
        .await;
        self.stats().robots_requests += 1;
        let policy = &setup.config.politeness;
        let usable = refused.is_none() && is_usable(&copy);
        let tries = previous.map_or(0, |p| p.failures) + 1;
        let failures = if usable { 0 } else { tries };
        let parsed = usable.then(|| policy_of(&copy, &setup.config.robots_token));
        let delay = Self::delay_of(setup, site, parsed.as_ref());
        let (pace, gap) = claim.pace.after(delay, &feedback, policy);
        let verdict = after_try(usable, refused.is_some(), tries, policy, self.mode);
        // A usable copy is kept for `robots_ttl`, an unusable one until the host's next
        // try; a one-shot crawl that gives up, or a refused host, parks the host, its
        // URLs queued for a later run.
        let valid = if usable {
            policy.robots_ttl
        } else {
            next_try_in(tries, policy, self.mode)
        };
        let park = match verdict {
            Verdict::Refused => true,
            Verdict::GiveUp { again_in } => again_in.is_none(),
            Verdict::Ready | Verdict::Retry { .. } => false,
        };
        if let Some(reason) = &refused {
            tracing::warn!(host = claim.host, "not crawled: {reason}");
        } else if let Verdict::GiveUp { again_in } = verdict {
            self.metrics.error("robots_unavailable");
            match again_in {
                Some(rest) => tracing::warn!(host = claim.host, "robots.txt unavailable after {tries} tries; trying again in {rest:?}"),
                None => tracing::warn!(host = claim.host, "robots.txt unavailable after {tries} tries; the host's URLs stay queued for a later run"),
            }
        }
        let sitemaps = parsed
            .as_ref()
            .map(|robots| crate::crawl::starts::sitemaps_named(site, robots, &setup.config))
            .unwrap_or_default();
        let encoded =
            postcard::to_stdvec(&SharedRobots { copy, failures }).expect("robots copy serializes");
        self.complete(
            claim,
            Completion {
                next_gap: gap,
                delay,
                pace,
                robots: Some((encoded, valid)),
                park,
                links: sitemaps,
                max_urls_per_host: setup.config.max_urls_per_host,
                ..Default::default()
            },
            hint,
        )
        .await
    }

    /// The parsed policy of a usable stored copy.
    fn robots_policy(&self, setup: &Setup, host: &str, copy: &RobotsCopy) -> Arc<Robots> {
        let mut cache = self.robots.lock().expect("robots cache poisoned");
        match cache.get(host) {
            Some((at, robots)) if *at == copy.fetched_at_ms => robots.clone(),
            _ => {
                let robots = Arc::new(policy_of(copy, &setup.config.robots_token));
                cache.insert(host.to_string(), (copy.fetched_at_ms, robots.clone()));
                robots
            }
        }
    }

    async fn fetch_page(
        self: &Arc<Self>,
        setup: &Arc<Setup>,
        claim: &Claim,
        site: Arc<Site>,
        start_by: Instant,
        request: OwnedSemaphorePermit,
        hint: &Arc<ClaimHint>,
    ) -> Result<(), CrawlError> {
        let page = claim.page.clone().expect("a page claim");
        let Some(robots) = self.decode_robots(claim) else {
            // The copy vanished or is corrupt: it expires now, so the next claim of
            // the host fetches it again.
            let done = Completion {
                robots: Some((Vec::new(), Duration::ZERO)),
                ..Self::unrequested(setup, claim)
            };
            return self.complete(claim, done, hint).await;
        };
        if !is_usable(&robots.copy) {
            let retry_at = robots.copy.fetched_at_ms
                + millis(next_try_in(
                    robots.failures,
                    &setup.config.politeness,
                    self.mode,
                ));
            let gap = Duration::from_millis(retry_at.saturating_sub(now_ms()));
            return self.release(setup, claim, gap, false, hint).await;
        }
        let policy = self.robots_policy(setup, &claim.host, &robots.copy);
        let delay = Self::delay_of(setup, &site, Some(&policy));
        let settle_unrequested = |status: UrlStatus, note: String| {
            let mut state = UrlState::queued(&page.entry);
            state.status = status;
            state.note = Some(note);
            Completion {
                url: Some(page.entry.url.clone()),
                state: Some(state),
                delay,
                pace: claim.pace,
                ..Default::default()
            }
        };
        let Ok(url) = Url::parse(&page.entry.url) else {
            let done = settle_unrequested(UrlStatus::Failed, "queued URL does not parse".into());
            return self.complete(claim, done, hint).await;
        };
        if !policy.allows(path_and_query(&url)) {
            self.stats().robots_denied += 1;
            self.metrics.robots_denied();
            let note = match policy.disallow_all_reason() {
                Some(reason) => format!("robots.txt disallows everything: {reason}"),
                None => "disallowed by robots.txt".to_string(),
            };
            let done = settle_unrequested(UrlStatus::RobotsDenied, note);
            return self.complete(claim, done, hint).await;
        }
        if Instant::now() > start_by {
            tracing::warn!(
                host = claim.host,
                "lease too short to start the request; it is left to expire"
            );
            return Ok(());
        }
        let leased = Arc::new(LeasedPage {
            frontier: self.frontier.clone(),
            runtime: tokio::runtime::Handle::current(),
            claim: claim.clone(),
            worker: self.shared.worker.clone(),
            state: page.state.clone(),
            delay,
            policy: setup.config.politeness.clone(),
            settle: self.shared.lease,
            claim_hint: hint.clone(),
            feedback: Mutex::new(None),
            hand_on: Mutex::new(None),
            settling: self.settling.clone(),
        });
        let revisit = revisit_of(
            self.mode,
            page.entry.kind,
            &site,
            &self.budgets.lock().expect("budgets lock poisoned"),
        );
        let site_name = site.name.clone();
        let job = PageJob {
            fetcher: setup.fetcher.clone(),
            cpu: self.cpu.clone(),
            store: leased.clone(),
            config: setup.config.clone(),
            parser: setup
                .site_parsers
                .get(&site.name)
                .cloned()
                .expect("every site has a parser"),
            site,
            entry: page.entry.clone(),
            url,
            metrics: self.metrics.clone(),
            revisit,
            known_links: self.known_links.clone(),
            cover: self.cover.clone(),
            robots: policy,
        };
        self.stats().requests += 1;
        let outcome = job
            .run(move |answered_at, answer: Feedback| {
                leased.answered(answered_at, answer);
                drop(request);
            })
            .await;
        match outcome {
            Ok(outcome) => {
                self.count(&outcome);
                if let (Some(rate), Some(due_ms)) = (outcome.revisit_rate, outcome.revisit_due_ms) {
                    let interval = Duration::from_millis(due_ms.saturating_sub(now_ms()));
                    self.budgets.lock().expect("budgets lock poisoned").learn(
                        &site_name,
                        &outcome.url,
                        rate,
                        interval,
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.stats().failed += 1;
                Err(e)
            }
        }
    }

    fn count(&self, outcome: &PageOutcome) {
        let mut stats = self.stats();
        match outcome.status {
            Some(UrlStatus::Fetched) if outcome.unchanged => stats.unchanged += 1,
            Some(UrlStatus::Fetched) => stats.pages_parsed += 1,
            Some(UrlStatus::Failed) => stats.failed += 1,
            Some(UrlStatus::Skipped) => stats.skipped += 1,
            Some(UrlStatus::Alias) => stats.aliases += 1,
            Some(UrlStatus::Queued) => stats.retried += 1,
            Some(UrlStatus::RobotsDenied) | None => {}
        }
        stats.records += outcome.records as u64;
        stats.links_ignored += outcome.links_ignored as u64;
        stats.robots_denied += outcome.robots_denied as u64;
        stats.links_queued += outcome
            .new_links
            .iter()
            .map(|(_, n)| *n as u64)
            .sum::<u64>();
    }
}
