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

mod body;
mod boxes;
mod stock;
mod text;

use self::text::{element_text, squash};
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
        r#"[itemprop~="author"], [rel~="author"], .byline, .author, [class*="byline"], [class*="author"], [class*="Byline"], [class*="Author"], [class*="Contributor"], [class*="contributor"], [class*="writer"], [class*="reporter"], [data-component="byline-block"], .field--name-uid"#,
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
static FIGURE: LazyLock<Selector> = LazyLock::new(|| selector("figure"));
static IMG: LazyLock<Selector> = LazyLock::new(|| selector("img"));
static FIGCAPTION: LazyLock<Selector> = LazyLock::new(|| selector("figcaption"));

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
    if nesting_depth(html) > MAX_DEPTH {
        tracing::debug!(%url, "HTML nested deeper than {MAX_DEPTH} elements; no article extracted");
        return None;
    }
    let ld = json_ld_article(html);
    let meta = meta_tags(html);
    let declared = ld.is_some() || meta.get("og:type").is_some_and(|t| t == "article");
    // Cheap signals first: most pages that are not articles stop here.
    if !require_article && !declared && html.select(&H1).next().is_none() {
        return None;
    }
    let found = body::extract_body(html);
    let paragraphs = found.text.split("\n\n").filter(|p| p.len() >= 80).count();
    if !require_article && !declared && (paragraphs < 3 || found.text.len() < 400) {
        return None;
    }
    let ld_str = |key: &str| ld.as_ref().and_then(|v| v.get(key)).and_then(text_of);

    let title = pick_title(
        html,
        ld_str("headline"),
        meta.get("og:title")
            .or_else(|| meta.get("twitter:title"))
            .cloned(),
    );
    let body = fuller_structured_body(found.text, ld.as_ref());
    if title.is_none() && body.is_empty() {
        return None;
    }

    let text = document_text(html);
    let (mut published, mut updated) = labelled_dates(&text, zone);
    let meta_published = [
        "article:published_time",
        "og:published_time",
        "datepublished",
        "dcterms.date",
        "dc.date",
        "dc.date.issued",
        "date",
        "pubdate",
        "publish-date",
        "parsely-pub-date",
        "sailthru.date",
    ]
    .iter()
    .find_map(|k| meta.get(*k).cloned());
    if let Some(d) = ld_str("datePublished").or(meta_published) {
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
        .or_else(|| Some(meta_authors(&meta)).filter(|a| !a.is_empty()))
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
    let images = found
        .container
        .map(|container| figures(container, url))
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

/// The body the page's structured data gives (`articleBody`), when the page shows
/// less of it than that: a story cut by a paywall or split over pages, or prose the
/// page builds with scripts. Only when the two agree (the page's longest paragraph
/// begins a passage of the structured text), so that a stale or foreign `articleBody` is never taken.
fn fuller_structured_body(shown: String, ld: Option<&Value>) -> String {
    let Some(structured) = ld
        .and_then(|v| v.get("articleBody"))
        .and_then(Value::as_str)
    else {
        return shown;
    };
    let structured = if structured.contains('<') {
        element_text(Html::parse_fragment(structured).root_element())
    } else {
        squash(structured)
    };
    let count = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
    if count(&structured) * 10 <= count(&shown) * 11 {
        return shown;
    }
    // The page's longest paragraph, or its opening, is in the structured text.
    let longest = shown
        .split("\n\n")
        .max_by_key(|p| p.len())
        .unwrap_or_default();
    let opening: String = longest.chars().take(60).collect();
    if shown.is_empty() || structured.contains(&opening) {
        structured
    } else {
        shown
    }
}

/// The headline: the page's own `<h1>` when a title in its metadata (or `<title>`)
/// agrees with it, else the structured headline, else the meta title or `<title>`
/// without the site's name, else the first `<h1>`.
fn pick_title(html: &Html, ld: Option<String>, og: Option<String>) -> Option<String> {
    let page_title = html.select(&TITLE).next().map(element_text);
    let h1s: Vec<String> = html
        .select(&H1)
        .filter(|h| !in_page_chrome(*h))
        .map(element_text)
        .filter(|t| !t.is_empty())
        .collect();
    let declared: Vec<&String> = [&ld, &og, &page_title].into_iter().flatten().collect();
    let agrees = |h: &String| {
        let h = h.to_lowercase();
        declared.iter().any(|d| {
            let d = d.to_lowercase();
            d.contains(&h) || (h.len() > 20 && h.contains(&d))
        })
    };
    if let Some(h1) = h1s.iter().find(|h| agrees(h)) {
        return Some(h1.clone());
    }
    ld.or_else(|| og.map(|t| without_site_name(&t)))
        .or_else(|| h1s.into_iter().next())
        .or_else(|| page_title.map(|t| without_site_name(&t)))
        .filter(|t| !t.is_empty())
}

/// "Headline | Site" and "Headline - Site": the longest part.
fn without_site_name(title: &str) -> String {
    for separator in [" | ", " - ", " – ", " — ", " :: ", " · "] {
        if title.contains(separator) {
            return title
                .split(separator)
                .max_by_key(|part| part.len())
                .unwrap_or(title)
                .trim()
                .to_string();
        }
    }
    title.to_string()
}

/// Documents nested deeper than this are not searched for an article (real pages stay
/// under a few hundred levels; hostile ones go to 100,000, where every ancestor walk
/// costs a page's worth of work).
pub const MAX_DEPTH: usize = 1_000;

/// How deep the document's elements nest (an iterative walk: no recursion).
fn nesting_depth(html: &Html) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for edge in html.tree.root().traverse() {
        match edge {
            ego_tree::iter::Edge::Open(_) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ego_tree::iter::Edge::Close(_) => depth -= 1,
        }
    }
    deepest
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

/// An element's text when it is at most `max` bytes long (stops reading past that, so
/// asking every `<div>` of a page costs little).
fn short_text(el: ElementRef<'_>, max: usize) -> Option<String> {
    let mut out = String::new();
    for t in el.text() {
        out.push_str(t);
        if out.len() > max * 4 {
            return None;
        }
    }
    let text = squash(&out);
    (text.len() < max).then_some(text)
}

/// Whether an element sits in navigation, a footer or aside, or a header outside the
/// article (a byline may sit in the article's own header).
fn in_page_chrome(el: ElementRef<'_>) -> bool {
    let ancestors: Vec<ElementRef<'_>> = el.ancestors().filter_map(ElementRef::wrap).collect();
    ancestors.iter().enumerate().any(|(i, a)| {
        let name = a.value().name();
        matches!(name, "nav" | "footer" | "aside")
            || (name == "header" && !within_story(&ancestors[i + 1..]))
    })
}

/// Whether any of these ancestors is an `<article>` or `<main>`.
fn within_story(ancestors: &[ElementRef<'_>]) -> bool {
    ancestors
        .iter()
        .any(|a| matches!(a.value().name(), "article" | "main"))
}

/// Names that look like people's or desks' names: a few words, no digits, not a
/// sentence.
fn plausible_names(names: Vec<String>) -> Vec<String> {
    let plausible = |n: &String| {
        let words = n.split_whitespace().count();
        (1..=5).contains(&words)
            && !n.chars().any(|c| c.is_ascii_digit())
            && n.chars()
                .next()
                .is_some_and(|c| c.is_uppercase() || !c.is_ascii())
            && !n.eq_ignore_ascii_case("by")
    };
    if names.iter().all(plausible) {
        names
    } else {
        Vec::new()
    }
}

/// Authors from the page's text: an element reading "By ..." (the universal byline),
/// else an element whose class or itemprop says author or byline.
fn byline_authors(html: &Html) -> Vec<String> {
    let reads_by =
        |el: &ElementRef<'_>| short_text(*el, 120).is_some_and(|t| BY_PREFIX.is_match(&t));
    let by_line = html
        .select(&BY_CANDIDATES)
        .filter(|el| reads_by(el) && !in_page_chrome(*el))
        // The innermost such element: its parent may run the name into a role line.
        .filter(|el| {
            !el.select(&BY_CANDIDATES)
                .any(|d| d.id() != el.id() && reads_by(&d))
        })
        .map(element_text)
        .map(|t| plausible_names(clean_authors(&t)))
        .find(|a| !a.is_empty());
    if let Some(found) = by_line {
        return found;
    }
    html.select(&BYLINE)
        .filter(|el| !in_page_chrome(*el) && !NOT_BYLINE.is_match(&boxes::box_words(*el)))
        .map(element_text)
        .filter(|t| !t.is_empty() && t.len() < 120)
        .map(|t| plausible_names(clean_authors(&t)))
        .find(|a| !a.is_empty())
        .unwrap_or_default()
}

static BY_CANDIDATES: LazyLock<Selector> =
    LazyLock::new(|| selector("p, span, div, address, li, a"));
static BY_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?i:by)\s+\p{Lu}").expect("valid regex"));
/// Author boxes that are not bylines: biographies, author pages' lists.
static NOT_BYLINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)bio|about|more-by|author-list").expect("valid regex"));

/// Authors named in meta tags, if any (URLs, as Facebook's `article:author` holds,
/// are not names).
fn meta_authors(meta: &HashMap<String, String>) -> Vec<String> {
    let written_by = meta
        .get("twitter:label1")
        .is_some_and(|l| l.eq_ignore_ascii_case("written by"))
        .then(|| meta.get("twitter:data1"))
        .flatten();
    [
        "author",
        "byl",
        "article:author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
    ]
    .iter()
    .filter_map(|k| meta.get(*k))
    .chain(written_by)
    .filter(|v| !v.starts_with("http"))
    .map(|v| plausible_names(clean_authors(v)))
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
        // The visible headline extends the structured one (which publishers cut to
        // fit search engines' limits): the page's own wins.
        assert_eq!(a.title.as_deref(), Some("Rates held steady at meeting"));
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
