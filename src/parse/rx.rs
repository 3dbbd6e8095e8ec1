//! How the parsers compile their regexes: with a small lazy-DFA cache.
//!
//! Invariant: every regex of the parsers is built here. The regex crate keeps one
//! transition cache per regex per thread that uses it (2 MB each by default); the
//! parsers' regexes run on short texts (class names, lines, dates) on every CPU-pool
//! thread, where a small cache serves as well and the default ones add up to tens of
//! megabytes of resident memory. Digits are written `[0-9]`, never `\d`: the parsers
//! read them with `str::parse`, which takes ASCII digits only, and a Unicode `\d` (over
//! 700 code points) made a date pattern's automaton, and its cache on every thread,
//! several times larger.

use regex::{Regex, RegexBuilder};

/// The lazy DFA's cache per regex and thread.
const DFA_CACHE: usize = 128 * 1024;

/// A regex of the parsers; panics on a pattern that does not compile (patterns are
/// constants, and a test builds every one).
pub(crate) fn rx(pattern: &str) -> Regex {
    debug_assert!(
        !pattern.contains(r"\d"),
        "{pattern:?}: write digits as [0-9]"
    );
    try_rx(pattern).unwrap_or_else(|e| panic!("invalid regex {pattern:?}: {e}"))
}

/// A regex built from a page's text (an escaped name), which may be too big to build.
pub(crate) fn try_rx(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).dfa_size_limit(DFA_CACHE).build()
}
