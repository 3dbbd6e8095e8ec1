//! Settled pages reach a whole store through one thread that commits them in groups:
//! whatever pages are waiting when it turns to them (up to [`MAX_GROUP`]) go in one
//! [`Store::commit_group`] call, so a backend can write them in one transaction.
//!
//! Invariants: pages are committed in the order they were handed over; a page's
//! commit future resolves only once its group's call returned, with that page's own
//! result; the CPU pool's threads never wait for a commit (they go on to the next
//! page). Under load a group waits up to [`LINGER`] for more pages; a page that
//! arrives alone after a lone page is committed at once.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::pool::{lower_priority, CPU_NICENESS};
use crate::store::{
    CommitFuture, CommitReport, Fingerprint, PageCommit, PageStore, Store, StoreError, UrlState,
};

/// Most pages committed together. Bounds a transaction's size and a page's wait.
pub(crate) const MAX_GROUP: usize = 64;

/// A group this large is committed without waiting for more.
const FULL_GROUP: usize = 16;

/// How long a group waits for more pages, when the last group had more than one:
/// committing costs about the same for one page as for a few (sled writes its log
/// buffer once per transaction), so under load a few milliseconds buy much larger
/// groups (about 2.4 pages without waiting in the links-only benchmark).
const LINGER: Duration = Duration::from_millis(5);

type Done = oneshot::Sender<Result<CommitReport, StoreError>>;

/// A [`PageStore`] over a whole store; the committing thread stops once every handle
/// is dropped.
pub(crate) struct GroupCommitter {
    store: Arc<dyn Store>,
    /// `None` once dropped.
    pending: Option<mpsc::Sender<(PageCommit, Done)>>,
    /// Joined on drop, so that the store is released (for the next opener) when the
    /// crawl lets go of its committer.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        self.pending.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl GroupCommitter {
    /// Starts the committing thread.
    pub fn start(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let (pending, waiting) = mpsc::channel::<(PageCommit, Done)>();
        let committing = store.clone();
        let thread = std::thread::Builder::new()
            .name("newscrawl-commit".into())
            .spawn(move || {
                lower_priority(CPU_NICENESS);
                let mut busy = false;
                while let Ok(first) = waiting.recv() {
                    // Under load, a short wait fills the group; a lone page does not wait.
                    let until = Instant::now() + if busy { LINGER } else { Duration::ZERO };
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        let next = match until.checked_duration_since(Instant::now()) {
                            Some(left) if group.len() < FULL_GROUP => {
                                waiting.recv_timeout(left).ok()
                            }
                            _ => waiting.try_recv().ok(),
                        };
                        match next {
                            Some(next) => group.push(next),
                            None => break,
                        }
                    }
                    busy = group.len() > 1;
                    commit(&*committing, group);
                }
            })?;
        Ok(Self {
            store,
            pending: Some(pending),
            thread: Some(thread),
        })
    }
}

/// Commits a group and hands each page its result.
fn commit(store: &dyn Store, group: Vec<(PageCommit, Done)>) {
    let (commits, dones): (Vec<PageCommit>, Vec<Done>) = group.into_iter().unzip();
    let count = commits.len();
    let results =
        catch_unwind(AssertUnwindSafe(|| store.commit_group(commits))).unwrap_or_else(|_| {
            (0..count)
                .map(|_| Err(StoreError::Committer("a group commit panicked".into())))
                .collect()
        });
    for (done, result) in dones.into_iter().zip(results) {
        // A page whose task was dropped (the crawl is stopping) has no one to tell.
        let _ = done.send(result);
    }
}

impl PageStore for GroupCommitter {
    fn recorded_state(&self, url: &str) -> Result<Option<UrlState>, StoreError> {
        self.store.recorded_state(url)
    }

    fn content_owner(&self, hash: &Fingerprint) -> Result<Option<String>, StoreError> {
        self.store.content_owner(hash)
    }

    fn commit(self: Arc<Self>, commit: PageCommit) -> CommitFuture {
        let (done, result) = oneshot::channel();
        let sent = match &self.pending {
            Some(pending) => pending.send((commit, done)).map_err(|_| ()),
            None => Err(()),
        };
        Box::pin(async move {
            if sent.is_err() {
                return Err(StoreError::Committer(
                    "the committing thread stopped".into(),
                ));
            }
            result
                .await
                .unwrap_or_else(|_| Err(StoreError::Committer("a commit was dropped".into())))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::UrlKind;
    use crate::store::{QueueEntry, SledStore, UrlStatus};

    fn entry(url: &str) -> QueueEntry {
        QueueEntry::found(url, "s", UrlKind::Article, 1)
    }

    /// Many pages committed at once through the committer end as one after the other
    /// would: every link queued once, every page settled, the records in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_committed_together_end_as_committed_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let seeds: Vec<QueueEntry> = (0..200)
            .map(|i| entry(&format!("http://h{}.example/p{i}", i % 3)))
            .collect();
        store.enqueue_new(&seeds, 0).unwrap();
        // Leased as a crawl leases them, so that the commits finish their segments.
        let mut leased = 0;
        for host in ["h0.example", "h1.example", "h2.example"] {
            while let crate::store::Lease::Urls(urls) = store.lease(host, 0, 50).unwrap() {
                leased += urls.len();
            }
        }
        assert_eq!(leased, 200);
        let committer = Arc::new(GroupCommitter::start(store.clone()).unwrap());
        let mut tasks = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            let committer = committer.clone();
            let mut state = UrlState::queued(seed);
            state.status = UrlStatus::Fetched;
            // Every page links the same shared page and one of its own.
            let links = vec![
                entry("http://h0.example/shared"),
                entry(&format!("http://h1.example/own{i}")),
            ];
            tasks.push(tokio::spawn(async move {
                committer
                    .clone()
                    .commit(PageCommit {
                        state: Some(state),
                        links,
                        records: vec![format!("{i}").into_bytes()],
                        now_ms: 1,
                        ..Default::default()
                    })
                    .await
            }));
        }
        let mut new_links = 0;
        for task in tasks {
            let report = task.await.unwrap().unwrap();
            assert_eq!(report.records, 1);
            new_links += report.new_links.iter().map(|(_, n)| n).sum::<usize>();
        }
        assert_eq!(new_links, 201, "the shared link counts as new once");
        let states = store.url_states().unwrap();
        assert_eq!(
            states
                .iter()
                .filter(|s| s.status == UrlStatus::Fetched)
                .count(),
            200
        );
        let outbox = store.outbox_after(0, 1000).unwrap();
        assert_eq!(outbox.len(), 200);
        let seqs: Vec<u64> = outbox.iter().map(|(seq, _)| *seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        // The seeds' segments went with their last commits: only the new links remain.
        assert_eq!(store.queue_len().unwrap(), 201);
    }
}
