//! The parser plug-in point: pure functions from a fetched page to links and records.
//!
//! Owns the [`Parser`] trait, the registry of parsers by name, and the built-ins
//! (`links`, `article`). Invariant: parsers are pure — (url, headers, body) in,
//! (links, records) out — with no I/O, no clock and no store access, so the engine
//! may run them on any thread, retry them, or skip them.

mod article;
mod command;
mod dates;
mod links;
mod selectors;

use std::collections::HashMap;
use std::sync::Arc;

use ::url::Url;
use chrono_tz::Tz;
use scraper::Html;

use crate::record::Article;
use crate::site::UrlKind;

pub use article::extract_article;
pub use command::{CommandParser, CommandSection};
pub use dates::parse_date;
pub use links::extract_links;
pub use selectors::{SelectorRules, SelectorsParser, SelectorsSection};

/// A fetched page, decoded to text.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The URL the content was served from (after redirects), normalized.
    pub url: &'a Url,
    pub kind: UrlKind,
    pub headers: &'a [(String, String)],
    pub body: &'a str,
    /// Zone for dates printed without one.
    pub time_zone: Tz,
}

/// What a parser found on a page.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    /// Absolute URLs as found (the engine normalizes, filters and dedupes them).
    pub links: Vec<String>,
    pub articles: Vec<Article>,
}

/// Why a parser could not handle a page; recorded as the page's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Turns a page into links and records.
///
/// Implementations are called from several worker threads at once (one page per
/// call) and should be pure: no clock, no store. What they return is committed
/// atomically with the page's state; an error (or a panic) becomes the page's error.
pub trait Parser: Send + Sync {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError>;
}

/// Follows links, extracts nothing.
pub struct LinksParser;

impl Parser for LinksParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        let html = Html::parse_document(page.body);
        Ok(Parsed {
            links: extract_links(&html, page.url),
            articles: Vec::new(),
        })
    }
}

/// Follows links and extracts an article record from article pages (and from pages of
/// pattern-less sites that look like articles). The DOM is parsed once for both.
pub struct ArticleParser;

impl Parser for ArticleParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        let html = Html::parse_document(page.body);
        let links = extract_links(&html, page.url);
        let articles = match page.kind {
            UrlKind::Section | UrlKind::Sitemap | UrlKind::Feed => Vec::new(),
            UrlKind::Article | UrlKind::Page => extract_article(
                &html,
                page.url,
                page.time_zone,
                page.kind == UrlKind::Article,
            )
            .into_iter()
            .collect(),
        };
        Ok(Parsed { links, articles })
    }
}

/// Parsers by name.
#[derive(Clone)]
pub struct ParserRegistry {
    parsers: HashMap<String, Arc<dyn Parser>>,
}

impl Default for ParserRegistry {
    fn default() -> Self {
        let mut parsers: HashMap<String, Arc<dyn Parser>> = HashMap::new();
        parsers.insert("links".into(), Arc::new(LinksParser));
        parsers.insert("article".into(), Arc::new(ArticleParser));
        Self { parsers }
    }
}

impl ParserRegistry {
    /// Adds (or replaces) a parser under `name`.
    pub fn register(&mut self, name: impl Into<String>, parser: Arc<dyn Parser>) {
        self.parsers.insert(name.into(), parser);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Parser>> {
        self.parsers.get(name).cloned()
    }

    /// The parser a site asks for: a registered one by name, or one built from its
    /// `selectors` or `command` table. `None` when the name is not registered.
    pub fn for_site(&self, site: &crate::site::Site) -> Option<Arc<dyn Parser>> {
        use crate::site::ParserSpec;
        match &site.parser_spec {
            ParserSpec::Named(name) => self.get(name),
            ParserSpec::Selectors(rules) => Some(Arc::new(SelectorsParser::new((**rules).clone()))),
            ParserSpec::Command(spec) => Some(Arc::new(CommandParser::new((**spec).clone()))),
        }
    }
}
