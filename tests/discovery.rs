//! Discovery beyond links: sitemaps named by robots.txt (an index, a gzipped Google
//! News sitemap), feeds as seeds, and sitemap `lastmod` bringing edited articles back.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{crawl_text, demo_config_text, read_records};
use newscrawl::fixture::{FixtureSite, FixtureSpec};

const DELAY: Duration = Duration::from_millis(5);

fn spec(articles: usize, edited: Vec<u32>, hidden: Vec<u32>) -> FixtureSpec {
    FixtureSpec {
        articles,
        edited,
        hidden,
        ..FixtureSpec::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_only_a_gzipped_news_sitemap_lists_is_found() {
    let server = common::site_server(spec(10, vec![], vec![1004]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    crawl_text(&demo_config_text(server.origin(), ""), dir.path(), DELAY)
        .await
        .unwrap();
    let site = server.site();
    let hidden = site.article_path(&site.articles[3]);
    let log = server.requests();
    for target in [
        "/sitemap.xml",
        "/sitemap-articles.xml",
        "/sitemap-news.xml.gz",
        hidden.as_str(),
    ] {
        assert_eq!(
            log.iter().filter(|r| r.target == target).count(),
            1,
            "{target} fetched once"
        );
    }
    let records = read_records(dir.path());
    assert!(
        records.iter().any(|r| r.url.ends_with(&hidden)),
        "the hidden article was emitted"
    );
    assert_eq!(records.len(), 9, "10 articles, one a PDF");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_alone_is_enough_to_start_a_crawl() {
    let server = common::site_server(spec(14, vec![], vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "")
        .replace("seeds = [\"", "feeds = [\"")
        .replace("/\"]", "/rss.xml\"]")
        .replace("[crawler]", "[crawler]\nmax_depth = 1")
        + "robots_sitemaps = false\n";
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let fetched: BTreeSet<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    let site = server.site();
    let mut expected: BTreeSet<String> = ["/robots.txt".to_string(), "/rss.xml".to_string()].into();
    // The feed lists the 10 newest articles (newest ids last).
    expected.extend(site.articles[4..].iter().map(|a| site.article_path(a)));
    assert_eq!(fetched, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_lastmod_brings_an_edited_article_back() {
    let server = common::site_server(spec(10, vec![], vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "");
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let before = read_records(dir.path()).len();
    let first = server.requests().len();

    // Story 1002 is corrected: its sitemap lastmod moves two days on.
    server.set_site(FixtureSite::new(spec(10, vec![1002], vec![])));
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let site = server.site();
    let edited = site.article_path(&site.articles[1]);
    let articles: Vec<String> = server.requests()[first..]
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| t.starts_with("/www/"))
        .collect();
    assert_eq!(
        articles,
        std::slice::from_ref(&edited),
        "only the edited article is fetched again"
    );
    let records = read_records(dir.path());
    assert_eq!(records.len(), before + 1);
    let last = records.last().unwrap();
    assert!(last.url.ends_with(&edited) && last.version == 2, "{last:?}");
}

/// One crawl of [`common::feed_live_site`]: the server's log and the records written.
async fn crawl_live_with_feed(discover: bool) -> (Vec<String>, usize) {
    let server = common::feed_live_site().await;
    let dir = tempfile::tempdir().unwrap();
    let text = common::feed_only_config(server.origin(), discover);
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let log: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    (log, read_records(dir.path()).len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_a_section_page_declares_is_followed() {
    let (log, records) = crawl_live_with_feed(true).await;
    assert_eq!(
        log.iter().filter(|t| *t == "/feed.xml").count(),
        1,
        "{log:?}"
    );
    // Two sections of 15 stories each; the feed lists the 20 newest.
    assert_eq!(log.iter().filter(|t| t.starts_with("/news/")).count(), 20);
    assert_eq!(records, 20);

    let (log, records) = crawl_live_with_feed(false).await;
    assert!(!log.iter().any(|t| t == "/feed.xml"), "{log:?}");
    assert_eq!(records, 0);
}
