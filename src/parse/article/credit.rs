//! Which of the names a page gives are the story's authors: not the publisher (a web
//! address as a name, the site's name run into a byline), not an agency's or desk's
//! short code after a named person, and a credit line that names more people than
//! the structured data does is the fuller one.
//!
//! Invariant: these rules only drop or choose among names already read from the page;
//! they never make up a name.

use std::sync::LazyLock;

use regex::Regex;

use super::title::fold;
use crate::parse::rx::rx;

/// A printed byline without the short codes after a named person ("Jane Doe, dpa",
/// "Jane Doe, TK"): an agency's or desk's credit, not a second author. Structured
/// data lists its authors on purpose and keeps them.
pub(super) fn without_codes(names: Vec<String>) -> Vec<String> {
    let code = |name: &String| {
        !name.contains(char::is_whitespace)
            && (name.chars().count() <= 4
                || (name.chars().count() <= 5 && !name.chars().any(char::is_uppercase)))
    };
    if names.iter().any(|n| spelled(n)) {
        names.into_iter().filter(|n| !code(n)).collect()
    } else {
        names
    }
}

/// Whether `longer` names everyone `shorter` does, and someone more.
pub(super) fn extends(longer: &[String], shorter: &[String]) -> bool {
    let folded = |names: &[String]| -> Vec<String> { names.iter().map(|n| fold(n)).collect() };
    let (longer, shorter) = (folded(longer), folded(shorter));
    longer.len() > shorter.len() && shorter.iter().all(|n| longer.contains(n))
}

/// A web address: "example.de", "news.Example.com".
pub(super) static HOST_NAME: LazyLock<Regex> = LazyLock::new(|| {
    rx(r"(?i)^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:[a-z]{2}|com|org|net|info|news|online|media|biz)$")
});

/// "Adam Doe NewsSite", "Matthias newssite": a name with the site's name run into it.
/// Only a word not spelled as a surname goes (all lower case, or a capital inside).
pub(super) fn without_site_word(name: String, site: &[String]) -> String {
    let Some((head, last)) = name.rsplit_once(' ') else {
        return name;
    };
    let not_a_surname = !last.chars().next().is_some_and(char::is_uppercase)
        || last.chars().skip(1).any(char::is_uppercase);
    if not_a_surname && site.contains(&fold(last).replace(' ', "")) {
        head.trim().to_string()
    } else {
        name
    }
}

/// A name as people spell theirs: two to four words, each opening with a capital.
pub(super) fn spelled(name: &str) -> bool {
    let words: Vec<&str> = name.split_whitespace().collect();
    (2..=4).contains(&words.len())
        && words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}
