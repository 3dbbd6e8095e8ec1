//! The three ways to plug in a parser, each crawling the fixture site: CSS selectors
//! from the config (those of `config/fixture-selectors.toml`), an external program (the
//! Python example, and one that crashes, hangs and talks nonsense), and a Rust parser
//! registered on the crawler builder (and one that panics).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{demo_config_text, fixture_server, read_records};
use newscrawl::config::{ConfigFile, CrawlConfig, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec, Variant};
use newscrawl::parse::{Page, ParseError, Parsed, Parser};
use newscrawl::record::Article;
use newscrawl::site::UrlKind;
use newscrawl::store::{SledStore, Store, UrlState, UrlStatus};

/// The demo config on `server` with the site's `parser` line replaced by `parser`,
/// placed last in the site table (it may add tables after it).
fn config(server: &FixtureServer, dir: &Path, parser: &str) -> CrawlConfig {
    let text = demo_config_text(server.origin(), parser).replace("parser = \"article\"\n", "");
    let overrides = Overrides {
        state_dir: Some(dir.to_path_buf()),
        output_path: Some(dir.join("records.jsonl")),
        min_delay: Some(Duration::from_millis(5)),
        ..Overrides::default()
    };
    ConfigFile::parse(&text, "test.toml")
        .and_then(|c| c.validate("test.toml", &overrides))
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn crawl(crawler: Crawler) {
    crawler.run(std::future::pending()).await.unwrap();
}

fn store(dir: &Path) -> Arc<SledStore> {
    Arc::new(SledStore::open(&dir.join("db")).unwrap())
}

fn records_by_url(dir: &Path) -> BTreeMap<String, Article> {
    let records = read_records(dir);
    let n = records.len();
    let by_url: BTreeMap<String, Article> =
        records.into_iter().map(|r| (r.url.clone(), r)).collect();
    assert_eq!(by_url.len(), n, "a record was written twice");
    by_url
}

fn failed_articles(store: &dyn Store) -> Vec<UrlState> {
    store
        .url_states()
        .unwrap()
        .into_iter()
        .filter(|s| s.kind == UrlKind::Article && s.status == UrlStatus::Failed)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_selectors_extract_every_field_of_the_fixture_articles() {
    // The selectors exactly as shipped, with the fallback off: every field below comes
    // from a selector.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/fixture-selectors.toml"
    ))
    .unwrap();
    let tables = &shipped[shipped.find("[site.selectors]").unwrap()..];
    let tables = tables.replace("fallback = true", "fallback = false");
    let server = fixture_server(12).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        &server,
        dir.path(),
        &format!("parser = \"selectors\"\n{tables}"),
    );
    let store = store(dir.path());
    crawl(Crawler::new(config, store, Default::default()).unwrap()).await;

    let records = records_by_url(dir.path());
    let site = server.site();
    let mut expected = 0;
    for a in site.articles.iter().filter(|a| a.variant != Variant::Pdf) {
        expected += 1;
        let url = format!("{}{}", server.origin(), site.article_path(a));
        let r = records
            .get(&url)
            .unwrap_or_else(|| panic!("no record for {url}"));
        assert_eq!(r.title.as_deref(), Some(a.title.as_str()), "{url}");
        assert_eq!(r.deck.as_deref(), Some(a.deck.as_str()), "{url}");
        assert_eq!(r.authors, a.authors, "{url}");
        let rfc3339 = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:00+09:00").to_string();
        assert_eq!(r.published, Some(rfc3339(a.posted)), "{url}");
        assert_eq!(r.updated, a.updated.map(rfc3339), "{url}");
        assert_eq!(r.body, a.paragraphs.join("\n\n"), "{url}");
        let sec = &site.sections[a.section];
        assert_eq!(r.section, [sec.name, sec.subsections[a.subsection].name]);
        let captions: Vec<String> = r.images.iter().filter_map(|i| i.caption.clone()).collect();
        let want: Vec<String> = a.images.iter().map(|(_, c)| c.clone()).collect();
        assert_eq!(captions, want, "{url}");
        assert!(r.images[0].url.starts_with(server.origin()));
    }
    assert_eq!(records.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_parses_through_the_command_parser() {
    let server = fixture_server(8).await;
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/parser.py");
    let config = config(
        &server,
        dir.path(),
        &format!(
            "parser = \"command\"\n[site.command]\nprogram = \"python3\"\nargs = [{example:?}]\ntimeout = \"20s\"\n"
        ),
    );
    let store = store(dir.path());
    crawl(Crawler::new(config, store.clone(), Default::default()).unwrap()).await;

    assert_eq!(failed_articles(&*store), []);
    let records = records_by_url(dir.path());
    let site = server.site();
    let htmls: Vec<_> = site
        .articles
        .iter()
        .filter(|a| a.variant != Variant::Pdf)
        .collect();
    // Links came from the program too: every article was found and parsed.
    assert_eq!(records.len(), htmls.len());
    for a in htmls {
        let url = format!("{}{}", server.origin(), site.article_path(a));
        let r = &records[&url];
        assert_eq!(r.title.as_deref(), Some(a.title.as_str()), "{url}");
        assert_eq!(r.body, a.paragraphs.join("\n\n"), "{url}");
        assert_eq!(
            r.site, "daily-fixture",
            "the engine fills url, site, version"
        );
        assert_eq!(r.version, 1);
    }
}

/// A parser program that misbehaves on some articles (by id in the URL): it crashes,
/// hangs, or prints something that is not JSON; otherwise it answers.
const UNRULY: &str = r##"
import json, sys, time, re
for line in sys.stdin:
    request = json.loads(line)
    m = re.search(r"_(\d+)\.html$", request["url"])
    story = int(m.group(1)) if m else 0
    if story == 1002:
        sys.exit(3)
    if story == 1004:
        time.sleep(60)
    if story == 1006:
        print("Traceback (most recent call last): oops", flush=True)
        continue
    links = re.findall(r'href="(/[^"#]*)"', request["body"])
    origin = re.match(r"https?://[^/]+", request["url"]).group(0)
    records = [{"title": "story %d" % story}] if request["kind"] == "article" else []
    print(json.dumps({"links": [origin + l for l in links], "records": records}), flush=True)
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_hanging_or_babbling_program_costs_only_its_pages() {
    let server = fixture_server(12).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("unruly.py");
    std::fs::write(&script, UNRULY).unwrap();
    let config = config(
        &server,
        dir.path(),
        &format!(
            "parser = \"command\"\n[site.command]\nprogram = \"python3\"\nargs = [{script:?}]\ntimeout = \"3s\"\n"
        ),
    );
    // A restarted python3's first answer also has its start-up allowance, so on a busy
    // machine only the program that never answers hits the timeout.
    let store = store(dir.path());
    crawl(Crawler::new(config, store.clone(), Default::default()).unwrap()).await;

    let failed: BTreeMap<String, String> = failed_articles(&*store)
        .into_iter()
        .map(|s| (s.url, s.note.unwrap_or_default()))
        .collect();
    let note_of = |id: u32| {
        failed
            .iter()
            .find(|(url, _)| url.ends_with(&format!("_{id}.html")))
            .map(|(_, note)| note.clone())
            .unwrap_or_else(|| panic!("story {id} did not fail: {failed:#?}"))
    };
    assert!(note_of(1002).contains("exited"), "{}", note_of(1002));
    assert!(
        note_of(1004).contains("no answer within"),
        "{}",
        note_of(1004)
    );
    assert!(
        note_of(1006).contains("malformed answer"),
        "{}",
        note_of(1006)
    );
    assert_eq!(failed.len(), 3, "{failed:#?}");
    // Every other article was parsed by a restarted program.
    let records = records_by_url(dir.path());
    let site = server.site();
    let others = site
        .articles
        .iter()
        .filter(|a| a.variant != Variant::Pdf && ![1002, 1004, 1006].contains(&a.id))
        .count();
    assert_eq!(records.len(), others);
}

/// Keeps the headline only, and refuses pages without one.
struct Headline;

impl Parser for Headline {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        let html = scraper::Html::parse_document(page.body);
        let links = newscrawl::parse::extract_links(&html, page.url);
        if page.kind != UrlKind::Article {
            return Ok(Parsed {
                links,
                articles: vec![],
            });
        }
        if page.url.path().ends_with("_1003.html") {
            panic!("this parser has a bug");
        }
        let h1 = scraper::Selector::parse("h1").unwrap();
        let title = html
            .select(&h1)
            .next()
            .map(|h| h.text().collect::<String>())
            .ok_or_else(|| ParseError("no headline".into()))?;
        Ok(Parsed {
            links,
            articles: vec![Article {
                title: Some(title),
                ..Article::default()
            }],
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_parser_registered_on_the_builder_is_used_and_its_panics_are_contained() {
    let server = fixture_server(8).await;
    let dir = tempfile::tempdir().unwrap();
    let headline = config(&server, dir.path(), "parser = \"headline\"");
    let store = store(dir.path());
    let crawler = Crawler::builder(headline)
        .store(store.clone())
        .parser("headline", Arc::new(Headline))
        .build()
        .unwrap();
    crawl(crawler).await;

    let records = records_by_url(dir.path());
    let site = server.site();
    for a in site.articles.iter().filter(|a| a.variant != Variant::Pdf) {
        let url = format!("{}{}", server.origin(), site.article_path(a));
        if a.id == 1003 {
            assert!(!records.contains_key(&url));
            continue;
        }
        assert_eq!(records[&url].title.as_deref(), Some(a.title.as_str()));
        assert_eq!(records[&url].body, "", "only what the parser gave");
    }
    let failed = failed_articles(&*store);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].note.as_deref().unwrap().contains("panicked"));

    // A site naming a parser nobody registered is refused before anything starts.
    let dir = tempfile::tempdir().unwrap();
    let unknown = config(&server, dir.path(), "parser = \"nobody\"");
    let err = Crawler::builder(unknown)
        .store(store_in(dir.path()))
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("\"nobody\"") && err.contains("not registered"),
        "{err}"
    );
}

fn store_in(dir: &Path) -> Arc<dyn Store> {
    store(dir)
}

/// A site redesigned mid-crawl: the fixture selectors (without the fallback) stop
/// finding anything on the new article pages; the crawler says so, naming the site,
/// the fields and sample URLs, and `status` keeps the alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_change_mid_crawl_raises_an_extraction_warning() {
    use tokio::io::AsyncReadExt;
    let articles = 150;
    let server = fixture_server(articles).await;
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/fixture-selectors.toml"
    ))
    .unwrap();
    let tables = shipped[shipped.find("[site.selectors]").unwrap()..]
        .replace("fallback = true", "fallback = false");
    let text = demo_config_text(
        server.origin(),
        &format!("parser = \"selectors\"\n{tables}"),
    )
    .replace("parser = \"article\"\n", "");
    std::fs::write(dir.path().join("crawl.toml"), text).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["crawl", "--config", "crawl.toml", "--state", "state"])
        .args(["--min-delay", "20ms"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Redesign once the first window of article pages (100) is in.
    let is_article = |t: &str| t.starts_with("/www/") && t.ends_with(".html");
    let mut seen = 0;
    loop {
        seen += 1;
        tokio::time::timeout(Duration::from_secs(60), server.wait_for_requests(seen))
            .await
            .expect("the crawl makes progress");
        let fetched = server
            .requests()
            .iter()
            .filter(|r| is_article(&r.target))
            .count();
        if fetched >= 110 {
            break;
        }
    }
    let switched_at = server.requests().len();
    server.set_site(FixtureSite::new(FixtureSpec {
        articles,
        redesigned: true,
        ..FixtureSpec::default()
    }));
    let status = tokio::time::timeout(Duration::from_secs(120), child.wait())
        .await
        .expect("the crawl ends")
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let redesigned: Vec<String> = server.requests()[switched_at..]
        .iter()
        .filter(|r| is_article(&r.target))
        .map(|r| format!("{}{}", server.origin(), r.target))
        .collect();
    assert!(
        redesigned.len() >= 20,
        "{} pages after the switch",
        redesigned.len()
    );
    for field in ["title", "body", "authors", "published"] {
        let line = stderr
            .lines()
            .find(|l| {
                l.contains(&format!(
                    "extraction: {field} stopped being found on site \"daily-fixture\""
                ))
            })
            .unwrap_or_else(|| panic!("no warning for {field}:\n{stderr}"));
        assert!(
            redesigned.iter().any(|u| line.contains(u.as_str())),
            "the warning names redesigned pages: {line}"
        );
    }
    assert_eq!(stderr.matches("stopped being found").count(), 4, "{stderr}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newscrawl"))
        .args(["status", "--state", "state", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts = json["extraction"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 4, "{json:#}");
    let site = &json["extraction"]["sites"][0];
    assert_eq!(site["site"], "daily-fixture");
    assert!(site["missing"]["title"].as_f64().unwrap() > 0.1);
}
