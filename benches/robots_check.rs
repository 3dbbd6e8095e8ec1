//! Cost of one robots.txt check: `newscrawl::robots::Robots` (parsed once per host)
//! against the `robotstxt` crate's matcher (which parses the whole file per check).
//! Run: `cargo bench --bench robots_check`. Prints ns per check and the ratio.

use std::hint::black_box;
use std::time::Instant;

use newscrawl::robots::Robots;

fn file(rules: usize) -> String {
    let mut body = String::from("User-agent: *\nDisallow: /search\nDisallow: /member/\n");
    for i in 0..rules {
        body.push_str(&format!(
            "Disallow: /archive/{i}/*.pdf$\nAllow: /archive/{i}/index.html\n"
        ));
    }
    body.push_str(
        "\nUser-agent: otherbot\nDisallow: /\n\nSitemap: https://news.example/sitemap.xml\n",
    );
    body
}

fn per_check(mut f: impl FnMut(usize) -> bool, iterations: usize) -> f64 {
    let start = Instant::now();
    let mut allowed = 0;
    for i in 0..iterations {
        allowed += usize::from(f(i));
    }
    black_box(allowed);
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench" || a == "open") {
        return;
    }
    let paths: Vec<String> = (0..64)
        .map(|i| format!("/www/nation/2024/03/113_{i}.html"))
        .collect();
    println!("| robots.txt size | newscrawl ns/check | robotstxt crate ns/check | ratio |");
    println!("|---|---|---|---|");
    for rules in [15, 900] {
        let body = file(rules);
        let robots = Robots::parse(body.as_bytes(), "newscrawl");
        let ours = per_check(|i| robots.allows(&paths[i % paths.len()]), 200_000);
        let urls: Vec<String> = paths
            .iter()
            .map(|p| format!("https://news.example{p}"))
            .collect();
        let iterations = if rules > 100 { 2_000 } else { 50_000 };
        let theirs = per_check(
            |i| {
                robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(
                    &body,
                    "newscrawl",
                    &urls[i % urls.len()],
                )
            },
            iterations,
        );
        println!(
            "| {:.1} KB | {:.0} | {:.0} | {:.0}x |",
            body.len() as f64 / 1024.0,
            ours,
            theirs,
            theirs / ours
        );
    }
}
