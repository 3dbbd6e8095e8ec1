//! The built-in article extractor: structured metadata first (JSON-LD, OpenGraph and
//! `article:*` meta tags), then the page itself: the headline the metadata names, the
//! byline, the publication date, the breadcrumb, the story's blocks of text, and its
//! figures with captions.
//!
//! Invariant: every field is either found on the page or left empty; nothing is
//! guessed from the clock, and a date printed without a label before the headline
//! (a page's render time) is never taken for the publication date.

use std::sync::LazyLock;

use ::url::Url;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

mod body;
mod boxes;
mod byline;
mod credit;
mod meta;
mod names;
mod order;
mod published;
mod stock;
mod text;
mod title;

use self::meta::Meta;
pub(crate) use self::names::clean_authors;
use self::text::{element_text, squash};
use super::Page;
use crate::record::{Article, Image};

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("valid selector")
}

static H1: LazyLock<Selector> = LazyLock::new(|| selector("h1"));
static CANONICAL: LazyLock<Selector> =
    LazyLock::new(|| selector(r#"link[rel~="canonical"][href]"#));
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
static FIGURE: LazyLock<Selector> = LazyLock::new(|| selector("figure"));
static IMG: LazyLock<Selector> = LazyLock::new(|| selector("img"));
static FIGCAPTION: LazyLock<Selector> = LazyLock::new(|| selector("figcaption"));

/// Extracts the article on a page. With `require_article` false (pages of sites
/// without URL patterns), returns `None` unless the page looks like an article.
pub fn extract_article(html: &Html, page: &Page<'_>, require_article: bool) -> Option<Article> {
    let url = page.url;
    if nesting_depth(html) > MAX_DEPTH {
        tracing::debug!(%url, "HTML nested deeper than {MAX_DEPTH} elements; no article extracted");
        return None;
    }
    let meta = Meta::read(html);
    let declared = meta.declares_article();
    // Cheap signals first: most pages that are not articles stop here.
    if !require_article && !declared && html.select(&H1).next().is_none() {
        return None;
    }
    let found = body::extract_body(html);
    let paragraphs = found.text.split("\n\n").filter(|p| p.len() >= 80).count();
    if !require_article && !declared && (paragraphs < 3 || found.text.len() < 400) {
        return None;
    }
    let order = order::Order::of_page(html);
    let (title, headline) = title::headline(html, &meta, url, found.first, &order);
    let title = title.map(|t| title::tidy(&t)).filter(|t| !t.is_empty());
    let body = fuller_structured_body(found.text, meta.ld.as_ref());
    if title.is_none() && body.is_empty() {
        return None;
    }
    let headline_at = headline
        .map(|h| order.of(h))
        .or_else(|| html.select(&H1).next().map(|h| order.of(h)));
    let dates = published::dates(&published::Context {
        html,
        meta: &meta,
        url,
        zone: page.time_zone,
        fetched: page.fetched_at,
        order: &order,
        headline: headline_at,
        body: &body,
    });
    let authors = byline::authors(html, &meta, url, &order, headline_at, &body);

    let section = {
        let crumbs: Vec<String> = html
            .select(&BREADCRUMB)
            .map(element_text)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("home"))
            .collect();
        if !crumbs.is_empty() {
            crumbs
        } else {
            meta.ld_text("articleSection")
                .or_else(|| meta.tag(&["article:section"]).map(str::to_string))
                .into_iter()
                .collect()
        }
    };
    let deck = html
        .select(&DECK)
        .map(element_text)
        .find(|d| !d.is_empty())
        .or_else(|| {
            meta.tag(&["og:description", "description"])
                .map(str::to_string)
        })
        .or_else(|| meta.ld_text("description"));
    let canonical_url = html
        .select(&CANONICAL)
        .filter_map(|l| l.value().attr("href"))
        .find_map(|href| url.join(href.trim()).ok())
        .map(String::from);
    let language = html
        .root_element()
        .value()
        .attr("lang")
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
        published: dates.published,
        updated: dates.updated,
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
    use crate::url_kind::UrlKind;
    use chrono::TimeZone;
    use chrono_tz::Tz;

    fn seoul() -> Tz {
        "Asia/Seoul".parse().unwrap()
    }

    fn extract(page: &str, url: &str, require_article: bool) -> Option<Article> {
        extract_in(page, url, require_article, seoul())
    }

    fn extract_in(page: &str, url: &str, require_article: bool, zone: Tz) -> Option<Article> {
        let html = Html::parse_document(page);
        let url = Url::parse(url).unwrap();
        let page = Page {
            url: &url,
            kind: UrlKind::Article,
            headers: &[],
            body: page,
            time_zone: zone,
            fetched_at: Some(chrono::Utc.with_ymd_and_hms(2024, 5, 3, 0, 0, 0).unwrap()),
            max_links: usize::MAX,
        };
        extract_article(&html, &page, require_article)
    }

    #[test]
    fn labelled_dates_win_and_the_render_time_line_is_never_taken() {
        let page = r#"<html><body><div class="dateline">Sun, December 3, 2023 | 20:48</div>
            <div class="view_headline">Rates held</div>
            <div class="view_date">Posted : 2023-03-28 15:55</div><div>Updated : 2023-03-29 09:25</div>
            <div class="body"><p>First paragraph of the story, long enough to be prose.</p></div></body></html>"#;
        let a = extract(page, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published.as_deref(), Some("2023-03-28T15:55:00+09:00"));
        assert_eq!(a.updated.as_deref(), Some("2023-03-29T09:25:00+09:00"));
        let clock_only = r#"<html><body><div class="dateline">Sun, December 3, 2023 | 20:48</div>
            <h1>Rates held</h1><p>First paragraph of the story, long enough to be prose.</p></body></html>"#;
        assert_eq!(
            extract(clock_only, "https://news.example/a/1", true)
                .unwrap()
                .published,
            None
        );
    }

    #[test]
    fn a_utc_instant_takes_the_offset_the_page_shows_when_the_site_has_no_zone() {
        let story =
            "<h1>Headline</h1><p>First paragraph of the story, long enough to be prose.</p>";
        let published = |head: &str, body: &str| {
            let page = format!("<html><head>{head}</head><body>{body}</body></html>");
            extract_in(&page, "https://news.example/a/1", true, Tz::UTC)
                .unwrap()
                .published
        };
        // Another of the page's dates carries the publisher's offset.
        let head = r#"<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"2019-10-18T22:04:00Z"}</script>
            <meta name="date" content="Sat, 19 Oct 2019 00:04:00 +0200">"#;
        assert_eq!(
            published(head, story).as_deref(),
            Some("2019-10-19T00:04:00+02:00")
        );
        // Local midnight stored as 23:00Z, and the day the page prints.
        let head = r#"<meta property="article:published_time" content="2021-11-04T23:00Z">"#;
        let printed = format!("{story}<div class=\"meta\">5. November 2021</div>");
        assert_eq!(
            published(head, &printed).as_deref(),
            Some("2021-11-05T00:00:00+01:00")
        );
        // Without a printed day, or with one that agrees, the instant stays in UTC.
        assert_eq!(
            published(head, story).as_deref(),
            Some("2021-11-04T23:00:00+00:00")
        );
        // A printed day further away than any nearby zone is another date.
        let head = r#"<meta property="article:published_time" content="2021-11-04T10:00Z">"#;
        assert_eq!(
            published(head, &printed).as_deref(),
            Some("2021-11-04T10:00:00+00:00")
        );
    }

    #[test]
    fn a_dated_line_just_above_the_headline_is_the_story_s_unless_it_is_a_clock() {
        let page = |line: &str| {
            format!(
                r#"<html><body><div class="top">Menu</div><p><em>{line}</em></p><h1>Rates held</h1>
                <p>First paragraph of the story, long enough to be prose.</p></body></html>"#
            )
        };
        let published = |line: &str| {
            extract(&page(line), "https://news.example/a/1", true)
                .unwrap()
                .published
        };
        assert_eq!(
            published("01.11.2023 11:35").as_deref(),
            Some("2023-11-01T11:35:00+09:00")
        );
        assert_eq!(published("Sun, December 3, 2023 | 20:48"), None);
    }

    #[test]
    fn the_update_time_a_link_s_date_and_a_teaser_far_below_are_not_the_publication() {
        let published = |page: &str, url: &str| extract(page, url, true).unwrap().published;
        // WordPress prints both times; the updated one is not the publication.
        let both = r#"<html><body><h1>Headline</h1><span class="posted-on">
            <time class="updated" datetime="2019-02-09T23:00:55+01:00">9. Februar 2019</time>
            <time class="entry-date published" datetime="2019-02-10T09:30:10+01:00">10. Februar 2019</time></span>
            <p>First paragraph of the story, long enough to be prose.</p></body></html>"#;
        assert_eq!(
            published(both, "https://news.example/a/1").as_deref(),
            Some("2019-02-10T09:30:10+01:00")
        );
        // A date an update label names is the update's.
        let labelled = r#"<html lang="en-GB"><body><h1>Headline</h1>
            <p class="meta">Updated Mar 12, 2020 · first in print 15 October 2019</p>
            <p>First paragraph of the story, long enough to be prose.</p></body></html>"#;
        let a = extract(labelled, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published.as_deref(), Some("2019-10-15T00:00:00+09:00"));
        assert_eq!(a.updated.as_deref(), Some("2020-03-12T00:00:00+09:00"));
        // A linked document's date, and another story's teaser far below, lose to the
        // date line just above the headline.
        let teaser = format!(
            r#"<html><body><span class="headline-date">02. November 2021</span><h1>Headline</h1>
            <p>First paragraph of the story, long enough to be prose.</p>
            <p>See <a class="Publication" href="/pm/34">Nr. 34 vom 08. November 2021</a>.</p>{}
            <div class="teaser"><span class="headline-date">16.02.2022</span><h2>Another story</h2></div></body></html>"#,
            "<p>More of the story.</p>".repeat(20)
        );
        assert_eq!(
            published(&teaser, "https://news.example/a/1").as_deref(),
            Some("2021-11-02T00:00:00+09:00")
        );
    }

    #[test]
    fn a_dateline_or_a_day_first_url_dates_a_page_nothing_else_dates() {
        let published = |page: &str, url: &str| extract(page, url, true).unwrap().published;
        // No headline to read after: the story's opening dateline dates it, a date
        // told further into a paragraph does not.
        let story = |opening: &str| {
            format!(
                r#"<html><body><div class="content"><p>{opening} Energieverbraucher erhalten eine Preiserhöhung nach der nächsten.</p>
                <p>Second paragraph of the story, long enough to be prose.</p></div></body></html>"#
            )
        };
        assert_eq!(
            published(&story("(21. November 2022)"), "https://news.example/a/1").as_deref(),
            Some("2022-11-21T00:00:00+09:00")
        );
        let told = story("Seit dem Winter, genauer seit dem 21. November 2022, gilt:");
        assert_eq!(published(&told, "https://news.example/a/1"), None);
        assert_eq!(
            published(&told, "https://news.example/meldungen/29-10-2021").as_deref(),
            Some("2021-10-29T00:00:00+09:00")
        );
    }

    #[test]
    fn a_dated_credit_line_or_a_signed_ending_names_the_author() {
        let authors = |page: &str| {
            extract(page, "https://news.example/a/1", true)
                .unwrap()
                .authors
        };
        let credit = |line: &str| {
            format!(
                r#"<html><body><h1>Variablen und ihr Zuhause</h1><p class="text-muted">{line}</p>
                <p>First paragraph of the story, long enough to be prose.</p></body></html>"#
            )
        };
        assert_eq!(
            authors(&credit("11.12.2019 - Amelie Loevenich")),
            ["Amelie Loevenich"]
        );
        assert_eq!(
            authors(&credit("04.02.2022 | 13:10 Uhr | Uta Helkenberg")),
            ["Uta Helkenberg"]
        );
        assert_eq!(
            authors(&credit("11.12.2019 – Iris Lange-Fricke")),
            ["Iris Lange-Fricke"]
        );
        // A date beside a section's name, or a weekday, names no one.
        assert!(authors(&credit("11.12.2019 - Pressemitteilung")).is_empty());
        assert!(authors(&credit("Donnerstag, 11.12.2019")).is_empty());
        let signed = |last: &str| {
            format!(
                r#"<html><body><h1>Buch der Woche</h1><div class="text">
                <p>First paragraph of the story, long enough to be prose, and it goes on for a while.</p>
                <p>Second paragraph of the story, long enough to be prose, and it goes on too.</p>{last}</div></body></html>"#
            )
        };
        assert_eq!(
            authors(&signed("<p><strong>Marina Mucha</strong></p>")),
            ["Marina Mucha"]
        );
        assert!(authors(&signed("<p>Marina Mucha</p>")).is_empty());
    }

    #[test]
    fn printed_and_relative_dates_after_the_headline() {
        let page = r#"<html lang="de"><body><h1>Schlagzeile</h1><div class="meta">Erstellt am Dienstag 6. Mai 2014</div>
            <p>Erster Absatz der Geschichte, lang genug, um Prosa zu sein.</p></body></html>"#;
        let a = extract(page, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published.as_deref(), Some("2014-05-06T00:00:00+09:00"));
        let relative = r#"<html><body><h1>Headline</h1><span class="time">2 hours ago</span>
            <p>First paragraph of the story, long enough to be prose.</p></body></html>"#;
        let a = extract(relative, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published.as_deref(), Some("2024-05-03T07:00:00+09:00"));
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
        let a = extract(page, "https://news.example/news/1?x=1", true).unwrap();
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
    fn a_script_state_dates_a_page_that_says_nothing_else() {
        let page = |script: &str| {
            format!(
                r#"<html><head><script>{script}</script></head><body><h1>Headline</h1>
                <p>First paragraph of the story, long enough to be prose.</p></body></html>"#
            )
        };
        let hydrated =
            page(r#"window.__STATE__ = {"post":{"published_at":"2019-03-02T06:22:28+01:00"}}"#);
        let a = extract(&hydrated, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published.as_deref(), Some("2019-03-02T06:22:28+01:00"));
        let other = page(r#"window.__STATE__ = {"post":{"created":"2019-03-02T06:22:28+01:00"}}"#);
        let a = extract(&other, "https://news.example/a/1", true).unwrap();
        assert_eq!(a.published, None);
    }

    #[test]
    fn a_printed_byline_wins_over_a_login_handle_in_the_metadata() {
        let page = |byline: &str| {
            format!(
                r#"<html><head><script type="application/ld+json">{{"@type":"NewsArticle",
                "author":{{"@type":"Person","name":"jane.doe"}}}}</script></head><body><h1>Headline</h1>
                <p class="byline">{byline}</p><p>First paragraph of the story, long enough to be prose.</p>
                </body></html>"#
            )
        };
        let a = extract(&page("By Jane Doe"), "https://news.example/a/1", true).unwrap();
        assert_eq!(a.authors, ["Jane Doe"]);
        let a = extract(&page("Share this"), "https://news.example/a/1", true).unwrap();
        assert_eq!(a.authors, ["jane.doe"]);
    }

    #[test]
    fn listing_like_pages_of_pattern_less_sites_are_not_articles() {
        let page = "<ul><li><a href='/1'>One</a></li></ul>";
        assert!(extract(page, "https://news.example/", false).is_none());
    }
}
