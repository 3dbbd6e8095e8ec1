//! Google's robots.txt test suite (google/robotstxt, `robots_test.cc`), case by case:
//! each expectation is a file, a product token, a URL and the answer. Every one goes
//! through newscrawl's own robots API (the URL through the `url` crate and
//! `path_and_query`, as the crawler checks it), and every one that fits in a URL the
//! crawler keeps goes through a whole crawl of loopback sites, judged by what the
//! sites were asked for. The file-level cases (byte-order marks, sitemaps) and the
//! path helpers are checked through the API alone.
//!
//! Expectations that do not apply, and why:
//! - an empty URL (`IsUserAgentAllowed(robotstxt, "FooBot", "")`): the crawler only
//!   checks absolute URLs it parsed;
//! - an empty product token, a token with a space (`"Foo Bar"`), and
//!   `IsValidUserAgentToObey`: the token is the crawler's own, checked when the config
//!   is read, never a value from the file;
//! - a URL whose path holds raw non-ASCII (`http://foo.bar/foo/bar/ツ`): the `url` crate
//!   percent-encodes it before any check, so the crawler never asks with it; RFC 9309
//!   section 2.2.2 compares both sides encoded, which is what we answer;
//! - `Allow: /foo/bar/%62%61%7A` against `/foo/bar/baz`: Google answers "disallowed"
//!   (it compares escapes as written, and its comment calls such a rule illegal); RFC
//!   9309 section 2.2.2 says escaped unreserved characters are decoded before
//!   comparison, so both spellings are allowed here;
//! - line counts and directive counts of the parse handler (`LinesNumbersAreCounted
//!   Correctly`, the BOM counts): internal to Google's parser; the same files are
//!   checked here through what their rules allow;
//! - `GetPathParamsQuery` and `MaybeEscapePattern`: internal functions; the first is
//!   `path_and_query` of a parsed URL, the second `normalize_percent`.

mod common;

use std::collections::btree_map::{BTreeMap, Entry};
use std::time::Duration;

use newscrawl::robots::{normalize_percent, Robots};
use newscrawl::site::path_and_query;
use newscrawl::urlnorm::{Normalizer, MAX_URL_LEN};

/// One expectation of the suite: a robots.txt, the crawler's product token, a URL
/// and whether the crawler may fetch it.
struct Case {
    group: &'static str,
    robots: String,
    token: String,
    url: String,
    allowed: bool,
}

/// The expectations of one group of the suite.
struct Cases {
    group: &'static str,
    all: Vec<Case>,
}

impl Cases {
    fn expect(&mut self, robots: &str, token: &str, url: &str, allowed: bool) {
        self.all.push(Case {
            group: self.group,
            robots: robots.to_string(),
            token: token.to_string(),
            url: url.to_string(),
            allowed,
        });
    }
    fn allow(&mut self, robots: &str, token: &str, url: &str) {
        self.expect(robots, token, url, true);
    }
    fn deny(&mut self, robots: &str, token: &str, url: &str) {
        self.expect(robots, token, url, false);
    }
}

/// A group of the suite: adds its expectations.
type Group = fn(&mut Cases);

/// The suite's groups whose expectations are about URLs.
const URL_GROUPS: &[(&str, Group)] = &[
    ("system_test", system_test),
    ("line_syntax", line_syntax),
    ("groups", groups),
    (
        "line_names_are_case_insensitive",
        line_names_are_case_insensitive,
    ),
    (
        "user_agent_values_are_case_insensitive_up_to_the_first_space",
        user_agent_values_are_case_insensitive_up_to_the_first_space,
    ),
    ("global_groups_are_secondary", global_groups_are_secondary),
    (
        "rule_values_are_case_sensitive",
        rule_values_are_case_sensitive,
    ),
    (
        "the_longest_match_wins_and_allow_wins_ties",
        the_longest_match_wins_and_allow_wins_ties,
    ),
    ("encoding", encoding),
    ("special_characters", special_characters),
    ("index_html_is_the_directory", index_html_is_the_directory),
    (
        "long_lines_are_cut_and_the_cut_rule_still_applies",
        long_lines_are_cut_and_the_cut_rule_still_applies,
    ),
    (
        "googles_documentation_examples",
        googles_documentation_examples,
    ),
    (
        "every_line_ending_is_a_line_ending",
        every_line_ending_is_a_line_ending,
    ),
];

fn url_cases() -> Vec<Case> {
    let mut all = Vec::new();
    for &(group, add) in URL_GROUPS {
        let mut cases = Cases {
            group,
            all: Vec::new(),
        };
        add(&mut cases);
        all.append(&mut cases.all);
    }
    all
}

/// Every expectation through the robots API, as the crawler checks a URL: parsed by
/// the `url` crate, then its path and query.
#[test]
fn through_the_robots_api() {
    let cases = url_cases();
    assert_eq!(cases.len(), 150, "expectations");
    let wrong: Vec<String> = cases
        .iter()
        .filter(|c| {
            let url = url::Url::parse(&c.url).expect("an absolute URL");
            Robots::parse(c.robots.as_bytes(), &c.token).allows(path_and_query(&url)) != c.allowed
        })
        .map(|c| {
            format!(
                "{}: {} for {} should be allowed={}",
                c.group, c.url, c.token, c.allowed
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Every expectation through a whole crawl: each robots.txt served by a loopback site
/// of its own, each URL a seed on that site, one crawl per product token; the sites'
/// request logs say what was fetched. URLs longer than the crawler keeps
/// (`MAX_URL_LEN`: the long-line cases) are checked through the API only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_crawler() {
    let cases: Vec<Case> = url_cases()
        .into_iter()
        .filter(|c| c.url.len() <= MAX_URL_LEN)
        .collect();
    // One site per robots.txt and token; one crawl per token.
    let mut sites: BTreeMap<(String, String), (String, common::RequestLog)> = BTreeMap::new();
    for c in &cases {
        let key = (c.token.clone(), c.robots.clone());
        if let Entry::Vacant(slot) = sites.entry(key) {
            slot.insert(common::logging_site(c.robots.clone(), String::new()).await);
        }
    }
    // A case's URL on its site: the same path and query, the site's origin.
    let on_site = |c: &Case| {
        let origin = &sites[&(c.token.clone(), c.robots.clone())].0;
        let rest = &c.url[c.url.find("://").unwrap() + 3..];
        let path = rest.find('/').map_or("/", |at| &rest[at..]);
        format!("{origin}{path}")
    };
    let tokens: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.token.as_str()).collect();
    for token in tokens {
        let mut config =
            format!("[crawler]\nuser_agent = \"{token}/1.0 (+https://example.invalid/bot)\"\n");
        for (n, (site_token, site_robots)) in sites.keys().enumerate() {
            if site_token != token {
                continue;
            }
            let mut seeds: Vec<String> = cases
                .iter()
                .filter(|c| c.token == token && c.robots == *site_robots)
                .map(&on_site)
                .collect();
            seeds.sort();
            seeds.dedup();
            let seeds: Vec<String> = seeds.iter().map(|s| format!("{s:?}")).collect();
            config.push_str(&format!(
                "[[site]]\nname = \"case-{n}\"\nseeds = [{}]\narticle_patterns = ['.']\nparser = \"links\"\n",
                seeds.join(", ")
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        common::crawl_text(&config, dir.path(), Duration::from_millis(1))
            .await
            .unwrap_or_else(|e| panic!("the crawl for {token} runs: {e}"));
    }
    let mut wrong = Vec::new();
    for c in &cases {
        let (_, log) = &sites[&(c.token.clone(), c.robots.clone())];
        let url = Normalizer::default()
            .parse(&on_site(c))
            .expect("a crawlable URL");
        let sent = path_and_query(&url);
        let requested = log.lock().unwrap().iter().any(|p| *p == sent);
        if requested != c.allowed {
            wrong.push(format!(
                "{}: {} ({sent}) for {}: requested={requested}, allowed={}",
                c.group, c.url, c.token, c.allowed
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn system_test(c: &mut Cases) {
    c.allow("", "FooBot", "http://foo.bar/");
}

fn line_syntax(c: &mut Cases) {
    let url = "http://foo.bar/x/y";
    c.deny("user-agent: FooBot\ndisallow: /\n", "FooBot", url);
    c.allow("foo: FooBot\nbar: /\n", "FooBot", url);
    // A missing colon is accepted (Google-specific).
    c.deny("user-agent FooBot\ndisallow /\n", "FooBot", url);
}

fn groups(c: &mut Cases) {
    let robots = "allow: /foo/bar/\n\nuser-agent: FooBot\ndisallow: /\nallow: /x/\nuser-agent: BarBot\ndisallow: /\nallow: /y/\n\n\nallow: /w/\nuser-agent: BazBot\n\nuser-agent: FooBot\nallow: /z/\ndisallow: /\n";
    let (w, x, y, z, outside) = (
        "http://foo.bar/w/a",
        "http://foo.bar/x/b",
        "http://foo.bar/y/c",
        "http://foo.bar/z/d",
        "http://foo.bar/foo/bar/",
    );
    c.allow(robots, "FooBot", x);
    c.allow(robots, "FooBot", z);
    c.deny(robots, "FooBot", y);
    c.allow(robots, "BarBot", y);
    c.allow(robots, "BarBot", w);
    c.deny(robots, "BarBot", z);
    c.allow(robots, "BazBot", z);
    // Rules outside groups are ignored.
    for bot in ["FooBot", "BarBot", "BazBot"] {
        c.deny(robots, bot, outside);
    }
}

fn line_names_are_case_insensitive(c: &mut Cases) {
    for robots in [
        "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n",
        "user-agent: FooBot\nallow: /x/\ndisallow: /\n",
        "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n",
    ] {
        c.allow(robots, "FooBot", "http://foo.bar/x/y");
        c.deny(robots, "FooBot", "http://foo.bar/a/b");
    }
}

fn user_agent_values_are_case_insensitive_up_to_the_first_space(c: &mut Cases) {
    for robots in [
        "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n",
        "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n",
        "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n",
    ] {
        for token in ["Foo", "foo"] {
            c.allow(robots, token, "http://foo.bar/x/y");
            c.deny(robots, token, "http://foo.bar/a/b");
        }
    }
    let robots = "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n";
    c.allow(robots, "Foo", "http://foo.bar/x/y");
}

fn global_groups_are_secondary(c: &mut Cases) {
    let url = "http://foo.bar/x/y";
    let global = "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n";
    let only_specific =
        "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\nuser-agent: BazBot\ndisallow: /\n";
    c.allow("", "FooBot", url);
    c.deny(global, "FooBot", url);
    c.allow(global, "BarBot", url);
    c.allow(only_specific, "QuxBot", url);
}

fn rule_values_are_case_sensitive(c: &mut Cases) {
    let url = "http://foo.bar/x/y";
    c.deny("user-agent: FooBot\ndisallow: /x/\n", "FooBot", url);
    c.allow("user-agent: FooBot\ndisallow: /X/\n", "FooBot", url);
}

fn the_longest_match_wins_and_allow_wins_ties(c: &mut Cases) {
    let url = "http://foo.bar/x/page.html";
    c.deny(
        "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n",
        "FooBot",
        url,
    );
    let robots = "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n";
    c.allow(robots, "FooBot", url);
    c.deny(robots, "FooBot", "http://foo.bar/x/");
    c.allow("user-agent: FooBot\ndisallow: \nallow: \n", "FooBot", url);
    c.allow("user-agent: FooBot\ndisallow: /\nallow: /\n", "FooBot", url);
    let robots = "user-agent: FooBot\ndisallow: /x\nallow: /x/\n";
    c.deny(robots, "FooBot", "http://foo.bar/x");
    c.allow(robots, "FooBot", "http://foo.bar/x/");
    c.allow(
        "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/page.html\n",
        "FooBot",
        url,
    );
    let robots = "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n";
    c.deny(robots, "FooBot", "http://foo.bar/page.html");
    c.allow(robots, "FooBot", "http://foo.bar/page");
    let robots = "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n";
    c.allow(robots, "FooBot", url);
    c.deny(robots, "FooBot", "http://foo.bar/x/y.html");
    let robots = "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n";
    c.allow(robots, "FooBot", "http://foo.bar/x/page");
    c.deny(robots, "FooBot", "http://foo.bar/y/page");
}

fn encoding(c: &mut Cases) {
    let robots =
        "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n";
    c.allow(
        robots,
        "FooBot",
        "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par",
    );
    for rule in ["/foo/bar/ツ", "/foo/bar/%E3%83%84"] {
        let robots = format!("User-agent: FooBot\nDisallow: /\nAllow: {rule}\n");
        c.allow(&robots, "FooBot", "http://foo.bar/foo/bar/%E3%83%84");
    }
    // Escaped unreserved characters: RFC 9309 decodes them on both sides (see the
    // module's note on where Google answers otherwise).
    let robots = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n";
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar/%62%61%7A");
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar/baz");
}

fn special_characters(c: &mut Cases) {
    let robots = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n";
    c.deny(robots, "FooBot", "http://foo.bar/foo/bar/quz");
    c.allow(robots, "FooBot", "http://foo.bar/foo/quz");
    c.allow(robots, "FooBot", "http://foo.bar/foo//quz");
    c.allow(robots, "FooBot", "http://foo.bar/foo/bax/quz");
    let robots = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n";
    c.deny(robots, "FooBot", "http://foo.bar/foo/bar");
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar/qux");
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar/");
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar/baz");
    let robots = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n";
    c.allow(robots, "FooBot", "http://foo.bar/foo/bar");
    c.deny(robots, "FooBot", "http://foo.bar/foo/quz");
}

fn index_html_is_the_directory(c: &mut Cases) {
    let robots = "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n";
    c.allow(robots, "foobot", "http://foo.com/allowed-slash/");
    c.deny(robots, "foobot", "http://foo.com/allowed-slash/index.htm");
    c.allow(robots, "foobot", "http://foo.com/allowed-slash/index.html");
    c.deny(robots, "foobot", "http://foo.com/anyother-url");
}

fn long_lines_are_cut_and_the_cut_rule_still_applies(c: &mut Cases) {
    let max_line = 2083 * 8;
    let robots_head = "user-agent: FooBot\n";
    let mut long = String::from("/x/");
    while long.len() < max_line - "/x/".len() - "disallow: ".len() + 1 {
        long.push('a');
    }
    let robots = format!("{robots_head}disallow: {long}/qux\n");
    c.allow(&robots, "FooBot", "http://foo.bar/fux");
    c.deny(&robots, "FooBot", &format!("http://foo.bar{long}/fux"));

    let (mut a, mut b) = (String::from("/x/"), String::from("/x/"));
    while a.len() < max_line - "/x/".len() - "allow: ".len() + 1 {
        a.push('a');
        b.push('b');
    }
    let robots = format!("user-agent: FooBot\ndisallow: /\nallow: {a}/qux\nallow: {b}/qux\n");
    c.deny(&robots, "FooBot", "http://foo.bar/");
    c.allow(&robots, "FooBot", &format!("http://foo.bar{a}/qux"));
    c.allow(&robots, "FooBot", &format!("http://foo.bar{b}/fux"));
}

fn googles_documentation_examples(c: &mut Cases) {
    let mut check = |rule: &str, yes: &[&str], no: &[&str]| {
        let robots = format!("user-agent: FooBot\ndisallow: /\nallow: {rule}\n");
        for path in yes {
            c.allow(&robots, "FooBot", &format!("http://foo.bar{path}"));
        }
        for path in no {
            c.deny(&robots, "FooBot", &format!("http://foo.bar{path}"));
        }
    };
    let fish_yes = [
        "/fish",
        "/fish.html",
        "/fish/salmon.html",
        "/fishheads",
        "/fishheads/yummy.html",
        "/fish.html?id=anything",
    ];
    check(
        "/fish",
        &fish_yes,
        &["/bar", "/Fish.asp", "/catfish", "/?id=fish"],
    );
    check(
        "/fish*",
        &fish_yes,
        &["/bar", "/Fish.bar", "/catfish", "/?id=fish"],
    );
    check(
        "/fish/",
        &[
            "/fish/",
            "/fish/salmon",
            "/fish/?salmon",
            "/fish/salmon.html",
            "/fish/?id=anything",
        ],
        &["/bar", "/fish", "/fish.html", "/Fish/Salmon.html"],
    );
    check(
        "/*.php",
        &[
            "/filename.php",
            "/folder/filename.php",
            "/folder/filename.php?parameters",
            "//folder/any.php.file.html",
            "/filename.php/",
            "/index?f=filename.php/",
        ],
        &["/bar", "/php/", "/index?php", "/windows.PHP"],
    );
    check(
        "/*.php$",
        &["/filename.php", "/folder/filename.php"],
        &[
            "/bar",
            "/filename.php?parameters",
            "/filename.php/",
            "/filename.php5",
            "/php/",
            "/filename?php",
            "/aaaphpaaa",
            "//windows.PHP",
        ],
    );
    check(
        "/fish*.php",
        &["/fish.php", "/fishheads/catfish.php?parameters"],
        &["/bar", "/Fish.PHP"],
    );
    // Order of precedence for group-member records.
    c.allow(
        "user-agent: FooBot\nallow: /p\ndisallow: /\n",
        "FooBot",
        "http://example.com/page",
    );
    c.allow(
        "user-agent: FooBot\nallow: /folder\ndisallow: /folder\n",
        "FooBot",
        "http://example.com/folder/page",
    );
    c.deny(
        "user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n",
        "FooBot",
        "http://example.com/page.htm",
    );
    let robots = "user-agent: FooBot\nallow: /$\ndisallow: /\n";
    c.allow(robots, "FooBot", "http://example.com/");
    c.deny(robots, "FooBot", "http://example.com/page.html");
}

fn every_line_ending_is_a_line_ending(c: &mut Cases) {
    for (_ending, robots) in [
        (
            "unix",
            "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n",
        ),
        (
            "dos",
            "User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
        ),
        (
            "mac",
            "User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r",
        ),
        (
            "no final newline",
            "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
        ),
        (
            "mixed",
            "User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
        ),
    ] {
        // Two groups, whatever ends the lines: foo's allows, bar's disallows all.
        c.deny(robots, "bar", "http://foo.bar/x");
        c.deny(robots, "bar", "http://foo.bar/some/path");
        c.allow(robots, "foo", "http://foo.bar/x");
    }
}

#[test]
fn byte_order_marks() {
    let body = |prefix: &[u8], between: &[u8]| {
        let mut b = prefix.to_vec();
        b.extend_from_slice(b"User-Agent: foo\n");
        b.extend_from_slice(between);
        b.extend_from_slice(b"Disallow: /AnyValue\n");
        b
    };
    let disallowed = |b: &[u8]| !Robots::parse(b, "foo").allows("/AnyValue");
    // Whole and partial marks are skipped.
    assert!(disallowed(&body(b"\xEF\xBB\xBF", b"")));
    assert!(disallowed(&body(b"\xEF\xBB", b"")));
    assert!(disallowed(&body(b"\xEF", b"")));
    // A broken mark spoils the first line; a mark in the middle spoils its line.
    assert!(!disallowed(&body(b"\xEF\x11\xBF", b"")));
    assert!(!disallowed(&body(b"", b"\xEF\xBB\xBF")));
}

#[test]
fn sitemaps_anywhere_in_the_file() {
    let loc = "http://foo.bar/sitemap.xml";
    let group = "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n";
    for robots in [
        format!("{group}Sitemap: {loc}\n"),
        format!("Sitemap: {loc}\n{group}"),
    ] {
        assert_eq!(Robots::parse(robots.as_bytes(), "foo").sitemaps, [loc]);
    }
}

#[test]
fn path_of_a_url_and_escaping_of_a_pattern() {
    for (url, path) in [
        ("http://www.example.com", "/"),
        ("http://www.example.com/", "/"),
        ("http://www.example.com/a", "/a"),
        ("http://www.example.com/a/", "/a/"),
        (
            "http://www.example.com/a/b?c=http://d.e/",
            "/a/b?c=http://d.e/",
        ),
        (
            "http://www.example.com/a/b?c=d&e=f#fragment",
            "/a/b?c=d&e=f",
        ),
        ("http://example.com/a;b#c", "/a;b"),
    ] {
        assert_eq!(
            path_and_query(&url::Url::parse(url).unwrap()),
            path,
            "{url}"
        );
    }
    assert_eq!(
        normalize_percent("http://www.example.com"),
        "http://www.example.com"
    );
    assert_eq!(normalize_percent("/a/b/c"), "/a/b/c");
    assert_eq!(normalize_percent("á"), "%C3%A1");
    assert_eq!(normalize_percent("%aa"), "%AA");
}
