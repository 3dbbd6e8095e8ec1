//! robots.txt policy for one host, on top of the `robotstxt` crate's parser.
//!
//! Owns the decision "may this URL be fetched", made from a file parsed once (the crate
//! re-parses the whole file on every check, so we collect the rules that concern our
//! product token with its parser and match against those). The crate's quirks are
//! kept out of the crawl: the input is capped and stripped of a byte-order mark, and
//! a panic inside the crate turns into "disallow everything" with the reason kept.
//!
//! Invariant: a [`Robots`] answers every check without I/O and without panicking, and
//! follows RFC 9309 as Google's matcher reads it: the most specific (longest) matching
//! rule wins, `Allow` wins ties, a group naming our token replaces the `*` group.

use std::panic::{catch_unwind, AssertUnwindSafe};

use robotstxt::matcher::{LongestMatchRobotsMatchStrategy, RobotsMatchStrategy};
use robotstxt::RobotsParseHandler;

/// Bytes of robots.txt that are read; RFC 9309 asks crawlers to parse at least 500 KiB.
pub const MAX_ROBOTS_BYTES: usize = 500 * 1024;
/// Longest line handed to the parser. Google's parser truncates lines near this size;
/// the Rust port panics on longer lines that contain multibyte characters.
pub const MAX_LINE_BYTES: usize = 16_000;

/// The rules of one host.
#[derive(Debug, Clone)]
pub struct Robots {
    policy: Policy,
    /// `Crawl-delay` in seconds from the group that applies to us, if any.
    pub crawl_delay: Option<f64>,
    /// `Sitemap:` URLs, in file order.
    pub sitemaps: Vec<String>,
}

#[derive(Debug, Clone)]
enum Policy {
    AllowAll,
    DisallowAll { reason: String },
    Rules(Rules),
}

#[derive(Debug, Clone, Default)]
struct Rules {
    specific: Group,
    global: Group,
    ever_seen_specific: bool,
}

#[derive(Debug, Clone, Default)]
struct Group {
    allow: Vec<Pattern>,
    disallow: Vec<Pattern>,
    crawl_delay: Option<f64>,
}

/// A rule's path pattern, with its literal head (the part before any `*` or `$`),
/// so that a check decides most rules with one `starts_with`.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    literal: usize,
}

impl Pattern {
    fn new(text: &str) -> Self {
        Self {
            literal: text.find(['*', '$']).unwrap_or(text.len()),
            text: text.to_string(),
        }
    }

    /// Whether the pattern matches `path`, as the crate's matcher decides it.
    fn matches(&self, path: &str) -> bool {
        if !path.starts_with(&self.text[..self.literal]) {
            return false;
        }
        self.literal == self.text.len()
            || LongestMatchRobotsMatchStrategy::matches(path, &self.text)
    }
}

impl Robots {
    /// No robots.txt (4xx): everything may be fetched.
    pub fn allow_all() -> Self {
        Self {
            policy: Policy::AllowAll,
            crawl_delay: None,
            sitemaps: Vec::new(),
        }
    }

    /// robots.txt unreachable (5xx, network error) or unreadable: nothing may be fetched.
    pub fn disallow_all(reason: impl Into<String>) -> Self {
        Self {
            policy: Policy::DisallowAll {
                reason: reason.into(),
            },
            crawl_delay: None,
            sitemaps: Vec::new(),
        }
    }

    /// Parses a robots.txt body for the given product token (e.g. `newscrawl`).
    pub fn parse(body: &[u8], token: &str) -> Self {
        let body = &body[..body.len().min(MAX_ROBOTS_BYTES)];
        let text = String::from_utf8_lossy(body);
        let text = clean(text.strip_prefix('\u{feff}').unwrap_or(&text));
        let mut collector = Collector::new(token);
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            robotstxt::parse_robotstxt(&text, &mut collector);
        }));
        if parsed.is_err() {
            return Self::disallow_all("robots.txt parser panicked on this file");
        }
        let crawl_delay = if collector.rules.ever_seen_specific {
            collector.rules.specific.crawl_delay
        } else {
            collector.rules.global.crawl_delay
        };
        Self {
            policy: Policy::Rules(collector.rules),
            crawl_delay,
            sitemaps: collector.sitemaps,
        }
    }

    /// Why everything is disallowed, when it is.
    pub fn disallow_all_reason(&self) -> Option<&str> {
        match &self.policy {
            Policy::DisallowAll { reason } => Some(reason),
            _ => None,
        }
    }

    /// Whether `path_and_query` (percent-encoded, starting with `/`) may be fetched.
    pub fn allows(&self, path_and_query: &str) -> bool {
        match &self.policy {
            Policy::AllowAll => true,
            Policy::DisallowAll { .. } => false,
            Policy::Rules(rules) => {
                catch_unwind(AssertUnwindSafe(|| rules.allows(path_and_query))).unwrap_or(false)
            }
        }
    }
}

/// Cuts every line to [`MAX_LINE_BYTES`] on a character boundary.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_ROBOTS_BYTES));
    for line in text.split_inclusive('\n') {
        if line.len() <= MAX_LINE_BYTES {
            out.push_str(line);
            continue;
        }
        let mut end = MAX_LINE_BYTES;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&line[..end]);
        out.push('\n');
    }
    out
}

impl Rules {
    fn allows(&self, path: &str) -> bool {
        let (allow, disallow) = self.specific.priorities(path);
        if allow > 0 || disallow > 0 {
            return disallow <= allow;
        }
        if self.ever_seen_specific {
            return true;
        }
        let (allow, disallow) = self.global.priorities(path);
        if allow > 0 || disallow > 0 {
            return disallow <= allow;
        }
        true
    }
}

impl Group {
    /// The longest matching allow and disallow patterns (-1 when none matches).
    fn priorities(&self, path: &str) -> (i64, i64) {
        let best = |patterns: &[Pattern]| {
            patterns
                .iter()
                .filter(|p| p.matches(path))
                .map(|p| p.text.len() as i64)
                .max()
                .unwrap_or(-1)
        };
        (best(&self.allow), best(&self.disallow))
    }
}

/// Receives the crate's parse events and keeps the groups that apply to our token,
/// following the crate's own grouping rules (consecutive `User-agent` lines share the
/// rules that follow them).
struct Collector {
    token: String,
    rules: Rules,
    sitemaps: Vec<String>,
    in_global: bool,
    in_specific: bool,
    seen_rule: bool,
}

impl Collector {
    fn new(token: &str) -> Self {
        Self {
            token: token.to_string(),
            rules: Rules::default(),
            sitemaps: Vec::new(),
            in_global: false,
            in_specific: false,
            seen_rule: false,
        }
    }

    fn current(&mut self) -> Option<&mut Group> {
        if self.in_specific {
            Some(&mut self.rules.specific)
        } else if self.in_global {
            Some(&mut self.rules.global)
        } else {
            None
        }
    }
}

impl RobotsParseHandler for Collector {
    fn handle_robots_start(&mut self) {}
    fn handle_robots_end(&mut self) {}

    fn handle_user_agent(&mut self, _line: u32, agent: &str) {
        if self.seen_rule {
            self.in_global = false;
            self.in_specific = false;
            self.seen_rule = false;
        }
        if agent.starts_with('*')
            && (agent.len() == 1 || agent[1..].starts_with(char::is_whitespace))
        {
            self.in_global = true;
        } else {
            let name_end = agent
                .find(|c: char| !(c.is_ascii_alphabetic() || c == '-' || c == '_'))
                .unwrap_or(agent.len());
            if agent[..name_end].eq_ignore_ascii_case(&self.token) {
                self.in_specific = true;
                self.rules.ever_seen_specific = true;
            }
        }
    }

    fn handle_allow(&mut self, _line: u32, value: &str) {
        if !(self.in_global || self.in_specific) {
            return;
        }
        self.seen_rule = true;
        let group = self.current().expect("an agent is active");
        group.allow.push(Pattern::new(value));
        // Google's matcher treats ".../index.htm(l)" as allowing the directory itself.
        if let Some(slash) = value.rfind('/') {
            if value[slash..].starts_with("/index.htm") {
                group
                    .allow
                    .push(Pattern::new(&format!("{}$", &value[..=slash])));
            }
        }
    }

    fn handle_disallow(&mut self, _line: u32, value: &str) {
        if !(self.in_global || self.in_specific) {
            return;
        }
        self.seen_rule = true;
        if let Some(group) = self.current() {
            group.disallow.push(Pattern::new(value));
        }
    }

    fn handle_sitemap(&mut self, _line: u32, value: &str) {
        self.seen_rule = true;
        if !value.is_empty() {
            self.sitemaps.push(value.to_string());
        }
    }

    fn handle_unknown_action(&mut self, _line: u32, action: &str, value: &str) {
        self.seen_rule = true;
        if action.eq_ignore_ascii_case("crawl-delay") {
            if let Ok(seconds) = value.trim().parse::<f64>() {
                if seconds.is_finite() && seconds >= 0.0 {
                    if let Some(group) = self.current() {
                        group.crawl_delay = Some(seconds);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// Our answer must agree with the crate's own (re-parsing) matcher.
    fn agree(body: &str, token: &str, path: &str) -> bool {
        let ours = Robots::parse(body.as_bytes(), token).allows(path);
        let url = format!("http://x.example{path}");
        let theirs =
            robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(body, token, &url);
        assert_eq!(ours, theirs, "disagree on {path} for {token} with:\n{body}");
        ours
    }

    const FILE: &str = "User-agent: *\nDisallow: /search\nDisallow: /section/opinion/letters\nAllow: /search/help\n\nUser-agent: otherbot\nDisallow: /\n\nUser-agent: newscrawl\nUser-agent: friend\nDisallow: /private/\nAllow: /private/open$\nCrawl-delay: 2.5\n\nSitemap: http://x.example/sitemap.xml\n";

    #[test]
    fn matches_the_crate_on_typical_files() {
        for token in ["newscrawl", "otherbot", "somebot"] {
            for path in [
                "/",
                "/search",
                "/search/help",
                "/search?q=1",
                "/section/opinion/letters?page=2",
                "/private/",
                "/private/open",
                "/private/openx",
                "/index.html",
            ] {
                agree(FILE, token, path);
            }
        }
        assert!(!agree(FILE, "somebot", "/search?q=x"));
        assert!(
            agree(FILE, "newscrawl", "/search"),
            "the specific group replaces *"
        );
        assert!(!agree(FILE, "newscrawl", "/private/x"));
        assert!(agree(FILE, "newscrawl", "/private/open"));
    }

    #[test]
    fn wildcards_and_index_html() {
        let body = "User-agent: *\nDisallow: /*.pdf$\nDisallow: /a/\nAllow: /a/index.html\n";
        for path in ["/x.pdf", "/x.pdf?y", "/a/", "/a/index.html", "/a/b"] {
            agree(body, "newscrawl", path);
        }
    }

    #[test]
    fn crawl_delay_and_sitemaps() {
        let robots = Robots::parse(FILE.as_bytes(), "newscrawl");
        assert_eq!(robots.crawl_delay, Some(2.5));
        assert_eq!(robots.sitemaps, ["http://x.example/sitemap.xml"]);
        assert_eq!(Robots::parse(FILE.as_bytes(), "somebot").crawl_delay, None);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let body = "\u{feff}User-agent: *\nDisallow: /\n";
        assert!(!Robots::parse(body.as_bytes(), "newscrawl").allows("/a"));
    }

    #[test]
    fn long_multibyte_lines_do_not_reach_the_crate_whole() {
        // The crate itself panics on this file (checked here so the test keeps meaning).
        let body = format!(
            "User-agent: *\nDisallow: /{}\nDisallow: /private\n",
            "é".repeat(20_000)
        );
        let crate_panics = std::panic::catch_unwind(|| {
            robotstxt::DefaultMatcher::default().one_agent_allowed_by_robots(
                &body,
                "newscrawl",
                "http://x.example/a",
            )
        });
        assert!(crate_panics.is_err());
        let robots = Robots::parse(body.as_bytes(), "newscrawl");
        assert_eq!(robots.disallow_all_reason(), None);
        assert!(robots.allows("/a"));
        assert!(
            !robots.allows("/private/x"),
            "rules after the long line still apply"
        );
    }

    #[test]
    fn binary_garbage_parses_to_no_rules() {
        let body: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(Robots::parse(&body, "newscrawl").allows("/anything"));
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_crate_on_generated_files(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("User-agent: *".to_string()),
                    proptest::strategy::Just("User-agent: newscrawl".to_string()),
                    proptest::strategy::Just("User-agent: otherbot".to_string()),
                    proptest::strategy::Just(String::new()),
                    "(Allow|Disallow|disallow|Crawl-delay): ?(/[a-c]{0,2}){0,3}[*]?[$]?".prop_map(|s| s),
                    "Disallow: /[a-c*]{0,4}(index.html)?".prop_map(|s| s),
                ],
                0..12,
            ),
            path in "(/[a-c]{0,2}){1,3}(index.html)?([?][a-c=]{0,3})?",
        ) {
            let body = lines.join("\n");
            agree(&body, "newscrawl", &path);
        }
    }

    #[test]
    fn fixed_policies() {
        assert!(Robots::allow_all().allows("/anything"));
        let down = Robots::disallow_all("robots.txt answered 503");
        assert!(!down.allows("/"));
        assert_eq!(down.disallow_all_reason(), Some("robots.txt answered 503"));
    }

    #[test]
    fn oversized_files_are_cut() {
        let mut body = String::from("User-agent: *\nDisallow: /early\n");
        while body.len() < MAX_ROBOTS_BYTES {
            body.push_str("# filler line of a very long robots.txt file\n");
        }
        body.push_str("Disallow: /late\n");
        let robots = Robots::parse(body.as_bytes(), "newscrawl");
        assert!(!robots.allows("/early"));
        assert!(robots.allows("/late"));
    }
}
