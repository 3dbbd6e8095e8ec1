//! The story's text: the element whose blocks of prose score highest (readability's
//! vote of paragraphs for their ancestors, weighted against links and chrome), widened
//! to the boxes a story is split into, and its blocks without the chrome inside it;
//! when that finds little, the page's prose wherever it is.
//!
//! Invariant: a page with prose outside chrome never yields an empty body; no block
//! is taken twice; blocks keep the page's order.

use std::collections::HashMap;

use ego_tree::NodeId;
use scraper::{ElementRef, Html};

use super::boxes::{in_never_story, story_words, Boxes};
use super::stock;
use super::text::{self, Block, Mass};

/// Blocks shorter than this (characters other than whitespace) do not vote.
const MIN_VOTER: usize = 25;
/// A body shorter than this is checked against the page's prose outside any box.
const SHORT_BODY: usize = 250;

/// The story's container (where figures are looked for) and its paragraphs.
pub(super) struct Body<'a> {
    pub container: Option<ElementRef<'a>>,
    /// The element of the story's first block.
    pub first: Option<ElementRef<'a>>,
    pub text: String,
}

/// Elements that hold one paragraph's text (their parent is the story's box).
fn paragraph_like(name: &str) -> bool {
    matches!(
        name,
        "p" | "li"
            | "dd"
            | "dt"
            | "td"
            | "th"
            | "blockquote"
            | "pre"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "span"
            | "font"
            | "b"
            | "strong"
            | "em"
            | "i"
    )
}

fn commas(text: &str) -> usize {
    text.chars()
        .filter(|c| matches!(c, ',' | '，' | '、' | '،' | '؛' | ';'))
        .count()
}

pub(super) fn extract_body(doc: &Html) -> Body<'_> {
    let root = doc
        .root_element()
        .children()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "body")
        .unwrap_or_else(|| doc.root_element());
    let blocks = text::blocks(root);
    let mut never = HashMap::new();
    let mass = Mass::of(&blocks, |el| in_never_story(el, &mut never));
    let story = choose_container(&blocks, &mass);
    let container = story.as_ref().map(|s| s.container);
    let mut text = String::new();
    let mut taken = 0;
    let mut first = None;
    if let Some(story) = &story {
        let roots = story_roots(story, &blocks, &mass);
        let mut kept = story_blocks(&blocks, &mass, &roots);
        let lead = lead_blocks(&blocks, &mass, &kept);
        if !lead.is_empty() {
            kept.splice(0..0, lead);
        }
        let kept = without_orphan_headings(&blocks, without_related(&blocks, &mass, kept));
        taken = kept.iter().map(|&i| blocks[i].chars).sum();
        text = join(&blocks, &kept);
        first = kept.first().map(|&i| blocks[i].el);
    }
    tracing::debug!(
        container = ?container.map(|c| (c.value().name(), super::boxes::box_words(c))),
        taken,
        total = mass.total,
        "article body container"
    );
    if taken < SHORT_BODY {
        let wild = wild_blocks(&blocks, &mass);
        let wild = without_orphan_headings(&blocks, without_related(&blocks, &mass, wild));
        let found: usize = wild.iter().map(|&i| blocks[i].chars).sum();
        tracing::debug!(found, "article body: the page's prose outside boxes");
        if found > taken * 2 {
            text = join(&blocks, &wild);
            first = wild.first().map(|&i| blocks[i].el);
        }
    }
    Body {
        container,
        first,
        text,
    }
}

/// The element the page's prose votes for.
fn choose_container<'a>(blocks: &[Block<'a>], mass: &Mass) -> Option<Story<'a>> {
    let mut boxes = Boxes::new(None, mass);
    let mut scores: HashMap<NodeId, (f64, ElementRef<'a>)> = HashMap::new();
    for b in blocks {
        if b.chars < MIN_VOTER || b.link_density() >= 0.5 || boxes.is_chrome(b.el) {
            continue;
        }
        let base = 1.0 + commas(&b.text) as f64 + (b.chars as f64 / 100.0).min(3.0);
        let start = if paragraph_like(b.el.value().name()) {
            b.el.parent().and_then(ElementRef::wrap)
        } else {
            Some(b.el)
        };
        let chain = start
            .into_iter()
            .flat_map(|s| std::iter::once(s).chain(s.ancestors().filter_map(ElementRef::wrap)));
        for (level, el) in chain.take(3).enumerate() {
            if matches!(el.value().name(), "body" | "html") {
                break;
            }
            scores.entry(el.id()).or_insert((0.0, el)).0 += base / (level as f64 + 1.0);
        }
    }
    let weighted: HashMap<NodeId, f64> = scores
        .values()
        .map(|&(score, el)| {
            let weight = (1.0 - mass.link_density(el))
                * match story_words(el) {
                    2 => 1.5,
                    1 => 1.25,
                    _ => 1.0,
                };
            (el.id(), score * weight)
        })
        .collect();
    let best_within = |outer: Option<ElementRef<'a>>| {
        scores
            .values()
            .filter(|&&(_, el)| outer.is_none_or(|o| within(el, o)))
            .map(|&(_, el)| (weighted[&el.id()], el))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    let (mut top, mut container) = best_within(None)?;
    // Stories stacked by an endless scroll: the page's own is the first, when it
    // holds a story's worth of prose.
    if let Some(first) = first_stacked_story(container) {
        if let Some((score, el)) = best_within(Some(first)) {
            if score * 10.0 >= top {
                (top, container) = (score, el);
            }
        }
    }
    // A story split over sibling boxes (a paragraph or three per box): climb to the
    // ancestor holding clearly more of the page's prose, within the story's
    // <article> when there is one.
    let mut best = mass.readable(container);
    let stop_at_article = container
        .ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().name() == "article");
    for ancestor in container.ancestors().filter_map(ElementRef::wrap) {
        let name = ancestor.value().name();
        if matches!(name, "body" | "html") || boxes.is_chrome(ancestor) {
            break;
        }
        let readable = mass.readable(ancestor);
        if readable * 4 >= best * 5 {
            container = ancestor;
            best = readable;
        }
        if stop_at_article && name == "article" {
            break;
        }
    }
    Some(Story {
        container,
        top,
        scores: weighted,
    })
}

/// The first of the page's stacked stories (the innermost `<article>`s with a
/// headline each), when `container` is in a later one or holds several.
fn first_stacked_story(container: ElementRef<'_>) -> Option<ElementRef<'_>> {
    let has_h1 = |a: &ElementRef<'_>| {
        a.descendants()
            .filter_map(ElementRef::wrap)
            .any(|d| d.value().name() == "h1")
    };
    let story = |a: &ElementRef<'_>| {
        a.value().name() == "article"
            && has_h1(a)
            && !a
                .descendants()
                .filter_map(ElementRef::wrap)
                .any(|d| d.id() != a.id() && d.value().name() == "article" && has_h1(&d))
    };
    let root = container.ancestors().filter_map(ElementRef::wrap).last()?;
    let first = root
        .descendants()
        .filter_map(ElementRef::wrap)
        .find(story)?;
    if within(container, first) {
        return None;
    }
    let in_later = container
        .ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| story(&a));
    let holds_several = container
        .descendants()
        .filter_map(ElementRef::wrap)
        .filter(story)
        .nth(1)
        .is_some();
    (in_later || holds_several).then_some(first)
}

/// The chosen container, its score and every element's score.
struct Story<'a> {
    container: ElementRef<'a>,
    top: f64,
    scores: HashMap<NodeId, f64>,
}

/// The container and the siblings that carry the story on (a lead paragraph before
/// the body's box, a second box after it): siblings that scored a fifth of the
/// container, or read as prose.
fn story_roots<'a>(story: &Story<'a>, blocks: &[Block<'a>], mass: &Mass) -> Vec<ElementRef<'a>> {
    let container = story.container;
    let Some(parent) = container.parent().and_then(ElementRef::wrap) else {
        return vec![container];
    };
    if matches!(parent.value().name(), "body" | "html") {
        return vec![container];
    }
    let mut boxes = Boxes::new(None, mass);
    let threshold = (story.top * 0.2).max(10.0);
    parent
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|sibling| {
            if sibling.id() == container.id() {
                return true;
            }
            if boxes.is_chrome(*sibling) || mass.readable(*sibling) == 0 {
                return false;
            }
            if story
                .scores
                .get(&sibling.id())
                .is_some_and(|&s| s >= threshold)
            {
                return true;
            }
            // Prose: a paragraph of some length with few links, or a short one
            // without links that reads as a sentence.
            let prose = |b: &Block<'_>| {
                (b.chars > 80 && b.link_density() < 0.25)
                    || (b.link_chars == 0 && b.text.contains(". "))
            };
            let own: Vec<&Block<'a>> = blocks.iter().filter(|b| within(b.el, *sibling)).collect();
            !own.is_empty() && own.iter().all(|b| prose(b))
        })
        .collect()
}

/// Whether `el` is `container` or inside it.
fn within(el: ElementRef<'_>, container: ElementRef<'_>) -> bool {
    el.id() == container.id() || el.ancestors().any(|a| a.id() == container.id())
}

/// The blocks under the story's roots that a reader takes for the story, by index.
fn story_blocks(blocks: &[Block<'_>], mass: &Mass, roots: &[ElementRef<'_>]) -> Vec<usize> {
    let mut kept = Vec::new();
    for root in roots {
        let mut boxes = Boxes::new(Some(root.id()), mass);
        kept.extend(
            (0..blocks.len())
                .filter(|&i| within(blocks[i].el, *root))
                .filter(|&i| !boxes.is_chrome(blocks[i].el))
                .filter(|&i| keep_block(&blocks[i])),
        );
    }
    // Roots are siblings in document order, and so are the blocks of each.
    kept
}

/// The lead: prose between the headline and the story's first block (a standfirst in
/// the article's header, a teaser box above the body's box), outside chrome.
fn lead_blocks(blocks: &[Block<'_>], mass: &Mass, kept: &[usize]) -> Vec<usize> {
    let Some(&first) = kept.first() else {
        return Vec::new();
    };
    let Some(headline) = (0..first)
        .rev()
        .find(|&i| blocks[i].el.value().name() == "h1")
    else {
        return Vec::new();
    };
    let mut boxes = Boxes::new(None, mass);
    (headline + 1..first)
        .filter(|&i| {
            let b = &blocks[i];
            b.chars >= MIN_VOTER
                && b.link_density() < 0.25
                && !is_heading(b.el.value().name())
                && keep_block(b)
                && !boxes.is_chrome(b.el)
        })
        .collect()
}

/// Prose anywhere on the page outside chrome: the fallback when the container holds
/// little.
fn wild_blocks(blocks: &[Block<'_>], mass: &Mass) -> Vec<usize> {
    let mut boxes = Boxes::new(None, mass);
    (0..blocks.len())
        .filter(|&i| !boxes.is_chrome(blocks[i].el))
        .filter(|&i| keep_block(&blocks[i]))
        .filter(|&i| is_heading(blocks[i].el.value().name()) || blocks[i].chars >= MIN_VOTER)
        .collect()
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h2" | "h3" | "h4" | "h5" | "h6")
}

/// Whether a block of the story's box is the story's text: not the headline, not a
/// list of links.
fn keep_block(b: &Block<'_>) -> bool {
    let name = b.el.value().name();
    if name == "h1" {
        return false;
    }
    let density = b.link_density();
    if matches!(name, "li" | "dd" | "dt" | "td" | "th") && density > 0.3 {
        return false;
    }
    // A paragraph that is a bare address (a source cited, a contact) is the story's,
    // though it is all link.
    let address = name == "p"
        && b.chars <= 120
        && !b.text.contains(' ')
        && (b.text.contains("://") || b.text.starts_with("www.") || b.text.contains('@'));
    (density < 0.5 || address)
        && !stock::is_filing_or_credit(&b.text, b.chars)
        && !stock::is_service_line(&b.text, b.chars)
}

/// Drops the boxes of other stories a story's box holds: from a heading (or short
/// line) that opens one ("Related", "Lesen Sie auch"), the rest of that heading's
/// box when the box is small beside the story; when the heading sits in the story's
/// own box, the links and short lines right after it.
fn without_related(blocks: &[Block<'_>], mass: &Mass, kept: Vec<usize>) -> Vec<usize> {
    let story: usize = kept.iter().map(|&i| blocks[i].chars).sum();
    let mut out = Vec::with_capacity(kept.len());
    let mut skip_box: Option<ElementRef<'_>> = None;
    let mut skip_links = false;
    for i in kept {
        let b = &blocks[i];
        if let Some(boxed) = skip_box {
            if within(b.el, boxed) {
                continue;
            }
            skip_box = None;
        }
        if skip_links {
            let link_like = b.link_density() >= 0.3 || b.chars < 40 || b.el.value().name() == "li";
            if link_like && !is_heading(b.el.value().name()) {
                continue;
            }
            skip_links = false;
        }
        if stock::opens_related(&b.text, b.chars) {
            let heading = is_heading(b.el.value().name());
            let start = if heading || b.el.value().name() == "p" {
                b.el.parent().and_then(ElementRef::wrap)
            } else {
                Some(b.el)
            };
            let boxed = start
                .into_iter()
                .flat_map(|s| std::iter::once(s).chain(s.ancestors().filter_map(ElementRef::wrap)))
                .find(|a| mass.readable(*a) > b.chars);
            match boxed {
                Some(boxed) if mass.readable(boxed) * 3 < story => skip_box = Some(boxed),
                _ => skip_links = true,
            }
            continue;
        }
        out.push(i);
    }
    out
}

/// Drops headings whose section kept nothing (the heading of a box of links).
fn without_orphan_headings(blocks: &[Block<'_>], kept: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(kept.len());
    let mut pending = Vec::new();
    for i in kept {
        if is_heading(blocks[i].el.value().name()) {
            pending.clear();
            pending.push(i);
        } else {
            out.append(&mut pending);
            out.push(i);
        }
    }
    out
}

fn join(blocks: &[Block<'_>], kept: &[usize]) -> String {
    let mut out = String::new();
    for (n, &i) in kept.iter().enumerate() {
        if n > 0 {
            out.push_str(if blocks[i].after_break { "\n" } else { "\n\n" });
        }
        out.push_str(&blocks[i].text);
    }
    out
}
