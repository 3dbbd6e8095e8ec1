//! One lease on a host of a shared crawl, seen by the page pipeline as its store. The
//! lease is handed on as soon as the server has answered, with the host's next allowed
//! start worked out from what the answer said, so that processing the page is not
//! part of the host's gap; the page's commit then settles the URL under the lease's
//! epoch.
//!
//! Invariant: the hand-on and the commit carry the epoch of the claim, so a page whose
//! lease was lost (it expired and another worker claimed the host), or whose settling
//! ran out, commits nothing; its outcome is dropped and its URL is fetched again. The
//! commit waits for the hand-on's answer, and is a whole completion of the lease
//! (clock included) when no hand-on was acknowledged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::ClaimHint;
use crate::politeness::{Feedback, Pace, Politeness};
use crate::revisit::{ChangeEstimate, Finding};
use crate::store::redis_frontier::{pack_capture, Claim, Completion, RedisFrontier, RevisitPlan};
use crate::store::{
    CommitFuture, CommitReport, Fingerprint, Overlap, PageCommit, PageStore, QueueEntry, Revisit,
    RevisitSchedule, StoreError, UrlState, UrlStatus,
};

/// When a settled page is queued again (daemon mode), for either outcome of the visit:
/// pages that were not fetched or failed (skipped, aliases) are not revisited, as
/// another URL stands for them; an article's re-check is after a fixed time; a listing
/// page's interval comes from its change estimate, which the visit updates with
/// whether it found something new (a failed visit says nothing about change), as its
/// overlap with other listing pages judges it.
fn revisit_plan(
    plan: Revisit,
    state: &UrlState,
    known: Option<&RevisitSchedule>,
    now_ms: u64,
    unchanged: bool,
    overlap: Overlap,
) -> Option<RevisitPlan> {
    if !matches!(state.status, UrlStatus::Fetched | UrlStatus::Failed) {
        return None;
    }
    let entry = QueueEntry::again(state);
    match plan {
        Revisit::After(after) => (state.status == UrlStatus::Fetched).then_some(RevisitPlan {
            entry,
            if_changed: (after, None),
            if_unchanged: (after, None),
        }),
        Revisit::Adaptive(bounds) => {
            let schedule = |finding: Finding| {
                let estimate = match known {
                    None => ChangeEstimate::first(now_ms, &bounds),
                    Some(known) => {
                        let mut estimate = known.estimate.clone();
                        if state.status == UrlStatus::Fetched {
                            estimate.observe(now_ms, finding, &bounds);
                        } else {
                            estimate.rebound(&bounds);
                        }
                        estimate
                    }
                };
                let after = Duration::from_millis(estimate.interval_ms);
                let schedule = RevisitSchedule {
                    url: state.url.clone(),
                    site: state.site.clone(),
                    next_due_ms: now_ms + estimate.interval_ms,
                    estimate,
                };
                (after, Some(schedule))
            };
            Some(RevisitPlan {
                entry,
                if_changed: schedule(overlap.finding(Finding::New)),
                // Nothing new: the page as it was, or changed with only known URLs.
                if_unchanged: schedule(overlap.finding(if unchanged {
                    Finding::Same
                } else {
                    Finding::Covered
                })),
            })
        }
    }
}

/// Pages this worker handed on and has not committed yet, by (bucket, host, URL), with
/// their claim's epoch: their settling deadlines in Redis are renewed while the worker
/// lives, so a page is queued again because its worker died or stalled, never because
/// a busy machine processed it slowly.
#[derive(Default)]
pub(super) struct Settling(Mutex<HashMap<(u32, String, String), String>>);

impl Settling {
    fn add(&self, claim: &Claim, url: &str) {
        self.0.lock().expect("settling lock poisoned").insert(
            (claim.bucket, claim.host.clone(), url.to_string()),
            claim.epoch.clone(),
        );
    }

    fn remove(&self, claim: &Claim, url: &str) {
        self.0.lock().expect("settling lock poisoned").remove(&(
            claim.bucket,
            claim.host.clone(),
            url.to_string(),
        ));
    }

    /// The pages as the renewal script takes them, by bucket.
    pub fn by_bucket(&self) -> HashMap<u32, Vec<(String, String, String)>> {
        let mut out: HashMap<u32, Vec<_>> = HashMap::new();
        for ((bucket, host, url), epoch) in self.0.lock().expect("settling lock poisoned").iter() {
            out.entry(*bucket)
                .or_default()
                .push((host.clone(), url.clone(), epoch.clone()));
        }
        out
    }
}

/// A lease on one host for one page.
pub(super) struct LeasedPage {
    pub frontier: RedisFrontier,
    pub runtime: Handle,
    pub claim: Claim,
    pub worker: String,
    /// The URL's state as the claim found it.
    pub state: Option<UrlState>,
    /// The host's delay: max(site min_delay, robots.txt Crawl-delay).
    pub delay: Duration,
    pub policy: Politeness,
    /// How long the page may take from the hand-on to its commit before its URL is
    /// queued again.
    pub settle: Duration,
    /// Told when the host may be claimed again (from the hand-on or the commit).
    pub claim_hint: Arc<ClaimHint>,
    /// When the server answered and what the answer said, set as soon as it came.
    pub feedback: Mutex<Option<(Instant, Feedback)>>,
    /// The hand-on in flight, started when the answer came.
    pub hand_on: Mutex<Option<JoinHandle<Result<bool, StoreError>>>>,
    /// This worker's pages settling, renewed until committed.
    pub settling: Arc<Settling>,
}

impl LeasedPage {
    /// The host's pace after this answer, and its gap.
    fn clock_after(&self, feedback: &Feedback) -> (Pace, Duration) {
        self.claim.pace.after(self.delay, feedback, &self.policy)
    }

    /// Called when the server answered: keeps what it said and hands the host on.
    pub fn answered(self: &Arc<Self>, answered_at: Instant, feedback: Feedback) {
        let (pace, full_gap) = self.clock_after(&feedback);
        // The gap counts from the answer. (The script's own clock reading is later
        // than this, so the start it sets is never earlier than the answer plus the
        // gap.)
        let gap = full_gap.saturating_sub(answered_at.elapsed());
        *self.feedback.lock().expect("feedback lock poisoned") = Some((answered_at, feedback));
        let Some(page) = &self.claim.page else {
            return;
        };
        // A host with no gap at all (no delay, which only loopback hosts may have, no
        // backoff, no pause) may be asked again as soon as the page is committed: a
        // hand-on would cost Redis a script per page and gain nothing.
        if full_gap.is_zero() {
            return;
        }
        let this = self.clone();
        let url = page.entry.url.clone();
        let task = self.runtime.spawn(async move {
            let handed = this
                .frontier
                .hand_on(&this.claim, &url, gap, this.delay, pace, this.settle)
                .await;
            handed.map(|next| {
                if next.is_some() {
                    this.settling.add(&this.claim, &url);
                }
                this.claim_hint.tell(Instant::now(), next);
                next.is_some()
            })
        });
        *self.hand_on.lock().expect("hand-on lock poisoned") = Some(task);
    }
}

impl PageStore for LeasedPage {
    fn recorded_state(&self, url: &str) -> Result<Option<UrlState>, StoreError> {
        Ok(self.state.clone().filter(|state| state.url == url))
    }

    fn content_owner(&self, hash: &Fingerprint) -> Result<Option<String>, StoreError> {
        self.runtime
            .block_on(self.frontier.content_owner(self.claim.bucket, hash))
    }

    fn commit(self: Arc<Self>, commit: PageCommit) -> CommitFuture {
        let (answered_at, feedback) = self
            .feedback
            .lock()
            .expect("feedback lock poisoned")
            .take()
            .unwrap_or_else(|| (Instant::now(), Feedback::Failed));
        // Used only when no hand-on was acknowledged: parsing the page took part of
        // the gap already.
        let (pace, gap) = self.clock_after(&feedback);
        let gap = gap.saturating_sub(answered_at.elapsed());
        let hand_on = self.hand_on.lock().expect("hand-on lock poisoned").take();
        let records = commit.records.len();
        let url = commit.state.as_ref().map(|s| s.url.clone());
        let known = self.claim.page.as_ref().and_then(|p| p.revisit.as_ref());
        let revisit = match (commit.revisit, &commit.state) {
            (Some(plan), Some(state)) => revisit_plan(
                plan,
                state,
                known,
                commit.now_ms,
                commit.unchanged,
                commit.overlap,
            ),
            _ => None,
        };
        // Both branches of the plan, for the one the script takes: after how long, and
        // the listing page's rate.
        let branch = |(after, schedule): &(Duration, Option<RevisitSchedule>)| {
            (
                *after,
                schedule.as_ref().map(|s| s.estimate.changes_per_hour()),
            )
        };
        let revisit_after = revisit
            .as_ref()
            .map(|plan| (branch(&plan.if_changed), branch(&plan.if_unchanged)));
        let completion = Completion {
            url,
            state: commit.state,
            requeue_after: commit
                .requeue
                .as_ref()
                .map(|(_, due_ms)| Duration::from_millis(due_ms.saturating_sub(commit.now_ms))),
            next_gap: gap,
            delay: self.delay,
            pace,
            content: commit.content.map(|(hash, _)| hash),
            robots: None,
            max_urls_per_host: commit.max_urls_per_host.unwrap_or(0),
            park: false,
            records: commit.records,
            capture: commit.capture.as_ref().map(pack_capture),
            links: commit.links,
            links_priority: commit.links_priority,
            next_page: commit.next_page,
            denied: commit
                .denied
                .iter()
                .map(|entry| {
                    let mut state = UrlState::queued(entry);
                    state.status = UrlStatus::RobotsDenied;
                    state.note = Some("disallowed by robots.txt (found as a link)".into());
                    state
                })
                .collect(),
            revisit,
            settles_handed_on: false,
        };
        let now_ms = commit.now_ms;
        Box::pin(async move {
            let mut completion = completion;
            if let Some(task) = hand_on {
                match task.await {
                    Ok(Ok(true)) => completion.settles_handed_on = true,
                    Ok(Ok(false)) => {
                        return Err(StoreError::Redis(format!(
                            "the lease on {} ended before its server answered (another worker holds the host now and fetches the URL again); this outcome is dropped",
                            self.claim.host
                        )))
                    }
                    // Not known to have happened: the whole completion (clock
                    // included) commits only if it did not.
                    Ok(Err(e)) => tracing::warn!(host = self.claim.host, "handing the host on failed ({e}); completing the lease instead"),
                    Err(e) => tracing::warn!(host = self.claim.host, "handing the host on did not finish ({e}); completing the lease instead"),
                }
            }
            let done = self
                .frontier
                .complete(&self.claim, &self.worker, completion)
                .await;
            if let Some(page) = &self.claim.page {
                self.settling.remove(&self.claim, &page.entry.url);
            }
            let done = done?;
            self.claim_hint.tell(Instant::now(), done.next_claim);
            if !done.accepted {
                return Err(StoreError::Redis(format!(
                    "the lease on {} ended, or its page's settling ran out, before the page was committed (its URL is fetched again); this outcome is dropped",
                    self.claim.host
                )));
            }
            let taken = revisit_after.map(|(if_changed, if_unchanged)| {
                if done.changed {
                    if_changed
                } else {
                    if_unchanged
                }
            });
            Ok(CommitReport {
                new_links: done.new_links,
                refreshed: Vec::new(),
                records,
                denied: done.denied,
                over_budget: done.over_budget,
                revisit_due_ms: taken.map(|(after, _)| now_ms + after.as_millis() as u64),
                revisit_rate: taken.and_then(|(_, rate)| rate),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revisit::RevisitBounds;
    use crate::site::UrlKind;

    /// The intervals of a listing page's revisit plan, for the visit that found new
    /// stories and for the one that changed with known ones only, after a first visit.
    fn intervals(overlap: Overlap) -> (Duration, Duration) {
        plan_intervals(overlap, false)
    }

    /// The same, for a visit that found the page as it was (`unchanged`) or not.
    fn plan_intervals(overlap: Overlap, unchanged: bool) -> (Duration, Duration) {
        let bounds = RevisitBounds {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            price: None,
        };
        let mut state = UrlState::queued(&QueueEntry::found(
            "http://a.example/news",
            "s",
            UrlKind::Section,
            0,
        ));
        state.status = UrlStatus::Fetched;
        let known = RevisitSchedule {
            url: state.url.clone(),
            site: "s".into(),
            estimate: ChangeEstimate::first(0, &bounds),
            next_due_ms: 60_000,
        };
        let plan = revisit_plan(
            Revisit::Adaptive(bounds),
            &state,
            Some(&known),
            60_000,
            unchanged,
            overlap,
        )
        .expect("a listing page is revisited");
        (plan.if_changed.0, plan.if_unchanged.0)
    }

    #[test]
    fn a_listing_pages_overlap_with_another_decides_what_its_visit_found() {
        let (new, covered) = intervals(Overlap::Unknown);
        assert!(new < covered, "{new:?} {covered:?}");
        // Containing others: what they found first is its news.
        assert_eq!(intervals(Overlap::Contains), (new, new));
        // Contained in another page: whatever it found (new stories, known ones, or
        // the page as it was), the other shows it, and it backs off faster than a
        // covered page.
        let (elsewhere, _) = intervals(Overlap::Contained);
        assert!(elsewhere > covered, "{elsewhere:?} {covered:?}");
        assert_eq!(intervals(Overlap::Contained), (elsewhere, elsewhere));
        assert_eq!(plan_intervals(Overlap::Contained, true).1, elsewhere);
        let (_, same) = plan_intervals(Overlap::Unknown, true);
        assert!(same < covered, "{same:?} {covered:?}");
    }
}
