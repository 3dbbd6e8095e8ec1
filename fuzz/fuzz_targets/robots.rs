//! robots.txt: any bytes parse to a policy, and checking any path never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::robots::Robots;

fuzz_target!(|input: (&[u8], &str)| {
    let (body, path) = input;
    let robots = Robots::parse(body, "newscrawl");
    let _ = robots.allows(path);
    let _ = robots.allows(&format!("/{path}"));
    assert!(robots.crawl_delay.is_none_or(|d| d.is_finite() && d >= 0.0));
});
