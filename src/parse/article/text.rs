//! The text a reader sees in a subtree, cut into blocks: a block ends where a
//! block-level element (or a `<br>`) starts or ends, belongs to the innermost
//! block-level element that holds it, and knows how much of it is link text.
//!
//! Invariant: inline markup never splits a block and never adds a space the page did
//! not have; what a reader is never shown (scripts, styles, templates, form controls,
//! elements marked hidden) and runs of control characters (binary data) yield no
//! text.

use std::collections::HashMap;

use ego_tree::{NodeId, NodeRef};
use scraper::node::Element;
use scraper::{ElementRef, Node};

/// One run of text between block boundaries.
#[derive(Debug, Clone)]
pub(super) struct Block<'a> {
    /// The innermost block-level element holding the text.
    pub el: ElementRef<'a>,
    /// Whitespace collapsed, trimmed, never empty.
    pub text: String,
    /// Characters that are not whitespace.
    pub chars: usize,
    /// Of those, the ones inside links.
    pub link_chars: usize,
    /// Whether a `<br>` (not an element boundary) ended the block before it.
    pub after_break: bool,
}

impl Block<'_> {
    pub fn link_density(&self) -> f64 {
        self.link_chars as f64 / self.chars.max(1) as f64
    }
}

/// Readable text per element: characters of blocks that are mostly not links.
pub(super) struct Mass {
    /// Per element: readable characters, all characters, link characters.
    counts: HashMap<NodeId, [u32; 3]>,
    /// Readable characters outside boxes that never hold the story.
    pub total: usize,
}

impl Mass {
    /// The mass of `blocks`; `never_story` says which blocks sit in boxes that never
    /// hold the story (they do not count in the total).
    pub fn of<'a>(
        blocks: &[Block<'a>],
        mut never_story: impl FnMut(ElementRef<'a>) -> bool,
    ) -> Self {
        let mut counts: HashMap<NodeId, [u32; 3]> = HashMap::new();
        let mut total = 0;
        for b in blocks {
            let r = if b.link_density() < 0.5 { b.chars } else { 0 };
            if !never_story(b.el) {
                total += r;
            }
            for el in std::iter::once(b.el).chain(b.el.ancestors().filter_map(ElementRef::wrap)) {
                let c = counts.entry(el.id()).or_default();
                c[0] = c[0].saturating_add(r as u32);
                c[1] = c[1].saturating_add(b.chars as u32);
                c[2] = c[2].saturating_add(b.link_chars as u32);
            }
        }
        Self { counts, total }
    }

    pub fn link_density(&self, el: ElementRef<'_>) -> f64 {
        match self.counts.get(&el.id()) {
            Some(&[_, all, linked]) if all > 0 => linked as f64 / all as f64,
            _ => 1.0,
        }
    }

    pub fn readable(&self, el: ElementRef<'_>) -> usize {
        self.counts.get(&el.id()).map_or(0, |c| c[0] as usize)
    }
}

/// Elements whose content is never shown as text.
pub(super) fn never_text(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "svg"
            | "math"
            | "canvas"
            | "iframe"
            | "object"
            | "embed"
            | "button"
            | "select"
            | "option"
            | "textarea"
            | "input"
            | "head"
            | "title"
            | "audio"
            | "video"
            | "map"
            | "dialog"
    )
}

/// Elements that start and end a block of text.
pub(super) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "body"
            | "caption"
            | "center"
            | "dd"
            | "details"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "legend"
            | "li"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
    )
}

/// Whether the page hides the element (`hidden`, `display: none`).
pub(super) fn is_hidden(el: &Element) -> bool {
    if el.attr("hidden").is_some() {
        return true;
    }
    el.attr("style").is_some_and(|style| {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        style.contains("display:none") || style.contains("visibility:hidden")
    })
}

enum Step<'a> {
    Open(NodeRef<'a, Node>),
    Close(ElementRef<'a>, bool),
}

/// The blocks of `root`'s subtree in document order (an iterative walk: deep pages
/// cost no stack).
pub(super) fn blocks(root: ElementRef<'_>) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut owners = vec![root];
    let mut run = Run::default();
    let mut stack = vec![Step::Open(*root)];
    let mut links = 0usize;
    while let Some(step) = stack.pop() {
        match step {
            Step::Open(node) => match node.value() {
                Node::Text(text) => run.push(text, links > 0),
                Node::Element(el) => {
                    let name = el.name();
                    if node.id() != root.id() && (never_text(name) || is_hidden(el)) {
                        continue;
                    }
                    if name == "br" {
                        run.flush(owners[owners.len() - 1], &mut out);
                        run.after_break = true;
                        continue;
                    }
                    let Some(element) = ElementRef::wrap(node) else {
                        continue;
                    };
                    let block = node.id() != root.id() && is_block(name);
                    if block {
                        run.flush(owners[owners.len() - 1], &mut out);
                        owners.push(element);
                    }
                    if name == "a" {
                        links += 1;
                    }
                    stack.push(Step::Close(element, block));
                    stack.extend(node.children().rev().map(Step::Open));
                }
                _ => {}
            },
            Step::Close(element, block) => {
                if element.value().name() == "a" {
                    links = links.saturating_sub(1);
                }
                if block {
                    run.flush(element, &mut out);
                    owners.pop();
                }
            }
        }
    }
    run.flush(root, &mut out);
    out
}

/// The text gathered since the last block boundary.
#[derive(Default)]
struct Run {
    text: String,
    link_chars: usize,
    after_break: bool,
}

impl Run {
    fn push(&mut self, text: &str, in_link: bool) {
        self.text.push_str(text);
        if in_link {
            self.link_chars += text.chars().filter(|c| !c.is_whitespace()).count();
        }
    }

    fn flush<'a>(&mut self, owner: ElementRef<'a>, out: &mut Vec<Block<'a>>) {
        let text = squash(&self.text);
        self.text.clear();
        let link_chars = std::mem::take(&mut self.link_chars);
        let after_break = std::mem::take(&mut self.after_break);
        if text.is_empty() {
            return;
        }
        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
        // Bytes that are not text (binary data served as HTML) decode to control
        // characters, which no language's prose contains.
        let controls = text.chars().filter(|c| c.is_control()).count();
        if controls * 50 > chars {
            return;
        }
        out.push(Block {
            el: owner,
            text,
            chars,
            link_chars: link_chars.min(chars),
            after_break,
        });
    }
}

/// Collapses runs of whitespace; trims.
pub(super) fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// An element's text with its text nodes apart, whitespace collapsed, when it is
/// shorter than `max` bytes; stops reading well past that, so asking every `<div>` of
/// a page costs little. `None` for an empty or longer text.
pub(super) fn short_text(el: ElementRef<'_>, max: usize) -> Option<String> {
    let mut out = String::new();
    for t in el.text() {
        out.push_str(t);
        out.push(' ');
        if out.len() > max * 4 {
            return None;
        }
    }
    let text = squash(&out);
    (!text.is_empty() && text.len() < max).then_some(text)
}

/// An element's text, whitespace collapsed; a `<br>` or a block-level element's edge
/// parts words ("Kicker<br>Headline" is two words, as a reader sees it).
pub(super) fn element_text(el: ElementRef<'_>) -> String {
    nodes_text(std::iter::once(*el))
}

/// The text of `nodes` and their subtrees, as [`element_text`] reads it.
pub(super) fn nodes_text<'a>(nodes: impl IntoIterator<Item = NodeRef<'a, Node>>) -> String {
    use ego_tree::iter::Edge;
    let mut text = String::new();
    let parts = |e: &Element| e.name() == "br" || is_block(e.name());
    let unread = |e: &Element| never_text(e.name());
    // Depth inside an element whose text is never shown (a `<style>` in a heading).
    let mut unshown = 0usize;
    for node in nodes {
        let root = node.id();
        // The element asked about is read whatever it is (`<title>`); what it holds
        // is read as a reader sees it.
        let unread =
            |n: &NodeRef<'_, Node>| n.id() != root && n.value().as_element().is_some_and(unread);
        for edge in node.traverse() {
            match edge {
                Edge::Open(n) if unread(&n) => unshown += 1,
                Edge::Close(n) if unread(&n) => unshown -= 1,
                Edge::Open(n) => match n.value() {
                    _ if unshown > 0 => {}
                    Node::Text(t) => text.push_str(t),
                    Node::Element(e) if parts(e) => text.push(' '),
                    _ => {}
                },
                Edge::Close(n) => match n.value().as_element() {
                    Some(e) if unshown == 0 && parts(e) => text.push(' '),
                    _ => {}
                },
            }
        }
    }
    squash(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scraper::{Html, Selector};

    fn texts(html: &str) -> Vec<(String, String, usize, bool)> {
        let doc = Html::parse_document(html);
        let body = doc
            .select(&Selector::parse("body").unwrap())
            .next()
            .unwrap();
        blocks(body)
            .into_iter()
            .map(|b| {
                (
                    b.el.value().name().to_string(),
                    b.text,
                    b.link_chars,
                    b.after_break,
                )
            })
            .collect()
    }

    #[test]
    fn an_elements_text_parts_words_where_a_reader_sees_them_apart() {
        let doc = Html::parse_document(
            "<html><head><title> A  title </title></head><body><h1>Bold<b>er</b> \
             <small>Kicker</small><br>Head<style>.x{color:red}</style>line<div>Box</div>end</h1></body></html>",
        );
        let text = |s: &str| element_text(doc.select(&Selector::parse(s).unwrap()).next().unwrap());
        assert_eq!(text("h1"), "Bolder Kicker Headline Box end");
        assert_eq!(text("title"), "A title");
    }

    #[test]
    fn inline_markup_joins_and_blocks_split() {
        let got = texts(
            "<body><div>Lead <b>bold</b>er text<p>A <a href=/x>link</a> here</p>tail<br>next line</div>\
             <script>var x = 1;</script><p hidden>secret</p><p style='display: none'>gone</p></body>",
        );
        assert_eq!(
            got,
            [
                ("div".into(), "Lead bolder text".into(), 0, false),
                ("p".into(), "A link here".into(), 4, false),
                ("div".into(), "tail".into(), 0, false),
                ("div".into(), "next line".into(), 0, true),
            ]
        );
    }

    #[test]
    fn deep_nesting_needs_no_stack() {
        let page = format!(
            "<body>{}deep{}</body>",
            "<span>".repeat(20_000),
            "</span>".repeat(20_000)
        );
        let got = texts(&page);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, "deep");
    }
}
