//! Fixed pools of threads for work that must not run on the async runtime: one for
//! the crawl's CPU work (decoding, hashing, parsing a page), one thread per core at a
//! lower OS priority; one small pool for quick store calls.
//!
//! Invariants: CPU-bound and blocking work never runs on the runtime's threads; the
//! number of threads is fixed (tokio's blocking pool would grow to hundreds of threads
//! when hundreds of hosts start at once, each with its own allocator heap); and when
//! the cores are busy, the scheduler and the network tasks still get one first:
//! politeness is measured in milliseconds, parsing is not in a hurry.

use std::sync::{mpsc, Arc, Mutex};

use tokio::sync::oneshot;

use super::CrawlError;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Niceness of the CPU pool's threads (0 is normal, 19 the lowest priority).
pub(crate) const CPU_NICENESS: i32 = 10;

/// Threads that run jobs; the pool stops when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct WorkerPool {
    jobs: mpsc::Sender<Job>,
}

impl WorkerPool {
    /// Starts `threads` threads (the number of cores when 0) named `name-N`, at
    /// `niceness` (0: normal priority).
    pub fn new(name: &str, threads: usize, niceness: i32) -> std::io::Result<Self> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            threads
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                // Deeply nested HTML makes for deep recursion in tree walks.
                .stack_size(16 * 1024 * 1024)
                .spawn(move || {
                    if niceness != 0 {
                        lower_priority(niceness);
                    }
                    loop {
                        let job = queue.lock().expect("job queue lock").recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on the pool and waits for its result without blocking the runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CrawlError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| CrawlError::Join("the worker pool has stopped".into()))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(CrawlError::Join("a pool job panicked".into())),
            Err(_) => Err(CrawlError::Join("a pool job was dropped".into())),
        }
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn lower_priority(niceness: i32) {
    // On Linux, PRIO_PROCESS with `who` 0 sets the calling thread's niceness. If it
    // fails (a sandbox may forbid it), the pool simply runs at normal priority.
    // SAFETY: setpriority has no memory-safety preconditions.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, niceness);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_priority(_niceness: i32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_reports_panics() {
        let pool = WorkerPool::new("test", 2, CPU_NICENESS).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        let err = pool.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        assert_eq!(
            pool.run(|| 1).await.unwrap(),
            1,
            "the pool survives a panic"
        );
    }
}
