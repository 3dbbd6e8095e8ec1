//! Time per page in process, side by side: newscrawl's `article` parser (the DOM
//! parse, links and record, as the crawler runs it) and the `trafilatura` crate's
//! `extract` (its own DOM parse and record), on the real-page development set.
//!
//!     python3 benches/extraction_dev.py --bin target/release/newscrawl   # unpacks the pages
//!     cargo run --release --manifest-path benches/extractors/Cargo.toml --bin timing
//!
//! Each page runs through both extractors in turn, three rounds, and each page's time
//! is its fastest round, so that the two meet the same caches and the same machine load.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use newscrawl::parse::{Page, ParserRegistry};
use newscrawl::site::UrlKind;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pages_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/extraction-dev"));
    let evaldata: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("../shared/extraction-dev/evaldata.json"))
            .expect("../shared/extraction-dev/evaldata.json"),
    )
    .expect("evaldata JSON");
    let mut pages = Vec::new();
    for (url, item) in evaldata.as_object().expect("object") {
        let file = item["file"].as_str().expect("file");
        let path = ["eval", "cache"]
            .iter()
            .map(|d| pages_dir.join(d).join(file))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{file} not unpacked under {}", pages_dir.display()));
        let bytes = std::fs::read(&path).expect("page");
        let (text, _) = newscrawl::fetch::decode_html(&bytes, None);
        pages.push((url::Url::parse(url).expect("url"), text.into_owned()));
    }
    // `ONLY_OURS=1`: newscrawl alone (for a profiler).
    let only_ours = std::env::var_os("ONLY_OURS").is_some();
    let ours = ParserRegistry::default().get("article").unwrap();
    let mut times: Vec<(Duration, Duration)> = vec![(Duration::MAX, Duration::MAX); pages.len()];
    for _round in 0..3 {
        for (i, (url, html)) in pages.iter().enumerate() {
            let started = Instant::now();
            let page = Page {
                url,
                kind: UrlKind::Article,
                headers: &[],
                body: html,
                time_zone: chrono_tz::UTC,
                fetched_at: None,
                max_links: usize::MAX,
            };
            std::hint::black_box(ours.parse(&page).ok());
            let a = started.elapsed();
            if only_ours {
                times[i].0 = times[i].0.min(a);
                continue;
            }
            let started = Instant::now();
            let options = trafilatura::Options::default().with_url(url.clone());
            std::hint::black_box(trafilatura::extract(html, &options).ok());
            let b = started.elapsed();
            times[i].0 = times[i].0.min(a);
            times[i].1 = times[i].1.min(b);
        }
    }
    let stats = |mut v: Vec<Duration>| {
        v.sort();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
        let total: f64 = v.iter().map(|d| d.as_secs_f64() * 1e3).sum();
        (at(0.5), at(0.95), total / v.len() as f64)
    };
    let (om, op, oa) = stats(times.iter().map(|t| t.0).collect());
    if only_ours {
        println!("newscrawl article: median {om:.2} ms, p95 {op:.2} ms, mean {oa:.2} ms");
        return;
    }
    let (tm, tp, ta) = stats(times.iter().map(|t| t.1).collect());
    println!("{} pages, fastest of 3 rounds per page", pages.len());
    println!("| extractor | median ms | p95 ms | mean ms |\n|---|---|---|---|");
    println!("| newscrawl article (DOM, links, record) | {om:.2} | {op:.2} | {oa:.2} |");
    println!("| trafilatura 0.6 extract | {tm:.2} | {tp:.2} | {ta:.2} |");
    println!(
        "ratio newscrawl / trafilatura: median {:.2}, p95 {:.2}",
        om / tm,
        op / tp
    );
}
