//! Page commits, alone or in groups: each commit is planned under the commit lock (which
//! links are new, which fit their host's budget, which segments it finishes), then the
//! whole group is written in one sled transaction.
//!
//! Invariant: a group commits exactly what its commits would, one after the other, in
//! the order given: each is planned against the seen set and host budgets as the
//! commits before it in the group leave them, and the transaction writes them in order
//! (so outbox sequence numbers follow that order). Nothing in memory changes until the
//! transaction succeeded, so a group that fails can be committed again one by one.
//!
//! Why groups: every sled transaction seals sled's current log buffer and hands it to
//! sled's I/O threads (a `pwrite` and a `sync_file_range`, and a wake-up of every idle
//! thread of its pool), whatever its size. One transaction per page made that cost per
//! page; one per group spreads it.

use std::collections::{HashMap, HashSet};

use sled::transaction::{ConflictableTransactionError, Transactional, TransactionalTree};

use super::{
    decode, encode, pack_seen, schedule_revisit, short_fingerprint, unwrap_tx, write_segments,
    KnownUrls, Leases, SledStore, TxResult,
};
use crate::revisit::Finding;
use crate::store::{
    fingerprint, CommitReport, Fingerprint, PageCommit, Priority, QueueEntry, StoreError, UrlState,
    UrlStatus,
};

/// What one commit writes, decided before the transaction.
struct CommitPlan<'c> {
    commit: &'c PageCommit,
    /// The URLs it settles (its page, and e.g. a redirect's target).
    settled: HashSet<Fingerprint>,
    /// Links never found before, within their host's budget.
    new_links: Vec<(Fingerprint, &'c QueueEntry)>,
    /// Denied links never found before, as they are recorded.
    new_denied: Vec<(Fingerprint, UrlState)>,
    /// What the seen set gains.
    newly_seen: Vec<u64>,
    /// For each of the commit's `refresh` entries: whether the URL was found before it.
    refresh_known: Vec<bool>,
    /// Links dropped because their host used up its budget.
    over_budget: usize,
    /// What becomes of the commit's next page.
    next_page: NextPagePlan,
    /// The budget counts of the hosts it added links to, after it.
    host_counts: Vec<(String, u64)>,
}

/// What a commit does with its listing's next page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NextPagePlan {
    /// Nothing: a story on the page was known, or there is no next page.
    Leave,
    /// Never found before: queued.
    Queue,
    /// Found before: queued again if it is settled.
    Again(Fingerprint),
}

/// What the commits planned so far in a group add to what is known.
#[derive(Default)]
struct GroupAdditions {
    seen: HashSet<u64>,
    host_counts: HashMap<String, u64>,
}

impl GroupAdditions {
    fn knows(&self, known: &KnownUrls, fp: &Fingerprint) -> bool {
        known.contains(fp) || self.seen.contains(&short_fingerprint(fp))
    }

    fn absorb(&mut self, plan: &CommitPlan<'_>) {
        self.seen.extend(plan.newly_seen.iter().copied());
        self.host_counts.extend(plan.host_counts.iter().cloned());
    }
}

/// The trees a commit writes, inside its transaction.
struct CommitTrees<'t> {
    urls: &'t TransactionalTree,
    frontier: &'t TransactionalTree,
    content: &'t TransactionalTree,
    outbox: &'t TransactionalTree,
    sections: &'t TransactionalTree,
    revisits: &'t TransactionalTree,
    captures: &'t TransactionalTree,
    seen_log: &'t TransactionalTree,
}

impl SledStore {
    /// Commits `commits` in one transaction, in order; all or none.
    pub(super) fn commit_together(
        &self,
        commits: &[PageCommit],
    ) -> Result<Vec<CommitReport>, StoreError> {
        let mut known = self.commit_lock.lock().expect("commit lock poisoned");
        let mut group = GroupAdditions::default();
        let mut plans = Vec::with_capacity(commits.len());
        for commit in commits {
            let plan = self.plan(commit, &known, &group)?;
            group.absorb(&plan);
            plans.push(plan);
        }
        let settled: HashSet<Fingerprint> = plans
            .iter()
            .flat_map(|plan| plan.settled.iter().copied())
            .collect();
        // The lease map is held from here until it reflects this commit: a lease taken
        // between the transaction and the map's update would see a requeued URL (in
        // its new segment) as still leased, pass over it, and drop its segment.
        let mut lease_map = self.leased.lock().expect("lease lock poisoned");
        let finished_segments = finished_segments(&lease_map, &settled);
        let trees = (
            &self.urls,
            &self.frontier,
            &self.content,
            &self.outbox,
            &self.sections,
            &self.revisits,
            &self.captures,
            &self.seen_log,
        );
        let result = trees.transaction(
            |(urls, frontier, content, outbox, sections, revisits, captures, seen_log)| {
                let trees = CommitTrees {
                    urls,
                    frontier,
                    content,
                    outbox,
                    sections,
                    revisits,
                    captures,
                    seen_log,
                };
                for key in &finished_segments {
                    frontier.remove(key.as_slice())?;
                }
                plans
                    .iter()
                    .map(|plan| write(&trees, plan))
                    .collect::<TxResult<Vec<_>>>()
            },
        );
        let reports = unwrap_tx(result)?;
        lease_map.settle(&settled);
        known.seen.extend(group.seen);
        for (host, count) in group.host_counts {
            known.hosts_changed.insert(host.clone());
            known.host_counts.insert(host, count);
        }
        known.commits += commits.len() as u64;
        Ok(reports)
    }

    /// Decides what `commit` writes, after the commits `group` planned before it.
    fn plan<'c>(
        &self,
        commit: &'c PageCommit,
        known: &KnownUrls,
        group: &GroupAdditions,
    ) -> Result<CommitPlan<'c>, StoreError> {
        let settled: HashSet<Fingerprint> = commit
            .state
            .iter()
            .chain(&commit.also)
            .map(|s| fingerprint(s.url.as_bytes()))
            .collect();
        let mut on_page = HashSet::with_capacity(commit.links.len());
        let mut is_new = |link: &QueueEntry| -> Option<Fingerprint> {
            let fp = fingerprint(link.url.as_bytes());
            let repeated = settled.contains(&fp) || group.knows(known, &fp) || !on_page.insert(fp);
            (!repeated).then_some(fp)
        };
        let mut new_links: Vec<(Fingerprint, &QueueEntry)> = commit
            .links
            .iter()
            .filter_map(|link| Some((is_new(link)?, link)))
            .collect();
        let mut new_denied_links: Vec<(Fingerprint, &QueueEntry)> = commit
            .denied
            .iter()
            .filter_map(|link| Some((is_new(link)?, link)))
            .collect();
        // Whether every story the page links to is new (before the budget).
        let fresh: HashSet<Fingerprint> = new_links.iter().map(|(fp, _)| *fp).collect();
        let mut stories = commit
            .links
            .iter()
            .filter(|l| !l.kind.is_listing())
            .peekable();
        let all_new = stories.peek().is_some()
            && stories.all(|l| fresh.contains(&fingerprint(l.url.as_bytes())));
        // The per-host budget: links past it are dropped unrecorded, so a later crawl
        // with a larger budget still finds them.
        let mut host_counts: Vec<(String, u64)> = Vec::new();
        let mut over_budget = 0;
        if let Some(budget) = commit.max_urls_per_host {
            let mut within = |link: &QueueEntry| -> Result<bool, StoreError> {
                let host = crate::urlnorm::host_of_normalized(&link.url);
                let i = match host_counts.iter().position(|(h, _)| h == host) {
                    Some(i) => i,
                    None => {
                        let count = match group
                            .host_counts
                            .get(host)
                            .or_else(|| known.host_counts.get(host))
                        {
                            Some(n) => *n,
                            None => self.stored_host_count(host)?,
                        };
                        host_counts.push((host.to_string(), count));
                        host_counts.len() - 1
                    }
                };
                if host_counts[i].1 >= budget {
                    over_budget += 1;
                    return Ok(false);
                }
                host_counts[i].1 += 1;
                Ok(true)
            };
            let mut kept = Vec::with_capacity(new_links.len());
            for (fp, link) in new_links {
                if within(link)? {
                    kept.push((fp, link));
                }
            }
            new_links = kept;
            let mut kept = Vec::with_capacity(new_denied_links.len());
            for (fp, link) in new_denied_links {
                if within(link)? {
                    kept.push((fp, link));
                }
            }
            new_denied_links = kept;
        }
        let new_denied: Vec<(Fingerprint, UrlState)> = new_denied_links
            .into_iter()
            .map(|(fp, link)| {
                let mut state = UrlState::queued(link);
                state.status = UrlStatus::RobotsDenied;
                state.fetched_at_ms = commit.now_ms;
                state.note = Some("disallowed by robots.txt (when found)".into());
                (fp, state)
            })
            .collect();
        // The next page, when the page showed only new stories: some may have been
        // pushed off it since the last visit. Not when the host's budget dropped some
        // (their being new says nothing then), nor for a URL the page settles or links.
        let next_fp = commit
            .next_page
            .as_ref()
            .map(|next| fingerprint(next.url.as_bytes()))
            .filter(|fp| {
                all_new && over_budget == 0 && !settled.contains(fp) && !fresh.contains(fp)
            });
        let next_page = match next_fp {
            None => NextPagePlan::Leave,
            Some(fp) if group.knows(known, &fp) => NextPagePlan::Again(fp),
            Some(_) => NextPagePlan::Queue,
        };
        // What the seen log gains: the new links, a new next page and denied links, and
        // settled URLs never found before (a redirect's target).
        let newly_seen: Vec<u64> = new_links
            .iter()
            .map(|(fp, _)| fp)
            .chain(next_fp.iter().filter(|_| next_page == NextPagePlan::Queue))
            .chain(new_denied.iter().map(|(fp, _)| fp))
            .chain(settled.iter().filter(|fp| !group.knows(known, fp)))
            .map(short_fingerprint)
            .collect();
        let refresh_known = commit
            .refresh
            .iter()
            .map(|(entry, _)| group.knows(known, &fingerprint(entry.url.as_bytes())))
            .collect();
        Ok(CommitPlan {
            commit,
            settled,
            new_links,
            new_denied,
            newly_seen,
            refresh_known,
            over_budget,
            next_page,
            host_counts,
        })
    }

    /// A host's budget count as the last flush wrote it (0 for a host never counted).
    fn stored_host_count(&self, host: &str) -> Result<u64, StoreError> {
        self.host_urls.get(host)?.map_or(Ok(0), |v| {
            v.as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    tree: "host_urls",
                    key: host.to_string(),
                    reason: format!("{} bytes, expected 8", v.len()),
                })
        })
    }
}

/// Segments read to their end whose last outstanding leases are among `settled`: they
/// go with the commit.
fn finished_segments(leases: &Leases, settled: &HashSet<Fingerprint>) -> Vec<Vec<u8>> {
    let mut settling: HashMap<&Vec<u8>, usize> = HashMap::new();
    for fp in settled {
        if let Some(key) = leases.by_url.get(fp) {
            *settling.entry(key).or_default() += 1;
        }
    }
    settling
        .into_iter()
        .filter(|(key, n)| {
            leases
                .segments
                .get(*key)
                .is_some_and(|c| c.next >= c.len && c.outstanding <= *n)
        })
        .map(|(key, _)| key.clone())
        .collect()
}

impl Leases {
    /// Forgets the leases of `settled` URLs, and the segments they finish.
    fn settle(&mut self, settled: &HashSet<Fingerprint>) {
        for fp in settled {
            let Some(key) = self.by_url.remove(fp) else {
                continue;
            };
            if let Some(cursor) = self.segments.get_mut(&key) {
                cursor.outstanding = cursor.outstanding.saturating_sub(1);
                if cursor.finished() {
                    self.segments.remove(&key);
                }
            }
        }
    }
}

/// Writes one planned commit inside the group's transaction.
fn write(trees: &CommitTrees<'_>, plan: &CommitPlan<'_>) -> TxResult<CommitReport> {
    let commit = plan.commit;
    let urls = trees.urls;
    let frontier = trees.frontier;
    let mut report = CommitReport {
        over_budget: plan.over_budget,
        ..CommitReport::default()
    };
    for state in commit.state.iter().chain(&commit.also) {
        let fp = fingerprint(state.url.as_bytes());
        // A sitemap may have listed this URL while its page was being fetched: keep
        // what it recorded.
        let mut state = state.clone();
        if let Some(current) = urls.get(fp)? {
            let current: UrlState =
                decode("urls", &fp, &current).map_err(ConflictableTransactionError::Abort)?;
            state.listed_modified_ms = state.listed_modified_ms.max(current.listed_modified_ms);
        }
        urls.insert(&fp, encode(&state))?;
    }
    if let Some((entry, due_ms)) = &commit.requeue {
        write_segments(
            frontier,
            [entry],
            Priority::Found,
            (*due_ms).max(commit.now_ms),
        )?;
    }
    for (fp, state) in &plan.new_denied {
        urls.insert(fp, encode(state))?;
    }
    report.denied = plan.new_denied.len();
    for (fp, link) in &plan.new_links {
        if link.kind.is_revisited() {
            trees.sections.insert(fp, &[])?;
        }
        let host = crate::urlnorm::host_of_normalized(&link.url);
        match report.new_links.iter_mut().find(|(h, _)| h == host) {
            Some((_, n)) => *n += 1,
            None => report.new_links.push((host.to_string(), 1)),
        }
    }
    write_segments(
        frontier,
        plan.new_links.iter().map(|(_, link)| *link),
        commit.links_priority,
        commit.now_ms,
    )?;
    if !plan.newly_seen.is_empty() {
        let seq = trees.seen_log.generate_id()?;
        trees
            .seen_log
            .insert(&seq.to_be_bytes(), pack_seen(&plan.newly_seen))?;
    }
    let found_here: HashSet<&Fingerprint> = plan.new_links.iter().map(|(fp, _)| fp).collect();
    for ((entry, modified_ms), known_before) in commit.refresh.iter().zip(&plan.refresh_known) {
        let fp = fingerprint(entry.url.as_bytes());
        let mut state: UrlState = match urls.get(fp)? {
            Some(value) => {
                decode("urls", &fp, &value).map_err(ConflictableTransactionError::Abort)?
            }
            // Found by this commit: its first fetch has nothing to compare.
            None if found_here.contains(&fp) || !known_before => continue,
            // Queued by an earlier commit and perhaps being fetched: keep the listing
            // for when it is settled.
            None => UrlState::queued(entry),
        };
        let newer = match state.listed_modified_ms {
            Some(listed) => *modified_ms > listed,
            None => *modified_ms > state.fetched_at_ms,
        };
        state.listed_modified_ms = Some(*modified_ms);
        if state.status != UrlStatus::Fetched || !newer {
            urls.insert(&fp, encode(&state))?;
            continue;
        }
        state.queue_again();
        let again = QueueEntry {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
            ..entry.clone()
        };
        urls.insert(&fp, encode(&state))?;
        write_segments(frontier, [&again], Priority::Found, commit.now_ms)?;
        report.refreshed.push(again.host());
    }
    match (plan.next_page, &commit.next_page) {
        (NextPagePlan::Queue, Some(next)) => {
            write_segments(frontier, [next], Priority::Revisit, commit.now_ms)?;
            report.refreshed.push(next.host());
        }
        (NextPagePlan::Again(fp), Some(next)) => {
            // Queued again only when settled as a next page: one waiting or being
            // fetched (no state yet, or queued) is enough, and a URL of another kind
            // keeps its own schedule.
            if let Some(value) = urls.get(fp)? {
                let mut state: UrlState =
                    decode("urls", &fp, &value).map_err(ConflictableTransactionError::Abort)?;
                if state.status != UrlStatus::Queued && state.kind == next.kind {
                    state.queue_again();
                    urls.insert(&fp, encode(&state))?;
                    let again = QueueEntry::again(&state);
                    write_segments(frontier, [&again], Priority::Revisit, commit.now_ms)?;
                    report.refreshed.push(again.host());
                }
            }
        }
        _ => {}
    }
    if let Some((hash, url)) = &commit.content {
        if trees.content.get(hash)?.is_none() {
            trees.content.insert(hash, url.as_bytes())?;
        }
    }
    for record in &commit.records {
        // Sequence numbers start at 1: a sink offset of 0 means "nothing yet".
        let seq = trees.outbox.generate_id()? + 1;
        trees.outbox.insert(&seq.to_be_bytes(), record.as_slice())?;
    }
    report.records = commit.records.len();
    if let Some(capture) = &commit.capture {
        let seq = trees.captures.generate_id()? + 1;
        trees.captures.insert(&seq.to_be_bytes(), encode(capture))?;
    }
    if let (Some(revisit), Some(state)) = (&commit.revisit, &commit.state) {
        // A listing page "changed" when it led to content not seen before.
        let found_new = plan
            .new_links
            .iter()
            .any(|(_, link)| !link.kind.is_listing());
        let finding = if found_new || !report.refreshed.is_empty() {
            Finding::New
        } else if commit.unchanged {
            Finding::Same
        } else {
            Finding::Covered
        };
        let scheduled = schedule_revisit(
            revisit,
            state,
            commit.overlap.finding(finding),
            commit.now_ms,
            urls,
            frontier,
            trees.revisits,
        )?;
        report.revisit_due_ms = scheduled.map(|(due, _)| due);
        report.revisit_rate = scheduled.and_then(|(_, rate)| rate);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::UrlKind;
    use crate::store::{Lease, Store};

    fn entry(url: &str) -> QueueEntry {
        QueueEntry::found(url, "s", UrlKind::Article, 1)
    }

    fn fetched(url: &str) -> UrlState {
        let mut state = UrlState::queued(&entry(url));
        state.status = UrlStatus::Fetched;
        state
    }

    /// Commits that depend on each other: a link two pages share, a redirect whose
    /// target a later page links, a host budget the group crosses, a denied link two
    /// pages find, a page queued again, one commit's sitemap listing of a URL another
    /// found, and records.
    fn entangled_commits() -> Vec<PageCommit> {
        let page = |i: usize| format!("http://a.example/p{i}");
        let mut commits = Vec::new();
        for i in 0..6 {
            commits.push(PageCommit {
                state: Some(fetched(&page(i))),
                links: vec![
                    entry("http://a.example/shared"),
                    entry(&format!("http://b.example/own{i}")),
                    entry("http://a.example/target"),
                ],
                denied: vec![entry("http://a.example/print/1")],
                records: vec![format!("record {i}").into_bytes()],
                max_urls_per_host: Some(3),
                now_ms: 10 + i as u64,
                ..Default::default()
            });
        }
        // A redirect: p0's commit also settles the target others link.
        commits[0].also.push(fetched("http://a.example/target"));
        commits[0].links.clear();
        // A temporary failure: p3 goes back to the queue.
        let mut retry = UrlState::queued(&entry(&page(3)));
        retry.attempts = 1;
        commits[3] = PageCommit {
            state: Some(retry),
            requeue: Some((entry(&page(3)), 0)),
            now_ms: 13,
            ..Default::default()
        };
        // A sitemap lists a URL an earlier commit of the group found.
        commits[5].refresh.push((entry("http://b.example/own1"), 5));
        commits
    }

    fn crawled_store(dir: &std::path::Path) -> SledStore {
        let store = SledStore::open(dir).unwrap();
        let seeds: Vec<QueueEntry> = (0..6)
            .map(|i| entry(&format!("http://a.example/p{i}")))
            .collect();
        store.enqueue_new(&seeds, 0).unwrap();
        while let Lease::Urls(_) = store.lease("a.example", 0, 4).unwrap() {}
        store
    }

    fn snapshot(store: &SledStore) -> String {
        let mut states = store.url_states().unwrap();
        states.sort_by(|a, b| a.url.cmp(&b.url));
        let outbox = store.outbox_after(0, 100).unwrap();
        let mut queue = store.queue_by_host().unwrap();
        queue.sort();
        format!(
            "{states:#?}\n{outbox:?}\n{queue:?}\n{}",
            store.queue_len().unwrap()
        )
    }

    #[test]
    fn a_group_ends_as_its_commits_one_by_one() {
        let (one, group) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let one_by_one = crawled_store(one.path());
        let together = crawled_store(group.path());
        let reports_one: Vec<String> = entangled_commits()
            .into_iter()
            .map(|commit| format!("{:?}", one_by_one.commit(commit).unwrap()))
            .collect();
        let reports_group: Vec<String> = together
            .commit_group(entangled_commits())
            .into_iter()
            .map(|report| format!("{:?}", report.unwrap()))
            .collect();
        assert_eq!(reports_one, reports_group);
        assert_eq!(snapshot(&one_by_one), snapshot(&together));
        // The budget bit within the group, and the shared links counted once.
        assert!(reports_group.iter().any(|r| !r.contains("over_budget: 0")));
        assert!(snapshot(&together).contains("RobotsDenied"));
    }

    #[test]
    fn one_bad_commit_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = crawled_store(dir.path());
        // A stored state that does not decode: the commit settling that URL fails.
        let bad = fingerprint(b"http://a.example/p1");
        store.urls.insert(bad, &[0xff_u8; 3][..]).unwrap();
        let results = store.commit_group(entangled_commits());
        assert_eq!(results.len(), 6);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_err(), i == 1, "commit {i}: {result:?}");
        }
        assert_eq!(store.outbox_after(0, 100).unwrap().len(), 4);
    }
}
