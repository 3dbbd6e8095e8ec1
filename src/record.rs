//! The article record: what users keep from a crawl, one JSON object per article.
//!
//! Invariant: field names and their order are stable (sinks and downstream tools key
//! on them); a record is identified by `(url, version)` and emitted once per pair.

use serde::{Deserialize, Serialize};

/// One article as extracted from a page. Parsers fill what they find; the engine fills
/// `url`, `site`, `fetched_at`, `content_hash` and `version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Article {
    pub url: String,
    pub canonical_url: Option<String>,
    pub site: String,
    /// Section path, outermost first (e.g. `["National", "Politics"]`).
    pub section: Vec<String>,
    pub title: Option<String>,
    pub deck: Option<String>,
    pub authors: Vec<String>,
    /// RFC 3339 in the site's time zone.
    pub published: Option<String>,
    pub updated: Option<String>,
    /// Paragraphs joined by blank lines.
    pub body: String,
    pub images: Vec<Image>,
    pub language: Option<String>,
    pub fetched_at: String,
    pub content_hash: String,
    pub version: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Image {
    pub url: String,
    pub caption: Option<String>,
}

impl Article {
    /// Body paragraphs (the body split on blank lines).
    pub fn paragraphs(&self) -> impl Iterator<Item = &str> {
        self.body.split("\n\n").filter(|p| !p.is_empty())
    }
}
