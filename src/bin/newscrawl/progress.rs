//! The command line's progress bar: one status line on a terminal, redrawn from the
//! crawl's metrics, with log lines printed above it.
//!
//! Invariant: nothing else writes to the terminal while the bar is drawn; log lines
//! go through [`LogWriter`], which lifts the bar for the moment of the write.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use newscrawl::crawl::CrawlHandle;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(250);
/// How often (at most) the queue is counted.
const COUNT_EVERY: Duration = Duration::from_secs(1);

pub fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// Redraws the bar from the metrics until [`Ticker::finish`].
pub struct Ticker {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub fn follow(bar: ProgressBar, handle: CrawlHandle) -> Ticker {
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let metrics = handle.metrics.clone();
        let mut next_count = Instant::now();
        loop {
            if Instant::now() >= next_count {
                let counting = Instant::now();
                handle.count_queue().await;
                // Counting scans the queue: keep it to a small share of one thread.
                next_count = Instant::now() + (counting.elapsed() * 20).max(COUNT_EVERY);
            }
            let pages = metrics.requests_total();
            let rate = pages as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{pages} requests ({rate:.1}/s) | {} records | {} queued | {} errors",
                metrics.records_total(),
                metrics.queue_depth(),
                metrics.errors_total(),
            ));
            bar.tick();
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = &mut stopped => break,
            }
        }
        bar.finish_and_clear();
    });
    Ticker { stop, task }
}

/// Log output to standard error, above the progress bar when there is one.
#[derive(Clone)]
pub struct LogWriter(pub Option<ProgressBar>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf).map(|()| buf.len())),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
