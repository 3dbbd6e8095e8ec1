//! Crawling with a parser of your own: serves the bundled news site on 127.0.0.1,
//! crawls it with a `Parser` written here (headline and reading time of each article),
//! and prints the records.
//!
//! Run it with `cargo run --release --example custom_parser`.

use std::sync::{Arc, LazyLock};

use newscrawl::config::{ConfigFile, Overrides};
use newscrawl::crawl::Crawler;
use newscrawl::fixture::{FixtureServer, FixtureSite, FixtureSpec};
use newscrawl::parse::{extract_links, Page, ParseError, Parsed, Parser};
use newscrawl::record::Article;
use newscrawl::site::UrlKind;
use scraper::{Html, Selector};

static HEADLINE: LazyLock<Selector> = LazyLock::new(|| Selector::parse("h1").unwrap());
static PARAGRAPHS: LazyLock<Selector> = LazyLock::new(|| Selector::parse("article p").unwrap());

/// Follows every link; on article pages, keeps the headline and a reading time.
struct ReadingTime;

impl Parser for ReadingTime {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        let html = Html::parse_document(page.body);
        let links = extract_links(&html, page.url);
        if page.kind != UrlKind::Article {
            return Ok(Parsed {
                links,
                articles: Vec::new(),
            });
        }
        let title = html
            .select(&HEADLINE)
            .next()
            .map(|h| h.text().collect::<String>().trim().to_string())
            .ok_or_else(|| ParseError("no <h1> on an article page".into()))?;
        let words: usize = html
            .select(&PARAGRAPHS)
            .map(|p| p.text().collect::<String>().split_whitespace().count())
            .sum();
        let article = Article {
            title: Some(title),
            // 230 words a minute, rounded up.
            deck: Some(format!("{} min read", words.div_ceil(230))),
            ..Article::default()
        };
        Ok(Parsed {
            links,
            articles: vec![article],
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let site = FixtureSite::new(FixtureSpec::default());
    let server = FixtureServer::start(Arc::new(site), [127, 0, 0, 1].into(), 0).await?;
    let state = tempfile_dir()?;
    // The demo config, with this example's parser named in the site table.
    let text = include_str!("../config/demo.toml")
        .replace("{origin}", server.origin())
        .replace("parser = \"article\"", "parser = \"reading-time\"");
    let overrides = Overrides {
        state_dir: Some(state.clone()),
        ..Overrides::default()
    };
    let config = ConfigFile::parse(&text, "demo.toml")?.validate("demo.toml", &overrides)?;
    let output = config.output_path.clone();
    let crawler = tokio::task::spawn_blocking(move || {
        Crawler::builder(config)
            .parser("reading-time", Arc::new(ReadingTime))
            .build()
    })
    .await??;
    let summary = crawler.run(std::future::pending()).await?;
    println!("{summary}");
    for line in std::fs::read_to_string(&output)?.lines().take(5) {
        let record: Article = serde_json::from_str(line)?;
        println!(
            "{} | {}",
            record.deck.unwrap_or_default(),
            record.title.unwrap_or_default()
        );
    }
    std::fs::remove_dir_all(&state)?;
    Ok(())
}

/// A fresh state directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("newscrawl-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
