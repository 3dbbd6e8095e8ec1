//! URL normalization: one canonical spelling per resource.
//!
//! Owns the rules that decide when two hrefs name the same URL, so that the frontier
//! and the seen set key on one form. Invariant: `normalize` is idempotent, only ever
//! returns `http`/`https` URLs with a host, and never changes what a server would
//! receive in a way that changes the resource (no query reordering, no case folding
//! of paths).
//!
//! On top of what the `url` crate already does (lower-case scheme and host, IDNA,
//! default port removal, dot-segment resolution), it drops fragments, decodes
//! percent-escapes of unreserved characters, upper-cases the remaining escapes, and
//! removes configured tracking parameters.

use ::url::Url;

/// Longest URL the crawler will keep; longer ones are almost always traps.
pub const MAX_URL_LEN: usize = 2048;

/// A path segment seen this many times in one path marks a trap (`/a/b/a/b/a/b`,
/// relative links resolved against themselves over and over).
pub const MAX_SEGMENT_REPEATS: usize = 3;

/// Query parameters removed by default: tracking tags and the session ids that give
/// every visitor (and every crawl) its own copy of each URL.
pub const DEFAULT_STRIP_PARAMS: &[&str] = &[
    "utm_*",
    "PHPSESSID",
    "phpsessid",
    "JSESSIONID",
    "jsessionid",
    "ASPSESSIONID*",
    "sessionid",
    "session_id",
];

/// Why an href did not yield a crawlable URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not a URL: {0}")]
    Parse(String),
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("URL has no host")]
    NoHost,
    #[error("URL is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("path repeats the segment {0:?} {MAX_SEGMENT_REPEATS} or more times (a crawler trap)")]
    RepeatedSegment(String),
}

/// Normalizes URLs; holds the tracking-parameter patterns.
#[derive(Debug, Clone)]
pub struct Normalizer {
    strip_params: Vec<ParamPattern>,
}

#[derive(Debug, Clone)]
enum ParamPattern {
    Exact(String),
    Prefix(String),
}

impl ParamPattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            ParamPattern::Exact(p) => name == p,
            ParamPattern::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Self::new(DEFAULT_STRIP_PARAMS.iter().map(|p| p.to_string()).collect())
            .expect("default patterns are valid")
    }
}

impl Normalizer {
    /// `patterns` are parameter names; a trailing `*` matches any suffix.
    pub fn new(patterns: Vec<String>) -> Result<Self, String> {
        let mut strip_params = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let parsed = match pattern.strip_suffix('*') {
                Some(prefix) if prefix.contains('*') => None,
                Some(prefix) => Some(ParamPattern::Prefix(prefix.to_string())),
                None if pattern.contains('*') => None,
                None => Some(ParamPattern::Exact(pattern.clone())),
            };
            match parsed {
                Some(p) if !pattern.is_empty() && pattern != "*" => strip_params.push(p),
                _ => {
                    return Err(format!(
                        "{pattern:?}: write a parameter name, optionally ending in '*'"
                    ))
                }
            }
        }
        Ok(Self { strip_params })
    }

    /// Resolves `href` against `base` and normalizes the result.
    pub fn resolve(&self, base: &Url, href: &str) -> Result<Url, UrlError> {
        let href = href.trim();
        if href.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let url = base
            .join(href)
            .map_err(|e| UrlError::Parse(e.to_string()))?;
        self.normalize(url)
    }

    /// Parses an absolute URL and normalizes it.
    pub fn parse(&self, text: &str) -> Result<Url, UrlError> {
        let text = text.trim();
        if text.len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        let url = Url::parse(text).map_err(|e| UrlError::Parse(e.to_string()))?;
        self.normalize(url)
    }

    /// The canonical form of `url`.
    pub fn normalize(&self, mut url: Url) -> Result<Url, UrlError> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(UrlError::Scheme(other.to_string())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::NoHost);
        }
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        // Decoding an escape can reveal a dot segment ("%2E%2E") that a re-parse then
        // resolves, so repeat until the spelling is stable (one round for most URLs:
        // a URL that needs no change is not parsed again).
        for _ in 0..4 {
            let path = strip_path_session_id(&normalize_escapes(url.path())).into_owned();
            let query = url
                .query()
                .map(|q| self.strip_tracking(&normalize_escapes(q)))
                .filter(|q| !q.is_empty());
            if path == url.path() && query.as_deref() == url.query() {
                break;
            }
            let mut text = format!("{}://{}{}", url.scheme(), authority(&url), path);
            if let Some(q) = query {
                text.push('?');
                text.push_str(&q);
            }
            url = Url::parse(&text).map_err(|e| UrlError::Parse(e.to_string()))?;
        }
        if url.as_str().len() > MAX_URL_LEN {
            return Err(UrlError::TooLong);
        }
        if let Some(segment) = repeated_segment(url.path()) {
            return Err(UrlError::RepeatedSegment(segment.to_string()));
        }
        Ok(url)
    }

    fn strip_tracking(&self, query: &str) -> String {
        if self.strip_params.is_empty() || !query.split('&').any(|pair| self.is_tracking(pair)) {
            return query.to_string();
        }
        query
            .split('&')
            .filter(|pair| !pair.is_empty() && !self.is_tracking(pair))
            .collect::<Vec<_>>()
            .join("&")
    }
}

impl Normalizer {
    fn is_tracking(&self, pair: &str) -> bool {
        let name = pair.split('=').next().unwrap_or_default();
        self.strip_params.iter().any(|p| p.matches(name))
    }
}

/// `host[:port]`, the unit of politeness and of robots.txt (with the scheme).
pub fn host_key(url: &Url) -> Option<String> {
    url.host_str().map(|_| authority(url))
}

/// `host[:port]` of a URL this module normalized, read off the text without parsing:
/// a normalized URL has no user info, and its authority is exactly the host key.
pub fn host_of_normalized(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters and upper-cases the hex of the rest.
fn normalize_escapes(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('%') {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let (h, l) = (bytes[i + 1], bytes[i + 2]);
            if let (Some(hv), Some(lv)) = (hex_value(h), hex_value(l)) {
                let decoded = hv * 16 + lv;
                if is_unreserved(decoded) {
                    out.push(decoded as char);
                } else {
                    out.push('%');
                    out.push(h.to_ascii_uppercase() as char);
                    out.push(l.to_ascii_uppercase() as char);
                }
                i += 3;
                continue;
            }
        }
        // Copy one UTF-8 character (url has already escaped non-ASCII, but be safe).
        let ch = text[i..]
            .chars()
            .next()
            .expect("index is on a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    std::borrow::Cow::Owned(out)
}

/// Removes a `;jsessionid=...` path parameter (Java servlet session ids in the path).
fn strip_path_session_id(path: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = path.to_ascii_lowercase().find(";jsessionid=") else {
        return std::borrow::Cow::Borrowed(path);
    };
    let end = path[start..].find('/').map_or(path.len(), |i| start + i);
    std::borrow::Cow::Owned(format!("{}{}", &path[..start], &path[end..]))
}

/// A non-empty path segment that occurs [`MAX_SEGMENT_REPEATS`] or more times.
fn repeated_segment(path: &str) -> Option<&str> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() < MAX_SEGMENT_REPEATS {
        return None;
    }
    segments
        .iter()
        .find(|s| segments.iter().filter(|t| t == s).count() >= MAX_SEGMENT_REPEATS)
        .copied()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(text: &str) -> String {
        Normalizer::default().parse(text).unwrap().to_string()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            norm("HTTP://News.Example.COM:80/a/./b/../c#frag"),
            "http://news.example.com/a/c"
        );
        assert_eq!(norm("https://news.example:443"), "https://news.example/");
        assert_eq!(
            norm("https://news.example:8443/x"),
            "https://news.example:8443/x"
        );
        assert_eq!(
            norm("http://x.example/%7euser/%2fa%3F"),
            "http://x.example/~user/%2Fa%3F"
        );
        assert_eq!(
            norm("http://x.example/a%2E%2E/%2e%2E/b"),
            "http://x.example/b"
        );
        assert_eq!(norm("http://u:p@x.example/"), "http://x.example/");
        assert_eq!(norm("http://x.example/?"), "http://x.example/");
    }

    #[test]
    fn tracking_parameters_are_removed_and_order_kept() {
        assert_eq!(
            norm("http://x.example/a?b=2&utm_source=tw&a=1&utm_medium=x"),
            "http://x.example/a?b=2&a=1"
        );
        assert_eq!(
            norm("http://x.example/a?utm_source=tw"),
            "http://x.example/a"
        );
        let exact = Normalizer::new(vec!["fbclid".into(), "ref*".into()]).unwrap();
        assert_eq!(
            exact
                .parse("http://x.example/?fbclid=1&referrer=2&fbclid2=3")
                .unwrap()
                .as_str(),
            "http://x.example/?fbclid2=3"
        );
    }

    #[test]
    fn session_ids_are_removed_from_query_and_path() {
        assert_eq!(
            norm("http://x.example/a;jsessionid=0A1B2C?id=7&PHPSESSID=abc"),
            "http://x.example/a?id=7"
        );
        assert_eq!(
            norm("http://x.example/a;JSESSIONID=0A1B2C/b?sessionid=1"),
            "http://x.example/a/b"
        );
        assert_eq!(
            norm("http://x.example/a;v=2/b"),
            "http://x.example/a;v=2/b",
            "other path parameters stay"
        );
    }

    #[test]
    fn idn_hosts_become_punycode() {
        assert_eq!(
            norm("http://B\u{fc}cher.Example/caf%c3%a9"),
            "http://xn--bcher-kva.example/caf%C3%A9"
        );
    }

    #[test]
    fn paths_that_repeat_a_segment_are_traps() {
        let n = Normalizer::default();
        assert_eq!(
            n.parse("http://x.example/a/b/a/b/a/b/story").unwrap_err(),
            UrlError::RepeatedSegment("a".into())
        );
        assert!(n.parse("http://x.example/2011/11/11/story").is_ok());
        assert!(n.parse("http://x.example/news/news/story").is_ok());
    }

    #[test]
    fn only_http_with_host() {
        let n = Normalizer::default();
        assert_eq!(
            n.parse("ftp://x.example/").unwrap_err(),
            UrlError::Scheme("ftp".into())
        );
        assert!(matches!(
            n.parse("mailto:a@x.example"),
            Err(UrlError::Scheme(_))
        ));
        assert!(matches!(
            n.parse("javascript:void(0)"),
            Err(UrlError::Scheme(_))
        ));
        assert!(n.parse("not a url").is_err());
        let long = format!("http://x.example/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(n.parse(&long).unwrap_err(), UrlError::TooLong);
    }

    #[test]
    fn relative_links_resolve_against_the_page() {
        let n = Normalizer::default();
        let base = Url::parse("https://news.example/www/nation/2024/03/1.html").unwrap();
        assert_eq!(
            n.resolve(&base, "../../2023/x.html?utm_campaign=a#top")
                .unwrap()
                .as_str(),
            "https://news.example/www/nation/2023/x.html"
        );
        assert_eq!(
            n.resolve(&base, "//Other.Example/").unwrap().as_str(),
            "https://other.example/"
        );
    }

    #[test]
    fn host_of_normalized_matches_host_key() {
        for text in [
            "http://127.0.0.1:8080/a?b",
            "https://News.Example:443",
            "http://[::1]:81/x",
            "http://xn--bcher-kva.example/?q",
        ] {
            let url = Normalizer::default().parse(text).unwrap();
            assert_eq!(
                host_of_normalized(url.as_str()),
                host_key(&url).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn host_key_keeps_non_default_ports() {
        let url = Url::parse("http://127.0.0.1:8080/a").unwrap();
        assert_eq!(host_key(&url).unwrap(), "127.0.0.1:8080");
        let url = Url::parse("https://News.Example:443/a").unwrap();
        assert_eq!(host_key(&url).unwrap(), "news.example");
    }

    fn url_like() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("http"), Just("HTTPS"), Just("https")];
        let host = prop_oneof![
            Just("news.example"),
            Just("News.EXAMPLE"),
            Just("127.0.0.1"),
            Just("xn--bcher-kva.example"),
            Just("bücher.example")
        ];
        let port = prop_oneof![Just(""), Just(":80"), Just(":443"), Just(":8080")];
        let segment = "([a-zA-Z0-9._~-]|%[0-9a-fA-F]{2}|\\.|\\.\\.|[ é%/;=+])*";
        let path = proptest::collection::vec(segment, 0..5).prop_map(|s| s.join("/"));
        let query = proptest::option::of("([a-z_=&]|utm_[a-z]+=[a-z]*|%[0-9a-fA-F]{2}|[?/:@ é])*");
        let fragment = proptest::option::of("[a-z#?]*");
        (scheme, host, port, path, query, fragment).prop_map(|(s, h, p, path, q, f)| {
            let mut text = format!("{s}://{h}{p}/{path}");
            if let Some(q) = q {
                text.push('?');
                text.push_str(&q);
            }
            if let Some(f) = f {
                text.push('#');
                text.push_str(&f);
            }
            text
        })
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(text in url_like()) {
            let n = Normalizer::default();
            if let Ok(once) = n.parse(&text) {
                let twice = n.normalize(once.clone()).unwrap();
                prop_assert_eq!(once.as_str(), twice.as_str());
                prop_assert!(once.fragment().is_none());
                prop_assert!(!once.query_pairs().any(|(name, _)| name.starts_with("utm_")));
            }
        }

        #[test]
        fn resolving_arbitrary_hrefs_never_panics(href in "\\PC{0,80}") {
            let base = Url::parse("https://news.example/a/b.html").unwrap();
            if let Ok(url) = Normalizer::default().resolve(&base, &href) {
                prop_assert!(url.scheme() == "http" || url.scheme() == "https");
                let again = Normalizer::default().normalize(url.clone()).unwrap();
                prop_assert_eq!(url.as_str(), again.as_str());
            }
        }
    }
}
