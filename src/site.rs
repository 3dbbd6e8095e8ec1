//! Per-site rules: which URLs belong to a site, and what kind of page each one is.
//!
//! Invariant: a URL is crawlable for a site only if its host is in the site's allowed
//! list, no deny pattern matches, and (when the site has patterns) a section or
//! article pattern matches. Everything else is counted by the caller, never fetched.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ::url::Url;
use chrono_tz::Tz;
use regex::RegexSet;

use crate::parse::{ParserSpec, SelectorRules};
use crate::revisit::RevisitBounds;
pub use crate::url_kind::UrlKind;
use crate::urlnorm::{host_key, Normalizer};
use serde::Deserialize;

/// A `[[site]]` table exactly as written in the config file; validated into a [`Site`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub name: String,
    #[serde(default)]
    pub seeds: Vec<String>,
    /// Hosts (with `:port` when not the default) whose URLs belong to the site;
    /// the seeds' hosts when empty.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Regexes over a URL's path and query that mark listing pages.
    #[serde(default)]
    pub section_patterns: Vec<String>,
    /// Regexes over a URL's path and query that mark article pages.
    #[serde(default)]
    pub article_patterns: Vec<String>,
    /// Regexes over a URL's path and query that are never followed.
    #[serde(default)]
    pub deny_patterns: Vec<String>,
    #[serde(default = "default_parser")]
    pub parser: String,
    /// IANA zone used for dates printed without one (e.g. `Asia/Seoul`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Overrides `politeness.min_delay` for this site's hosts.
    #[serde(default, with = "crate::durations::human_duration::option")]
    pub min_delay: Option<Duration>,
    /// Sitemaps (or sitemap indexes) to read for URLs, besides those robots.txt names.
    #[serde(default)]
    pub sitemaps: Vec<String>,
    /// RSS, Atom or JSON feeds to read for URLs; revisited like section pages.
    #[serde(default)]
    pub feeds: Vec<String>,
    /// Read the sitemaps that the hosts' robots.txt files name.
    #[serde(default = "yes")]
    pub robots_sitemaps: bool,
    /// Follow the feeds that the site's section pages declare (`<link rel="alternate"
    /// type="application/rss+xml">`), revisited like section pages.
    #[serde(default = "yes")]
    pub discover_feeds: bool,
    /// When a section's revisit shows only new stories, follow its next page
    /// (`rel="next"`) until a page shows a known story: the stories pushed off the
    /// first page between two visits.
    #[serde(default = "yes")]
    pub follow_next_pages: bool,
    /// When a fetched article is fetched again (conditionally) to catch edits:
    /// `"never"` (the default) or a duration such as `"6h"`.
    #[serde(default, with = "crate::durations::never_or_duration")]
    pub article_recheck: Option<Duration>,
    /// Override `daemon.revisit_min` / `daemon.revisit_max` for this site.
    #[serde(default, with = "crate::durations::human_duration::option")]
    pub revisit_min: Option<Duration>,
    #[serde(default, with = "crate::durations::human_duration::option")]
    pub revisit_max: Option<Duration>,
    /// Listing requests an hour the daemon may spend on this site's section pages,
    /// feeds and sitemaps, shared among them by how often each changes; unset: each
    /// page's interval follows from `revisit_min` alone.
    pub max_listing_rate: Option<f64>,
    /// CSS selectors per field, for `parser = "selectors"`.
    pub selectors: Option<crate::parse::SelectorsSection>,
    /// The external program, for `parser = "command"`.
    pub command: Option<crate::parse::CommandSection>,
    /// Let this site's hosts be private, loopback or link-local addresses when
    /// `crawler.block_private_addresses` is on.
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Keep the cookies this site's servers set (a consent cookie) and send them back.
    #[serde(default)]
    pub cookies: bool,
    /// Extra request headers for this site's pages, e.g. `{ "Accept-Language" = "de" }`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn default_parser() -> String {
    "article".to_string()
}

pub(crate) fn default_time_zone() -> String {
    "UTC".to_string()
}

/// Checks the parser a site names, and the table it needs.
fn parser_spec(raw: &SiteSection) -> Result<ParserSpec, (String, String)> {
    let name = raw.parser.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err((
            "parser".into(),
            format!("{name:?} is not a parser name (letters, digits, '-', '_'); built-in parsers: article, links, selectors, command"),
        ));
    }
    let unused = |table: &str| {
        (
            table.to_string(),
            format!(
                "a [site.{table}] table is given but parser is {name:?}; set parser = \"{table}\""
            ),
        )
    };
    if name != "selectors" && raw.selectors.is_some() {
        return Err(unused("selectors"));
    }
    if name != "command" && raw.command.is_some() {
        return Err(unused("command"));
    }
    match name {
        "selectors" => {
            let section = raw.selectors.as_ref().ok_or_else(|| {
                (
                    "selectors".to_string(),
                    "parser \"selectors\" needs a [site.selectors] table (title = \"h1\", body = \"article p\", ...)".to_string(),
                )
            })?;
            let rules = SelectorRules::compile(section)
                .map_err(|(key, reason)| (format!("selectors.{key}"), reason))?;
            Ok(ParserSpec::Selectors(Arc::new(rules)))
        }
        "command" => {
            let section = raw.command.as_ref().ok_or_else(|| {
                (
                    "command".to_string(),
                    "parser \"command\" needs a [site.command] table (program = \"...\")"
                        .to_string(),
                )
            })?;
            section
                .check()
                .map_err(|(key, reason)| (format!("command.{key}"), reason))?;
            Ok(ParserSpec::Command(Arc::new(section.clone())))
        }
        _ => Ok(ParserSpec::Named(name.to_string())),
    }
}

/// A configuration value that does not validate; the key is relative to the site.
#[derive(Debug)]
pub struct SiteError {
    pub key: String,
    pub reason: String,
}

/// What a site takes from the config's defaults unless it sets its own.
#[derive(Debug, Clone, Copy)]
pub struct SiteDefaults {
    pub min_delay: Duration,
    pub revisit: RevisitBounds,
}

/// One crawled site, validated.
/// One list of a site's URL patterns; no set at all when the list is empty: an empty
/// `RegexSet` still holds about 5 KB of matcher caches, which came to 150 MB over the
/// 10,000 pattern-less sites of a seed list.
#[derive(Debug, Clone)]
struct Patterns(Option<RegexSet>);

impl Patterns {
    fn is_match(&self, text: &str) -> bool {
        self.0.as_ref().is_some_and(|set| set.is_match(text))
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    pub seeds: Vec<Url>,
    allowed_hosts: Vec<String>,
    section: Patterns,
    article: Patterns,
    deny: Patterns,
    /// The parser's name (`article`, `links`, `selectors`, `command` or a registered one).
    pub parser: String,
    pub parser_spec: ParserSpec,
    pub time_zone: Tz,
    pub min_delay: Duration,
    /// How often listing pages (sections, feeds, sitemaps) are revisited in daemon mode.
    pub revisit: RevisitBounds,
    /// Listing requests an hour (`max_listing_rate`), when the site sets a budget.
    pub max_listing_rate: Option<f64>,
    /// When articles are fetched again to catch edits; `None`: never.
    pub article_recheck: Option<Duration>,
    pub sitemaps: Vec<Url>,
    pub feeds: Vec<Url>,
    pub robots_sitemaps: bool,
    pub discover_feeds: bool,
    pub follow_next_pages: bool,
    /// Its hosts may be private addresses (see [`crate::netguard`]).
    pub allow_private_addresses: bool,
    /// Its pages' requests keep a cookie jar.
    pub cookies: bool,
    /// Extra headers of its pages' requests.
    pub headers: reqwest::header::HeaderMap,
}

impl Site {
    pub fn from_config(
        raw: SiteSection,
        normalizer: &Normalizer,
        defaults: &SiteDefaults,
    ) -> Result<Self, SiteError> {
        let err = |key: &str, reason: String| SiteError {
            key: key.to_string(),
            reason,
        };
        if raw.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        if raw.seeds.is_empty() && raw.feeds.is_empty() && raw.sitemaps.is_empty() {
            return Err(err(
                "seeds",
                "needs at least one seed URL (or a feed or sitemap)".into(),
            ));
        }
        let parse_all = |key: &str, list: &[String]| -> Result<Vec<Url>, SiteError> {
            list.iter()
                .enumerate()
                .map(|(i, text)| {
                    normalizer
                        .parse(text)
                        .map_err(|e| err(&format!("{key}[{i}]"), format!("{text:?}: {e}")))
                })
                .collect()
        };
        let seeds = parse_all("seeds", &raw.seeds)?;
        let sitemaps = parse_all("sitemaps", &raw.sitemaps)?;
        let feeds = parse_all("feeds", &raw.feeds)?;
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        for (i, host) in raw.allowed_hosts.iter().enumerate() {
            let host = host.trim().to_ascii_lowercase();
            if host.is_empty() || host.contains('/') {
                return Err(err(
                    &format!("allowed_hosts[{i}]"),
                    format!("{host:?} is not a host name (write e.g. \"www.example.com\" or \"127.0.0.1:8080\")"),
                ));
            }
            allowed.insert(host);
        }
        if allowed.is_empty() {
            allowed.extend(
                seeds
                    .iter()
                    .chain(&feeds)
                    .chain(&sitemaps)
                    .filter_map(host_key),
            );
        }
        for (key, list) in [
            ("seeds", &seeds),
            ("feeds", &feeds),
            ("sitemaps", &sitemaps),
        ] {
            for (i, url) in list.iter().enumerate() {
                let host = host_key(url).unwrap_or_default();
                if !allowed.contains(&host) {
                    return Err(err(
                        &format!("{key}[{i}]"),
                        format!("host {host:?} is not in allowed_hosts"),
                    ));
                }
            }
        }
        let compile = |key: &str, patterns: &[String]| {
            for (i, p) in patterns.iter().enumerate() {
                regex::Regex::new(p)
                    .map_err(|e| err(&format!("{key}[{i}]"), format!("bad regex {p:?}: {e}")))?;
            }
            if patterns.is_empty() {
                return Ok(Patterns(None));
            }
            RegexSet::new(patterns)
                .map(|set| Patterns(Some(set)))
                .map_err(|e| err(key, e.to_string()))
        };
        let section = compile("section_patterns", &raw.section_patterns)?;
        let article = compile("article_patterns", &raw.article_patterns)?;
        let deny = compile("deny_patterns", &raw.deny_patterns)?;
        let time_zone: Tz = raw.time_zone.parse().map_err(|_| {
            err(
                "time_zone",
                format!(
                    "{:?} is not an IANA time zone (e.g. \"Asia/Seoul\")",
                    raw.time_zone
                ),
            )
        })?;
        let parser_spec = parser_spec(&raw).map_err(|(key, reason)| err(&key, reason))?;
        let revisit_min = raw.revisit_min.unwrap_or(defaults.revisit.min);
        let revisit_max = raw.revisit_max.unwrap_or(defaults.revisit.max);
        if revisit_min.is_zero() || revisit_max < revisit_min {
            return Err(err(
                "revisit_max",
                format!("revisit bounds {revisit_min:?}..{revisit_max:?}: need 0 < revisit_min <= revisit_max"),
            ));
        }
        if let Some(rate) = raw
            .max_listing_rate
            .filter(|r| !(r.is_finite() && *r > 0.0))
        {
            return Err(err(
                "max_listing_rate",
                format!("{rate}: listing requests an hour, a number above 0"),
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &raw.headers {
            let key = format!("headers.{name}");
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| err(&key, format!("{name:?} is not an HTTP header name")))?,
                reqwest::header::HeaderValue::from_str(value)
                    .map_err(|_| err(&key, format!("{value:?} is not an HTTP header value")))?,
            );
        }
        Ok(Self {
            name: raw.name,
            seeds,
            allowed_hosts: allowed.into_iter().collect(),
            section,
            article,
            deny,
            parser: raw.parser,
            parser_spec,
            time_zone,
            min_delay: raw.min_delay.unwrap_or(defaults.min_delay),
            revisit: RevisitBounds {
                min: revisit_min,
                max: revisit_max,
                price: None,
            },
            max_listing_rate: raw.max_listing_rate,
            article_recheck: raw.article_recheck,
            sitemaps,
            feeds,
            robots_sitemaps: raw.robots_sitemaps,
            discover_feeds: raw.discover_feeds,
            follow_next_pages: raw.follow_next_pages,
            allow_private_addresses: raw.allow_private_addresses,
            cookies: raw.cookies,
            headers,
        })
    }

    pub fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    pub fn allows_host(&self, url: &Url) -> bool {
        host_key(url).is_some_and(|h| self.allowed_hosts.binary_search(&h).is_ok())
    }

    /// Whether a deny pattern matches the URL.
    pub fn denies(&self, url: &Url) -> bool {
        self.deny.is_match(path_and_query(url))
    }

    fn has_patterns(&self) -> bool {
        !self.section.is_empty() || !self.article.is_empty()
    }

    /// The kind of a normalized URL for this site, or `None` if it is not followed.
    pub fn classify(&self, url: &Url) -> Option<UrlKind> {
        if !self.allows_host(url) {
            return None;
        }
        let target = path_and_query(url);
        if self.deny.is_match(target) {
            return None;
        }
        if !self.has_patterns() {
            return Some(UrlKind::Page);
        }
        if self.article.is_match(target) {
            Some(UrlKind::Article)
        } else if self.section.is_match(target) {
            Some(UrlKind::Section)
        } else {
            None
        }
    }
}

/// The part of a URL that site patterns are matched against: `/path?query`.
pub fn path_and_query(url: &Url) -> &str {
    &url[::url::Position::BeforePath..::url::Position::AfterQuery]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(section: &[&str], article: &[&str], deny: &[&str]) -> Site {
        let raw = SiteSection {
            name: "t".into(),
            seeds: vec!["https://news.example/".into()],
            allowed_hosts: vec![],
            section_patterns: section.iter().map(|s| s.to_string()).collect(),
            article_patterns: article.iter().map(|s| s.to_string()).collect(),
            deny_patterns: deny.iter().map(|s| s.to_string()).collect(),
            parser: "article".into(),
            time_zone: "Asia/Seoul".into(),
            min_delay: None,
            revisit_min: None,
            revisit_max: None,
            max_listing_rate: None,
            selectors: None,
            command: None,
            sitemaps: vec![],
            feeds: vec![],
            robots_sitemaps: true,
            discover_feeds: true,
            follow_next_pages: true,
            article_recheck: None,
            allow_private_addresses: false,
            cookies: false,
            headers: Default::default(),
        };
        let defaults = SiteDefaults {
            min_delay: Duration::from_secs(1),
            revisit: crate::config::DaemonSection::default().revisit_bounds(),
        };
        Site::from_config(raw, &Normalizer::default(), &defaults).unwrap()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn classification_by_patterns() {
        let s = site(
            &["^/section/"],
            &[r"^/www/\w+/\d{4}/\d{2}/\d+_\d+\.html$"],
            &["^/section/opinion/letters"],
        );
        assert_eq!(
            s.classify(&url("https://news.example/section/nation?page=2")),
            Some(UrlKind::Section)
        );
        assert_eq!(
            s.classify(&url("https://news.example/www/nation/2024/03/113_1.html")),
            Some(UrlKind::Article)
        );
        assert_eq!(
            s.classify(&url("https://news.example/section/opinion/letters")),
            None
        );
        assert_eq!(s.classify(&url("https://news.example/about")), None);
        assert_eq!(
            s.classify(&url("https://other.example/section/nation")),
            None
        );
    }

    #[test]
    fn sites_without_patterns_follow_every_same_host_page() {
        let s = site(&[], &[], &[]);
        assert_eq!(
            s.classify(&url("https://news.example/anything")),
            Some(UrlKind::Page)
        );
        assert_eq!(s.classify(&url("https://www.news.example/anything")), None);
    }

    #[test]
    fn path_and_query_skips_the_origin() {
        assert_eq!(
            path_and_query(&url("http://a.example:81/x/y?z=1")),
            "/x/y?z=1"
        );
        assert_eq!(path_and_query(&url("http://a.example")), "/");
    }
}
