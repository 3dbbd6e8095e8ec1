//! Google's robots.txt test suite (google/robotstxt, `robots_test.cc`), case by case,
//! through newscrawl's own robots API: each expectation is a file, a product token, a
//! URL and the answer. The URL goes through the `url` crate and `path_and_query`, as
//! the crawler checks it.
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

use newscrawl::robots::{normalize_percent, Robots};
use newscrawl::site::path_and_query;

fn allowed(body: &str, token: &str, url: &str) -> bool {
    let url = url::Url::parse(url).expect("an absolute URL");
    Robots::parse(body.as_bytes(), token).allows(path_and_query(&url))
}

#[test]
fn system_test() {
    assert!(allowed("", "FooBot", "http://foo.bar/"));
}

#[test]
fn line_syntax() {
    let url = "http://foo.bar/x/y";
    assert!(!allowed("user-agent: FooBot\ndisallow: /\n", "FooBot", url));
    assert!(allowed("foo: FooBot\nbar: /\n", "FooBot", url));
    // A missing colon is accepted (Google-specific).
    assert!(!allowed("user-agent FooBot\ndisallow /\n", "FooBot", url));
}

#[test]
fn groups() {
    let robots = "allow: /foo/bar/\n\nuser-agent: FooBot\ndisallow: /\nallow: /x/\nuser-agent: BarBot\ndisallow: /\nallow: /y/\n\n\nallow: /w/\nuser-agent: BazBot\n\nuser-agent: FooBot\nallow: /z/\ndisallow: /\n";
    let (w, x, y, z, foo) = (
        "http://foo.bar/w/a",
        "http://foo.bar/x/b",
        "http://foo.bar/y/c",
        "http://foo.bar/z/d",
        "http://foo.bar/foo/bar/",
    );
    assert!(allowed(robots, "FooBot", x));
    assert!(allowed(robots, "FooBot", z));
    assert!(!allowed(robots, "FooBot", y));
    assert!(allowed(robots, "BarBot", y));
    assert!(allowed(robots, "BarBot", w));
    assert!(!allowed(robots, "BarBot", z));
    assert!(allowed(robots, "BazBot", z));
    // Rules outside groups are ignored.
    for bot in ["FooBot", "BarBot", "BazBot"] {
        assert!(!allowed(robots, bot, foo), "{bot}");
    }
}

#[test]
fn line_names_are_case_insensitive() {
    for robots in [
        "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n",
        "user-agent: FooBot\nallow: /x/\ndisallow: /\n",
        "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n",
    ] {
        assert!(allowed(robots, "FooBot", "http://foo.bar/x/y"), "{robots}");
        assert!(!allowed(robots, "FooBot", "http://foo.bar/a/b"), "{robots}");
    }
}

#[test]
fn user_agent_values_are_case_insensitive_up_to_the_first_space() {
    for robots in [
        "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n",
        "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n",
        "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n",
    ] {
        for token in ["Foo", "foo"] {
            assert!(allowed(robots, token, "http://foo.bar/x/y"), "{robots}");
            assert!(!allowed(robots, token, "http://foo.bar/a/b"), "{robots}");
        }
    }
    let robots = "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n";
    assert!(allowed(robots, "Foo", "http://foo.bar/x/y"));
}

#[test]
fn global_groups_are_secondary() {
    let url = "http://foo.bar/x/y";
    let global = "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n";
    let only_specific =
        "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\nuser-agent: BazBot\ndisallow: /\n";
    assert!(allowed("", "FooBot", url));
    assert!(!allowed(global, "FooBot", url));
    assert!(allowed(global, "BarBot", url));
    assert!(allowed(only_specific, "QuxBot", url));
}

#[test]
fn rule_values_are_case_sensitive() {
    let url = "http://foo.bar/x/y";
    assert!(!allowed(
        "user-agent: FooBot\ndisallow: /x/\n",
        "FooBot",
        url
    ));
    assert!(allowed(
        "user-agent: FooBot\ndisallow: /X/\n",
        "FooBot",
        url
    ));
}

#[test]
fn the_longest_match_wins_and_allow_wins_ties() {
    let url = "http://foo.bar/x/page.html";
    assert!(!allowed(
        "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n",
        "FooBot",
        url
    ));
    let robots = "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n";
    assert!(allowed(robots, "FooBot", url));
    assert!(!allowed(robots, "FooBot", "http://foo.bar/x/"));
    assert!(allowed(
        "user-agent: FooBot\ndisallow: \nallow: \n",
        "FooBot",
        url
    ));
    assert!(allowed(
        "user-agent: FooBot\ndisallow: /\nallow: /\n",
        "FooBot",
        url
    ));
    let robots = "user-agent: FooBot\ndisallow: /x\nallow: /x/\n";
    assert!(!allowed(robots, "FooBot", "http://foo.bar/x"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/x/"));
    assert!(allowed(
        "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/page.html\n",
        "FooBot",
        url
    ));
    let robots = "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n";
    assert!(!allowed(robots, "FooBot", "http://foo.bar/page.html"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/page"));
    let robots = "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n";
    assert!(allowed(robots, "FooBot", url));
    assert!(!allowed(robots, "FooBot", "http://foo.bar/x/y.html"));
    let robots = "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n";
    assert!(allowed(robots, "FooBot", "http://foo.bar/x/page"));
    assert!(!allowed(robots, "FooBot", "http://foo.bar/y/page"));
}

#[test]
fn encoding() {
    let robots =
        "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n";
    assert!(allowed(
        robots,
        "FooBot",
        "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par"
    ));
    for rule in ["/foo/bar/ツ", "/foo/bar/%E3%83%84"] {
        let robots = format!("User-agent: FooBot\nDisallow: /\nAllow: {rule}\n");
        assert!(
            allowed(&robots, "FooBot", "http://foo.bar/foo/bar/%E3%83%84"),
            "{rule}"
        );
    }
    // Escaped unreserved characters: RFC 9309 decodes them on both sides (see the
    // module's note on where Google answers otherwise).
    let robots = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n";
    assert!(allowed(
        robots,
        "FooBot",
        "http://foo.bar/foo/bar/%62%61%7A"
    ));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bar/baz"));
}

#[test]
fn special_characters() {
    let robots = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n";
    assert!(!allowed(robots, "FooBot", "http://foo.bar/foo/bar/quz"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/quz"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo//quz"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bax/quz"));
    let robots = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n";
    assert!(!allowed(robots, "FooBot", "http://foo.bar/foo/bar"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bar/qux"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bar/"));
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bar/baz"));
    let robots = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n";
    assert!(allowed(robots, "FooBot", "http://foo.bar/foo/bar"));
    assert!(!allowed(robots, "FooBot", "http://foo.bar/foo/quz"));
}

#[test]
fn index_html_is_the_directory() {
    let robots = "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n";
    assert!(allowed(robots, "foobot", "http://foo.com/allowed-slash/"));
    assert!(!allowed(
        robots,
        "foobot",
        "http://foo.com/allowed-slash/index.htm"
    ));
    assert!(allowed(
        robots,
        "foobot",
        "http://foo.com/allowed-slash/index.html"
    ));
    assert!(!allowed(robots, "foobot", "http://foo.com/anyother-url"));
}

#[test]
fn long_lines_are_cut_and_the_cut_rule_still_applies() {
    let max_line = 2083 * 8;
    let robots_head = "user-agent: FooBot\n";
    let mut long = String::from("/x/");
    while long.len() < max_line - "/x/".len() - "disallow: ".len() + 1 {
        long.push('a');
    }
    let robots = format!("{robots_head}disallow: {long}/qux\n");
    assert!(allowed(&robots, "FooBot", "http://foo.bar/fux"));
    assert!(!allowed(
        &robots,
        "FooBot",
        &format!("http://foo.bar{long}/fux")
    ));

    let (mut a, mut b) = (String::from("/x/"), String::from("/x/"));
    while a.len() < max_line - "/x/".len() - "allow: ".len() + 1 {
        a.push('a');
        b.push('b');
    }
    let robots = format!("user-agent: FooBot\ndisallow: /\nallow: {a}/qux\nallow: {b}/qux\n");
    assert!(!allowed(&robots, "FooBot", "http://foo.bar/"));
    assert!(allowed(
        &robots,
        "FooBot",
        &format!("http://foo.bar{a}/qux")
    ));
    assert!(allowed(
        &robots,
        "FooBot",
        &format!("http://foo.bar{b}/fux")
    ));
}

#[test]
fn googles_documentation_examples() {
    let check = |rule: &str, yes: &[&str], no: &[&str]| {
        let robots = format!("user-agent: FooBot\ndisallow: /\nallow: {rule}\n");
        for path in yes {
            assert!(
                allowed(&robots, "FooBot", &format!("http://foo.bar{path}")),
                "{rule} {path}"
            );
        }
        for path in no {
            assert!(
                !allowed(&robots, "FooBot", &format!("http://foo.bar{path}")),
                "{rule} {path}"
            );
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
    assert!(allowed(
        "user-agent: FooBot\nallow: /p\ndisallow: /\n",
        "FooBot",
        "http://example.com/page"
    ));
    assert!(allowed(
        "user-agent: FooBot\nallow: /folder\ndisallow: /folder\n",
        "FooBot",
        "http://example.com/folder/page"
    ));
    assert!(!allowed(
        "user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n",
        "FooBot",
        "http://example.com/page.htm"
    ));
    let robots = "user-agent: FooBot\nallow: /$\ndisallow: /\n";
    assert!(allowed(robots, "FooBot", "http://example.com/"));
    assert!(!allowed(robots, "FooBot", "http://example.com/page.html"));
}

#[test]
fn every_line_ending_is_a_line_ending() {
    for (name, robots) in [
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
        assert!(!allowed(robots, "bar", "http://foo.bar/x"), "{name}");
        assert!(
            !allowed(robots, "bar", "http://foo.bar/some/path"),
            "{name}"
        );
        assert!(allowed(robots, "foo", "http://foo.bar/x"), "{name}");
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
