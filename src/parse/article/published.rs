//! When the story was published and last updated: structured data first (JSON-LD,
//! meta tags, microdata), then what the page prints: a labelled line ("Posted :",
//! "Veröffentlicht am", "publié le"), a `<time>` element, the URL's date path, a
//! date-named box, or the first date printed after the headline; the day most of
//! them name wins. Else a dateline opening the story, the update date, a date in the
//! page's scripts.
//!
//! Invariant: a date printed without a label is only taken after the headline (or,
//! on a page without one, outside the page's header and navigation), so that a
//! page's render-time clock in its top bar is never the publication date; a date an
//! update label or an update-only element (`<time class="updated">`) names is the
//! update's, never the publication's; a date in a link's text is the linked
//! document's; relative dates are read against the fetch time, and without one they
//! are not read.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::boxes::{box_words, in_never_story};
use super::meta::Meta;
use super::order::Order;
use super::text::{element_text, never_text, short_text};
use crate::parse::dates::{
    find_printed_date, names_weekday, parse_date, printed_date_span, relative_date,
};
use crate::parse::rx::rx;

/// The story's publication and update times, RFC 3339.
#[derive(Debug, Default)]
pub(super) struct Dates {
    pub published: Option<String>,
    pub updated: Option<String>,
}

/// Where to read, and how.
pub(super) struct Context<'a> {
    pub html: &'a Html,
    pub meta: &'a Meta,
    pub url: &'a Url,
    pub zone: Tz,
    pub fetched: Option<DateTime<Utc>>,
    pub order: &'a Order,
    /// The headline's position in document order.
    pub headline: Option<usize>,
    /// The extracted body's text, whose first paragraphs may open with a dateline.
    pub body: &'a str,
}

static TIME: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("time").expect("valid selector"));
static MICRODATA: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"[itemprop~="datePublished"], [itemprop~="dateCreated"]"#)
        .expect("valid selector")
});
static MACHINE_DATES: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"abbr[title], [class*="published"][title], [class*="date"][datetime], [class*="date"][content]"#)
        .expect("valid selector")
});
static MICRODATA_MODIFIED: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse(r#"[itemprop~="dateModified"]"#).expect("valid selector"));
static DATE_BOXES: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("[class], [id]").expect("valid selector"));
/// Box words of elements that print a date.
static DATE_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i-u)date|time|datum|fecha|(?-u:\b)data(?-u:\b)|publi|posted|submitted|meta|byline|dateline|stamp|zeit|(?-u:\b)info(?-u:\b)|details",
    )
});
/// Box words of an element that holds the update date, not the publication date
/// (`<time class="updated">`, `itemprop="dateModified"`).
static UPDATE_WORDS: LazyLock<Regex> =
    LazyLock::new(|| rx(r"(?i-u)(?-u:\b)updated(?-u:\b)|modified|aktualisiert|lastmod"));
/// Labels of publication lines, then the rest of the line.
static PUBLISHED_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)(?:^|(?-u:\b))(?:posted|published|first published|publish date|date published|released|",
        r"veröffentlicht|erstellt|publiziert|erschienen|datum|publié|publicado|publicada|fecha|pubblicato|data|opublikowano|gepubliceerd)",
        r"(?:\s+(?:on|am|le|el|il|op|dnia|at))?\s*:?\s*|입력\s*:?\s*|发布时间\s*[:：]?\s*|發布時間\s*[:：]?\s*",
    ))
});
static UPDATED_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)(?:^|(?-u:\b))(?:updated|last updated|modified|last modified|aktualisiert|zuletzt aktualisiert|geändert|",
        r"mis à jour|actualizado|aggiornato|zaktualizowano)(?:\s+(?:on|am|le|el|il|at))?\s*:?\s*|수정\s*:?\s*",
    ))
});
/// Meta tags that name the publication date, most reliable first.
const STRUCTURED_TAGS: [&str; 20] = [
    "article:published_time",
    "og:published_time",
    "datepublished",
    "published_time",
    "article.published",
    "dcterms.date",
    "dcterms.created",
    "dcterms.issued",
    "dc.date",
    "dc.date.issued",
    "dc.date.created",
    "date",
    "pubdate",
    "publish-date",
    "publish_date",
    "publishdate",
    "parsely-pub-date",
    "sailthru.date",
    "citation_publication_date",
    "citation_date",
];
/// Dates in URL paths: `/2019/10/16/`, `/2019-10-16-`, `/20191016/`.
static URL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"/((?:19|20)[0-9]{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12][0-9]|3[01])(?:[/_.-]|$)")
});

/// Dates that open a URL path segment day first: `/29-10-2021`, `/23-01-2022-title`.
static URL_DATE_DAY_FIRST: LazyLock<Regex> =
    LazyLock::new(|| rx(r"/([0-9]{2})[-.]([0-9]{2})[-.]((?:19|20)[0-9]{2})(?:[/_.-]|$)"));

pub(super) fn dates(cx: &Context<'_>) -> Dates {
    if cx.zone != Tz::UTC {
        return dates_in(cx, cx.zone).0;
    }
    // The site's zone is UTC (or not configured): the page may say its own.
    if let Some(zone) = offset_named(cx).and_then(etc_zone) {
        return dates_in(cx, zone).0;
    }
    let (dates, printed_day) = dates_in(cx, cx.zone);
    match dates
        .published
        .as_deref()
        .zip(printed_day.as_deref())
        .and_then(|(published, day)| offset_to_day(published, day))
        .and_then(etc_zone)
    {
        Some(zone) => dates_in(cx, zone).0,
        None => dates,
    }
}

/// The page's dates, zone-less ones read in `zone` and UTC instants given in it; and
/// the first day the page prints (labelled, in a date box or after the headline),
/// when the metadata left the question open.
fn dates_in(cx: &Context<'_>, zone: Tz) -> (Dates, Option<String>) {
    let cx = &Context { zone, ..*cx };
    let day_first = !us_english(cx.html, cx.meta);
    let mut never = HashMap::new();
    // The page's printed lines: read only when the metadata leaves a question open.
    let lines = std::cell::OnceCell::new();
    let labelled = |label: &Regex, never: &mut HashMap<ego_tree::NodeId, bool>| {
        let lines: &Vec<Line> = lines.get_or_init(|| printed_lines(cx, never));
        lines.iter().find_map(|Line { text: line, .. }| {
            let m = label.find(line)?;
            let rest = &line[m.end()..];
            find_printed_date(rest, cx.zone, day_first)
                .filter(|(_, at)| *at <= 24)
                .map(|(d, _)| d)
                .or_else(|| cx.fetched.and_then(|f| relative_date(rest, f, cx.zone)))
        })
    };

    let updated = cx
        .meta
        .ld_text("dateModified")
        .or_else(|| {
            cx.meta
                .tag(&[
                    "article:modified_time",
                    "og:updated_time",
                    "dcterms.modified",
                    "last-modified",
                ])
                .map(str::to_string)
        })
        .and_then(|d| parse_date(&d, cx.zone))
        .or_else(|| microdata(cx, &MICRODATA_MODIFIED));

    let structured = cx
        .meta
        .ld_text("datePublished")
        .or_else(|| cx.meta.ld_text("dateCreated"))
        .into_iter()
        .chain(cx.meta.tag(&STRUCTURED_TAGS).map(str::to_string))
        .find_map(|d| parse_date(&d, cx.zone));
    // The cheap signals: when two agree and none disagrees, the page has said it.
    let cheap = [
        structured,
        any_meta_date(cx),
        microdata(cx, &MICRODATA),
        url_date(cx, day_first),
    ];
    let named: Vec<&String> = cheap.iter().flatten().collect();
    if named.len() >= 2 && named.iter().all(|d| d.get(..10) == named[0].get(..10)) {
        let published = most_named_day(&cheap);
        // Unless it is a UTC instant near midnight, which the site's zone cannot place
        // on a day (further from midnight, the offsets of Europe and the Americas keep
        // UTC's day, and the long path walks the page's text: not for every page).
        if zone != Tz::UTC || !published.as_deref().is_some_and(utc_near_midnight) {
            return (Dates { published, updated }, None);
        }
    }
    let boxes = std::cell::OnceCell::new();
    let updated = updated
        .or_else(|| labelled(&UPDATED_LABEL, &mut never))
        .or_else(|| {
            let boxes = boxes.get_or_init(|| date_boxes(cx, &mut never));
            box_date(cx, &boxes.update, day_first, true)
        });
    // Every signal of the page; the day most of them name wins (a stale or wrong one
    // is outvoted). Ties go to what the page says in words beside its headline (a
    // labelled line, a `<time>`), then to the metadata, then to the rest.
    let [structured, any_meta, microdata, url] = cheap;
    let signals = [
        labelled(&PUBLISHED_LABEL, &mut never),
        time_element(cx, &mut never),
        structured,
        any_meta,
        microdata,
        url,
        box_date(
            cx,
            &boxes.get_or_init(|| date_boxes(cx, &mut never)).publication,
            day_first,
            false,
        ),
        after_headline(
            lines.get_or_init(|| printed_lines(cx, &mut never)),
            cx,
            day_first,
        ),
    ];
    tracing::trace!(?signals, ?updated, %zone, "date signals");
    // A page that only says when it was updated was published no later; that is
    // surer than a date in the page's scripts, which may be any object's.
    let published = most_named_day(&signals)
        .or_else(|| dateline(cx, day_first))
        .or_else(|| updated.clone())
        .or_else(|| script_date(cx));
    let printed_day = [&signals[0], &signals[6], &signals[7]]
        .into_iter()
        .flatten()
        .next()
        .cloned();
    (Dates { published, updated }, printed_day)
}

/// How far (whole hours) from UTC the page's own dates say it is: the first offset
/// other than UTC that one of its machine-readable dates carries.
fn offset_named(cx: &Context<'_>) -> Option<i32> {
    const KEYS: [&str; 8] = [
        "article:published_time",
        "article:modified_time",
        "og:published_time",
        "og:updated_time",
        "date",
        "dcterms.date",
        "dc.date",
        "pubdate",
    ];
    ["datePublished", "dateModified", "dateCreated"]
        .iter()
        .filter_map(|key| cx.meta.any_ld_text(key))
        .chain(
            KEYS.iter()
                .filter_map(|key| cx.meta.tag(&[key]).map(str::to_string)),
        )
        .filter_map(|d| parse_date(&d, Tz::UTC))
        .filter_map(|d| DateTime::parse_from_rfc3339(&d).ok())
        .map(|d| d.offset().local_minus_utc())
        .find(|seconds| *seconds != 0)
        .filter(|seconds| seconds % 3600 == 0)
        .map(|seconds| seconds / 3600)
}

/// The smallest whole-hour offset that puts an instant on the day the page prints
/// (a CMS that stores local midnight as `23:00Z`), from the Americas' (UTC-8) to
/// eastern Australia's (UTC+11): further out, a printed day that disagrees is more
/// likely another date than another zone.
fn offset_to_day(instant: &str, day: &str) -> Option<i32> {
    let at = utc_instant(instant)?;
    let day = chrono::NaiveDate::parse_from_str(day.get(..10)?, "%Y-%m-%d").ok()?;
    if at.date_naive() == day {
        return None;
    }
    (1..=11)
        .flat_map(|h| [h, -h])
        .filter(|h| *h >= -8)
        .find(|h| (at + chrono::Duration::hours(i64::from(*h))).date_naive() == day)
}

/// A date that is an instant at UTC (not a day, which reads as midnight).
fn utc_instant(date: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(date)
        .ok()
        .filter(|at| at.offset().local_minus_utc() == 0 && at.time() != chrono::NaiveTime::MIN)
}

/// A UTC instant within five hours of midnight.
fn utc_near_midnight(date: &str) -> bool {
    utc_instant(date).is_some_and(|at| !(5..19).contains(&chrono::Timelike::hour(&at)))
}

/// The fixed zone `hours` east of UTC (`Etc/GMT-2` is UTC+2).
fn etc_zone(hours: i32) -> Option<Tz> {
    format!("Etc/GMT{:+}", -hours).parse().ok()
}

/// The signal whose day most signals name; among equals, the first, preferring one
/// that also tells the time of day.
fn most_named_day(signals: &[Option<String>]) -> Option<String> {
    let day = |d: &String| d.get(..10).unwrap_or(d).to_string();
    let votes = |d: &String| {
        signals
            .iter()
            .flatten()
            .filter(|o| day(o) == day(d))
            .count()
    };
    let most = signals.iter().flatten().map(votes).max()?;
    let winners: Vec<&String> = signals
        .iter()
        .flatten()
        .filter(|d| votes(d) == most)
        .collect();
    let first = winners.first()?;
    let timed = winners
        .iter()
        .filter(|d| day(d) == day(first))
        .find(|d| d.get(11..19).is_some_and(|t| t != "00:00:00"));
    timed.or(Some(first)).map(|d| d.to_string())
}

/// A publication date under another name: a meta tag whose name says so
/// (`shareaholic:article_published_time`), or `datePublished` of any JSON-LD object
/// (a `WebPage`).
fn any_meta_date(cx: &Context<'_>) -> Option<String> {
    let mut keys: Vec<(&String, &String)> = cx
        .meta
        .tags
        .iter()
        .filter(|(k, _)| {
            [
                "published_time",
                "publish_date",
                "date_published",
                "publication_date",
                "pub_date",
                "publishdate",
            ]
            .iter()
            .any(|suffix| k.ends_with(suffix))
        })
        .collect();
    keys.sort();
    keys.into_iter()
        .find_map(|(_, v)| parse_date(v, cx.zone))
        .or_else(|| {
            cx.meta
                .any_ld_text("datePublished")
                .and_then(|d| parse_date(&d, cx.zone))
        })
}

/// Whether the page is in American English (month first in numeric dates).
fn us_english(html: &Html, meta: &Meta) -> bool {
    let lang = html
        .root_element()
        .value()
        .attr("lang")
        .or_else(|| meta.tag(&["og:locale", "language", "content-language"]))
        .unwrap_or_default()
        .to_ascii_lowercase()
        .replace('_', "-");
    lang == "en-us" || lang == "en"
}

/// `itemprop=datePublished` (or a modification date): its `content`, `datetime` or
/// text.
fn microdata(cx: &Context<'_>, selector: &Selector) -> Option<String> {
    cx.html.select(selector).find_map(|el| {
        let v = el.value();
        v.attr("content")
            .or_else(|| v.attr("datetime"))
            .map(str::to_string)
            .or_else(|| Some(element_text(el)))
            .and_then(|d| parse_date(&d, cx.zone))
    })
}

/// How near the headline an element stands: after it, or before it (a date line
/// above the headline) when it shows no time of day, counted `ABOVE_WEIGHT` times
/// as far; never in the page's header or navigation. On a page without a headline,
/// document order.
fn rank(cx: &Context<'_>, el: ElementRef<'_>, text: &str) -> Option<usize> {
    if in_page_chrome(el) {
        return None;
    }
    let at = cx.order.of(el);
    match cx.headline {
        None => Some(at),
        Some(h) if at > h => Some(at - h),
        Some(h) if may_stand_above(h - at, text) => Some(ABOVE_WEIGHT * (h - at)),
        Some(_) => None,
    }
}

/// How much further a date line above the headline stands than one the same number
/// of elements after it: the story's date is more often below its headline, but a
/// line just above it is nearer than another story's teaser far below.
const ABOVE_WEIGHT: usize = 4;
/// How many elements before the headline a date line may stand.
const BEFORE_HEADLINE: usize = 40;
/// A date line this close above the headline may show a time of day.
const JUST_ABOVE: usize = 4;

/// Whether a date line `distance` elements above the headline may be the story's: a
/// render-time clock shows the time of day, and stands further up, in the top bar, or
/// names the day of the week ("Sun, December 3, 2023 | 20:48").
fn may_stand_above(distance: usize, text: &str) -> bool {
    distance <= BEFORE_HEADLINE
        && (!CLOCK.is_match(text) || (distance <= JUST_ABOVE && !names_weekday(text)))
}
/// A time of day: what a render-time clock shows.
static CLOCK: LazyLock<Regex> = LazyLock::new(|| rx(r"(?-u:\b)[0-9]{1,2}:[0-9]{2}(?-u:\b)"));

/// The `<time>` (or an element with a machine date in `datetime`, `title` or
/// `content`, as `<abbr class="published" title="...">`) nearest the headline, outside
/// comments and boxes of other stories.
fn time_element(cx: &Context<'_>, never: &mut HashMap<ego_tree::NodeId, bool>) -> Option<String> {
    let mut found: Vec<(usize, String)> = cx
        .html
        .select(&TIME)
        .chain(cx.html.select(&MACHINE_DATES))
        .filter_map(|t| {
            let v = t.value();
            let date = v
                .attr("datetime")
                .or_else(|| v.attr("content"))
                .or_else(|| v.attr("title"))
                .and_then(|d| parse_date(d, cx.zone))
                .or_else(|| {
                    (v.name() == "time")
                        .then(|| find_printed_date(&element_text(t), cx.zone, true))
                        .flatten()
                        .map(|(d, _)| d)
                })?;
            Some((rank(cx, t, "")?, t, date))
        })
        .filter(|(_, t, _)| !marks_update(*t) && !in_never_story(*t, never))
        .map(|(r, _, d)| (r, d))
        .collect();
    found.sort_by_key(|(r, _)| *r);
    found.into_iter().next().map(|(_, d)| d)
}

/// The date a paragraph of the story's opening opens with: a dateline ("BERLIN,
/// 21. November 2022 –", "(21.11.2022)"), when nothing else dates the page. A date
/// further into a paragraph is something the story tells of.
fn dateline(cx: &Context<'_>, day_first: bool) -> Option<String> {
    const OPENING: usize = 3;
    const DATELINE: usize = 30;
    cx.body
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .take(OPENING)
        .find_map(|p| {
            let head: String = p.chars().take(DATELINE + 40).collect();
            find_printed_date(&head, cx.zone, day_first)
                .filter(|(_, at)| head[..*at].chars().count() <= DATELINE)
                .map(|(d, _)| d)
        })
}

/// A publication date an application's script state carries (`"published_at":
/// "..."` in a page's hydration JSON), for pages that print theirs with JavaScript.
static SCRIPT_DATE: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r#"\\?"(?:datePublished|date_published|published_at|publishedAt|publishDate|publish_date|"#,
        r#"publicationDate|publication_date|publication_time|firstPublished(?:At|Date)?|first_published_at)"#,
        r#"\\?"\s*:\s*\\?"([0-9][^"\\]{7,34})\\?""#,
    ))
});
static SCRIPTS: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(r#"script:not([type="application/ld+json"])"#).expect("valid selector")
});

/// The first publication date in the page's scripts; only when nothing else dates it.
fn script_date(cx: &Context<'_>) -> Option<String> {
    cx.html.select(&SCRIPTS).find_map(|script| {
        let text: String = script.text().collect();
        SCRIPT_DATE
            .captures_iter(&text)
            .find_map(|c| parse_date(&c[1], cx.zone))
    })
}
/// A full date in the URL's path: year first, or a path segment that opens with a
/// day-first (or, on American pages, month-first) date.
fn url_date(cx: &Context<'_>, day_first: bool) -> Option<String> {
    let path = cx.url.path();
    if let Some(c) = URL_DATE.captures(path) {
        return parse_date(&format!("{}-{}-{}", &c[1], &c[2], &c[3]), cx.zone);
    }
    let c = URL_DATE_DAY_FIRST.captures(path)?;
    let (a, b): (u32, u32) = (c[1].parse().ok()?, c[2].parse().ok()?);
    let (day, month) = if a > 12 || (day_first && b <= 12) {
        (a, b)
    } else {
        (b, a)
    };
    parse_date(&format!("{}-{month:02}-{day:02}", &c[3]), cx.zone)
}

/// The page's date-named boxes (`post-date`, `entry-meta`, `datum`), nearest the
/// headline first, their text: those of the publication, and those that hold only
/// the update date (`modified-time`). One pass over the page for both.
#[derive(Default)]
struct DateBoxes {
    publication: Vec<(usize, String)>,
    update: Vec<(usize, String)>,
}

fn date_boxes(cx: &Context<'_>, never: &mut HashMap<ego_tree::NodeId, bool>) -> DateBoxes {
    let mut boxes = DateBoxes::default();
    for el in cx.html.select(&DATE_BOXES) {
        let words = box_words(el);
        if !DATE_WORDS.is_match(&words) || links_away(cx, el) {
            continue;
        }
        let Some(text) = short_text(el, 200) else {
            continue;
        };
        let Some(rank) = rank(cx, el, &text) else {
            continue;
        };
        if in_never_story(el, never) {
            continue;
        }
        let list = if update_only(&words) {
            &mut boxes.update
        } else {
            &mut boxes.publication
        };
        list.push((rank, text));
    }
    boxes.publication.sort_by_key(|(r, _)| *r);
    boxes.update.sort_by_key(|(r, _)| *r);
    boxes
}

/// The date printed in the nearest of `boxes` that prints one; in a publication box,
/// one no update label names.
fn box_date(
    cx: &Context<'_>,
    boxes: &[(usize, String)],
    day_first: bool,
    update: bool,
) -> Option<String> {
    boxes.iter().find_map(|(_, text)| {
        let printed = if update {
            find_printed_date(text, cx.zone, day_first).map(|(d, _)| d)
        } else {
            published_in(text, cx, day_first)
        };
        printed.or_else(|| cx.fetched.and_then(|f| relative_date(text, f, cx.zone)))
    })
}

/// Whether the element is a link to another page (a date in a link's text is that
/// document's: "Nr. 34 vom 8. November 2021").
fn links_away(cx: &Context<'_>, el: ElementRef<'_>) -> bool {
    el.value().name() == "a"
        && el
            .value()
            .attr("href")
            .and_then(|href| cx.url.join(href.trim()).ok())
            .is_some_and(|to| to.path() != cx.url.path() || to.host() != cx.url.host())
}

/// The first date printed in the page's text after the headline, near it; else one
/// printed on the lines just above it, when they show no time of day.
fn after_headline(lines: &[Line], cx: &Context<'_>, day_first: bool) -> Option<String> {
    let h = cx.headline?;
    let lines: Vec<(usize, &str)> = lines
        .iter()
        .filter(|l| !l.update)
        .map(|l| (l.at, l.text.as_str()))
        .collect();
    let mut near = String::new();
    for (_, line) in lines.iter().filter(|(at, _)| *at > h) {
        near.push_str(line);
        near.push('\n');
        if near.len() > 1_500 {
            break;
        }
    }
    if let Some(date) = published_in(&near, cx, day_first) {
        return Some(date);
    }
    let above: Vec<&(usize, &str)> = lines
        .iter()
        .filter(|(at, _)| *at < h && h - *at <= BEFORE_HEADLINE)
        .collect();
    above
        .iter()
        .rev()
        .filter(|(at, line)| may_stand_above(h - at, line))
        .find_map(|(_, line)| published_in(line, cx, day_first))
}

/// The first date printed in `text` that an update label ("Updated", "Zuletzt
/// aktualisiert") does not name.
fn published_in(text: &str, cx: &Context<'_>, day_first: bool) -> Option<String> {
    let mut from = 0;
    while let Some((date, span)) = printed_date_span(&text[from..], cx.zone, day_first) {
        let at = from + span.start;
        let mut reach = at.saturating_sub(UPDATE_REACH);
        while !text.is_char_boundary(reach) {
            reach += 1;
        }
        let before = &text[reach..at];
        let updated = UPDATED_LABEL
            .find_iter(before)
            .any(|m| before[m.end()..].trim().is_empty());
        if !updated {
            return Some(date);
        }
        from += span.end;
    }
    None
}
/// How far before a date its update label may stand.
const UPDATE_REACH: usize = 32;

/// Whether the element holds when the story was updated rather than published (a
/// WordPress `<time class="updated published">` holds both).
fn marks_update(el: ElementRef<'_>) -> bool {
    update_only(&box_words(el))
}

/// Whether box words name an update date and no publication.
fn update_only(words: &str) -> bool {
    UPDATE_WORDS.is_match(words) && !PUBLISHED_WORDS.is_match(words)
}
static PUBLISHED_WORDS: LazyLock<Regex> =
    LazyLock::new(|| rx(r"(?i-u)publi|created|posted|erstellt"));

/// The page's text nodes outside comments and never-shown elements, with the position
/// of the element holding each.
fn printed_lines(cx: &Context<'_>, never: &mut HashMap<ego_tree::NodeId, bool>) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for node in cx.html.tree.root().descendants() {
        let Node::Text(text) = node.value() else {
            continue;
        };
        let text = text.trim();
        if text.is_empty() || text.len() > 400 {
            continue;
        }
        let Some(parent) = node.parent().and_then(ElementRef::wrap) else {
            continue;
        };
        if parent
            .ancestors()
            .filter_map(ElementRef::wrap)
            .chain(std::iter::once(parent))
            .any(|a| never_text(a.value().name()))
            || in_never_story(parent, never)
        {
            continue;
        }
        // A label and its date often sit in sibling elements: join a short label to
        // the text after it.
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        match out.last_mut() {
            Some(last) if last.text.chars().count() < 30 && is_label_only(&last.text) => {
                last.text.push(' ');
                last.text.push_str(&line);
            }
            _ => out.push(Line {
                at: cx.order.of(parent),
                text: line,
                update: marks_update(parent),
            }),
        }
    }
    out
}

/// A line of the page's text.
struct Line {
    /// The position of the element holding it.
    at: usize,
    text: String,
    /// Whether that element marks an update date (`<time class="updated">`).
    update: bool,
}

/// A line that is only a label ("Posted :", "Veröffentlicht am").
fn is_label_only(line: &str) -> bool {
    [&*PUBLISHED_LABEL, &*UPDATED_LABEL].iter().any(|l| {
        l.find(line)
            .is_some_and(|m| m.start() == 0 && m.end() == line.len())
    })
}

/// Whether an element sits in the page's navigation or in a header outside the
/// story (where a site prints today's date).
fn in_page_chrome(el: ElementRef<'_>) -> bool {
    // Walking up: a header or footer counts unless an article or main holds it.
    let mut pending_header = false;
    for a in el.ancestors().filter_map(ElementRef::wrap) {
        match a.value().name() {
            "nav" | "aside" => return true,
            "header" | "footer" => pending_header = true,
            "article" | "main" => pending_header = false,
            _ => {}
        }
    }
    pending_header
}
