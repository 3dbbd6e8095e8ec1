//! What a box on a page is, from its tag and the words of its class, id and component
//! attributes: page chrome (navigation, footers, sidebars, comments, share bars,
//! related links, captions, ...), the story's own container, or neither.
//!
//! Invariant: an element is judged by its own attributes and by its ancestors below
//! a root the caller names, never by `<html>` or `<body>`; a box that holds most of
//! the page's readable text is a layout wrapper, not chrome, unless its words say it
//! holds comments, a consent notice or a pop-up.

use std::collections::HashMap;
use std::sync::LazyLock;

use ego_tree::NodeId;
use regex::Regex;
use scraper::ElementRef;

use super::text::Mass;
use crate::parse::rx::rx;

static ASKING: LazyLock<scraper::Selector> = LazyLock::new(|| {
    scraper::Selector::parse(
        r#"input[type="email"], input[type="search"], input[type="password"], textarea"#,
    )
    .expect("valid selector")
});

/// Words of boxes that are never the story and never wrap it: comments, sharing,
/// related links, metadata lines, captions, advertising, consent and sign-up boxes.
static CHROME_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i-u)comment(?:[b-z0-9_ -]|$)|disqus|respond|replies|(?-u:\b)reply(?-u:\b)|discussion",
        r"|related|share|sharing|social|follow-us|newsletter|subscri|signup|sign-up|(?-u:\b)login(?-u:\b)|register",
        r"|cookie|consent|gdpr|privacy-notice|banner|popup|pop-up|modal|overlay",
        r"|(?-u:\b)ads?(?-u:\b)|(?-u:\b)ad[-_]|[-_]ads?(?-u:\b)|advert|adsense|adsbygoogle|sponsor|promo|(?-u:\b)cta(?-u:\b)|taboola|outbrain",
        r"|breadcrumb|pagination|pager(?-u:\b)|paging|(?-u:\b)prev(?-u:\b)|(?-u:\b)next(?-u:\b)",
        r"|byline|author|(?-u:\b)meta(?-u:\b)|[-_]meta(?-u:\b)|(?-u:\b)meta[-_]|dateline|(?-u:\b)date(?-u:\b)|[-_]date(?-u:\b)|timestamp|(?-u:\b)pubdate",
        r"|caption|credit|copyright|(?-u:\b)tags?(?-u:\b)|[-_]tags?(?-u:\b)|(?-u:\b)tags?[-_]|tagcloud|keywords|categor",
        r"|most-?read|most-?viewed|popular|trending|recommend|read-?more|readmore|see-also|more-on|also-read",
        r"|rating|(?-u:\b)vote|(?-u:\b)likes?(?-u:\b)|(?-u:\b)print|toolbar|(?-u:\b)tools(?-u:\b)|skip-?link|sr-only|screen-?reader|visually-?hidden",
        r"|widget|(?-u:\b)bio(?-u:\b)|author-?bio|about-?the-?author|donat|support-us|(?-u:\b)promo",
    ))
});

/// Words of layout boxes that may also wrap the whole page (`has-sidebar`,
/// `menu-open`): chrome only when they do not hold most of the page's text.
static LAYOUT_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i-u)sidebar|side-bar|(?-u:\b)rail|(?-u:\b)nav|navbar|navigation|menu|masthead|footer|(?-u:\b)extra(?-u:\b)|aside",
    )
});

/// Words of a header: the page's (chrome) or, inside an `<article>` or `<main>`, the
/// story's own (its headline, lead, byline).
static HEADER_WORDS: LazyLock<Regex> =
    LazyLock::new(|| rx(r"(?i-u)header|(?-u:\b)head(?-u:\b)|heading"));

/// Words of boxes that never hold the story, however much text they hold: comments,
/// consent and cookie notices, pop-ups.
static NEVER_STORY_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"(?i-u)comment(?:[b-z0-9_ -]|$)|kommentar|disqus|respond|replies|discussion|cookie|consent|gdpr|popup|pop-up|popmake|modal",
    )
});

/// Words of the story's container.
static STORY_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"(?i-u)article|body|content|entry|main|story|post|text|blog|single|hentry|markup")
});

/// Words that name the box of the story's own text (the article body, a post's
/// content), more telling than the words of any box around it.
static BODY_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    rx(concat!(
        r"(?i-u)article[-_]?(?:body|content|text|copy|main)|(?:article|entry|post|story|news|blog|single|page|main|rich|body|field)[-_]?(?:body|content|text|entry)(?-u:\b)",
        r"|articlebody|storytext|bodytext|body-?copy|artikel|beitrag",
    ))
});

/// Class tokens a CMS puts on the story itself to name its taxonomy (`tag-news`,
/// `category-sport`, `author-jane` on a WordPress post): not words about the box.
static TAXONOMY_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| rx(r"^(?:tag|category|author|format|status|type|post|postid|page-id)-"));

/// Class tokens that say what a box has or does, not what it is (`has-sidebar`,
/// `enable-share`, `no-comments`, `modal-enabled`).
static STATE_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    rx(
        r"^(?i:has|with|no|is|enable|enabled|disable|disabled|show|js|can|allow)[-_]|[-_](?i:enabled|disabled|active|open|opened|visible|loaded|ready)$",
    )
});

/// The words a page names a box with: class, id, role and the data attributes that
/// component-based sites name their blocks with.
pub(super) fn box_words(el: ElementRef<'_>) -> String {
    let v = el.value();
    let mut words = String::new();
    if let Some(class) = v.attr("class") {
        let cms_post = class
            .split_whitespace()
            .any(|t| t == "hentry" || t.starts_with("type-") || t.starts_with("status-"));
        for token in class.split_whitespace() {
            if (cms_post && TAXONOMY_TOKEN.is_match(token)) || STATE_TOKEN.is_match(token) {
                continue;
            }
            // A BEM modifier says how a box looks or what it has beside it
            // (`Section--Ads`), not what it is.
            let token = token.split("--").next().unwrap_or(token);
            words.push_str(token);
            words.push(' ');
        }
    }
    for attr in [
        "id",
        "role",
        "itemprop",
        "data-component",
        "data-gu-name",
        "data-testid",
        "data-qa",
    ] {
        if let Some(value) = v.attr(attr) {
            words.push_str(value);
            words.push(' ');
        }
    }
    words
}

/// What a box's own tag and words say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Nothing either way.
    Plain,
    /// Chrome, unless it holds most of the page's text (then it is a layout wrapper
    /// whose name says what else it holds: `has-sidebar`, `widget Blog`).
    Chrome,
    /// Comments, consent notices, pop-ups: chrome even when they hold most of the
    /// page's text.
    Never,
}

/// A box's own verdict, ancestors aside. `in_story`: an `<article>` or `<main>` holds it
/// (a `<header>` there is the story's own, with its headline and byline).
pub(super) fn verdict(el: ElementRef<'_>, in_story: bool) -> Verdict {
    let name = el.value().name();
    match name {
        "html" | "body" => return Verdict::Plain,
        "nav" | "aside" | "menu" | "footer" | "figure" | "figcaption" | "address" => {
            return Verdict::Chrome
        }
        // A form that asks for an address, a search or a password (sign-up, search,
        // log-in); other forms wrap content (a shop's product, a whole ASP.NET page).
        "form" if el.select(&ASKING).next().is_some() => return Verdict::Chrome,
        "header" if !in_story => return Verdict::Chrome,
        _ => {}
    }
    let words = box_words(el);
    if words.is_empty() {
        return Verdict::Plain;
    }
    if NEVER_STORY_WORDS.is_match(&words) {
        return Verdict::Never;
    }
    if itemprop_is_body(el) {
        return Verdict::Plain;
    }
    if CHROME_WORDS.is_match(&words) {
        return Verdict::Chrome;
    }
    if LAYOUT_WORDS.is_match(&words) || (!in_story && HEADER_WORDS.is_match(&words)) {
        return Verdict::Chrome;
    }
    Verdict::Plain
}

fn itemprop_is_body(el: ElementRef<'_>) -> bool {
    el.value().attr("itemprop").is_some_and(|p| {
        p.split_whitespace()
            .any(|w| w == "articleBody" || w == "text")
    })
}

/// How strongly a box's words name the story's container: 2 for the story's own text
/// (`itemprop=articleBody`, `entry-content`), 1 for words of the story's kind
/// (`article`, `post`), 0 for none.
pub(super) fn story_words(el: ElementRef<'_>) -> u8 {
    if itemprop_is_body(el) {
        return 2;
    }
    let words = box_words(el);
    if BODY_WORDS.is_match(&words) {
        2
    } else if STORY_WORDS.is_match(&words) {
        1
    } else {
        0
    }
}

/// Which elements are chrome, below an optional root, remembered per element so the
/// many blocks of a page share the walk up their common ancestors.
pub(super) struct Boxes<'m> {
    memo: HashMap<NodeId, (bool, bool)>,
    root: Option<NodeId>,
    /// Readable text and links under each element.
    mass: &'m Mass,
}

impl<'m> Boxes<'m> {
    pub fn new(root: Option<NodeId>, mass: &'m Mass) -> Self {
        Self {
            memo: HashMap::new(),
            root,
            mass,
        }
    }

    /// Whether `el` or one of its ancestors below the root is chrome.
    pub fn is_chrome(&mut self, el: ElementRef<'_>) -> bool {
        self.state(el).0
    }

    fn wraps_the_page(&self, el: ElementRef<'_>) -> bool {
        self.mass.readable(el) * 2 > self.mass.total
    }

    /// Inside the story's box, a box that is mostly links is a box of links (other
    /// stories, tags, share buttons), whatever its name.
    fn links_box(&self, el: ElementRef<'_>) -> bool {
        self.root.is_some() && is_box(el.value().name()) && self.mass.link_density(el) >= 0.35
    }

    fn state(&mut self, el: ElementRef<'_>) -> (bool, bool) {
        let mut chain = Vec::new();
        let mut base = (false, false);
        let mut current = Some(el);
        while let Some(c) = current {
            if let Some(known) = self.memo.get(&c.id()) {
                base = *known;
                break;
            }
            if self.root == Some(c.id()) {
                base = (false, true);
                break;
            }
            chain.push(c);
            current = c.parent().and_then(ElementRef::wrap);
        }
        for c in chain.into_iter().rev() {
            let (above_chrome, above_story) = base;
            let chrome = above_chrome
                || self.links_box(c)
                || match verdict(c, above_story) {
                    Verdict::Plain => false,
                    Verdict::Never => true,
                    Verdict::Chrome => !self.wraps_the_page(c),
                };
            let story = above_story || matches!(c.value().name(), "article" | "main");
            base = (chrome, story);
            self.memo.insert(c.id(), base);
        }
        base
    }
}

/// Whether an element is inside a box that never holds the story (remembered per
/// element).
pub(super) fn in_never_story(el: ElementRef<'_>, memo: &mut HashMap<NodeId, bool>) -> bool {
    let mut chain = Vec::new();
    let mut base = false;
    let mut current = Some(el);
    while let Some(c) = current {
        if let Some(known) = memo.get(&c.id()) {
            base = *known;
            break;
        }
        chain.push(c);
        current = c.parent().and_then(ElementRef::wrap);
    }
    for c in chain.into_iter().rev() {
        base = base || verdict(c, false) == Verdict::Never;
        memo.insert(c.id(), base);
    }
    base
}

/// Elements that group blocks rather than hold one paragraph's text.
fn is_box(name: &str) -> bool {
    matches!(
        name,
        "div" | "section" | "ul" | "ol" | "dl" | "table" | "tbody" | "aside" | "article" | "nav"
    )
}
