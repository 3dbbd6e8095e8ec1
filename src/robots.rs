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
        let text = normalize_percent(text);
        Self {
            literal: text.find(['*', '$']).unwrap_or(text.len()),
            text,
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
        // A byte-order mark, whole or cut short (EF BB, EF), is not part of the first
        // line.
        let body = [&[0xEF, 0xBB, 0xBF][..], &[0xEF, 0xBB], &[0xEF]]
            .iter()
            .find_map(|bom| body.strip_prefix(*bom))
            .unwrap_or(body);
        let text = String::from_utf8_lossy(body);
        let text = clean(&text);
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
            Policy::Rules(rules) => catch_unwind(AssertUnwindSafe(|| {
                rules.allows(&normalize_percent(path_and_query))
            }))
            .unwrap_or(false),
        }
    }
}

/// The form RFC 9309 (section 2.2.2) compares rules and URLs in, applied to both:
/// percent-encoded unreserved characters decoded (`%7E` is `~`), other escapes kept
/// with upper-case hex digits (`%2f` is `%2F`, never `/`), octets outside US-ASCII
/// percent-encoded (`ツ` is `%E3%83%84`). Idempotent.
pub fn normalize_percent(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                let v = (h * 16 + l) as u8;
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v as char);
                } else {
                    out.push_str(&format!("%{v:02X}"));
                }
                i += 3;
                continue;
            }
        }
        if b >= 0x80 {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
        i += 1;
    }
    out
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

    // Other records (Sitemap, Crawl-delay, unknown lines) do not end a group (RFC 9309
    // section 2.2.4): only a rule before the next user-agent line does.
    fn handle_sitemap(&mut self, _line: u32, value: &str) {
        if !value.is_empty() {
            self.sitemaps.push(value.to_string());
        }
    }

    fn handle_unknown_action(&mut self, _line: u32, action: &str, value: &str) {
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

    /// RFC 9309 read literally, the oracle of the property tests: slow and plain. Lines
    /// are `name: value` (a `#` starts a comment); a group is its user-agent lines and
    /// the rules after them, ended by the next user-agent line after a rule; other
    /// records end nothing; the groups naming the token (else `*`) are merged; the
    /// longest matching pattern decides, `Allow` winning ties; an empty pattern
    /// matches nothing; both sides are compared percent-normalized.
    fn oracle(body: &str, token: &str, path: &str) -> bool {
        /// (allow, pattern)
        type Rule = (bool, String);
        let mut groups: Vec<(Vec<String>, Vec<Rule>)> = Vec::new();
        let (mut agents, mut rules): (Vec<String>, Vec<Rule>) = (Vec::new(), Vec::new());
        for line in body.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "user-agent" => {
                    if !rules.is_empty() {
                        groups.push((std::mem::take(&mut agents), std::mem::take(&mut rules)));
                    }
                    agents.push(value.to_ascii_lowercase());
                }
                "allow" | "disallow" if !agents.is_empty() => {
                    rules.push((key == "allow", normalize_percent(value)));
                }
                _ => {}
            }
        }
        if !agents.is_empty() {
            groups.push((agents, rules));
        }
        let token = token.to_ascii_lowercase();
        let named: Vec<&Rule> = groups
            .iter()
            .filter(|(a, _)| a.contains(&token))
            .flat_map(|(_, r)| r)
            .collect();
        let chosen = if groups.iter().any(|(a, _)| a.contains(&token)) {
            named
        } else {
            groups
                .iter()
                .filter(|(a, _)| a.iter().any(|x| x == "*"))
                .flat_map(|(_, r)| r)
                .collect()
        };
        let path = normalize_percent(path);
        let best = |allow: bool| {
            chosen
                .iter()
                .filter(|(a, p)| {
                    *a == allow && !p.is_empty() && wildcard(p.as_bytes(), path.as_bytes())
                })
                .map(|(_, p)| p.len() as i64)
                .max()
                .unwrap_or(-1)
        };
        best(true) >= best(false)
    }

    /// Whether a robots.txt pattern (`*` any run, `$` at the end anchors) matches a
    /// prefix of `path`.
    fn wildcard(pattern: &[u8], path: &[u8]) -> bool {
        match pattern.split_first() {
            None => true,
            Some((b'$', [])) => path.is_empty(),
            Some((b'*', rest)) => (0..=path.len()).any(|i| wildcard(rest, &path[i..])),
            Some((c, rest)) => path.first() == Some(c) && wildcard(rest, &path[1..]),
        }
    }

    fn line() -> impl Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::strategy::Just("User-agent: *".to_string()),
            proptest::strategy::Just("User-agent: newscrawl".to_string()),
            proptest::strategy::Just("User-agent: otherbot".to_string()),
            proptest::strategy::Just(String::new()),
            "(Allow|Disallow|disallow): ?(/[a-c~]{0,2}){0,3}[*]?[$]?".prop_map(|s| s),
            "Disallow: /[a-c*]{0,4}(%7[Ee]|%2[Ff])?".prop_map(|s| s),
        ]
    }

    proptest::proptest! {
        /// Where the crate follows RFC 9309 (files made of user-agent lines and rules
        /// only), we agree with it.
        #[test]
        fn agrees_with_the_crate_on_files_of_groups_and_rules(
            lines in proptest::collection::vec(line(), 0..12),
            path in "(/[a-c]{0,2}){1,3}(index.html)?([?][a-c=]{0,3})?",
        ) {
            let body = lines.join("\n");
            proptest::prop_assume!(!body.contains('%') && !body.contains('~'));
            agree(&body, "newscrawl", &path);
        }

        /// Everywhere, we agree with RFC 9309 read literally: files that also hold
        /// other records between groups (which the crate takes for the end of a group)
        /// and escapes (which it compares as written).
        #[test]
        fn agrees_with_rfc_9309_on_generated_files(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    line(),
                    proptest::strategy::Just("Crawl-delay: 5".to_string()),
                    proptest::strategy::Just("Sitemap: http://x.example/s.xml".to_string()),
                    proptest::strategy::Just("Noindex: /b".to_string()),
                ],
                0..14,
            ),
            path in "(/([a-c]|~|%7[Ee]|%2[Ff]){0,2}){1,3}([?][a-c=]{0,3})?",
        ) {
            let body = lines.join("\n");
            let ours = Robots::parse(body.as_bytes(), "newscrawl").allows(&path);
            proptest::prop_assert_eq!(ours, oracle(&body, "newscrawl", &path), "{} with:\n{}", path, body);
        }
    }

    #[test]
    fn other_records_do_not_end_a_group() {
        for record in [
            "Sitemap: http://x.example/s.xml",
            "Crawl-delay: 5",
            "Noindex: /x",
        ] {
            let body =
                format!("User-agent: newscrawl\n{record}\nUser-agent: *\nDisallow: /private/\n");
            let robots = Robots::parse(body.as_bytes(), "newscrawl");
            assert!(!robots.allows("/private/a.html"), "{record}");
            assert!(robots.allows("/public/a.html"), "{record}");
        }
        // A rule does end it.
        let body = "User-agent: newscrawl\nAllow: /\nUser-agent: *\nDisallow: /private/\n";
        assert!(Robots::parse(body.as_bytes(), "newscrawl").allows("/private/a.html"));
    }

    #[test]
    fn escapes_are_compared_normalized_on_both_sides() {
        let body = "User-agent: *\nDisallow: /%7Euser/\nDisallow: /a%2fb\nDisallow: /caf%c3%a9\nDisallow: /ツ\n";
        let robots = Robots::parse(body.as_bytes(), "newscrawl");
        // %7E is an escaped unreserved character: the same as ~.
        assert!(!robots.allows("/~user/x.html"));
        assert!(!robots.allows("/%7Euser/y.html"));
        assert!(!robots.allows("/%7euser/y.html"));
        // %2F is an escaped reserved character: distinct from /.
        assert!(!robots.allows("/a%2Fb"));
        assert!(robots.allows("/a/b"));
        // Non-ASCII: the rule's raw bytes match the URL's escapes, in either case.
        assert!(!robots.allows("/caf%C3%A9"));
        assert!(!robots.allows("/%E3%83%84/page"));
        assert_eq!(normalize_percent("/%7e%2f%c3%A9ツ"), "/~%2F%C3%A9%E3%83%84");
    }

    #[test]
    fn a_partial_byte_order_mark_is_skipped() {
        for bom in [&b"\xEF\xBB\xBF"[..], &b"\xEF\xBB"[..], &b"\xEF"[..]] {
            let mut body = bom.to_vec();
            body.extend_from_slice(b"User-agent: *\nDisallow: /private\n");
            assert!(
                !Robots::parse(&body, "newscrawl").allows("/private"),
                "{bom:?}"
            );
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
