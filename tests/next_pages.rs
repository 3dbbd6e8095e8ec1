//! Stories pushed off a section's first page between two visits: a revisit that shows
//! only new stories follows the page's `rel="next"` until a page shows a known one,
//! and no further; a revisit that shows a known story follows nothing; a first visit
//! does not walk the section's archive. (The same for a shared worker: `shared.rs`.)

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::parse::ParserRegistry;
use newscrawl::store::SledStore;

/// A daemon of `text` with its state and records (`records.jsonl`) in `dir`.
fn daemon(text: &str, dir: &Path) -> Crawler {
    let overrides = Overrides {
        state_dir: Some(dir.to_path_buf()),
        output_path: Some(dir.join("records.jsonl")),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(text, "paged.toml")
        .unwrap()
        .validate("paged.toml", &overrides)
        .unwrap_or_else(|e| panic!("{e}"));
    let store = Arc::new(SledStore::open(&dir.join("db")).unwrap());
    Crawler::new(config, store, ParserRegistry::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revisit_that_shows_only_new_stories_follows_the_next_pages_until_a_known_one() {
    let published = Arc::new(AtomicUsize::new(6));
    let site = common::paged_site(published.clone(), 3).await;
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let marks = std::sync::Mutex::new(None);
    daemon(&common::paged_config(&site.origin), dir.path())
        .run_daemon(async {
            *marks.lock().unwrap() = Some(common::paged_steps(&published, &site, &records).await);
        })
        .await
        .unwrap();
    let marks = marks
        .lock()
        .unwrap()
        .expect("the daemon stopped before the steps' end");
    common::assert_paged(&site.log, marks, &records);
}

/// With `follow_next_pages = false` a site's sections are read as their first page
/// only: the stories pushed off it are not looked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_can_keep_its_sections_to_their_first_page() {
    let published = Arc::new(AtomicUsize::new(6));
    let site = common::paged_site(published.clone(), 3).await;
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let text = format!(
        "{}follow_next_pages = false\n",
        common::paged_config(&site.origin)
    );
    let deadline = Duration::from_secs(30);
    let (log, requested) = (&site.log, &*site.requested);
    daemon(&text, dir.path())
        .run_daemon(async {
            let stories = || common::paged_stories(&records);
            common::poll_until("the first page's stories", deadline, requested, || {
                stories() == [4, 5, 6].into_iter().collect()
            })
            .await;
            published.store(15, Ordering::SeqCst);
            common::poll_until("page 1's new stories", deadline, requested, || {
                stories() == [4, 5, 6, 13, 14, 15].into_iter().collect()
            })
            .await;
            // A next page queued by that visit would be due before the next revisits.
            let after = log.lock().unwrap().len();
            common::poll_until("two more revisits", deadline, requested, || {
                common::requests_of(log, after, "/section") >= 2
            })
            .await;
        })
        .await
        .unwrap();
    let asked = log.lock().unwrap().clone();
    assert!(
        !asked.iter().any(|p| p.starts_with("/section?page=")),
        "{asked:?}"
    );
    assert_eq!(
        common::paged_stories(&records),
        [4, 5, 6, 13, 14, 15].into_iter().collect()
    );
}
