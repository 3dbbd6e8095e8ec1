//! Runs over a site that was crawled before: conditional revisits of section pages,
//! only new articles fetched, edits emitted as new versions, duplicates recorded as
//! aliases, and a state directory that belongs to another crawl refused.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{crawl_text, demo_config_text, read_records};
use newscrawl::fixture::{FixtureSite, FixtureSpec};
use newscrawl::store::{Store, UrlStatus};

const DELAY: Duration = Duration::from_millis(5);

fn spec(articles: usize, edited: Vec<u32>) -> FixtureSpec {
    FixtureSpec {
        articles,
        edited,
        ..FixtureSpec::default()
    }
}

fn is_article(target: &str) -> bool {
    target.starts_with("/www/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_site_answers_304_and_nothing_is_emitted() {
    let server = common::site_server(spec(12, vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "");
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let first = server.requests().len();
    let records = read_records(dir.path()).len();
    assert_eq!(records, 11, "12 articles, one of them a PDF");

    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let second = &server.requests()[first..];
    assert!(!second.is_empty());
    assert!(
        second
            .iter()
            .all(|r| !is_article(&r.target) && r.target != "/robots.txt"),
        "only section pages: {second:?}"
    );
    assert!(
        second.iter().all(|r| r.status == 304),
        "conditional requests: {second:?}"
    );
    assert_eq!(read_records(dir.path()).len(), records, "nothing emitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_articles_are_fetched_and_emitted_and_nothing_else() {
    let server = common::site_server(spec(12, vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "");
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let before: BTreeSet<String> = read_records(dir.path())
        .into_iter()
        .map(|r| r.url)
        .collect();
    let first = server.requests().len();

    server.set_site(FixtureSite::new(spec(14, vec![])));
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let site = server.site();
    let new_paths: BTreeSet<String> = site.articles[12..]
        .iter()
        .map(|a| site.article_path(a))
        .collect();
    let fetched: BTreeSet<String> = server.requests()[first..]
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| is_article(t))
        .collect();
    assert_eq!(fetched, new_paths, "exactly the new articles");
    let records = read_records(dir.path());
    let added: Vec<_> = records
        .iter()
        .filter(|r| !before.contains(&r.url))
        .collect();
    assert_eq!(added.len(), 2);
    assert!(added.iter().all(|r| r.version == 1));
    assert_eq!(
        records.len(),
        before.len() + 2,
        "no old article emitted again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_article_is_emitted_again_as_version_2() {
    let server = common::site_server(spec(12, vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "article_recheck = \"0s\"");
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let before = read_records(dir.path());
    let first = server.requests().len();

    server.set_site(FixtureSite::new(spec(12, vec![1003])));
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let second = &server.requests()[first..];
    let edited_path = server.site().article_path(&server.site().articles[2]);
    for r in second
        .iter()
        .filter(|r| is_article(&r.target) && r.target != edited_path)
    {
        assert_eq!(r.status, 304, "{}", r.target);
    }
    // (The sitemap's newer lastmod may ask for the edited page a second time: a 304.)
    assert!(second
        .iter()
        .any(|r| r.target == edited_path && r.status == 200));
    let records = read_records(dir.path());
    assert_eq!(records.len(), before.len() + 1);
    let v2 = records.last().unwrap();
    assert!(v2.url.ends_with(&edited_path));
    assert_eq!(v2.version, 2);
    assert!(v2
        .body
        .contains("Correction: an earlier version of story 1003"));
    assert_eq!(v2.updated.as_deref(), Some("2024-03-03T15:34:00+09:00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_preview_twin_becomes_an_alias_of_its_canonical_article() {
    let server = common::site_server(spec(6, vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    // This site's patterns take print previews for articles too.
    let text = demo_config_text(server.origin(), "")
        .replace("'^/a/\\d+$',", "'^/a/\\d+$', '^/www/print/\\d+$',")
        .replace(", '^/www/print/'", "");
    let (_, store) = crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let records = read_records(dir.path());
    let urls: BTreeSet<&str> = records.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls.len(), records.len(), "one record per article");
    assert!(records.iter().all(|r| !r.url.contains("/www/print/")));
    assert_eq!(records.len(), 6, "one record for each of the 6 articles");
    let print = store
        .url_state(&format!("{}/www/print/1001", server.origin()))
        .unwrap()
        .unwrap();
    assert_eq!(print.status, UrlStatus::Alias, "{print:?}");
    let article = server.site().article_path(&server.site().articles[0]);
    assert_eq!(
        print.alias_of.as_deref(),
        Some(format!("{}{article}", server.origin()).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_of_another_crawl_is_refused() {
    let server = common::site_server(spec(3, vec![]), [127, 0, 0, 1]).await;
    let dir = tempfile::tempdir().unwrap();
    let text = demo_config_text(server.origin(), "");
    crawl_text(&text, dir.path(), DELAY).await.unwrap();
    let other = text.replace("name = \"daily-fixture\"", "name = \"another-paper\"");
    let err = crawl_text(&other, dir.path(), DELAY)
        .await
        .err()
        .expect("refused");
    assert!(
        err.contains("holds another crawl")
            && err.contains("daily-fixture")
            && err.contains("--fresh"),
        "{err}"
    );
}
