//! robots.txt through the whole crawler: a loopback site whose robots.txt uses the two
//! shapes that once let disallowed paths through (a group continued past other
//! records, and rules written with escapes), and a home page that links every
//! spelling of the disallowed paths. The server's own request log is the judge.

mod common;

use std::time::Duration;

const ROBOTS: &str = "User-agent: newscrawl-test\n\
    Sitemap: http://example.invalid/sitemap.xml\n\
    Crawl-delay: 0\n\
    Noindex: /nothing\n\
    User-agent: *\n\
    Disallow: /private/\n\
    Disallow: /%7Euser/\n\
    Disallow: /a%2Fb\n\
    Disallow: /caf%C3%A9/\n";

const HOME: &str = r#"<html><body><h1>Home</h1>
    <a href="/private/a.html">a</a> <a href="/~user/x.html">x</a> <a href="/%7Euser/y.html">y</a>
    <a href="/%7euser/z.html">z</a> <a href="/a%2Fb">encoded slash</a> <a href="/a/b">plain slash</a>
    <a href="/café/menu.html">café</a> <a href="/caf%C3%A9/list.html">escaped café</a>
    <a href="/public/ok.html">ok</a></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_disallowed_path_is_requested() {
    let (origin, log) = common::logging_site(ROBOTS.into(), HOME.into()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"[crawler]
user_agent = "newscrawl-test/1.0 (+https://example.invalid/bot)"
[politeness]
min_delay = "10ms"
[[site]]
name = "robots"
seeds = ["{origin}/"]
section_patterns = ['^/$']
article_patterns = ['\.html$', '^/a']
parser = "links"
"#
    );
    common::crawl_text(&config, dir.path(), Duration::from_millis(10))
        .await
        .expect("the crawl runs");
    let requested = log.lock().unwrap().clone();
    for allowed in ["/robots.txt", "/", "/public/ok.html", "/a/b"] {
        assert!(
            requested.iter().any(|p| p == allowed),
            "{allowed} not requested: {requested:?}"
        );
    }
    for path in &requested {
        let decoded = path.to_ascii_lowercase();
        assert!(
            !decoded.starts_with("/private/")
                && !decoded.starts_with("/~user/")
                && !decoded.starts_with("/%7euser/")
                && decoded != "/a%2fb"
                && !decoded.starts_with("/caf%c3%a9/"),
            "{path} is disallowed but was requested: {requested:?}"
        );
    }
}
