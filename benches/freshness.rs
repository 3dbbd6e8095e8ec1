//! Freshness of the daemon against a live site: sections publish as Poisson processes
//! (`fixture::live`), the daemon revisits their pages, and the server's request log
//! says when each article was first fetched. Reports coverage, latency from
//! publication to fetch (median, mean, p95) and requests, against two references that
//! spend the same listing requests: one interval for every section (uniform) and the
//! optimum for Poisson arrivals (intervals proportional to 1/sqrt(rate)), or, when
//! the home page lists the newest articles of the whole site, polling it alone.
//!
//! `FRESHNESS_FEED=1` gives the site an RSS feed of its 20 newest articles, declared
//! in its listing pages' heads (the daemon finds it there), and counts the feed's
//! requests as listing requests; the optimum is then polling the feed alone.
//!
//! `FRESHNESS_DOWN=s` makes the restart's pause `s` seconds of the site's time (0.1
//! by default), long enough for stories to be pushed off the first pages; each seed
//! then runs twice at once, with the sections' next pages followed
//! (`follow_next_pages`) and without, so coverage says what following them saves.
//!
//! `FRESHNESS_HOME=1` runs only the site whose home page lists the newest articles,
//! `FRESHNESS_HOME=0` only the one without.
//!
//! `FRESHNESS_MISSES=1` lists each scored article never fetched, with its section's
//! visits, the requests of each page other than articles, and when each section was
//! visited. `FRESHNESS_RESTART=1` stops the daemon half-way and starts it again on its
//! state, and reports the latency of the articles published in the tenth of the
//! window before it was told to stop, while none ran (with how long that was, in the
//! site's time), and in the tenth after it was started again; in brackets, each
//! tenth's latencies over their sections' mean latencies in the run (1.00: as usual).
//!
//! Articles published in the window (its first tenth aside) are scored; the daemon
//! runs on for a tail of `revisit_max` after it, so that every scored article's
//! section is visited at least once more and coverage counts what scrolled off
//! unseen, not what the window cut short. Requests and the references cover the
//! whole run.
//!
//! Run: `cargo bench --bench freshness -- [seeds] [window_s] [scale] [budget]`;
//! defaults 3, 120, 5, none. `budget` sets the site's `max_listing_rate` (listing
//! requests an hour, in the site's time). `scale` speeds the site and the daemon's bounds up together: at 5, a 120 s
//! window is ten minutes of a site publishing one article every 15 s in one section,
//! one every 90 s in three, one every 10 minutes in four, revisited between 5 s and
//! 10 minutes, 200 ms apart (all divided by 5).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use newscrawl::clock::now_ms;
use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::fixture::live::{LiveSite, LiveSpec};
use newscrawl::fixture::FixtureServer;
use newscrawl::parse::ParserRegistry;
use newscrawl::store::SledStore;

/// Articles an hour of each section, before scaling.
const RATES: [f64; 8] = [240.0, 40.0, 40.0, 40.0, 6.0, 6.0, 6.0, 6.0];

/// Latencies (s) of the articles published in the tenth of the window before the
/// daemon was told to stop, while no daemon ran, and in the tenth after it was started
/// again; and how long none ran.
struct Restart {
    before_s: Vec<f64>,
    down_s: Vec<f64>,
    after_s: Vec<f64>,
    down_ms: u64,
    /// The tenths' latencies each over its section's mean latency over the window,
    /// averaged: the quiet sections' articles wait longer wherever they fall, so a
    /// tenth that happens to hold more of them is not taken for a slower daemon.
    before_rel: f64,
    after_rel: f64,
}

struct Run {
    scored: usize,
    /// Latencies (s) of the articles published in the window's first tenth; NaN for
    /// one never fetched.
    early_s: Vec<f64>,
    /// With a restart half-way: latencies around it.
    around_restart: Option<Restart>,
    fetched: usize,
    latencies_s: Vec<f64>,
    /// Of the fetched articles, the mean time (s) from publication to the first
    /// visit of a listing page that could show it (its section, the home page when
    /// it lists the newest, the feed): the part of the latency the revisit policy
    /// decides; the rest is the wait for the article's own request.
    found_mean_s: f64,
    listing_requests: usize,
    article_requests: usize,
    uniform_s: f64,
    optimum_s: f64,
}

/// Opens the store, waiting for the lock a stopped daemon's store still holds while
/// sled's threads wind down.
async fn open_store(path: &std::path::Path) -> Arc<SledStore> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match SledStore::open(path) {
            Ok(store) => return Arc::new(store),
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the store does not open: {e}"),
        }
    }
}

/// One run's site and daemon.
#[derive(Clone, Copy)]
struct Setup {
    seed: u64,
    window: Duration,
    scale: f64,
    home_newest: usize,
    budget: Option<f64>,
    restart: bool,
    feed: bool,
    /// The restart's pause, in the site's time.
    down: Duration,
    next_pages: bool,
}

async fn run(setup: Setup) -> Run {
    let Setup {
        seed,
        window,
        scale,
        home_newest,
        budget,
        restart,
        feed,
        down,
        next_pages,
    } = setup;
    let rates: Vec<f64> = RATES.iter().map(|r| r * scale).collect();
    // The daemon's bounds in the site's time, run at `scale`.
    let (revisit_min_s, revisit_max_s) = (5.0, 600.0);
    let tail = Duration::from_secs_f64(revisit_max_s / scale);
    let run_for = window + tail;
    let spec = LiveSpec {
        rates_per_hour: rates.clone(),
        home_newest,
        feed_newest: if feed { 20 } else { 0 },
        per_page: 20,
        backlog: 20,
        span: run_for + Duration::from_secs(5),
        seed,
    };
    let site = Arc::new(LiveSite::start(spec));
    let server = FixtureServer::start_live(site.clone(), [127, 0, 0, 1].into())
        .await
        .expect("the live site starts");
    let origin = server.origin().to_string();
    let ms = |s: f64| format!("{}ms", (s * 1000.0 / scale).round() as u64);
    let config = format!(
        r#"
[politeness]
min_delay = "{gap}"
adaptive = false

[daemon]
http = "off"
revisit_min = "{min}"
revisit_max = "{max}"

[[site]]
name = "live"
seeds = ["{origin}/"]
section_patterns = ['^/$', '^/section/s\d+$']
article_patterns = ['^/news/']
robots_sitemaps = false
follow_next_pages = {next_pages}
{budget}
"#,
        gap = ms(0.2),
        budget = budget
            .map(|b| format!("max_listing_rate = {}", b * scale))
            .unwrap_or_default(),
        min = ms(revisit_min_s),
        max = ms(revisit_max_s),
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let overrides = Overrides {
        state_dir: Some(dir.path().to_path_buf()),
        output_path: Some(dir.path().join("records.jsonl")),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(&config, "freshness.toml")
        .and_then(|c| c.validate("freshness.toml", &overrides))
        .unwrap_or_else(|e| panic!("{e}"));
    // With a restart: the daemon is stopped half-way and started again on its state.
    let legs = if restart {
        vec![window / 2, run_for - window / 2]
    } else {
        vec![run_for]
    };
    // Unix ms at which each leg's daemon was started and told to stop.
    let mut legs_ms: Vec<(u64, u64)> = Vec::new();
    for (i, leg) in legs.into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(down.div_f64(scale)).await;
        }
        let store = open_store(&dir.path().join("db")).await;
        let crawler = Crawler::new(config.clone(), store, ParserRegistry::default())
            .expect("the crawler starts");
        let started = now_ms();
        legs_ms.push((started, started + leg.as_millis() as u64));
        crawler
            .run_daemon(tokio::time::sleep(leg))
            .await
            .expect("the daemon runs");
    }

    let log = server.requests();
    let start = site.start_ms;
    let end = start + window.as_millis() as u64;
    // Articles published in the window after its first tenth are scored.
    let (from, to) = (start + (end - start) / 10, end);
    let mut scored = 0;
    let mut latencies_s = Vec::new();
    let mut found_s: Vec<f64> = Vec::new();
    // Articles published in the first tenth, while the backlog of articles the site
    // already had is fetched: found by revisits that should not wait behind it.
    let mut early_s = Vec::new();
    // With a restart: the tenth of the window before the first daemon was told to
    // stop, the time until the second was started (no daemon runs), and the tenth after.
    let tenth = (end - start) / 10;
    let (stopped, back) = match legs_ms.as_slice() {
        [(_, stopped), (back, _)] => (*stopped, *back),
        _ => (u64::MAX, u64::MAX),
    };
    let (mut before_s, mut down_s, mut after_s) = (Vec::new(), Vec::new(), Vec::new());
    // Each section's latencies of the scored articles, and the section of each
    // tenth's article.
    let mut by_section: HashMap<usize, Vec<f64>> = HashMap::new();
    let (mut before_sections, mut after_sections) = (Vec::new(), Vec::new());
    for article in site.articles() {
        let at = article.published_ms;
        let path = LiveSite::article_path(article);
        // Seconds from publication to the first fetch; NaN when never fetched.
        let latency = log
            .iter()
            .find(|r| r.target == path)
            .map_or(f64::NAN, |r| r.unix_ms.saturating_sub(at) as f64 / 1000.0);
        if restart {
            if at < stopped && at + tenth >= stopped {
                before_s.push(latency);
                before_sections.push(article.section);
            } else if at >= stopped && at < back {
                down_s.push(latency);
            } else if at >= back && at < back + tenth {
                after_s.push(latency);
                after_sections.push(article.section);
            }
        }
        if at >= start && at < from {
            early_s.push(latency);
        }
        if at < from || at > to {
            continue;
        }
        scored += 1;
        if latency.is_finite() {
            let section = LiveSite::section_path(article.section);
            let shows = |t: &str| {
                t == section || (home_newest > 0 && t == "/") || (feed && t == "/feed.xml")
            };
            if let Some(r) = log.iter().find(|r| r.unix_ms >= at && shows(&r.target)) {
                found_s.push(r.unix_ms.saturating_sub(at) as f64 / 1000.0);
            }
            latencies_s.push(latency);
            by_section.entry(article.section).or_default().push(latency);
        } else if std::env::var_os("FRESHNESS_MISSES").is_some() {
            let section = LiveSite::section_path(article.section);
            let visits: Vec<u64> = log
                .iter()
                .filter(|r| r.target.starts_with(&section))
                .map(|r| (r.unix_ms.saturating_sub(start)) / 1000)
                .collect();
            eprintln!(
                "missed {path} published at {} s; {section} visited at {visits:?} s",
                (at - start) / 1000
            );
        }
    }
    if std::env::var_os("FRESHNESS_MISSES").is_some() {
        let mut pages: Vec<(String, usize)> = Vec::new();
        for r in log.iter().filter(|r| !r.target.starts_with("/news/")) {
            match pages.iter_mut().find(|(t, _)| *t == r.target) {
                Some((_, n)) => *n += 1,
                None => pages.push((r.target.clone(), 1)),
            }
        }
        eprintln!("seed {seed}: requests by page {pages:?}");
        // The pages visited often: their mean interval, and the mean wait of a story
        // published at a random time until their next visit (E[T^2] / 2E[T]: half the
        // interval when the visits are evenly spaced, more as they bunch).
        for (page, n) in pages.iter().filter(|(_, n)| *n >= 20) {
            let at: Vec<f64> = log
                .iter()
                .filter(|r| r.target == *page)
                .map(|r| r.unix_ms as f64 * scale / 1000.0)
                .collect();
            let gaps: Vec<f64> = at.windows(2).map(|w| w[1] - w[0]).collect();
            let sum: f64 = gaps.iter().sum();
            let squares: f64 = gaps.iter().map(|g| g * g).sum();
            eprintln!(
                "seed {seed}: {page} ({n}) every {:.1} s; a story waits {:.2} s for its visit",
                sum / gaps.len().max(1) as f64,
                squares / (2.0 * sum.max(f64::MIN_POSITIVE))
            );
        }
        // When each section was visited (seconds of the site's time), which shows how
        // long the warm-up took.
        for (page, n) in pages.iter().filter(|(t, _)| t.starts_with("/section/")) {
            let at: Vec<u64> = log
                .iter()
                .filter(|r| r.target == *page)
                .map(|r| (r.unix_ms.saturating_sub(start) as f64 * scale / 1000.0) as u64)
                .collect();
            eprintln!("seed {seed}: {page} ({n}) at {at:?} s");
        }
    }
    let listing_requests = log
        .iter()
        .filter(|r| r.target == "/" || r.target == "/feed.xml" || r.target.starts_with("/section/"))
        .count();
    let article_requests = log
        .iter()
        .filter(|r| r.target.starts_with("/news/"))
        .count();
    // The references, for the same listing requests over the window, with the true
    // rates (per second).
    let lambda: Vec<f64> = rates.iter().map(|r| r / 3600.0).collect();
    let d = run_for.as_secs_f64();
    let r = listing_requests.max(1) as f64;
    let total: f64 = lambda.iter().sum();
    let (uniform_s, optimum_s) = if home_newest > 0 || feed {
        // One page shows all news: poll it alone.
        let t = d / r;
        (t / 2.0, t / 2.0)
    } else {
        let k = lambda.len() as f64;
        let uniform = k * d / r / 2.0;
        let c = d * lambda.iter().map(|l| l.sqrt()).sum::<f64>() / r;
        let optimum = lambda.iter().map(|l| l * c / l.sqrt()).sum::<f64>() / 2.0 / total;
        (uniform, optimum)
    };
    Run {
        scored,
        early_s,
        around_restart: restart.then(|| {
            let section_mean: HashMap<usize, f64> = by_section
                .iter()
                .map(|(s, l)| (*s, l.iter().sum::<f64>() / l.len() as f64))
                .collect();
            let relative = |latencies: &[f64], sections: &[usize]| {
                let rel: Vec<f64> = latencies
                    .iter()
                    .zip(sections)
                    .filter(|(l, _)| l.is_finite())
                    .map(|(l, s)| l / section_mean[s])
                    .collect();
                rel.iter().sum::<f64>() / rel.len().max(1) as f64
            };
            Restart {
                before_rel: relative(&before_s, &before_sections),
                after_rel: relative(&after_s, &after_sections),
                before_s,
                down_s,
                after_s,
                down_ms: back.saturating_sub(stopped),
            }
        }),
        fetched: latencies_s.len(),
        latencies_s,
        found_mean_s: found_s.iter().sum::<f64>() / found_s.len().max(1) as f64,
        listing_requests,
        article_requests,
        uniform_s,
        optimum_s,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at]
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seeds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    let window = Duration::from_secs(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(120));
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let budget: Option<f64> = args.get(3).and_then(|a| a.parse().ok());
    // The restart's pause, in the site's time.
    let down: Option<f64> = std::env::var("FRESHNESS_DOWN")
        .ok()
        .map(|s| s.parse().expect("FRESHNESS_DOWN is seconds"));
    let restart = down.is_some() || std::env::var_os("FRESHNESS_RESTART").is_some();
    let pause = Duration::from_secs_f64(down.unwrap_or(0.0));
    // With a long pause, each seed with and without next pages, side by side.
    let variants: &[bool] = if down.is_some() {
        &[true, false]
    } else {
        &[true]
    };
    let feed = std::env::var_os("FRESHNESS_FEED").is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!(
        "window {window:?} at scale {scale} (latencies in the site's time: seconds x {scale}), listing budget {budget:?} an hour, feed: {}",
        if feed { "yes" } else { "no" }
    );
    println!("| home lists newest | seed | next pages | coverage | latency median / mean / p95 s | found mean s | listing req | article req | uniform s | optimum s | mean / optimum | first tenth: fetched, mean s | restart: tenth before; down; tenth after |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let homes: &[usize] = match std::env::var("FRESHNESS_HOME").as_deref() {
        Ok("1") => &[10],
        Ok("0") => &[0],
        _ => &[0, 10],
    };
    for &home_newest in homes {
        for seed in 1..=seeds {
            let runs = runtime.block_on(futures_join(variants.iter().map(|&next_pages| {
                run(Setup {
                    seed,
                    window,
                    scale,
                    home_newest,
                    budget,
                    restart,
                    feed,
                    down: pause,
                    next_pages,
                })
            })));
            for (run, next) in runs.into_iter().zip(variants) {
                let mut sorted = run.latencies_s.clone();
                sorted.sort_by(f64::total_cmp);
                // In the site's own time, so runs at any scale compare.
                let site_s = |s: f64| s * scale;
                let mean = sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
                // Fetched of scored, and the mean latency in the site's time.
                let summary = |latencies: &[f64]| {
                    let fetched: Vec<f64> = latencies
                        .iter()
                        .copied()
                        .filter(|s| s.is_finite())
                        .collect();
                    let mean = fetched.iter().sum::<f64>() / fetched.len().max(1) as f64;
                    format!("{}/{}, {:.1}", fetched.len(), latencies.len(), site_s(mean))
                };
                let around = run.around_restart.as_ref().map_or("-".to_string(), |r| {
                    format!(
                        "{} ({:.2}); down {:.1} s: {}; {} ({:.2})",
                        summary(&r.before_s),
                        r.before_rel,
                        site_s(r.down_ms as f64 / 1000.0),
                        summary(&r.down_s),
                        summary(&r.after_s),
                        r.after_rel
                    )
                });
                println!(
                "| {} | {seed} | {} | {}/{} | {:.1} / {:.1} / {:.1} | {:.1} | {} | {} | {:.1} | {:.1} | {:.2}x | {} | {around} |",
                if home_newest > 0 { "yes" } else { "no" },
                if *next { "yes" } else { "no" },
                run.fetched,
                run.scored,
                site_s(percentile(&sorted, 0.5)),
                site_s(mean),
                site_s(percentile(&sorted, 0.95)),
                site_s(run.found_mean_s),
                run.listing_requests,
                run.article_requests,
                site_s(run.uniform_s),
                site_s(run.optimum_s),
                mean / run.optimum_s,
                summary(&run.early_s),
            );
            }
        }
    }
}

/// Runs the futures at once on the runtime, and returns their outputs in order.
async fn futures_join<F: std::future::Future<Output = Run> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<Run> {
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(task.await.expect("a run does not panic"));
    }
    out
}
