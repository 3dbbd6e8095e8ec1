//! What a page is to the crawl: a listing, an article, a sitemap, a feed, a listing's
//! next page, or a page of an ad-hoc site.
//!
//! Invariant: the kind decides how a URL is treated everywhere (revisited or fetched
//! once, parsed into a record or read for links), and its name is the same in
//! reports, the store and the `command` parser's requests.

use serde::{Deserialize, Serialize};

/// What a page is to the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UrlKind {
    /// A listing page (home, section, subsection, reporter page): revisited, followed.
    Section,
    /// An article page: fetched once, parsed into a record.
    Article,
    /// A page of an ad-hoc site without patterns: followed, and parsed if it looks
    /// like an article.
    Page,
    /// A sitemap or sitemap index: read for URLs, revisited like a section.
    Sitemap,
    /// An RSS, Atom or JSON feed: read for URLs, revisited like a section.
    Feed,
    /// A listing's next page (`rel="next"`), fetched when the page before it showed
    /// only new stories on a revisit, so that stories pushed off that page between
    /// two visits are still found: read for links like a section, not revisited on
    /// its own. (Last, so that states stored before it decode as they were.)
    NextPage,
}

impl UrlKind {
    /// Kinds fetched again on every run (their lists of links change).
    pub fn is_revisited(self) -> bool {
        matches!(self, UrlKind::Section | UrlKind::Sitemap | UrlKind::Feed)
    }

    /// Kinds read for their links, not parsed into records.
    pub fn is_listing(self) -> bool {
        self.is_revisited() || self == UrlKind::NextPage
    }

    /// Lower-case name, as in reports and the `command` parser's requests.
    pub fn name(self) -> &'static str {
        match self {
            UrlKind::Section => "section",
            UrlKind::Article => "article",
            UrlKind::Page => "page",
            UrlKind::Sitemap => "sitemap",
            UrlKind::Feed => "feed",
            UrlKind::NextPage => "next_page",
        }
    }
}
