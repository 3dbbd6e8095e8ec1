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
mod rx;
mod selectors;

use std::collections::HashMap;
use std::sync::Arc;

use ::url::Url;
use chrono_tz::Tz;
use scraper::Html;

use crate::record::Article;
use crate::url_kind::UrlKind;

pub use article::extract_article;
pub use command::{CommandParser, CommandSection};
pub use dates::parse_date;
pub use links::{extract_links, feed_links, next_page_link, stream_links};
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
    /// When the page was fetched: what relative dates ("2 hours ago") are read
    /// against. `None` leaves them unread.
    pub fetched_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Links the engine will read (`crawler.max_links_per_page`): a parser may stop
    /// looking after one more than this, so that the engine can tell it stopped.
    pub max_links: usize,
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

/// Documents whose tags nest deeper than this are refused before parsing: the HTML
/// parser's work grows with the square of the depth (100,000 nested `<div>`s take it
/// most of a minute), and no real page comes close.
pub const MAX_NESTING: usize = 5_000;

/// Whether an element (its name in lower case) encloses what follows it: not one that
/// never has content, nor one that closes itself when the next one opens.
fn nests(lower_name: &[u8]) -> bool {
    !matches!(
        lower_name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"td"
            | b"th"
            | b"tr"
            | b"dt"
            | b"dd"
            | b"option"
            | b"tbody"
            | b"thead"
            | b"colgroup"
            | b"param"
    )
}

/// The longest element name [`nests`] and the raw-text check look at.
const LONGEST_SPECIAL_NAME: usize = 8;

/// How deep the tags of raw HTML nest, estimated with one pass over the bytes (no
/// parsing: this is what decides whether parsing is affordable).
pub fn estimated_nesting(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while let Some(offset) = memchr::memchr(b'<', &bytes[i..]) {
        i += offset + 1;
        if bytes.get(i) == Some(&b'/') {
            depth = depth.saturating_sub(1);
            continue;
        }
        let name_len = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !bytes[i].is_ascii_alphabetic() {
            continue;
        }
        // The name in lower case, when it is short enough to be one of the names
        // looked for (longer ones all nest).
        let mut lower = [0u8; LONGEST_SPECIAL_NAME];
        let name: &[u8] = if name_len <= LONGEST_SPECIAL_NAME {
            for (l, b) in lower.iter_mut().zip(&bytes[i..i + name_len]) {
                *l = b.to_ascii_lowercase();
            }
            &lower[..name_len]
        } else {
            &[]
        };
        let tag_end = memchr::memchr(b'>', &bytes[i..]).map_or(bytes.len(), |p| i + p);
        let raw_text = match name {
            b"script" => Some(&b"script"[..]),
            b"style" => Some(&b"style"[..]),
            _ => None,
        };
        if let Some(tag) = raw_text {
            // Their text is not HTML: skip to the closing tag.
            let mut close = b"</".to_vec();
            close.extend_from_slice(tag);
            // Closing tags are almost always lower case: look for that first.
            let found = memchr::memmem::find(&bytes[tag_end..], &close).or_else(|| {
                bytes[tag_end..]
                    .windows(close.len())
                    .position(|w| w.eq_ignore_ascii_case(&close))
            });
            match found {
                Some(p) => i = tag_end + p,
                None => break,
            }
            continue;
        }
        let self_closing = tag_end > 0 && bytes.get(tag_end - 1) == Some(&b'/');
        if !self_closing && nests(name) {
            depth += 1;
            deepest = deepest.max(depth);
        }
        i = tag_end.min(bytes.len());
    }
    deepest
}

/// Refuses a page the built-in parsers should not parse.
fn check_nesting(page: &Page<'_>) -> Result<(), ParseError> {
    let depth = estimated_nesting(page.body);
    if depth > MAX_NESTING {
        return Err(ParseError(format!(
            "HTML nested about {depth} elements deep (more than {MAX_NESTING}); not parsed"
        )));
    }
    Ok(())
}

/// Follows links, extracts nothing.
pub struct LinksParser;

impl Parser for LinksParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        Ok(Parsed {
            links: links_only(page)?,
            articles: Vec::new(),
        })
    }
}

/// What a page no record is extracted from gives: listing pages (sections, sitemaps,
/// feeds) and pages over [`MAX_EXTRACT_BYTES`] yield their links, read without a DOM.
/// `None` for the pages an extracting parser should parse.
fn without_extraction(page: &Page<'_>) -> Option<Result<Parsed, ParseError>> {
    let listing = matches!(
        page.kind,
        UrlKind::Section | UrlKind::Sitemap | UrlKind::Feed
    );
    if !listing && page.body.len() <= MAX_EXTRACT_BYTES {
        return None;
    }
    if !listing {
        tracing::debug!(url = %page.url, "{} bytes of HTML; links only", page.body.len());
    }
    Some(links_only(page).map(|links| Parsed {
        links,
        articles: Vec::new(),
    }))
}

/// The page's links without building its DOM. The streaming reader's cost grows with
/// the page's length, not its depth, so the nesting check is left to the DOM it falls
/// back to when its tokenizer gives up.
fn links_only(page: &Page<'_>) -> Result<Vec<String>, ParseError> {
    match stream_links(page.body, page.url, page.max_links.saturating_add(1)) {
        Some(links) => Ok(links),
        None => {
            check_nesting(page)?;
            Ok(dom_links(&Html::parse_document(page.body), page))
        }
    }
}

/// The links of a parsed page, up to one past the engine's limit as the streaming
/// reader gives them (a tree can hold more `<a>` elements than the markup wrote: the
/// parser re-opens unclosed links inside other elements).
fn dom_links(html: &Html, page: &Page<'_>) -> Vec<String> {
    let mut links = extract_links(html, page.url);
    links.truncate(page.max_links.saturating_add(1));
    links
}

/// Follows links and extracts an article record from article pages (and from pages of
/// pattern-less sites that look like articles). The DOM is parsed once for both.
pub struct ArticleParser;

/// Pages larger than this (decoded text) get links only: extraction's cost grows with
/// the page, and no article is this long.
pub const MAX_EXTRACT_BYTES: usize = 4 * 1024 * 1024;

impl Parser for ArticleParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        parse_extracting(page, extract_article)
    }
}

/// What an extracting parser gives: links only for the pages [`without_extraction`]
/// names; otherwise one DOM, shared by the links and the record `extract` (html, page,
/// whether an article is required) finds in it.
fn parse_extracting(
    page: &Page<'_>,
    extract: impl FnOnce(&Html, &Page<'_>, bool) -> Option<Article>,
) -> Result<Parsed, ParseError> {
    if let Some(parsed) = without_extraction(page) {
        return parsed;
    }
    check_nesting(page)?;
    let html = Html::parse_document(page.body);
    let links = dom_links(&html, page);
    let articles = extract(&html, page, page.kind == UrlKind::Article)
        .into_iter()
        .collect();
    Ok(Parsed { links, articles })
}

/// How a site's pages are parsed.
#[derive(Debug, Clone)]
pub enum ParserSpec {
    /// A parser registered by name: a built-in (`article`, `links`) or one the program
    /// embedding the crawler registered.
    Named(String),
    /// `selectors`: the site's CSS selectors.
    Selectors(Arc<SelectorRules>),
    /// `command`: an external program.
    Command(Arc<CommandSection>),
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
    pub fn for_spec(&self, spec: &ParserSpec) -> Option<Arc<dyn Parser>> {
        match spec {
            ParserSpec::Named(name) => self.get(name),
            ParserSpec::Selectors(rules) => Some(Arc::new(SelectorsParser::new((**rules).clone()))),
            ParserSpec::Command(spec) => Some(Arc::new(CommandParser::new((**spec).clone()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_estimated_without_parsing() {
        assert_eq!(
            estimated_nesting("<html><body><div><p>a<p>b<br><img src=x></div></body></html>"),
            3
        );
        assert_eq!(
            estimated_nesting("<div><script>for (i=0;i<n;i++) if (a<b) x()</script></div>"),
            1
        );
        assert_eq!(estimated_nesting("<div/><div />text"), 0);
        let deep = format!("{}{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        assert_eq!(estimated_nesting(&deep), 100_000);
    }

    #[test]
    fn deeply_nested_pages_get_no_dom_but_their_links_are_read() {
        let body = format!(
            "<html><body>{}<p>x</p></body></html>",
            "<div>".repeat(100_000)
        );
        let url = Url::parse("https://news.example/a").unwrap();
        let page = Page {
            url: &url,
            kind: UrlKind::Article,
            headers: &[],
            body: &body,
            time_zone: chrono_tz::UTC,
            fetched_at: None,
            max_links: usize::MAX,
        };
        let parsers = ParserRegistry::default();
        let err = parsers.get("article").unwrap().parse(&page).unwrap_err();
        assert!(err.0.contains("nested about 100002 elements"), "{err}");
        // Reading links needs no tree: the streaming reader takes any depth in stride.
        let deep_link = format!(
            "<html><body>{}<a href=/after>after</a></body></html>",
            "<div>".repeat(100_000)
        );
        let links_page = Page {
            body: &deep_link,
            ..page
        };
        for name in ["links", "article"] {
            let listing = Page {
                kind: UrlKind::Section,
                ..links_page
            };
            let parsed = parsers.get(name).unwrap().parse(&listing).unwrap();
            assert_eq!(parsed.links, ["https://news.example/after"], "{name}");
        }
    }

    proptest::proptest! {
        /// Any markup: records or an error from every built-in parser, never a panic.
        #[test]
        fn parsers_take_any_markup(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "<html>", "<body>", "<article>", "</article>", "<h1>", "</h1>", "<p>", "</p>",
                "<div class=\"byline\">By ", "</div>", "<time datetime=\"2024-03-01T09:00:00+09:00\">",
                "</time>", "<meta property=\"og:title\" content=\"T\">", "<script type=\"application/ld+json\">",
                "{\"@type\":\"NewsArticle\",\"headline\":", "\"x\"}", "</script>", "<a href=\"/a\">", "</a>",
                "<table><tr><td>", "<svg><title>", "</svg>", "<!--", "-->", "text ", "&amp;", "&#0;",
                "\u{0}", "<li>", "<br>", "<figure><figcaption>", "<noscript>",
            ]), 0..60),
        ) {
            let body = parts.concat();
            let url = Url::parse("https://news.example/2024/03/01/story.html").unwrap();
            for kind in [UrlKind::Article, UrlKind::Page, UrlKind::Section] {
                let page = Page {
                    url: &url,
                    kind,
                    headers: &[],
                    body: &body,
                    time_zone: chrono_tz::Asia::Seoul,
                    fetched_at: None,
                    max_links: 10,
                };
                for name in ["article", "links"] {
                    let parser = ParserRegistry::default().get(name).unwrap();
                    if let Ok(parsed) = parser.parse(&page) {
                        proptest::prop_assert!(parsed.links.len() <= 11);
                    }
                }
            }
        }
    }
}
