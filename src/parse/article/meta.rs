//! The page's structured metadata: the JSON-LD object that describes the article
//! (found through arrays, `@graph` and `mainEntity`), and the meta tags by name.
//!
//! Invariant: values come back as a reader would see them: whitespace collapsed and
//! HTML entities decoded once more when a CMS encoded them twice (`&amp;#8211;`);
//! an empty value is no value.

use std::collections::HashMap;
use std::sync::LazyLock;

use scraper::{Html, Selector};
use serde_json::Value;

use super::text::squash;

/// The page's JSON-LD blocks.
pub(super) static JSON_LD: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"script[type="application/ld+json"]"#).expect("valid selector")
});
static META: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("meta[content]").expect("valid selector"));

/// What the page says about itself in JSON-LD and meta tags.
pub(super) struct Meta {
    /// Meta tags by lower-cased `property`, `name` or `itemprop` (the first of each).
    pub tags: HashMap<String, String>,
    /// The JSON-LD object of an article type, if any.
    pub ld: Option<Value>,
    /// Every JSON-LD block of the page.
    all_ld: Vec<Value>,
}

impl Meta {
    pub fn read(html: &Html) -> Self {
        let all_ld = json_ld(html);
        Self {
            tags: meta_tags(html),
            ld: all_ld.iter().find_map(|v| article_object(v, 0)).cloned(),
            all_ld,
        }
    }

    /// A text field of any JSON-LD object of the page (the first that has it).
    pub fn any_ld_text(&self, key: &str) -> Option<String> {
        fn find(value: &Value, key: &str, depth: usize) -> Option<String> {
            if depth > 8 {
                return None;
            }
            match value {
                Value::Array(items) => items.iter().find_map(|v| find(v, key, depth + 1)),
                Value::Object(map) => map.get(key).and_then(text_of).or_else(|| {
                    map.values()
                        .filter(|v| v.is_object() || v.is_array())
                        .find_map(|v| find(v, key, depth + 1))
                }),
                _ => None,
            }
        }
        self.all_ld.iter().find_map(|v| find(v, key, 0))
    }

    /// The JSON-LD object with this `@id` (a graph names its article's author by
    /// reference: `"author": {"@id": "...#author"}`).
    pub fn ld_node(&self, id: &str) -> Option<&Value> {
        fn find<'a>(value: &'a Value, id: &str, depth: usize) -> Option<&'a Value> {
            if depth > 8 {
                return None;
            }
            match value {
                Value::Array(items) => items.iter().find_map(|v| find(v, id, depth + 1)),
                Value::Object(map) => {
                    if map.get("@id").and_then(Value::as_str) == Some(id) && map.len() > 1 {
                        return Some(value);
                    }
                    map.values()
                        .filter(|v| v.is_object() || v.is_array())
                        .find_map(|v| find(v, id, depth + 1))
                }
                _ => None,
            }
        }
        self.all_ld.iter().find_map(|v| find(v, id, 0))
    }

    /// The first of these meta tags the page has.
    pub fn tag(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .find_map(|k| self.tags.get(*k))
            .map(String::as_str)
    }

    /// A text field of the article's JSON-LD object.
    pub fn ld_text(&self, key: &str) -> Option<String> {
        self.ld.as_ref().and_then(|v| v.get(key)).and_then(text_of)
    }

    /// A field of the article's JSON-LD object.
    pub fn ld_value(&self, key: &str) -> Option<&Value> {
        self.ld.as_ref().and_then(|v| v.get(key))
    }

    /// Whether the page declares itself an article (JSON-LD or `og:type`).
    pub fn declares_article(&self) -> bool {
        self.ld.is_some() || self.tags.get("og:type").is_some_and(|t| t == "article")
    }
}

/// A string as a reader sees it: entities a CMS encoded twice decoded, whitespace
/// collapsed.
pub(super) fn clean(text: &str) -> String {
    if text.contains('&') {
        squash(&html_escape::decode_html_entities(text))
    } else {
        squash(text)
    }
}

fn meta_tags(html: &Html) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for m in html.select(&META) {
        let el = m.value();
        let Some(key) = el
            .attr("property")
            .or_else(|| el.attr("name"))
            .or_else(|| el.attr("itemprop"))
        else {
            continue;
        };
        let content = clean(el.attr("content").unwrap_or_default());
        if !content.is_empty() {
            out.entry(key.to_ascii_lowercase()).or_insert(content);
        }
    }
    out
}

fn is_article_type(value: &Value) -> bool {
    let matches = |t: &str| {
        t.ends_with("Article")
            || matches!(
                t,
                "BlogPosting" | "LiveBlogPosting" | "SocialMediaPosting" | "Report"
            )
    };
    match value.get("@type") {
        Some(Value::String(t)) => matches(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// The page's JSON-LD blocks that parse, as written or after the two slips CMS
/// templates make most: raw line breaks inside strings and a comma before a closing
/// bracket.
fn json_ld(html: &Html) -> Vec<Value> {
    html.select(&JSON_LD)
        .filter_map(|s| {
            let raw: String = s.text().collect();
            let raw = raw.trim().trim_end_matches(';');
            serde_json::from_str::<Value>(raw)
                .or_else(|_| serde_json::from_str::<Value>(&lenient(raw)))
                .ok()
        })
        .collect()
}

static TRAILING_COMMA: LazyLock<regex::Regex> =
    LazyLock::new(|| crate::parse::rx::rx(r",(\s*[}\]])"));

/// JSON with control characters as spaces (JSON whitespace outside strings, and what
/// a reader sees inside them) and without commas before `}` or `]`.
fn lenient(raw: &str) -> String {
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    TRAILING_COMMA.replace_all(&spaced, "$1").into_owned()
}

/// The first object of an article type in a JSON-LD value, searching arrays, `@graph`
/// and the `mainEntity` of a page.
fn article_object(value: &Value, depth: usize) -> Option<&Value> {
    if depth > 8 {
        return None;
    }
    match value {
        Value::Array(items) => items.iter().find_map(|v| article_object(v, depth + 1)),
        Value::Object(map) => ["@graph", "mainEntity"]
            .iter()
            .filter_map(|key| map.get(*key))
            .find_map(|inner| article_object(inner, depth + 1))
            .or_else(|| is_article_type(value).then_some(value)),
        _ => None,
    }
}

/// A value's text: a string, the first text of an array, an object's `name`.
pub(super) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(clean(s)).filter(|s| !s.is_empty()),
        Value::Array(items) => items.iter().find_map(text_of),
        Value::Object(map) => map.get("name").and_then(text_of),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_object_is_found_in_graphs_and_main_entities() {
        let page = r#"<html><head>
            <script type="application/ld+json">{"@type":"WebPage","mainEntity":{"@type":"NewsArticle","headline":"Rates &#8211; held"}}</script>
            <meta property="og:title" content="A &amp;amp; B"><meta name="author" content="  Jane  Doe "></head></html>"#;
        let meta = Meta::read(&Html::parse_document(page));
        assert_eq!(meta.ld_text("headline").as_deref(), Some("Rates – held"));
        assert_eq!(meta.tag(&["twitter:title", "og:title"]), Some("A & B"));
        assert_eq!(meta.tag(&["author"]), Some("Jane Doe"));
        assert!(meta.declares_article());
    }

    #[test]
    fn json_ld_with_raw_line_breaks_or_trailing_commas_still_reads() {
        let page = "<html><head><script type=\"application/ld+json\">{\"@type\":\"NewsArticle\",
            \"headline\":\"Two\nlines\",\"sameAs\":[\"https://a.example\",],}</script></head></html>";
        let meta = Meta::read(&Html::parse_document(page));
        assert_eq!(meta.ld_text("headline").as_deref(), Some("Two lines"));
        let broken = r#"<html><head><script type="application/ld+json">{"headline": "a "quoted" word"}</script></head></html>"#;
        assert!(Meta::read(&Html::parse_document(broken)).ld.is_none());
    }
}
