//! Link extraction: every `<a href>` and `<area href>` of a document, resolved against
//! the page URL (or its first `<base href>`).
//!
//! Two ways to the same answer: from a parsed DOM (when a parser builds one anyway, to
//! extract an article), or streaming over the raw HTML with `lol_html`, which looks only
//! at tags and builds no tree: several times cheaper, for pages whose only product is
//! their links (listing pages, links-only crawls).
//!
//! Invariant: returns absolute URLs only, without fragments (a fragment names a place
//! in a page, never another page), in document order, duplicates kept; hrefs that
//! do not resolve (and `javascript:`/`mailto:` and the like, which the engine's
//! normalizer rejects anyway) are dropped here or there, never fetched.

use std::borrow::Cow;
use std::sync::LazyLock;

use ::url::Url;
use scraper::{Html, Selector};

static LINKS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("a[href], area[href]").expect("valid selector"));
static BASE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("base[href]").expect("valid selector"));
// The streaming reader's selectors, by tag name only: `lol_html` matches those without
// reading attributes (an `[href]` condition costs a deferred match on every `<a>`), and
// parsing them once saves doing it for every page.
static STREAM_LINKS: LazyLock<lol_html::Selector> =
    LazyLock::new(|| "a, area".parse().expect("valid selector"));
static STREAM_BASE: LazyLock<lol_html::Selector> =
    LazyLock::new(|| "base".parse().expect("valid selector"));

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
        .append_element_content_handler((
            Cow::Borrowed(&*STREAM_LINKS),
            lol_html::ElementContentHandlers::default().element(
                |el: &mut lol_html::html_content::Element<'_, '_>| {
                    if let Some(href) = el.get_attribute("href") {
                        hrefs.push(decode_entities(href));
                        if hrefs.len() >= limit {
                            full = true;
                            return Err("enough links".into());
                        }
                    }
                    Ok(())
                },
            ),
        ))
        .append_element_content_handler(first_base(&mut base));
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

static STREAM_HEAD_LINKS: LazyLock<lol_html::Selector> =
    LazyLock::new(|| "link".parse().expect("valid selector"));
static STREAM_BODY: LazyLock<lol_html::Selector> =
    LazyLock::new(|| "body".parse().expect("valid selector"));

/// The feeds a page declares (`<link rel="alternate" type="application/rss+xml">`, Atom
/// or JSON Feed), resolved, in document order; comment feeds left out (they list
/// comments, not stories). Reads the page's head only: reading stops at `<body>`.
pub fn feed_links(body: &str, page_url: &Url) -> Vec<String> {
    const TYPES: [&str; 3] = [
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    ];
    let mut hrefs: Vec<String> = Vec::new();
    let mut base: Option<String> = None;
    let settings = lol_html::Settings::new()
        .with_strict(false)
        .append_element_content_handler((
            Cow::Borrowed(&*STREAM_HEAD_LINKS),
            lol_html::ElementContentHandlers::default().element(
                |el: &mut lol_html::html_content::Element<'_, '_>| {
                    let rel = el.get_attribute("rel").unwrap_or_default();
                    let kind = el.get_attribute("type").unwrap_or_default();
                    let title = el.get_attribute("title").unwrap_or_default();
                    let is_feed = rel
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("alternate"))
                        && TYPES.iter().any(|t| kind.trim().eq_ignore_ascii_case(t));
                    if let Some(href) = el.get_attribute("href").filter(|_| is_feed) {
                        let comments = |s: &str| s.to_ascii_lowercase().contains("comment");
                        if !comments(&href) && !comments(&title) {
                            hrefs.push(decode_entities(href));
                        }
                    }
                    Ok(())
                },
            ),
        ))
        .append_element_content_handler(first_base(&mut base))
        .append_element_content_handler((
            Cow::Borrowed(&*STREAM_BODY),
            lol_html::ElementContentHandlers::default().element(
                |_: &mut lol_html::html_content::Element<'_, '_>| Err("the head ends".into()),
            ),
        ));
    let mut rewriter = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
    // An error is the stop at `<body>` or markup the tokenizer gives up on: either
    // way, what was read is what the head declared.
    let _ = rewriter
        .write(body.as_bytes())
        .and_then(|()| rewriter.end());
    let mut feeds = resolve(page_url, base.as_deref(), hrefs.iter().map(String::as_str));
    feeds.dedup();
    feeds
}

static STREAM_REL: LazyLock<lol_html::Selector> =
    LazyLock::new(|| "a[rel], link[rel]".parse().expect("valid selector"));

/// The page's next page in a series (`<link rel="next">` in the head, or an
/// `<a rel="next">`), resolved: the first one the document names.
pub fn next_page_link(body: &str, page_url: &Url) -> Option<String> {
    let mut href: Option<String> = None;
    let mut base: Option<String> = None;
    let settings = lol_html::Settings::new()
        .with_strict(false)
        .append_element_content_handler(first_base(&mut base))
        .append_element_content_handler((
            Cow::Borrowed(&*STREAM_REL),
            lol_html::ElementContentHandlers::default().element(
                |el: &mut lol_html::html_content::Element<'_, '_>| {
                    let rel = el.get_attribute("rel").unwrap_or_default();
                    if rel
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                    {
                        if let Some(found) = el.get_attribute("href") {
                            href = Some(decode_entities(found));
                            return Err("found".into());
                        }
                    }
                    Ok(())
                },
            ),
        ));
    let mut rewriter = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
    // An error is the stop at the first one, or markup the tokenizer gives up on.
    let _ = rewriter
        .write(body.as_bytes())
        .and_then(|()| rewriter.end());
    let href = href?;
    resolve(page_url, base.as_deref(), std::iter::once(href.as_str()))
        .into_iter()
        .next()
}

/// The streaming reader's handler that keeps the document's first `<base href>`.
fn first_base(
    base: &mut Option<String>,
) -> (
    Cow<'static, lol_html::Selector>,
    lol_html::ElementContentHandlers<'_>,
) {
    (
        Cow::Borrowed(&*STREAM_BASE),
        lol_html::ElementContentHandlers::default().element(
            move |el: &mut lol_html::html_content::Element<'_, '_>| {
                if base.is_none() {
                    *base = el.get_attribute("href").map(decode_entities);
                }
                Ok(())
            },
        ),
    )
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

/// Resolves `hrefs` against the base URL (or the page's), keeping http(s) links,
/// fragments dropped. A plain path followed by a fragment (`/section/world#top`, a
/// third of the links on the bench's pages) takes the shortcut too: the fragment is
/// the last part of a URL reference and changes nothing before it.
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
        .filter_map(|href| {
            let href = href.trim();
            let before_fragment = match memchr::memchr(b'#', href.as_bytes()) {
                Some(at) => &href[..at],
                None => href,
            };
            if before_fragment.is_empty() {
                // Empty, or a place in this page.
                return None;
            }
            if http && is_plain_path(before_fragment) {
                // What `join` would give, without parsing.
                let mut url = String::with_capacity(origin.len() + before_fragment.len());
                url.push_str(origin);
                url.push_str(before_fragment);
                return Some(url);
            }
            if is_plain_absolute(before_fragment) {
                return Some(before_fragment.to_string());
            }
            let mut url = base
                .join(href)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))?;
            url.set_fragment(None);
            Some(String::from(url))
        })
        .collect()
}

/// A root-relative href that resolving leaves as it is: a path (and query) of
/// characters the URL parser neither escapes nor interprets, without dot segments
/// (plain or escaped). Most links on news pages are like this.
fn is_plain_path(href: &str) -> bool {
    let bytes = href.as_bytes();
    if bytes.first() != Some(&b'/') || bytes.get(1) == Some(&b'/') {
        return false;
    }
    let mut previous = 0;
    for &b in bytes {
        if !PLAIN_PATH_BYTE[usize::from(b)] || (previous == b'/' && b == b'.') {
            return false;
        }
        previous = b;
    }
    true
}

/// The bytes of a plain path (see [`is_plain_path`]), as a table: one load per byte.
static PLAIN_PATH_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric()
            || matches!(
                b as u8,
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
            );
        b += 1;
    }
    table
};

/// An absolute http(s) URL that the URL parser gives back unchanged: a lower-case
/// scheme; a host of lower-case letters, digits, dots and hyphens that IDNA leaves as it
/// is (no `xn--` label) and that is not a number in disguise (a host whose last label is
/// numeric is read as IPv4, so it must already be four canonical decimal octets); a
/// port, if any, that is canonical and not the scheme's default; and a plain path.
/// Links to the site itself, written out in full, are usually like this.
fn is_plain_absolute(href: &str) -> bool {
    let (rest, default_port) = if let Some(rest) = href.strip_prefix("http://") {
        (rest, "80")
    } else if let Some(rest) = href.strip_prefix("https://") {
        (rest, "443")
    } else {
        return false;
    };
    let Some(path_start) = memchr::memchr(b'/', rest.as_bytes()) else {
        // No path: the parser adds `/`.
        return false;
    };
    let (authority, path) = rest.split_at(path_start);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    // Digits only (`parse` would take a `+`), no leading zero, in range, not the default.
    let port_is_plain = port.is_none_or(|port| {
        port.bytes().all(|b| b.is_ascii_digit())
            && !port.starts_with('0')
            && port.parse::<u16>().is_ok()
            && port != default_port
    });
    port_is_plain && is_plain_host(host) && is_plain_path(path)
}

/// See [`is_plain_absolute`].
fn is_plain_host(host: &str) -> bool {
    let labels_are_plain = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with("xn--")
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !labels_are_plain {
        return false;
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.starts_with("0x")
        || last.starts_with("0X");
    if !numeric {
        return true;
    }
    // Read as IPv4: plain only if already in canonical dotted decimal.
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|octet| {
            octet.bytes().all(|b| b.is_ascii_digit())
                && (octet.len() == 1 || !octet.starts_with('0'))
                && octet.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_declares_its_feeds_in_its_head() {
        let page = Url::parse("https://news.example/world/").unwrap();
        let html = r#"<html><head>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="World" href="/world/feed.xml">
            <link rel="Alternate" type="application/atom+xml" href="https://news.example/atom&amp;x=1">
            <link rel="alternate" type="application/rss+xml" title="Comments Feed" href="/c.xml">
            <link rel="alternate" type="application/rss+xml" href="/comments/feed/">
            <link rel="alternate" hreflang="de" href="/de/world/">
            <link rel="alternate" type="application/feed+json" href="feed.json">
            </head><body>
            <link rel="alternate" type="application/rss+xml" href="/in-the-body.xml">
            </body></html>"#;
        assert_eq!(
            feed_links(html, &page),
            [
                "https://news.example/world/feed.xml",
                "https://news.example/atom&x=1",
                "https://news.example/world/feed.json",
            ]
        );
        assert!(feed_links("<p>no head at all</p>", &page).is_empty());
    }

    #[test]
    fn a_page_names_its_next_page_with_rel_next() {
        let page = Url::parse("https://news.example/world/").unwrap();
        let next = |html: &str| next_page_link(html, &page);
        assert_eq!(
            next(r#"<head><link rel="next" href="?page=2"></head><a href="/x">x</a>"#).as_deref(),
            Some("https://news.example/world/?page=2")
        );
        assert_eq!(
            next(r#"<a rel="nofollow" href="/a">a</a><a rel="Next nofollow" href="/world/2/">Older</a>"#)
                .as_deref(),
            Some("https://news.example/world/2/")
        );
        assert_eq!(
            next(r#"<a rel="prev" href="/p">p</a><a href="/n">Next</a>"#),
            None
        );
        assert_eq!(
            next(r#"<a rel="next" href="javascript:more()">More</a>"#),
            None
        );
    }

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

    /// What the URL parser makes of `href` on `page`, as `resolve` should give it.
    fn joined(page: &Url, href: &str) -> Vec<String> {
        page.join(href)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|mut url| {
                url.set_fragment(None);
                String::from(url)
            })
            .into_iter()
            .collect()
    }

    fn resolved(page: &Url, href: &str) -> Vec<String> {
        resolve(page, None, std::iter::once(href))
    }

    #[test]
    fn the_absolute_url_shortcut_leaves_what_the_parser_rewrites_to_the_parser() {
        let page = Url::parse("http://p.example/a/b").unwrap();
        for href in [
            "http://127.0.0.1:8080/section/world#top",
            "http://x.example:80/a",
            "https://x.example:443/a",
            "http://x.example:08080/a",
            "http://x.example:+8080/a",
            "http://x.example:65536/a",
            "http://x.example:/a",
            "http://127.1/a",
            "http://010.0.0.1/a",
            "http://0x7f.0.0.1/a",
            "http://1.2.3.256/a",
            "http://a.b.1/a",
            "http://xn--nxasmq6b.example/a",
            "http://Ex.example/a",
            "HTTP://x.example/a",
            "http://x.example",
            "http://x.example/a/./b",
            "http://x.example/a b",
            "http://x..example/a",
        ] {
            assert_eq!(resolved(&page, href), joined(&page, href), "{href}");
        }
        assert_eq!(
            resolved(&page, "http://127.0.0.1:8080/section/world#top"),
            ["http://127.0.0.1:8080/section/world"]
        );
    }

    proptest::proptest! {
        /// The shortcut for plain root-relative paths gives what the URL parser gives.
        #[test]
        fn plain_paths_resolve_as_the_url_parser_resolves_them(
            href in "/[a-zA-Z0-9/._~?=&+,;:@!$*%# -]{0,30}",
            base in proptest::sample::select(&[
                "http://x.example/a/b.html", "https://X.Example:8443/", "http://127.0.0.2:8080/s/?q=1",
            ][..]),
        ) {
            let base = Url::parse(base).unwrap();
            let joined: Vec<String> = base
                .join(&href)
                .ok()
                .map(|mut url| {
                    url.set_fragment(None);
                    String::from(url)
                })
                .into_iter()
                .collect();
            let links = resolve(&base, None, std::iter::once(href.as_str()));
            proptest::prop_assert_eq!(links, joined);
        }

        /// So does the shortcut for absolute URLs written as the parser would write them.
        #[test]
        fn plain_absolute_urls_parse_as_the_url_parser_parses_them(
            scheme in proptest::sample::select(&["http://", "https://", "HTTP://", "ftp://"][..]),
            labels in proptest::collection::vec(
                proptest::sample::select(&[
                    "a", "x-y", "com", "0", "1", "127", "255", "-a", "xn--a", "xn--nxasmq6b",
                    "00", "010", "256", "0x7f", "1e3", "Ex", "", "4294967295",
                ][..]),
                1..5,
            ),
            port in proptest::option::of(proptest::sample::select(&[
                "80", "443", "8080", "0", "08080", "65535", "65536", "", "x",
            ][..])),
            path in "(/[a-z0-9._-]{1,6}){0,3}/?(#[a-z]{0,3})?",
            page in proptest::sample::select(&["http://p.example/a/b", "https://q.example/"][..]),
        ) {
            let href = format!(
                "{scheme}{}{}{path}",
                labels.join("."),
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            let page = Url::parse(page).unwrap();
            proptest::prop_assert_eq!(resolved(&page, &href), joined(&page, &href), "{}", href);
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
