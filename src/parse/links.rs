//! Link extraction: every `<a href>` and `<area href>` of a document, resolved against
//! the page URL (or its first `<base href>`).
//!
//! Two ways to the same answer: from a parsed DOM (when a parser builds one anyway, to
//! extract an article), or streaming over the raw HTML with `lol_html`, which looks only
//! at tags and builds no tree: several times cheaper, for pages whose only product is
//! their links (listing pages, links-only crawls).
//!
//! Invariant: returns absolute URLs only, in document order, duplicates kept; hrefs that
//! do not resolve (and `javascript:`/`mailto:` and the like, which the engine's
//! normalizer rejects anyway) are dropped here or there, never fetched.

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
        .and_then(|b| b.value().attr("href"));
    let hrefs = html.select(&LINKS).filter_map(|a| a.value().attr("href"));
    resolve(page_url, base, hrefs)
}

/// The same links as [`extract_links`] gives for the parsed document, read straight off
/// the HTML without building a tree, up to the first `limit` (reading stops there).
/// `None` when the streaming tokenizer gives up on the markup (the caller then parses
/// the document).
pub fn stream_links(body: &str, page_url: &Url, limit: usize) -> Option<Vec<String>> {
    let mut hrefs: Vec<String> = Vec::with_capacity(256.min(limit));
    let mut base: Option<String> = None;
    let mut full = false;
    let settings = lol_html::Settings::new()
        .with_strict(false)
        .append_element_content_handler(lol_html::element!("a[href], area[href]", |el| {
            if let Some(href) = el.get_attribute("href") {
                hrefs.push(decode_entities(href));
                if hrefs.len() >= limit {
                    full = true;
                    return Err("enough links".into());
                }
            }
            Ok(())
        }))
        .append_element_content_handler(lol_html::element!("base[href]", |el| {
            if base.is_none() {
                base = el.get_attribute("href").map(decode_entities);
            }
            Ok(())
        }));
    let mut rewriter = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
    let read = rewriter
        .write(body.as_bytes())
        .and_then(|()| rewriter.end());
    if let Err(e) = read {
        if !full {
            tracing::debug!(url = %page_url, "streaming link extraction gave up ({e}); parsing the page");
            return None;
        }
    }
    Some(resolve(
        page_url,
        base.as_deref(),
        hrefs.iter().map(String::as_str),
    ))
}

/// An attribute value as the HTML parser would give it (`lol_html` hands out the raw
/// text, character references and all).
fn decode_entities(raw: String) -> String {
    if raw.contains('&') {
        html_escape::decode_html_entities(&raw).into_owned()
    } else {
        raw
    }
}

/// Resolves `hrefs` against the base URL (or the page's), keeping http(s) links.
fn resolve<'a>(
    page_url: &Url,
    base_href: Option<&str>,
    hrefs: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let base = base_href
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let http = matches!(base.scheme(), "http" | "https");
    let origin = &base[..::url::Position::BeforePath];
    hrefs
        .map(str::trim)
        .filter(|href| !href.is_empty() && !href.starts_with('#'))
        .filter_map(|href| {
            if http && is_plain_path(href) {
                // What `join` would give, without parsing.
                return Some(format!("{origin}{href}"));
            }
            base.join(href)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(String::from)
        })
        .collect()
}

/// A root-relative href that resolving leaves as it is: a path (and query) of
/// characters the URL parser neither escapes nor interprets, without dot segments
/// (plain or escaped). Most links on news pages are like this.
fn is_plain_path(href: &str) -> bool {
    let bytes = href.as_bytes();
    bytes.first() == Some(&b'/')
        && bytes.get(1) != Some(&b'/')
        && bytes.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'-'
                        | b'_'
                        | b'.'
                        | b'~'
                        | b'?'
                        | b'='
                        | b'&'
                        | b'+'
                        | b','
                        | b';'
                        | b':'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'*'
                )
        })
        && memchr::memmem::find(bytes, b"/.").is_none()
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

    /// Markup where a naive scanner and a real parser disagree: script and style text,
    /// comments, CDATA-like text in `<textarea>`, entities, unquoted and upper-case
    /// attributes, a `<base>` after the first link (it still applies to all of them).
    const TRICKY: &str = r##"<!doctype html><html><head>
        <script>var s = '<a href="/not-in-script">';</script>
        <style>a[href="/not-in-style"] { color: red }</style>
        </head><body>
        <!-- <a href="/not-in-comment"> -->
        <a href="/first">1</a>
        <base href="https://cdn.example/root/">
        <textarea><a href="/not-in-textarea"></textarea>
        <A HREF=/upper>u</A> <a href='/q?a=1&amp;b=2'>e</a> <a href=unquoted>x</a>
        <noscript><a href="/noscript">n</a></noscript>
        <svg><a href="/in-svg">s</a></svg>
        <svg aria-hidden="true"><title>Close <menu></title><use href="#icon-x"></use>
          <path d="M0 0L10 10"/><foreignObject><div><a href="/in-foreign">f</a></div>
          </foreignObject><style>.a{}</style><script>if (a < b) go()</script></svg>
        <button><svg><title>Search</title><path d="M1 1"/></svg></button>
        <math><mi>x</mi></math><a href="/after-svg">after</a>
        <template><a href="/in-template">t</a></template>
        <a href="#frag">f</a><a>no href</a><area href="map">
        <a href="javascript:void(0)">j</a><a href="/first">again</a>
        </body></html>"##;

    /// The links in order of first appearance. A DOM may hold more copies of a link
    /// than the markup: the tree builder clones an unclosed `<a>` into the blocks that
    /// follow it (the "adoption agency"); a copy adds no URL.
    fn first_seen(links: Vec<String>) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        links
            .into_iter()
            .filter(|u| seen.insert(u.clone()))
            .collect()
    }

    #[test]
    fn streaming_and_dom_extraction_agree() {
        let page = Url::parse("http://x.example/a/b.html").unwrap();
        let dom = extract_links(&Html::parse_document(TRICKY), &page);
        let streamed = stream_links(TRICKY, &page, usize::MAX).unwrap();
        assert_eq!(streamed, dom);
        assert_eq!(
            stream_links("<a href='/a'>1<div><a href='/b'>2", &page, usize::MAX).unwrap(),
            ["http://x.example/a", "http://x.example/b"]
        );
        assert!(
            dom.contains(&"https://cdn.example/q?a=1&b=2".to_string()),
            "{dom:?}"
        );
        assert!(!dom.iter().any(|u| u.contains("/not-in-")), "{dom:?}");
    }

    #[test]
    fn streaming_stops_at_the_limit() {
        let page = Url::parse("http://x.example/").unwrap();
        let html: String = (0..1000).map(|i| format!("<a href=/{i}>{i}</a>")).collect();
        assert_eq!(
            stream_links(&html, &page, 3).unwrap(),
            [
                "http://x.example/0",
                "http://x.example/1",
                "http://x.example/2"
            ]
        );
        assert_eq!(stream_links(&html, &page, usize::MAX).unwrap().len(), 1000);
    }

    const MARKUP: &[&str] = &[
        "<a href=\"/x\">",
        "<a href='y'>",
        "</a>",
        "<div>",
        "</div>",
        "<p>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<style>",
        "</style>",
        "<base href=\"/b/\">",
        "<area href=\"z\">",
        "<table>",
        "<tr>",
        "<td>",
        "text",
        "<title>",
        "</title>",
        "<a href=\"http://o.example/k\">",
        "<textarea>",
        "</textarea>",
        "<select>",
        "<option>",
        "<noscript>",
        "</noscript>",
        "&amp;",
        "<a href=\"/p?a=1&amp;b=&lt;\">",
    ];

    proptest::proptest! {
        /// The shortcut for plain root-relative paths gives what the URL parser gives.
        #[test]
        fn plain_paths_resolve_as_the_url_parser_resolves_them(
            href in "/[a-zA-Z0-9/._~?=&+,;:@!$*%-]{0,30}",
            base in proptest::sample::select(&[
                "http://x.example/a/b.html", "https://X.Example:8443/", "http://127.0.0.2:8080/s/?q=1",
            ][..]),
        ) {
            let base = Url::parse(base).unwrap();
            let joined: Vec<String> = base.join(&href).ok().map(String::from).into_iter().collect();
            let links = resolve(&base, None, std::iter::once(href.as_str()));
            proptest::prop_assert_eq!(links, joined);
        }

        /// Whatever the HTML markup, both ways find the same links.
        #[test]
        fn streaming_matches_the_dom_on_generated_markup(
            parts in proptest::collection::vec(proptest::sample::select(MARKUP), 0..40)
        ) {
            let html = parts.concat();
            let page = Url::parse("http://x.example/a/b.html").unwrap();
            if let Some(streamed) = stream_links(&html, &page, usize::MAX) {
                let dom = extract_links(&Html::parse_document(&html), &page);
                proptest::prop_assert_eq!(first_seen(streamed), first_seen(dom));
            }
        }
    }
}
