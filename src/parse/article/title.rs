//! The headline: the heading on the page that the page's own metadata names (its
//! JSON-LD headline, `og:title`, or a part of `<title>`), so that the record carries
//! the words a reader sees; the metadata's title without the site's name when no
//! heading agrees.
//!
//! Invariant: a heading that only names the site (a blog's name in its `<h1>`, a
//! heading linking to the home page, the `og:site_name`) is never the headline when
//! the metadata names another.

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::boxes::{in_never_story, verdict, Verdict};
use super::meta::{clean, Meta};
use super::order::Order;
use super::text::element_text;
use crate::parse::rx::rx;

static HEADINGS: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(
        r#"h1, h2, h3, h4, [itemprop~="headline"], [class*="entry-title"], [class*="post-title"], [class*="article-title"], [class*="headline"]"#,
    )
    .expect("valid selector")
});
static TITLE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("title").expect("valid selector"));

/// Separators between a headline and the site's name in `<title>` and `og:title`.
const SEPARATORS: [&str; 9] = [
    " | ", " - ", " – ", " — ", " :: ", " : ", " · ", " » ", " // ",
];

/// The headline and the element that shows it, if one does. `story`: the element
/// of the story's first block, if the body was found.
pub(super) fn headline<'a>(
    html: &'a Html,
    meta: &Meta,
    url: &Url,
    story: Option<ElementRef<'a>>,
    order: &Order,
) -> (Option<String>, Option<ElementRef<'a>>) {
    let page_title = html
        .select(&TITLE)
        .next()
        .map(element_text)
        .map(|t| clean(&t));
    let site = site_names(meta, url);
    // The titles the page declares, strongest first, each whole and as its longest
    // part that does not name the site (`Headline | Site`, `Site - Section - Headline`).
    let declared: Vec<(u8, String)> = [
        (6, meta.ld_text("headline")),
        (6, meta.tag(&["og:title"]).map(str::to_string)),
        (5, meta.tag(&["twitter:title"]).map(str::to_string)),
        (5, page_title.clone()),
    ]
    .into_iter()
    .filter_map(|(w, t)| Some((w, t?)))
    .collect();
    let mut names: Vec<(u8, String)> = Vec::new();
    for (weight, d) in &declared {
        names.push((*weight, fold(d)));
        names.push((*weight - 1, fold(&without_site_name(d, &site))));
    }
    names.retain(|(_, n)| !n.is_empty() && !site.contains(n));

    let mut best: Option<(u8, ElementRef<'a>, String)> = None;
    let mut never = std::collections::HashMap::new();
    for el in html.select(&HEADINGS) {
        if links_home(el, url) || in_chrome(el) || in_never_story(el, &mut never) {
            continue;
        }
        // The heading without its kicker ("Immobilienkrise"), or a part of it; or,
        // one point weaker (it drops words the page shows), without the element it
        // opens with (a kicker set apart by markup alone: `<small>`, `<em>`).
        let opened = after_opening_element(el).map(|t| (el, t, 1));
        for (part, text, weaker) in std::iter::once((el, without_kicker(el), 0))
            .chain(opened)
            .chain(
                el.children()
                    .filter_map(ElementRef::wrap)
                    .map(|c| (c, element_text(c), 0)),
            )
        {
            let folded = fold(&text);
            if folded.is_empty() || text.chars().count() > 300 || site.contains(&folded) {
                continue;
            }
            let exact = names
                .iter()
                .filter(|(_, n)| *n == folded)
                .map(|(w, _)| *w)
                .max();
            let contained = (folded.chars().count() >= 12)
                .then(|| {
                    names
                        .iter()
                        .filter(|(_, n)| {
                            n.contains(&folded)
                                || (n.chars().count() >= 12 && folded.contains(n.as_str()))
                        })
                        .map(|_| 2)
                        .max()
                })
                .flatten();
            let Some(score) = exact.or(contained) else {
                continue;
            };
            let score = (score + u8::from(el.value().name() == "h1") * 2).saturating_sub(weaker);
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, part, text));
            }
        }
    }
    if let Some((_, el, text)) = best {
        return (Some(text), Some(el));
    }
    // No heading is named by the metadata: the `<h1>` that opens the story (what a
    // reader sees, where the metadata's title is written for search engines), else
    // the metadata's title.
    let opening = story_heading(html, url, story, &site, order);
    if let Some(h) = opening.filter(|h| h.value().name() == "h1") {
        return (Some(element_text(h)), Some(h));
    }
    if let Some(t) = meta
        .ld_text("headline")
        .or_else(|| meta.tag(&["og:title", "twitter:title"]).map(str::to_string))
        .map(|t| without_site_name(&t, &site))
        .filter(|t| !t.is_empty())
    {
        return (Some(t), None);
    }
    if let Some(h) = opening {
        return (Some(element_text(h)), Some(h));
    }
    let fallback = page_title
        .map(|t| without_site_name(&t, &site))
        .filter(|t| !t.is_empty());
    (fallback, None)
}

/// A title as a reader sees it: without soft hyphens (invisible break hints, as in
/// "Mes\u{ad}sen\u{ad}ger"), and without a separator left in front of it by a kicker
/// the page printed apart (": Bohren, bis es heiß wird").
pub(super) fn tidy(title: &str) -> String {
    title
        .replace('\u{ad}', "")
        .trim_start_matches(|c: char| c.is_whitespace() || ":-–—|•·".contains(c))
        .trim_end()
        .to_string()
}

/// The `<h1>` (else `<h2>`) nearest before the story's first block, or the first
/// inside the story; never the site's name or a heading of the page's chrome.
fn story_heading<'a>(
    html: &'a Html,
    url: &Url,
    story: Option<ElementRef<'a>>,
    site: &[String],
    order: &Order,
) -> Option<ElementRef<'a>> {
    let story = story?;
    let start = order.of(story);
    let usable = |h: &ElementRef<'a>| {
        let t = element_text(*h);
        !t.is_empty() && !site.contains(&fold(&t)) && !links_home(*h, url) && !in_chrome(*h)
    };
    for level in ["h1", "h2"] {
        let mut before: Option<ElementRef<'a>> = None;
        let mut after: Option<ElementRef<'a>> = None;
        for h in html.select(&HEADINGS).filter(|h| h.value().name() == level) {
            if !usable(&h) {
                continue;
            }
            if order.of(h) <= start {
                before = Some(h);
            } else if after.is_none() {
                after = Some(h);
            }
        }
        // An `<h2>` opens the story only right before it (else it heads a box).
        let near = |h: &ElementRef<'a>| level == "h1" || start.abs_diff(order.of(*h)) <= 15;
        if let Some(h) = before.filter(near).or(after.filter(near)) {
            return Some(h);
        }
    }
    None
}

/// Words of a kicker: the topic line set above or before a headline.
static KICKER: LazyLock<regex::Regex> = LazyLock::new(|| {
    rx(
        r"(?i-u)kicker|topline|overline|dachzeile|roofline|eyebrow|spitzmarke|flag|label|rubric|category|ressort|supertitle|overtitle|pretitle",
    )
});

/// A heading's text without the text of its kicker.
fn without_kicker(el: ElementRef<'_>) -> String {
    let kicker: Vec<ElementRef<'_>> = el
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|d| d.id() != el.id() && KICKER.is_match(&super::boxes::box_words(*d)))
        .collect();
    if kicker.is_empty() {
        return element_text(el);
    }
    let text: String = el
        .descendants()
        .filter_map(|n| match n.value() {
            scraper::Node::Text(t)
                if !n
                    .ancestors()
                    .any(|a| kicker.iter().any(|k| k.id() == a.id())) =>
            {
                Some(&**t)
            }
            _ => None,
        })
        .collect();
    super::text::squash(&text)
}

/// A heading's text after the inline element it opens with, when more text follows
/// (`<h1><small>Tunesien</small><br>Große Aufgaben …</h1>`): a kicker set apart by
/// its markup alone. Only a candidate: the metadata must name it.
fn after_opening_element(el: ElementRef<'_>) -> Option<String> {
    let mut children = el
        .children()
        .skip_while(|c| matches!(c.value(), scraper::Node::Text(t) if t.trim().is_empty()));
    let first = ElementRef::wrap(children.next()?)?;
    if super::text::is_block(first.value().name()) || element_text(first).is_empty() {
        return None;
    }
    let rest = super::text::nodes_text(children);
    (!rest.is_empty()).then_some(rest)
}

/// The names a site goes by: `og:site_name`, `application-name`, its host's name.
pub(super) fn site_names(meta: &Meta, url: &Url) -> Vec<String> {
    let mut names: Vec<String> = meta
        .tag(&["og:site_name"])
        .into_iter()
        .chain(meta.tag(&["application-name"]))
        .map(fold)
        .collect();
    if let Some(host) = url.host_str() {
        let host = host.trim_start_matches("www.");
        names.push(fold(host));
        if let Some((name, _)) = host.rsplit_once('.') {
            names.push(fold(name));
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// A title's parts between separators, longest first.
fn parts(title: &str) -> Vec<String> {
    let mut parts = vec![title.to_string()];
    for separator in SEPARATORS {
        parts = parts
            .iter()
            .flat_map(|p| p.split(separator).map(|s| s.trim().to_string()))
            .collect();
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// "Headline | Site" and "Site - Headline": the longest part that does not name the
/// site.
fn without_site_name(title: &str, site: &[String]) -> String {
    let parts = parts(title);
    if parts.len() < 2 {
        return title.to_string();
    }
    parts
        .iter()
        .filter(|p| !site.contains(&fold(p)))
        .max_by_key(|p| p.chars().count())
        .cloned()
        .unwrap_or_else(|| title.to_string())
}

/// A title folded for comparison: lower case, letters and digits only, single spaces
/// (quotes, dashes and entities differ between a page's heading and its metadata).
pub(super) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, '\u{ad}' | '\u{200b}' | '\u{2060}') {
            // Invisible break hints sit inside words.
            continue;
        }
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// Whether a heading's only link goes to the site's home page (a blog's name).
fn links_home(el: ElementRef<'_>, page: &Url) -> bool {
    let mut links = el
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == "a")
        .chain(
            el.ancestors()
                .filter_map(ElementRef::wrap)
                .filter(|e| e.value().name() == "a")
                .take(1),
        );
    let Some(link) = links.next() else {
        return false;
    };
    link.value()
        .attr("href")
        .and_then(|h| page.join(h.trim()).ok())
        .is_some_and(|u| u.path() == "/" && u.host_str() == page.host_str())
}

/// Whether a heading sits in navigation, a sidebar, a footer or a box of other
/// stories (its own verdict or an ancestor's).
fn in_chrome(el: ElementRef<'_>) -> bool {
    let mut in_story = false;
    let chain: Vec<ElementRef<'_>> = el.ancestors().filter_map(ElementRef::wrap).collect();
    for a in chain.iter().rev() {
        in_story |= matches!(a.value().name(), "article" | "main");
        if matches!(a.value().name(), "nav" | "aside" | "footer") {
            return true;
        }
        if verdict(*a, in_story) == Verdict::Never {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title_of(page: &str) -> Option<String> {
        let html = Html::parse_document(page);
        let meta = Meta::read(&html);
        headline(
            &html,
            &meta,
            &Url::parse("https://blog.example/2020/post").unwrap(),
            None,
            &Order::of_page(&html),
        )
        .0
    }

    #[test]
    fn the_heading_the_metadata_names_wins_over_the_blogs_name() {
        let page = r#"<html><head><title>Ins neue Jahr | Literaturgeflüster</title>
            <meta property="og:site_name" content="Literaturgeflüster"></head><body>
            <header><h1><a href="/">Literaturgeflüster</a></h1></header>
            <article><h2 class="entry-title">Ins neue Jahr</h2><p>Text.</p></article></body></html>"#;
        assert_eq!(title_of(page).as_deref(), Some("Ins neue Jahr"));
    }

    #[test]
    fn a_title_loses_soft_hyphens_and_a_kicker_s_stray_separator() {
        assert_eq!(
            tidy("Mes\u{ad}sen\u{ad}ger\u{ad}diens\u{ad}te sind kein Raum"),
            "Messengerdienste sind kein Raum"
        );
        assert_eq!(
            tidy(": Bohren, bis es heiß wird"),
            "Bohren, bis es heiß wird"
        );
        assert_eq!(tidy("- „Es kommt darauf an“"), "„Es kommt darauf an“");
        assert_eq!(tidy("Covid-19: Was nun?"), "Covid-19: Was nun?");
    }

    #[test]
    fn the_pages_own_typography_is_kept() {
        let page = r#"<html><head><meta property="og:title" content="Editor's Letter: bye"></head>
            <body><h1>Editor’s Letter: bye</h1></body></html>"#;
        assert_eq!(title_of(page).as_deref(), Some("Editor’s Letter: bye"));
    }

    #[test]
    fn without_a_matching_heading_the_metadata_title_loses_the_site_name() {
        let page = r#"<html><head><title>Peanut Butter Truffles - Blog</title>
            <meta property="og:site_name" content="Blog"></head><body><p>x</p></body></html>"#;
        assert_eq!(title_of(page).as_deref(), Some("Peanut Butter Truffles"));
    }

    #[test]
    fn a_kicker_set_apart_by_markup_alone_goes_when_the_metadata_names_the_rest() {
        let page = r#"<html><head><meta property="og:title" content="Große Aufgaben für die Regierung">
            </head><body><h1 itemprop="headline"><small>Tunesien</small><br> Große Aufgaben für
            die Regierung</h1><p>Text.</p></body></html>"#;
        assert_eq!(
            title_of(page).as_deref(),
            Some("Große Aufgaben für die Regierung")
        );
        // Soft hyphens inside the heading's words do not part them.
        let page = "<html><head><meta property=\"og:title\" content=\"Erinnerung an die Opfer\">\
            </head><body><h1><em>Gedenktag </em>Er\u{ad}in\u{ad}ne\u{ad}rung an die Opfer</h1></body></html>";
        assert_eq!(
            title_of(page).map(|t| tidy(&t)).as_deref(),
            Some("Erinnerung an die Opfer")
        );
        // When the metadata names the whole heading, it stays whole, the words on
        // either side of its `<br>` apart.
        let page = r#"<html><head><meta property="og:title" content="Einheit der Woche: Lagen-Pyramide">
            </head><body><h1><small>Einheit der Woche</small><br>Lagen-Pyramide</h1></body></html>"#;
        assert_eq!(
            title_of(page).as_deref(),
            Some("Einheit der Woche Lagen-Pyramide")
        );
    }

    #[test]
    fn a_heading_that_repeats_the_headline_after_a_lead_in_does_not_beat_the_headline() {
        let page = r#"<html><head><meta property="og:title" content="Grenzen: Die Rückkehr der Ressentiments">
            <meta name="twitter:title" content="Die Rückkehr der Ressentiments"></head><body>
            <h2><span class="overline">Grenzen</span> <span itemprop="headline">Die Rückkehr der Ressentiments</span></h2>
            <p>Text.</p>
            <h2><em>Mehr zu: </em>Grenzen - Die Rückkehr der Ressentiments</h2></body></html>"#;
        assert_eq!(
            title_of(page).as_deref(),
            Some("Die Rückkehr der Ressentiments")
        );
    }
}
