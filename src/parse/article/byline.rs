//! Who wrote the story: the JSON-LD author (people before organizations), the
//! author meta tags, then the page's byline: a line that reads "By ..." ("Von ...",
//! "Par ...", "Posted by ...") or an author-named box near the headline, never one in
//! comments, comment forms or author biographies; else a line beside the headline
//! that is only a date and a name, or an emphasized name that closes the story.
//!
//! Invariant: what comes back is a list of names as the page spells them: without
//! "By" and its kin in other languages, roles, e-mail addresses, dates and links;
//! a line that does not read as names (a printed name capitalizes every word but its
//! particles) gives no authors rather than a wrong one.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;
use url::Url;

use super::boxes::{box_words, in_never_story};
use super::credit::{extends, spelled, without_codes, without_site_word, HOST_NAME};
use super::meta::{text_of, Meta, JSON_LD};
use super::names::{clean_authors, dedupe, names_in, plausible, BY_PREFIX};
use super::order::Order;
use super::text::{short_text, squash};
use super::title::{fold, site_names};
use crate::parse::dates::{is_date_word, printed_date_span};
use crate::parse::rx::{rx, try_rx};

static BYLINE_BOXES: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(concat!(
        r#"[itemprop~="author"], [rel~="author"], [class*="byline"], [class*="Byline"], [class*="author"], [class*="Author"], "#,
        r#"[class*="autor"], [class*="Autor"], [class*="writer"], [class*="reporter"], [class*="contributor"], [class*="Contributor"], "#,
        r#"[class*="verfasser"], [id*="author"], [data-component="byline-block"], .field--name-uid, a[href*="/author/"], a[href*="/autor/"], byline"#,
    ))
    .expect("valid selector")
});
static BY_CANDIDATES: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse("p, span, div, address, li, a, em, strong, small, time, byline")
        .expect("valid selector")
});
/// Where a byline's label may stand alone ("<h5>Autor:</h5> Jane Doe"): a heading or
/// a term names what follows, it does not open a sentence.
static LABEL_CANDIDATES: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse("p, span, div, li, em, strong, b, small, dt, th, h2, h3, h4, h5, h6")
        .expect("valid selector")
});
/// A link to a person's page on the site.
static PROFILE_LINK: LazyLock<Selector> = LazyLock::new(|| {
    Selector::parse(concat!(
        r#"a[href*="author"], a[href*="autor"], a[href*="profil"], a[href*="people"], a[href*="person"], "#,
        r#"a[href*="staff"], a[href*="journalist"], a[href*="contributor"], a[href*="writer"], a[href*="user"]"#,
    ))
    .expect("valid selector")
});
static NAME_INSIDE: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse(r#"[itemprop~="name"]"#).expect("valid selector"));

/// A line that starts, after at most 25 signs that are no letters ("— ", "|"), with
/// "By" and kin, then a capital or a name of one word. The signs are skipped in code:
/// a Unicode class repeated 25 times in the pattern makes an automaton of over a
/// megabyte, kept for the life of the process.
fn reads_by(line: &str) -> bool {
    let start = line.find(char::is_alphabetic).unwrap_or(line.len());
    line[..start].chars().count() <= 25 && READS_BY.is_match(&line[start..])
}
static READS_BY: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i)^(?:(?:(?:posted|written|published|reported)\s+by|by|von|vom|par|por|door|przez|autoren|authors",
        r"|(?:veröffentlicht|eingestellt|geschrieben|verfasst)\s+von|(?:ein\s+)?(?:beitrag|artikel|text)\s+von",
        r"|publié\s+par|écrit\s+par|escrito\s+por|publicado\s+por|scritto\s+da|submitted\s+by|soumis\s+par|gespeichert\s+von)",
        r"(?-u:\b)\s*:?\s*\S|(?:autor(?:in)?|author|auteur|text|redaktion)\s*:\s*\S|(?-i:[Bb]y\p{Lu}))",
    ))
});
/// Author boxes that are not bylines: biographies, lists of an author's stories.
static NOT_BYLINE: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"(?i-u)bio|about|more-by|author-list|authors-list|avatar|comment|kommentar|respond|reply")
});

/// The story's authors: the structured ones, unless they only name the site (a
/// publisher's name as the author of everything) and the page's byline names someone.
pub(super) fn authors(
    html: &Html,
    meta: &Meta,
    url: &Url,
    order: &Order,
    headline: Option<usize>,
    body: &str,
) -> Vec<String> {
    let site: Vec<String> = site_names(meta, url)
        .iter()
        .map(|s| s.replace(' ', ""))
        .filter(|s| s.chars().count() >= 4)
        .collect();
    let without_site_words = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .map(|n| without_site_word(n, &site))
            .collect()
    };
    let declared = without_site_words(
        meta.ld_value("author")
            .map(|v| structured(v, meta))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| meta_authors(meta)),
    );
    // A web address as a name ("example.de") is a publisher too, this one or another.
    let names_site = |name: &String| {
        let n = fold(name).replace(' ', "");
        HOST_NAME.is_match(name)
            || site
                .iter()
                .any(|s| n.contains(s.as_str()) || s.contains(n.as_str()))
    };
    // A list that opens with the publisher is the publisher's (its name and address).
    let publisher = |names: &[String]| names.first().is_some_and(names_site);
    // "Rob Picheta, CNN": the publisher named after a person is not an author.
    let people = |names: Vec<String>| -> Vec<String> {
        if publisher(&names) {
            return names;
        }
        names.into_iter().filter(|n| !names_site(n)).collect()
    };
    // A login handle ("jane.doe", "janedoe") is a name the CMS keeps, not the one the
    // page prints: a byline that spells a name wins over it.
    let handles = |names: &[String]| {
        names
            .iter()
            .all(|n| !n.contains(char::is_whitespace) && !n.chars().any(char::is_uppercase))
    };
    let byline = std::cell::OnceCell::new();
    let byline = || {
        byline.get_or_init(|| without_site_words(without_codes(page_byline(html, order, headline))))
    };
    if !declared.is_empty() && !publisher(&declared) {
        if handles(&declared) && !byline().is_empty() && byline().iter().all(|n| spelled(n)) {
            return with_surnames(people(byline().clone()), html);
        }
        // Structured data that credits the first author alone: a credit line that names
        // them and more is the whole list.
        let fuller = [meta_authors(meta), creators(meta), byline().clone()]
            .into_iter()
            .find(|other| extends(other, &declared) && other.iter().all(|n| spelled(n)));
        return with_surnames(people(fuller.unwrap_or(declared)), html);
    }
    let byline = byline().clone();
    if !byline.is_empty() {
        return with_surnames(people(byline), html);
    }
    if !declared.is_empty() {
        return declared;
    }
    // A forum thread: the author of its first post.
    html.select(&DATA_AUTHOR)
        .filter_map(|el| el.value().attr("data-author"))
        .map(|a| names_in(a, true))
        .find(|a| !a.is_empty())
        .unwrap_or_else(|| people(signature(html, body)))
}

static EMPHASIS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("strong, b, em, i").expect("valid selector"));

/// A story signed at its end: its closing paragraph is only a name, set in bold or
/// italics (`<p><strong>Marina Mucha</strong></p>`), as magazines and agencies sign.
fn signature(html: &Html, body: &str) -> Vec<String> {
    let Some(last) = body.rsplit("\n\n").map(str::trim).find(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let words: Vec<&str> = last.split_whitespace().collect();
    let reads_as_name = (2..=3).contains(&words.len())
        && last.chars().count() <= 40
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase) && w.chars().all(char::is_alphabetic)
        });
    if !reads_as_name || !html.select(&EMPHASIS).any(|e| spaced_text(e) == last) {
        return Vec::new();
    }
    names_in(last, false)
}

/// The JSON-LD article's `creator` list, which some publishers fill in full when
/// their `author` holds the first name only.
fn creators(meta: &Meta) -> Vec<String> {
    meta.ld_value("creator")
        .map(|v| structured(v, meta))
        .unwrap_or_default()
}

static DATA_AUTHOR: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("[data-author]").expect("valid selector"));

/// Names of a JSON-LD author value: people first; organizations only when no person
/// is named. An author given by reference (`{"@id": ...}`) is the graph's node of
/// that id.
fn structured(value: &Value, meta: &Meta) -> Vec<String> {
    let mut people = Vec::new();
    let mut organizations = Vec::new();
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for item in items {
        let item = match item.get("@id").and_then(Value::as_str) {
            Some(id) if item.get("name").is_none() => meta.ld_node(id).unwrap_or(item),
            _ => item,
        };
        let is_org = item
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.contains("Organization"));
        let Some(name) = text_of(item) else { continue };
        if name.starts_with("http") {
            continue;
        }
        let names = clean_authors(&name);
        if is_org {
            organizations.extend(names);
        } else {
            people.extend(names);
        }
    }
    let names = if people.is_empty() {
        organizations
    } else {
        people
    };
    dedupe(names.into_iter().filter(|n| plausible(n, true)).collect())
}

/// Authors named in meta tags (URLs, as Facebook's `article:author` holds, are not
/// names).
fn meta_authors(meta: &Meta) -> Vec<String> {
    let written_by = meta
        .tag(&["twitter:label1"])
        .is_some_and(|l| BY_PREFIX.find(l).is_some_and(|m| m.end() == l.len()))
        .then(|| meta.tag(&["twitter:data1"]))
        .flatten();
    [
        "author",
        "byl",
        "article:author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
        "dcterms.creator",
        "citation_author",
    ]
    .iter()
    .filter_map(|k| meta.tag(&[k]))
    .chain(written_by)
    .filter(|v| !v.starts_with("http"))
    .map(|v| names_in(v, true))
    .find(|a| !a.is_empty())
    .unwrap_or_default()
}

/// The page's byline: a "By ..." line, else an author-named box; the one nearest after
/// the headline, else the first on the page.
fn page_byline(html: &Html, order: &Order, headline: Option<usize>) -> Vec<String> {
    let mut never = HashMap::new();
    let mut usable = |el: ElementRef<'_>| !in_never_story(el, &mut never) && !in_form_or_chrome(el);
    let reads_by = |el: &ElementRef<'_>| short_text(*el, 160).is_some_and(|t| reads_by(&t));
    let mut by_lines: Vec<(usize, Vec<String>)> = html
        .select(&LABEL_CANDIDATES)
        .filter(|el| short_text(*el, 30).is_some_and(|t| BY_LABEL.is_match(&t)) && usable(*el))
        .filter_map(|el| {
            let next = text_after(el, 80)?;
            Some((order.of(el), names_in(&next, false)))
        })
        .filter(|(_, names)| !names.is_empty())
        .collect();
    by_lines.extend(
        html.select(&BY_CANDIDATES)
            .filter(|el| reads_by(el))
            // The innermost such element: its parent may run the name into a role line.
            .filter(|el| {
                !el.select(&BY_CANDIDATES)
                    .any(|d| d.id() != el.id() && reads_by(&d))
            })
            .filter(|el| usable(*el))
            .map(|el| (order.of(el), names_in(&spaced_text(el), false)))
            .filter(|(_, names)| !names.is_empty()),
    );
    if let Some(found) = nearest(&mut by_lines, headline) {
        return found;
    }
    let mut boxes: Vec<(usize, Vec<String>)> = html
        .select(&BYLINE_BOXES)
        .filter(|el| !NOT_BYLINE.is_match(&box_words(*el)) && usable(*el))
        .filter_map(|el| {
            // A box that also holds more (a rating, a teaser) names its author in its
            // link to the author's page.
            let text = el
                .select(&NAME_INSIDE)
                .next()
                .map(spaced_text)
                .unwrap_or_else(|| spaced_text(el));
            let text = if text.chars().count() < 120 {
                text
            } else {
                el.select(&PROFILE_LINK)
                    .next()
                    .map(spaced_text)
                    .unwrap_or_default()
            };
            (!text.is_empty() && text.chars().count() < 120).then(|| (order.of(el), text))
        })
        .map(|(at, text)| (at, names_in(&text, false)))
        .filter(|(_, names)| !names.is_empty())
        .collect();
    nearest(&mut boxes, headline)
        .or_else(|| dated_credit(html, order, headline?))
        .unwrap_or_default()
}

/// How many elements from the headline a dated credit line may stand.
const CREDIT_REACH: usize = 8;
static CREDIT_CANDIDATES: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("p, small, span, div").expect("valid selector"));
/// A time of day and what goes with it ("13:10 Uhr"), and the separators of a credit
/// line.
static TIME_AND_SEPARATORS: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"(?i)[0-9]{1,2}[:.][0-9]{2}(?:\s*(?:uhr|h|am|pm))?|(?:^|\s)[|·•–—-](?:\s|$)")
});

/// A person's name as a credit line prints it: two or three capitalized words one
/// space apart, the first a name, the others names or initials ("J."); a name may be
/// hyphenated ("Lange-Fricke"). Read in code: as a regex, its Unicode letter classes
/// made an automaton of 400 KB, and a cache as large on every thread.
fn is_person(line: &str) -> bool {
    let lower = |c: char| c.is_lowercase() || c == '\'';
    // A capitalized word, then words after hyphens that start with a letter.
    let name = |word: &str| {
        let mut parts = word.split('-');
        let first = parts.next().unwrap_or_default();
        let mut chars = first.chars();
        chars.next().is_some_and(char::is_uppercase)
            && first.chars().count() >= 2
            && chars.all(lower)
            && parts.all(|part| {
                let mut chars = part.chars();
                chars.next().is_some_and(char::is_alphabetic) && chars.all(lower)
            })
    };
    let initial = |word: &str| {
        let mut chars = word.chars();
        chars.next().is_some_and(char::is_uppercase) && chars.as_str() == "."
    };
    let words: Vec<&str> = line.split(char::is_whitespace).collect();
    (2..=3).contains(&words.len())
        && name(words[0])
        && words[1..].iter().all(|w| initial(w) || name(w))
}

/// A line beside the headline that is only a date and a name ("11.12.2019 - Amelie
/// Loevenich", "04.02.2022 | 13:10 Uhr | Uta Helkenberg"): the name is the author's.
fn dated_credit(html: &Html, order: &Order, headline: usize) -> Option<Vec<String>> {
    html.select(&CREDIT_CANDIDATES)
        .filter(|el| order.of(*el).abs_diff(headline) <= CREDIT_REACH)
        .filter_map(|el| short_text(el, 80))
        .find_map(|line| {
            let (_, span) = printed_date_span(&line, chrono_tz::Tz::UTC, true)?;
            let rest = line[span.end..].trim_start();
            // The date opens the line and a separator follows it (or its time).
            let separated = TIME_AND_SEPARATORS
                .find(rest)
                .is_some_and(|m| m.start() == 0);
            if span.start != 0 || !separated {
                return None;
            }
            let name = squash(&TIME_AND_SEPARATORS.replace_all(rest, " "));
            is_person(&name)
                .then(|| names_in(&name, false))
                .filter(|n| n.len() == 1)
        })
}

/// The candidate nearest after the headline, else the first.
fn nearest(found: &mut [(usize, Vec<String>)], headline: Option<usize>) -> Option<Vec<String>> {
    found.sort_by_key(|(at, _)| *at);
    let after = headline.and_then(|h| found.iter().find(|(at, _)| *at > h));
    after.or(found.first()).map(|(_, names)| names.clone())
}

/// Whether an element sits in a form (a comment form's "Name" label), in the page's
/// navigation, or in the page's footer (an article's own footer may hold its byline).
fn in_form_or_chrome(el: ElementRef<'_>) -> bool {
    let ancestors: Vec<ElementRef<'_>> = el.ancestors().filter_map(ElementRef::wrap).collect();
    ancestors
        .iter()
        .enumerate()
        .any(|(i, a)| match a.value().name() {
            "form" | "nav" | "label" | "button" => true,
            "footer" => !ancestors[i + 1..]
                .iter()
                .any(|s| matches!(s.value().name(), "article" | "main")),
            _ => false,
        })
}

/// A byline's label alone in its element ("By", "Von:", "Autor:"), its names in the
/// next.
static BY_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i)^(?:(?:by|von|par|por|door|autor(?:in)?|author|auteur|text|written by|posted by)\s*:?|redaktion\s*:)$",
    )
});

/// The text that follows an element in document order, up to `max` characters.
fn text_after(el: ElementRef<'_>, max: usize) -> Option<String> {
    let mut out = String::new();
    let mut node = *el;
    // Past the element's own subtree: its next sibling, or an ancestor's.
    loop {
        match node.next_sibling() {
            Some(next) => {
                node = next;
                break;
            }
            None => node = node.parent()?,
        }
    }
    let mut current = Some(node);
    while let Some(n) = current {
        for d in n.descendants() {
            if let scraper::Node::Text(t) = d.value() {
                out.push_str(t);
                out.push(' ');
            }
        }
        if squash(&out).chars().count() >= 3 {
            break;
        }
        current = n.next_sibling();
    }
    let text = squash(&out);
    (!text.is_empty() && text.chars().count() <= max).then_some(text)
}

/// An element's text with its text nodes apart ("Veröffentlicht von<a>Chris</a>").
fn spaced_text(el: ElementRef<'_>) -> String {
    squash(&el.text().collect::<Vec<_>>().join(" "))
}

/// Names given as a first name alone ("Nils") completed with the surname the page's
/// structured data gives them (a JSON-LD person's description: "Nils Pickert ist
/// freier Autor"). Not from the visible text: blogs sign with first names, and the
/// word after one there is as often a greeting or a noun as a surname.
fn with_surnames(names: Vec<String>, html: &Html) -> Vec<String> {
    let alone = |n: &String| {
        n.chars().count() >= 3
            && !n.contains(char::is_whitespace)
            && n.chars().next().is_some_and(char::is_uppercase)
            && n.chars().skip(1).all(char::is_lowercase)
    };
    if !names.iter().any(alone) {
        return names;
    }
    let text: String = html
        .select(&JSON_LD)
        .flat_map(|script| script.text())
        .collect::<Vec<_>>()
        .join(" ");
    names
        .into_iter()
        .map(|name| {
            if !alone(&name) {
                return name;
            }
            let Ok(after) = try_rx(&format!(
                r"(?i-u:\b){}\s+(\p{{Lu}}[\p{{L}}'-]+)(?-u:\b)",
                regex::escape(&name)
            )) else {
                return name;
            };
            let mut counts: HashMap<String, usize> = HashMap::new();
            for c in after.captures_iter(&text) {
                let word = &c[1];
                // The surname is spelled as a name or shouted; "Nils ansehen" is not one.
                let spelled = word.chars().skip(1).all(char::is_lowercase)
                    || word.chars().all(|ch| !ch.is_lowercase());
                if spelled && word.chars().count() >= 2 && !is_date_word(word) {
                    *counts.entry(title_case(word)).or_default() += 1;
                }
            }
            let best = counts
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
            match best {
                Some((surname, _)) if plausible(&format!("{name} {surname}"), false) => {
                    format!("{name} {surname}")
                }
                _ => name,
            }
        })
        .collect()
}

/// "STEINHAU" as "Steinhau"; "Pickert" as it is.
fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_two_or_three_capitalized_words_or_initials() {
        for yes in [
            "Amelie Loevenich",
            "Iris Lange-Fricke",
            "Jane Q. Public",
            "Zoë O'neil",
            "Łukasz Żak",
        ] {
            assert!(is_person(yes), "{yes}");
        }
        for no in [
            "Amelie",
            "Amelie  Loevenich",
            "amelie Loevenich",
            "Amelie Loevenich Bauer Wolf",
            "J. Doe",
            "Anne- Doe",
            "Anne Lange-",
            "AMELIE LOEVENICH",
            "Amelie Loevenich ",
        ] {
            assert!(!is_person(no), "{no}");
        }
    }

    #[test]
    fn words_that_begin_with_by_are_no_byline() {
        assert!(!reads_by("byteify"));
        assert!(reads_by("ByJane Doe"));
        assert!(reads_by("By Jane Doe"));
        assert!(reads_by("— by Jane Doe"));
        assert!(reads_by(&format!("{}By Jane Doe", "-".repeat(25))));
        assert!(!reads_by(&format!("{}By Jane Doe", "-".repeat(26))));
        assert!(!reads_by("-- 12"));
    }

    #[test]
    fn authors_come_from_graph_references_and_translated_written_by_labels() {
        let url = Url::parse("https://news.example/a").unwrap();
        let read = |head: &str| {
            let html =
                Html::parse_document(&format!("<html><head>{head}</head><body></body></html>"));
            let meta = Meta::read(&html);
            authors(&html, &meta, &url, &Order::of_page(&html), None, "")
        };
        let graph = r#"<script type="application/ld+json">{"@graph":[
            {"@type":"NewsArticle","headline":"H","author":{"@id":"https://news.example/#/person/1"}},
            {"@type":"Person","@id":"https://news.example/#/person/1","name":"Jane Doe"}]}</script>"#;
        assert_eq!(read(graph), ["Jane Doe"]);
        let labelled = r#"<meta name="twitter:label1" content="Verfasst von">
            <meta name="twitter:data1" content="Jane Doe">"#;
        assert_eq!(read(labelled), ["Jane Doe"]);
        let reading_time = r#"<meta name="twitter:label1" content="Geschätzte Lesezeit">
            <meta name="twitter:data1" content="3 Minuten">"#;
        assert!(read(reading_time).is_empty());
    }

    #[test]
    fn publishers_codes_and_partial_credits_give_way_to_the_people() {
        let url = Url::parse("https://newssite.example/a").unwrap();
        let read = |head: &str, body: &str| {
            let html = Html::parse_document(&format!(
                "<html><head>{head}</head><body><h1>Headline</h1>{body}</body></html>"
            ));
            let meta = Meta::read(&html);
            authors(&html, &meta, &url, &Order::of_page(&html), None, "")
        };
        // A web address is a publisher; the byline names the person, not the agency.
        assert_eq!(
            read(
                r#"<meta name="author" content="other-site.de">"#,
                "<byline>Von Jane Doe, dpa</byline>"
            ),
            ["Jane Doe"]
        );
        // The site's name run into the byline goes.
        assert_eq!(
            read("", r#"<p class="byline">By Jane Doe NewsSite</p>"#),
            ["Jane Doe"]
        );
        // Structured data with the first author only: the byline has them all.
        assert_eq!(
            read(
                r#"<meta name="author" content="Jane Doe">"#,
                r#"<p class="byline">By Jane Doe and John Roe</p>"#
            ),
            ["Jane Doe", "John Roe"]
        );
        // An author box that holds more than the name: its link to the author's page.
        let long = "Rated 4 of 5: readers liked this story and said so, at length, in the ratings box below it, twice.";
        assert_eq!(
            read(
                "",
                &format!(
                    r#"<div class="author"><a href="/autoren/jane-doe/">Jane Doe</a>, 21. Jan. 2015 <div>{long}</div></div>"#
                )
            ),
            ["Jane Doe"]
        );
    }

    #[test]
    fn a_first_name_alone_takes_the_surname_the_structured_data_gives() {
        let page = |ld: &str| {
            Html::parse_document(&format!(
                r#"<html><head><script type="application/ld+json">{ld}</script></head>
                <body><p>Nils Hallo, Nils Meinung</p></body></html>"#
            ))
        };
        let described = page(
            r#"{"@type":"Person","name":"Nils","description":"Nils Pickert ist freier Autor"}"#,
        );
        assert_eq!(
            with_surnames(vec!["Nils".into(), "Jane Doe".into()], &described),
            ["Nils Pickert", "Jane Doe"]
        );
        // The visible text's "Nils Hallo" is no surname; without data the name stays.
        let bare = page(r#"{"@type":"Person","name":"Nils"}"#);
        assert_eq!(with_surnames(vec!["Nils".into()], &bare), ["Nils"]);
    }
}
