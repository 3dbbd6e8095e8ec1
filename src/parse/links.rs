//! Link extraction: every `<a href>` and `<area href>` of a document, resolved against
//! the page URL (or its `<base href>`).
//!
//! Invariant: returns absolute URLs only; hrefs that do not resolve (and
//! `javascript:`/`mailto:` and the like, which the engine's normalizer rejects anyway)
//! are dropped here or there, never fetched.

use std::sync::LazyLock;

use ::url::Url;
use scraper::{Html, Selector};

static LINKS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href], area[href]").expect("valid selector"));
static BASE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("base[href]").expect("valid selector"));

/// Absolute URLs of the document's links, in document order, duplicates kept.
pub fn extract_links(html: &Html, page_url: &Url) -> Vec<String> {
    let base = html
        .select(&BASE)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    html.select(&LINKS)
        .filter_map(|a| a.value().attr("href"))
        .map(str::trim)
        .filter(|href| !href.is_empty() && !href.starts_with('#'))
        .filter_map(|href| base.join(href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_links_and_honours_base() {
        let page = Url::parse("http://x.example/a/b.html").unwrap();
        let html = Html::parse_document(
            r##"<a href="c.html">c</a><a href="#top">top</a><a href="mailto:a@x.example">m</a>
                <a href=" /d ">d</a><area href="https://y.example/">"##,
        );
        assert_eq!(
            extract_links(&html, &page),
            [
                "http://x.example/a/c.html",
                "http://x.example/d",
                "https://y.example/"
            ]
        );
        let html = Html::parse_document(r#"<head><base href="/base/"></head><a href="e">e</a>"#);
        assert_eq!(extract_links(&html, &page), ["http://x.example/base/e"]);
    }
}
