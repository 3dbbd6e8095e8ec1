//! The built-in article extractor: structured metadata first (JSON-LD, OpenGraph and
//! `article:*` meta tags), then the page itself (headline, byline, labelled date
//! lines, breadcrumb, the densest block of paragraphs, figures with captions).
//!
//! Invariant: every field is either found on the page or left empty; nothing is
//! guessed from the clock, and a date line without a label (a page's render time) is
//! never taken for the publication date.

use std::collections::HashMap;
use std::sync::LazyLock;

use ::url::Url;
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use super::dates::parse_date;
use crate::record::{Article, Image};

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("valid selector")
}

static JSON_LD: LazyLock<Selector> =
    LazyLock::new(|| selector(r#"script[type="application/ld+json"]"#));
static META: LazyLock<Selector> = LazyLock::new(|| selector("meta[content]"));
static H1: LazyLock<Selector> = LazyLock::new(|| selector("h1"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static CANONICAL: LazyLock<Selector> =
    LazyLock::new(|| selector(r#"link[rel~="canonical"][href]"#));
static HTML_LANG: LazyLock<Selector> = LazyLock::new(|| selector("html[lang]"));
static BODY: LazyLock<Selector> = LazyLock::new(|| selector("body"));
static BYLINE: LazyLock<Selector> = LazyLock::new(|| {
    selector(
        r#"[itemprop~="author"], [rel~="author"], .byline, .author, [class*="byline"], [class*="author"]"#,
    )
});
static BREADCRUMB: LazyLock<Selector> = LazyLock::new(|| {
    selector(
        r#"[class*="breadcrumb"] a, nav[aria-label*="readcrumb"] a, [itemtype*="BreadcrumbList"] [itemprop="name"]"#,
    )
});
static DECK: LazyLock<Selector> = LazyLock::new(|| {
    selector(
        r#".deck, .subtitle, .sub-title, .standfirst, .dek, .article-summary, [class*="subheadline"]"#,
    )
});
static TIME: LazyLock<Selector> = LazyLock::new(|| selector("time[datetime]"));
static CANDIDATES: LazyLock<Selector> =
    LazyLock::new(|| selector("article, main, section, div, td"));
static FIGURE: LazyLock<Selector> = LazyLock::new(|| selector("figure"));
static IMG: LazyLock<Selector> = LazyLock::new(|| selector("img"));
static FIGCAPTION: LazyLock<Selector> = LazyLock::new(|| selector("figcaption"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("a"));

static LABELLED_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(posted|published|updated|modified|last updated)\b\s*(?:on)?\s*:?\s*(\d{4}[-./]\d{1,2}[-./]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?)|(입력|수정)\s*:?\s*(\d{4}[-./]\d{1,2}[-./]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?)",
    )
    .expect("valid regex")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\S+@\S+\.\S+").expect("valid regex"));
static AUTHOR_SPLIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\s*(?:,|;|&|\band\b|\|)\s*").expect("valid regex"));
static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:staff\s+)?(?:reporter|writer|correspondent|editor|columnist|contributor|photographer)s?$|^(?:the\s+)?(?:staff|newsroom)$")
        .expect("valid regex")
});

/// Extracts the article on a page. With `require_article` false (pages of sites
/// without URL patterns), returns `None` unless the page looks like an article.
pub fn extract_article(html: &Html, url: &Url, zone: Tz, require_article: bool) -> Option<Article> {
    let ld = json_ld_article(html);
    let meta = meta_tags(html);
    let declared = ld.is_some() || meta.get("og:type").is_some_and(|t| t == "article");
    // Cheap signals first: most pages that are not articles stop here.
    if !require_article && !declared && html.select(&H1).next().is_none() {
        return None;
    }
    let paragraphs = body_paragraphs(html);
    let body_chars: usize = paragraphs.iter().map(|(_, p)| p.len()).sum();
    if !require_article && !declared && (paragraphs.len() < 3 || body_chars < 400) {
        return None;
    }
    let ld_str = |key: &str| ld.as_ref().and_then(|v| v.get(key)).and_then(text_of);

    let title = ld_str("headline")
        .or_else(|| meta.get("og:title").cloned())
        .or_else(|| html.select(&H1).next().map(element_text))
        .or_else(|| html.select(&TITLE).next().map(element_text))
        .filter(|t| !t.is_empty());
    let body = paragraphs
        .iter()
        .map(|(_, p)| p.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    if title.is_none() && body.is_empty() {
        return None;
    }

    let text = document_text(html);
    let (mut published, mut updated) = labelled_dates(&text, zone);
    if let Some(d) = ld_str("datePublished").or_else(|| meta.get("article:published_time").cloned())
    {
        published = parse_date(&d, zone).or(published);
    }
    if let Some(d) = ld_str("dateModified").or_else(|| meta.get("article:modified_time").cloned()) {
        updated = parse_date(&d, zone).or(updated);
    }
    if published.is_none() {
        published = html
            .select(&TIME)
            .filter_map(|t| t.value().attr("datetime"))
            .find_map(|d| parse_date(d, zone));
    }

    let authors = ld
        .as_ref()
        .and_then(|v| v.get("author"))
        .map(authors_from_json)
        .filter(|a| !a.is_empty())
        .or_else(|| {
            meta.get("author")
                .map(|a| clean_authors(a))
                .filter(|a| !a.is_empty())
        })
        .unwrap_or_else(|| byline_authors(html));

    let section = {
        let crumbs: Vec<String> = html
            .select(&BREADCRUMB)
            .map(element_text)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("home"))
            .collect();
        if !crumbs.is_empty() {
            crumbs
        } else {
            ld_str("articleSection")
                .or_else(|| meta.get("article:section").cloned())
                .into_iter()
                .collect()
        }
    };

    let deck = html
        .select(&DECK)
        .map(element_text)
        .find(|d| !d.is_empty())
        .or_else(|| meta.get("og:description").cloned())
        .or_else(|| meta.get("description").cloned())
        .or_else(|| ld_str("description"));

    let canonical_url = html
        .select(&CANONICAL)
        .filter_map(|l| l.value().attr("href"))
        .find_map(|href| url.join(href.trim()).ok())
        .map(String::from);
    let language = html
        .select(&HTML_LANG)
        .next()
        .and_then(|h| h.value().attr("lang"))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty());
    let images = paragraphs
        .first()
        .map(|(container, _)| figures(*container, url))
        .unwrap_or_default();

    Some(Article {
        canonical_url,
        section,
        title,
        deck,
        authors,
        published,
        updated,
        body,
        images,
        language,
        ..Article::default()
    })
}

/// Collapses runs of whitespace; trims.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn element_text(el: ElementRef<'_>) -> String {
    squash(&el.text().collect::<String>())
}

/// All text of `<body>`, one text node per line.
fn document_text(html: &Html) -> String {
    match html.select(&BODY).next() {
        Some(body) => body.text().collect::<Vec<_>>().join("\n"),
        None => String::new(),
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
        let content = squash(el.attr("content").unwrap_or_default());
        if !content.is_empty() {
            out.entry(key.to_ascii_lowercase()).or_insert(content);
        }
    }
    out
}

fn is_article_type(value: &Value) -> bool {
    let matches = |t: &str| t.ends_with("Article") || t == "BlogPosting" || t == "LiveBlogPosting";
    match value.get("@type") {
        Some(Value::String(t)) => matches(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(matches),
        _ => false,
    }
}

/// The first JSON-LD object of an article type, searching arrays and `@graph`.
fn json_ld_article(html: &Html) -> Option<Value> {
    fn find(value: Value) -> Option<Value> {
        match value {
            Value::Array(items) => items.into_iter().find_map(find),
            Value::Object(mut map) => {
                if let Some(graph) = map.remove("@graph") {
                    if let Some(found) = find(graph) {
                        return Some(found);
                    }
                }
                let value = Value::Object(map);
                is_article_type(&value).then_some(value)
            }
            _ => None,
        }
    }
    html.select(&JSON_LD)
        .filter_map(|s| serde_json::from_str::<Value>(&s.text().collect::<String>()).ok())
        .find_map(find)
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(squash(s)).filter(|s| !s.is_empty()),
        Value::Array(items) => items.iter().find_map(text_of),
        Value::Object(map) => map.get("name").and_then(text_of),
        _ => None,
    }
}

fn authors_from_json(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match value {
        Value::Array(items) => {
            for item in items {
                out.extend(authors_from_json(item));
            }
        }
        other => {
            if let Some(name) = text_of(other) {
                out.extend(clean_authors(&name));
            }
        }
    }
    dedupe(out)
}

fn byline_authors(html: &Html) -> Vec<String> {
    html.select(&BYLINE)
        .filter(|el| !inside(*el, &["nav", "footer", "aside", "header"]))
        .map(element_text)
        .filter(|t| !t.is_empty() && t.len() < 200)
        .map(|t| clean_authors(&t))
        .find(|a| !a.is_empty())
        .unwrap_or_default()
}

/// Splits a byline into names: drops "By", e-mail addresses and role words.
pub(crate) fn clean_authors(byline: &str) -> Vec<String> {
    let without_mail = EMAIL.replace_all(byline, " ");
    let text = squash(&without_mail);
    let text = text
        .strip_prefix("By ")
        .or_else(|| text.strip_prefix("by "))
        .or_else(|| text.strip_prefix("BY "))
        .unwrap_or(&text);
    let names = AUTHOR_SPLIT
        .split(text)
        .map(|n| {
            n.trim_matches(|c: char| {
                c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '-' | '|')
            })
        })
        .filter(|n| !n.is_empty() && !ROLE.is_match(n))
        .map(str::to_string)
        .collect();
    dedupe(names)
}

fn dedupe(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            out.push(name);
        }
    }
    out
}

/// Dates printed with a label ("Posted : 2023-03-28 15:55", "Updated : ...").
fn labelled_dates(text: &str, zone: Tz) -> (Option<String>, Option<String>) {
    let (mut published, mut updated) = (None, None);
    for caps in LABELLED_DATE.captures_iter(text) {
        let (label, date) = match (caps.get(1), caps.get(2), caps.get(3), caps.get(4)) {
            (Some(l), Some(d), _, _) | (_, _, Some(l), Some(d)) => {
                (l.as_str().to_lowercase(), d.as_str())
            }
            _ => continue,
        };
        let Some(parsed) = parse_date(&date.replace(['.', '/'], "-"), zone) else {
            continue;
        };
        let slot = if matches!(label.as_str(), "posted" | "published" | "입력") {
            &mut published
        } else {
            &mut updated
        };
        if slot.is_none() {
            *slot = Some(parsed);
        }
    }
    (published, updated)
}

fn inside(el: ElementRef<'_>, tags: &[&str]) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| tags.contains(&a.value().name()))
}

/// Share of an element's text that sits inside links.
fn link_density(el: ElementRef<'_>) -> f64 {
    let total: usize = el.text().map(str::len).sum();
    if total == 0 {
        return 1.0;
    }
    let linked: usize = el.select(&LINK).flat_map(|a| a.text()).map(str::len).sum();
    linked as f64 / total as f64
}

/// The paragraphs of the element with the most paragraph text among its direct
/// children (link-heavy paragraphs do not count), with that element.
fn body_paragraphs(html: &Html) -> Vec<(ElementRef<'_>, String)> {
    let mut best: Option<(usize, ElementRef<'_>)> = None;
    for candidate in html.select(&CANDIDATES) {
        let score: usize = candidate
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|c| c.value().name() == "p" && link_density(*c) < 0.5)
            .map(|p| p.text().map(str::len).sum::<usize>())
            .sum();
        if score > 0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    let Some((_, container)) = best else {
        return Vec::new();
    };
    if inside(container, &["nav", "footer", "aside"]) {
        return Vec::new();
    }
    container
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|c| c.value().name() == "p" && link_density(*c) < 0.5)
        .map(element_text)
        .filter(|t| !t.is_empty())
        .map(|t| (container, t))
        .collect()
}

/// Figures near the body: those inside the body's nearest `<article>` ancestor (or
/// its parent element), with the caption text or, lacking one, the image's alt text.
fn figures(container: ElementRef<'_>, page: &Url) -> Vec<Image> {
    let scope = container
        .ancestors()
        .filter_map(ElementRef::wrap)
        .find(|a| a.value().name() == "article")
        .or_else(|| container.parent().and_then(ElementRef::wrap))
        .unwrap_or(container);
    let mut images: Vec<Image> = Vec::new();
    for figure in scope.select(&FIGURE) {
        let Some(img) = figure.select(&IMG).next() else {
            continue;
        };
        let Some(src) = img
            .value()
            .attr("src")
            .or_else(|| img.value().attr("data-src"))
        else {
            continue;
        };
        let Ok(src) = page.join(src.trim()) else {
            continue;
        };
        let caption = figure
            .select(&FIGCAPTION)
            .next()
            .map(element_text)
            .filter(|c| !c.is_empty())
            .or_else(|| {
                img.value()
                    .attr("alt")
                    .map(squash)
                    .filter(|a| !a.is_empty())
            });
        if !images.iter().any(|i| i.url == src.as_str()) {
            images.push(Image {
                url: src.into(),
                caption,
            });
        }
    }
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seoul() -> Tz {
        "Asia/Seoul".parse().unwrap()
    }

    #[test]
    fn byline_cleanup() {
        assert_eq!(clean_authors("By Kim Min-ji"), ["Kim Min-ji"]);
        assert_eq!(
            clean_authors("By Kim Min-ji and Lee Jun-ho, Staff reporters"),
            ["Kim Min-ji", "Lee Jun-ho"]
        );
        assert_eq!(
            clean_authors("Park Seo-yeon (park@news.example)"),
            ["Park Seo-yeon"]
        );
        assert_eq!(clean_authors("Jane Doe | Correspondent"), ["Jane Doe"]);
    }

    #[test]
    fn labelled_dates_ignore_the_render_time_line() {
        let text = "Sun, December 3, 2023 | 20:48\nHeadline\nPosted : 2023-03-28 15:55\nUpdated : 2023-03-29 09:25";
        let (p, u) = labelled_dates(text, seoul());
        assert_eq!(p.unwrap(), "2023-03-28T15:55:00+09:00");
        assert_eq!(u.unwrap(), "2023-03-29T09:25:00+09:00");
        assert_eq!(
            labelled_dates("Sun, December 3, 2023 | 20:48", seoul()),
            (None, None)
        );
    }

    #[test]
    fn json_ld_wins_and_body_comes_from_dense_paragraphs() {
        let page = r#"<html lang="en"><head>
            <script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebPage"},
              {"@type":"NewsArticle","headline":"Rates held steady","datePublished":"2024-05-02T08:00:00+09:00",
               "author":[{"@type":"Person","name":"Choi Ara"},{"@type":"Person","name":"Choi Ara"}]}]}</script>
            <link rel="canonical" href="/news/1"></head><body>
            <nav><p><a href="/a">A long navigation link text</a></p></nav>
            <article><h1>Rates held steady at meeting</h1>
              <figure><img src="/img/1.jpg" alt="alt text"><figcaption>The governor speaks.</figcaption></figure>
              <div class="body"><p>First paragraph of the story.</p><p>Second paragraph.</p>
              <p><a href="/x">Related: another story</a></p></div></article></body></html>"#;
        let html = Html::parse_document(page);
        let url = Url::parse("https://news.example/news/1?x=1").unwrap();
        let a = extract_article(&html, &url, seoul(), true).unwrap();
        assert_eq!(a.title.as_deref(), Some("Rates held steady"));
        assert_eq!(a.authors, ["Choi Ara"]);
        assert_eq!(a.published.as_deref(), Some("2024-05-02T08:00:00+09:00"));
        assert_eq!(a.body, "First paragraph of the story.\n\nSecond paragraph.");
        assert_eq!(
            a.canonical_url.as_deref(),
            Some("https://news.example/news/1")
        );
        assert_eq!(a.language.as_deref(), Some("en"));
        assert_eq!(
            a.images,
            [Image {
                url: "https://news.example/img/1.jpg".into(),
                caption: Some("The governor speaks.".into())
            }]
        );
    }

    #[test]
    fn listing_like_pages_of_pattern_less_sites_are_not_articles() {
        let html = Html::parse_document("<ul><li><a href='/1'>One</a></li></ul>");
        let url = Url::parse("https://news.example/").unwrap();
        assert!(extract_article(&html, &url, seoul(), false).is_none());
    }
}
