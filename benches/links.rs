//! Cost of reading a page's links: streaming (`lol_html`, as links-only crawls and
//! listing pages do) against parsing the DOM (html5ever, as the article parser does),
//! over the `.html` files of a directory, for example a site made by the referee
//! harness's `gen_site.py`.
//!
//! Run: `cargo bench --bench links -- DIR [PAGES] [stream|dom]`. Prints microseconds
//! per page for each way (or the one named), the best of five rounds over the same
//! pages. Timings on a shared machine are noisy; for comparing two builds, count
//! instructions instead: `perf stat -e instructions:u target/release/deps/links-* DIR
//! 300 stream`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use newscrawl::parse::{extract_links, stream_links};
use url::Url;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Up to `limit` `.html` files under `dir`, in a stable order.
fn html_files(dir: &Path, limit: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                found.push(path);
            }
        }
    }
    found.sort();
    // Spread the sample over the whole site, not its first directory.
    let step = (found.len() / limit.max(1)).max(1);
    found.into_iter().step_by(step).take(limit).collect()
}

/// Microseconds per page of `read` over `pages`, the best of five rounds.
fn per_page(pages: &[(Url, String)], read: impl Fn(&str, &Url) -> usize) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut links = 0;
            for (url, body) in pages {
                links += read(body, url);
            }
            black_box(links);
            start.elapsed().as_secs_f64() * 1e6 / pages.len() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(dir) = args.first() else {
        // `cargo test --all-targets` runs benches too, with no arguments: nothing to do.
        if std::env::args().any(|a| a == "--bench") {
            eprintln!("usage: cargo bench --bench links -- DIR [PAGES] [stream|dom]");
        }
        return;
    };
    let limit = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(500);
    let pages: Vec<(Url, String)> = html_files(Path::new(dir), limit)
        .into_iter()
        .filter_map(|path| {
            let body = std::fs::read_to_string(&path).ok()?;
            let url = Url::parse(&format!("http://127.0.0.2:8080/{}", path.display())).ok()?;
            Some((url, body))
        })
        .collect();
    if pages.is_empty() {
        eprintln!("no .html files under {dir}");
        return;
    }
    let bytes: usize = pages.iter().map(|(_, body)| body.len()).sum();
    println!(
        "{} pages, {} KB each on average",
        pages.len(),
        bytes / pages.len() / 1024
    );
    let only = args.get(2).map(String::as_str);
    let streamed = (only != Some("dom")).then(|| {
        per_page(&pages, |body, url| {
            stream_links(body, url, usize::MAX).map_or(0, |links| links.len())
        })
    });
    if let Some(streamed) = streamed {
        println!("streaming (lol_html): {streamed:8.1} us/page");
    }
    if only != Some("stream") {
        let dom = per_page(&pages, |body, url| {
            extract_links(&scraper::Html::parse_document(body), url).len()
        });
        let ratio = streamed
            .map(|s| format!(" ({:.1}x)", dom / s))
            .unwrap_or_default();
        println!("DOM (html5ever):      {dom:8.1} us/page{ratio}");
    }
}
