//! The `selectors` parser: a site's own CSS selectors for each field of the record,
//! with optional regex clean-up and a date format, written in the config.
//!
//! A field's selector is CSS, optionally followed by `@attr` to read an attribute
//! instead of the text (`meta[property="article:published_time"]@content`). Fields
//! without a selector (or whose selector finds nothing) come from the built-in
//! `article` extractor unless `fallback = false`. Invariant: every selector, regex and
//! date format is checked when the config is validated; parsing never fails on a
//! page, it only finds less.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use serde::Deserialize;

use super::article::clean_authors;
use super::{extract_article, parse_date, Page, ParseError, Parsed, Parser};
use crate::record::{Article, Image};

/// `[site.selectors]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorsSection {
    pub title: Option<String>,
    pub deck: Option<String>,
    /// Every match is one author (or a byline that is split into authors).
    pub authors: Option<String>,
    pub published: Option<String>,
    pub updated: Option<String>,
    /// Every match is one paragraph.
    pub body: Option<String>,
    /// Every match is one image; the URL comes from `@attr`, else `src`.
    pub images: Option<String>,
    /// Captions, matched to images in document order.
    pub captions: Option<String>,
    /// Breadcrumb items, outermost first.
    pub section: Option<String>,
    /// chrono format of `published` and `updated` (e.g. `"%Y-%m-%d %H:%M"`), read in
    /// the site's time zone; values it does not fit go to the built-in date reader.
    pub date_format: Option<String>,
    /// Regexes whose matches are removed from a field's text, per field name.
    #[serde(default)]
    pub clean: BTreeMap<String, Vec<String>>,
    /// Fill fields the selectors did not find from the built-in extractor.
    #[serde(default = "yes")]
    pub fallback: bool,
}

fn yes() -> bool {
    true
}

const FIELDS: &[&str] = &[
    "title",
    "deck",
    "authors",
    "published",
    "updated",
    "body",
    "images",
    "captions",
    "section",
];

/// One field's query: a CSS selector and what to read from its matches.
#[derive(Debug, Clone)]
struct Query {
    selector: Selector,
    attr: Option<String>,
}

impl Query {
    fn compile(text: &str) -> Result<Self, String> {
        let (css, attr) = match text.rsplit_once('@') {
            // `@` inside brackets or quotes belongs to the selector.
            Some((css, attr))
                if !attr.is_empty()
                    && attr
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':') =>
            {
                (css, Some(attr.to_string()))
            }
            _ => (text, None),
        };
        let selector =
            Selector::parse(css).map_err(|e| format!("bad CSS selector {css:?}: {e}"))?;
        Ok(Self { selector, attr })
    }

    fn values(&self, html: &Html) -> Vec<String> {
        html.select(&self.selector)
            .filter_map(|el| self.value(el))
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn value(&self, el: ElementRef<'_>) -> Option<String> {
        match &self.attr {
            Some(attr) => el.value().attr(attr).map(squash),
            None => Some(squash(&el.text().collect::<String>())),
        }
    }
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A site's compiled selectors.
#[derive(Debug, Clone)]
pub struct SelectorRules {
    queries: BTreeMap<&'static str, Query>,
    clean: BTreeMap<&'static str, Vec<Regex>>,
    date_format: Option<String>,
    fallback: bool,
}

impl SelectorRules {
    /// Compiles the section; errors are `(key, reason)`, the key relative to the table.
    pub fn compile(section: &SelectorsSection) -> Result<Self, (String, String)> {
        let mut queries = BTreeMap::new();
        let given = [
            ("title", &section.title),
            ("deck", &section.deck),
            ("authors", &section.authors),
            ("published", &section.published),
            ("updated", &section.updated),
            ("body", &section.body),
            ("images", &section.images),
            ("captions", &section.captions),
            ("section", &section.section),
        ];
        for (field, text) in given {
            if let Some(text) = text {
                let query = Query::compile(text).map_err(|e| (field.to_string(), e))?;
                queries.insert(field, query);
            }
        }
        if queries.is_empty() {
            return Err((
                "title".into(),
                "no field has a selector (set at least one of title, body, ...)".into(),
            ));
        }
        let mut clean = BTreeMap::new();
        for (field, patterns) in &section.clean {
            let Some(&known) = FIELDS.iter().find(|f| **f == field.as_str()) else {
                return Err((
                    format!("clean.{field}"),
                    format!("not a field; fields are {}", FIELDS.join(", ")),
                ));
            };
            let compiled = patterns
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    Regex::new(p).map_err(|e| {
                        (
                            format!("clean.{field}[{i}]"),
                            format!("bad regex {p:?}: {e}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            clean.insert(known, compiled);
        }
        if let Some(format) = &section.date_format {
            // A format chrono cannot use fails on every input; catch it now.
            let probe = chrono::NaiveDate::from_ymd_opt(2024, 3, 1)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .expect("valid date");
            let printed = {
                use std::fmt::Write;
                let mut out = String::new();
                write!(out, "{}", probe.format(format)).map(|_| out)
            };
            let round_trip = printed
                .ok()
                .and_then(|p| NaiveDateTime::parse_from_str(&p, format).ok());
            if round_trip.is_none() {
                return Err((
                    "date_format".into(),
                    format!("{format:?} is not a chrono format with a date and a time (e.g. \"%Y-%m-%d %H:%M\")"),
                ));
            }
        }
        Ok(Self {
            queries,
            clean,
            date_format: section.date_format.clone(),
            fallback: section.fallback,
        })
    }

    fn cleaned(&self, field: &str, text: String) -> String {
        match self.clean.get(field) {
            Some(patterns) => {
                let mut text = text;
                for p in patterns {
                    text = p.replace_all(&text, "").into_owned();
                }
                squash(&text)
            }
            None => text,
        }
    }

    fn all(&self, html: &Html, field: &str) -> Vec<String> {
        match self.queries.get(field) {
            Some(q) => q
                .values(html)
                .into_iter()
                .map(|v| self.cleaned(field, v))
                .filter(|v| !v.is_empty())
                .collect(),
            None => Vec::new(),
        }
    }

    fn first(&self, html: &Html, field: &str) -> Option<String> {
        self.all(html, field).into_iter().next()
    }

    fn date(&self, html: &Html, field: &str, zone: Tz) -> Option<String> {
        let text = self.first(html, field)?;
        let formatted = self.date_format.as_ref().and_then(|format| {
            let naive = NaiveDateTime::parse_from_str(text.trim(), format).ok()?;
            let local = naive.and_local_timezone(zone).earliest()?;
            Some(local.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        });
        // Values the format does not fit (an ISO date in a meta tag) go to the
        // built-in reader.
        formatted.or_else(|| parse_date(&text, zone))
    }

    /// The record of an article page, from the selectors (and the fallback).
    pub fn extract(&self, html: &Html, page: &Page<'_>, require_article: bool) -> Option<Article> {
        let (url, zone) = (page.url, page.time_zone);
        let fallback = if self.fallback {
            extract_article(html, page, false)
        } else {
            None
        };
        let mut article = fallback.unwrap_or_default();
        if let Some(title) = self.first(html, "title") {
            article.title = Some(title);
        }
        if let Some(deck) = self.first(html, "deck") {
            article.deck = Some(deck);
        }
        let authors: Vec<String> = self
            .all(html, "authors")
            .iter()
            .flat_map(|a| clean_authors(a))
            .collect();
        if !authors.is_empty() {
            let mut unique = Vec::new();
            for a in authors {
                if !unique.contains(&a) {
                    unique.push(a);
                }
            }
            article.authors = unique;
        }
        if let Some(date) = self.date(html, "published", zone) {
            article.published = Some(date);
        }
        if let Some(date) = self.date(html, "updated", zone) {
            article.updated = Some(date);
        }
        let paragraphs = self.all(html, "body");
        if !paragraphs.is_empty() {
            article.body = paragraphs.join("\n\n");
        }
        let sections = self.all(html, "section");
        if !sections.is_empty() {
            article.section = sections;
        }
        if let Some(query) = self.queries.get("images") {
            let captions = self.all(html, "captions");
            let images: Vec<Image> = html
                .select(&query.selector)
                .filter_map(|el| {
                    let src = match &query.attr {
                        Some(attr) => el.value().attr(attr),
                        None => el.value().attr("src"),
                    }?;
                    url.join(src.trim()).ok()
                })
                .enumerate()
                .map(|(i, src)| Image {
                    url: src.to_string(),
                    caption: captions.get(i).cloned(),
                })
                .collect();
            if !images.is_empty() {
                article.images = images;
            }
        }
        let found = article.title.is_some() && !article.body.is_empty();
        (found || (require_article && (article.title.is_some() || !article.body.is_empty())))
            .then_some(article)
    }
}

/// Links as usual; records from the site's selectors.
pub struct SelectorsParser {
    rules: SelectorRules,
}

impl SelectorsParser {
    pub fn new(rules: SelectorRules) -> Self {
        Self { rules }
    }
}

impl Parser for SelectorsParser {
    fn parse(&self, page: &Page<'_>) -> Result<Parsed, ParseError> {
        super::parse_extracting(page, |html, page, require_article| {
            self.rules.extract(html, page, require_article)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url_kind::UrlKind;
    use ::url::Url;

    fn rules(toml_text: &str) -> Result<SelectorRules, (String, String)> {
        let section: SelectorsSection = toml::from_str(toml_text).unwrap();
        SelectorRules::compile(&section)
    }

    const PAGE: &str = r#"<html><head><title>Site</title>
        <meta property="article:published_time" content="2023-03-28T15:55:00+09:00"></head>
        <body><h1 class="hl">Minister visits Busan - The Daily</h1>
        <div class="by"><a>Kim Min-ji</a> and <a>Lee Jun (lee@daily.example)</a></div>
        <span class="when">2023.03.29 09:25</span>
        <div id="story"><p>First paragraph.</p><p>Second   paragraph.</p><p>Ad: buy now</p></div>
        <figure><img data-src="/img/1.jpg"><figcaption>A caption.</figcaption></figure>
        </body></html>"#;

    #[test]
    fn fields_come_from_selectors_attributes_and_clean_up() {
        let rules = rules(
            r##"
            title = "h1.hl"
            authors = "div.by a"
            published = 'meta[property="article:published_time"]@content'
            updated = "span.when"
            date_format = "%Y.%m.%d %H:%M"
            body = "#story p"
            images = "figure img@data-src"
            captions = "figcaption"
            fallback = false
            [clean]
            title = [" - The Daily$"]
            body = ["^Ad:.*"]
            "##,
        )
        .unwrap();
        let url = Url::parse("https://daily.example/a/1").unwrap();
        let html = Html::parse_document(PAGE);
        let page = Page {
            url: &url,
            kind: UrlKind::Article,
            headers: &[],
            body: PAGE,
            time_zone: chrono_tz::Asia::Seoul,
            fetched_at: None,
            max_links: usize::MAX,
        };
        let a = rules.extract(&html, &page, true).unwrap();
        assert_eq!(a.title.as_deref(), Some("Minister visits Busan"));
        assert_eq!(a.authors, ["Kim Min-ji", "Lee Jun"]);
        assert_eq!(a.published.as_deref(), Some("2023-03-28T15:55:00+09:00"));
        assert_eq!(a.updated.as_deref(), Some("2023-03-29T09:25:00+09:00"));
        assert_eq!(a.body, "First paragraph.\n\nSecond paragraph.");
        assert_eq!(a.images[0].url, "https://daily.example/img/1.jpg");
        assert_eq!(a.images[0].caption.as_deref(), Some("A caption."));
    }

    #[test]
    fn listing_pages_and_oversized_pages_give_links_only() {
        let parser = SelectorsParser::new(rules("title = \"h1.hl\"\nbody = \"#story p\"").unwrap());
        let url = Url::parse("https://daily.example/a/1").unwrap();
        let with_link = PAGE.replace("<body>", "<body><a href=\"/a/2\">next</a>");
        let huge = with_link.replace(
            "<figure>",
            &format!("<p>{}</p><figure>", "x".repeat(MAX_EXTRACT)),
        );
        for (kind, body, records) in [
            (UrlKind::Article, &with_link, 1),
            (UrlKind::Section, &with_link, 0),
            (UrlKind::Article, &huge, 0),
        ] {
            let page = Page {
                url: &url,
                kind,
                headers: &[],
                body,
                time_zone: chrono_tz::Asia::Seoul,
                fetched_at: None,
                max_links: usize::MAX,
            };
            let parsed = parser.parse(&page).unwrap();
            assert_eq!(parsed.links, ["https://daily.example/a/2"], "{kind:?}");
            assert_eq!(
                parsed.articles.len(),
                records,
                "{kind:?}, {} bytes",
                body.len()
            );
        }
    }

    const MAX_EXTRACT: usize = crate::parse::MAX_EXTRACT_BYTES;

    #[test]
    fn bad_selectors_regexes_and_formats_name_their_key() {
        assert_eq!(rules("title = \"h1[\"").unwrap_err().0, "title");
        assert_eq!(
            rules("title = \"h1\"\n[clean]\ntitle = [\"(\"]")
                .unwrap_err()
                .0,
            "clean.title[0]"
        );
        assert_eq!(
            rules("title = \"h1\"\n[clean]\nheadline = [\"x\"]")
                .unwrap_err()
                .0,
            "clean.headline"
        );
        assert_eq!(
            rules("title = \"h1\"\ndate_format = \"%Q\"").unwrap_err().0,
            "date_format"
        );
        assert_eq!(rules("fallback = true").unwrap_err().0, "title");
    }
}
