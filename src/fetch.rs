//! HTTP fetching: one request, one response, with limits on time and size.
//!
//! Owns the reqwest client (rustls, gzip/brotli/deflate, connect and total timeouts)
//! and the reading of bodies under a cap on decoded bytes, plus the decoding of HTML
//! to text (charset from the header, a BOM or a `<meta>` tag, via encoding_rs).
//!
//! Invariant: a fetch is exactly one request. Redirects are not followed here: their
//! targets go back to the frontier like links, so they pass the same dedup, host,
//! robots.txt and politeness checks as every other URL.

use std::borrow::Cow;
use std::time::Duration;

use ::url::Url;
use encoding_rs::Encoding;
use reqwest::header::{
    HeaderMap, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
    RETRY_AFTER,
};

/// Client settings.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Longest wait for the next byte once connected (headers or body): a stalled
    /// server is cut after this, a slow one that keeps sending is not.
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    /// Which addresses may be connected to.
    pub address_policy: std::sync::Arc<crate::netguard::AddressPolicy>,
    /// Certificate authorities trusted beyond the built-in roots (`crawler.ca_file`).
    pub extra_roots: Vec<reqwest::Certificate>,
    /// The proxy of every request; `None`: the environment's (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `NO_PROXY`), if any.
    pub proxy: Option<reqwest::Proxy>,
    /// Sites whose page requests keep cookies or carry extra headers.
    pub sites: Vec<SiteTransport>,
}

/// What a site adds to its page requests.
#[derive(Debug, Clone, Default)]
pub struct SiteTransport {
    pub site: String,
    /// Keep a cookie jar (the site's own, apart from other sites').
    pub cookies: bool,
    pub headers: reqwest::header::HeaderMap,
}

/// Validators from an earlier fetch, for a conditional request.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// How much of a body to read, and what a larger one means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// The crawl's page limit (`crawler.max_body_bytes`): larger bodies are an error.
    Default,
    /// Larger bodies are an error ([`FetchError::TooLarge`]).
    Fail(u64),
    /// Only the first this many bytes are read; the rest is not downloaded
    /// (robots.txt, of which RFC 9309 asks crawlers to read at least 500 KiB).
    Truncate(u64),
}

/// A response, with its body read in full (and decompressed).
#[derive(Debug, Clone)]
pub struct Response {
    /// When the response headers arrived: the server started handling the request
    /// no later than this.
    pub answered_at: tokio::time::Instant,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// Absolute target of a redirect response.
    pub location: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
    /// The body was cut at a [`BodyLimit::Truncate`] limit.
    pub truncated: bool,
    /// `HTTP/1.1`, `HTTP/2.0`, ...
    pub http_version: String,
    pub remote_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("connection failed: {0}")]
    Connect(String),
    /// The TLS layer failed: the certificate or the handshake (see [`crate::tls`]).
    #[error("TLS: {0}")]
    Tls(String),
    #[error("body exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("request failed: {0}")]
    Other(String),
    /// The address is one the crawl may not connect to (see [`crate::netguard`]).
    #[error("{0}")]
    Refused(String),
}

impl FetchError {
    fn from_reqwest(e: reqwest::Error, started: tokio::time::Instant, limits: &Limits) -> Self {
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<crate::netguard::PrivateAddressRefused>() {
                return FetchError::Refused(refused.0.clone());
            }
            source = cause.source();
        }
        if let Some(reason) = crate::tls::failure(&e) {
            return FetchError::Tls(reason);
        }
        if e.is_timeout() {
            // Which timer fired: the whole request's, or the wait for a byte.
            let how = if started.elapsed() + Duration::from_millis(50) >= limits.request {
                format!("the whole request took over {:?}", limits.request)
            } else {
                format!("no byte came for {:?}", limits.read)
            };
            FetchError::Timeout(how)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Makes single HTTP requests.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    /// Clients of sites with cookies or headers of their own, by site name.
    site_clients: std::sync::Arc<std::collections::HashMap<String, reqwest::Client>>,
    limits: Limits,
    max_body_bytes: u64,
    address_policy: std::sync::Arc<crate::netguard::AddressPolicy>,
}

/// The two timers of a request, to say which one fired.
#[derive(Debug, Clone, Copy)]
struct Limits {
    request: Duration,
    read: Duration,
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .build()
                .map_err(|e| FetchError::Other(error_chain(&e)))
        };
        let client = build(Self::builder(settings))?;
        let mut site_clients = std::collections::HashMap::new();
        for site in settings
            .sites
            .iter()
            .filter(|s| s.cookies || !s.headers.is_empty())
        {
            let builder = Self::builder(settings)
                .cookie_store(site.cookies)
                .default_headers(site.headers.clone());
            site_clients.insert(site.site.clone(), build(builder)?);
        }
        Ok(Self {
            client,
            site_clients: std::sync::Arc::new(site_clients),
            limits: Limits {
                request: settings.request_timeout,
                read: settings.read_timeout,
            },
            max_body_bytes: settings.max_body_bytes,
            address_policy: settings.address_policy.clone(),
        })
    }

    /// A client as the settings ask for: timeouts, no redirects, trust, proxy, the
    /// private-address guard.
    fn builder(settings: &FetchSettings) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .read_timeout(settings.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(4);
        for root in &settings.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        if let Some(proxy) = &settings.proxy {
            builder = builder.proxy(proxy.clone().no_proxy(reqwest::NoProxy::from_env()));
        }
        if settings.address_policy.block_private {
            builder = builder.dns_resolver(std::sync::Arc::new(crate::netguard::GuardedResolver {
                policy: settings.address_policy.clone(),
            }));
        }
        builder
    }

    /// GETs `url`, conditionally when validators are given, under the page size limit.
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Response, FetchError> {
        self.get_limited(url, validators, BodyLimit::Default).await
    }

    /// GETs `url` reading its body under `limit` (counted in decoded bytes).
    pub async fn get_limited(
        &self,
        url: &Url,
        validators: &Validators,
        limit: BodyLimit,
    ) -> Result<Response, FetchError> {
        self.get_for_site(None, url, validators, limit).await
    }

    /// As [`Fetcher::get_limited`], with `site`'s cookies and headers when it has any.
    pub async fn get_for_site(
        &self,
        site: Option<&str>,
        url: &Url,
        validators: &Validators,
        limit: BodyLimit,
    ) -> Result<Response, FetchError> {
        let client = site
            .and_then(|name| self.site_clients.get(name))
            .unwrap_or(&self.client);
        let (max_bytes, truncate) = match limit {
            BodyLimit::Default => (self.max_body_bytes, false),
            BodyLimit::Fail(n) => (n, false),
            BodyLimit::Truncate(n) => (n, true),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!(
                "refused: only http and https are fetched, not {}",
                url.scheme()
            )));
        }
        if let Some(reason) = self.address_policy.refusal(url) {
            return Err(FetchError::Refused(reason));
        }
        let mut request = client.get(url.clone());
        if let Some(etag) = &validators.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(IF_MODIFIED_SINCE, lm);
        }
        let started = tokio::time::Instant::now();
        let limits = self.limits;
        let failed = |e| FetchError::from_reqwest(e, started, &limits);
        let mut response = request.send().await.map_err(failed)?;
        let answered_at = tokio::time::Instant::now();
        if let Some(length) = response.content_length() {
            if !truncate
                && length > max_bytes
                && response
                    .headers()
                    .get(reqwest::header::CONTENT_ENCODING)
                    .is_none()
            {
                return Err(FetchError::TooLarge { limit: max_bytes });
            }
        }
        let status = response.status().as_u16();
        let http_version = format!("{:?}", response.version());
        let remote_addr = response.remote_addr();
        let headers = response.headers();
        let header = |map: &HeaderMap, name| {
            map.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(headers, CONTENT_TYPE);
        let location = header(headers, LOCATION)
            .and_then(|l| url.join(&l).ok())
            .map(String::from);
        let etag = header(headers, ETAG);
        let last_modified = header(headers, LAST_MODIFIED);
        let retry_after = header(headers, RETRY_AFTER);
        let header_list = headers
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), v.to_string()))
            })
            .collect();
        // Sized once when the server says how long the body is, rather than doubled
        // as it arrives (which leaves up to twice the page in memory per fetch); a
        // length past a mebibyte is not taken on trust, that body grows as it comes.
        let declared = response
            .content_length()
            .unwrap_or(0)
            .min(max_bytes)
            .min(1 << 20);
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() as u64 + chunk.len() as u64 > max_bytes {
                if !truncate {
                    return Err(FetchError::TooLarge { limit: max_bytes });
                }
                let room = (max_bytes as usize).saturating_sub(body.len());
                body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                // Dropping the response closes the connection: the rest is never read.
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            answered_at,
            status,
            headers: header_list,
            content_type,
            location,
            etag,
            last_modified,
            retry_after,
            body,
            truncated,
            http_version,
            remote_addr,
        })
    }
}

/// Whether a response is HTML, from its Content-Type or, when there is none, its body.
pub fn is_html(content_type: Option<&str>, body: &[u8]) -> bool {
    match content_type {
        Some(ct) => {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            mime == "text/html" || mime == "application/xhtml+xml"
        }
        None => {
            let start = String::from_utf8_lossy(&body[..body.len().min(256)])
                .trim_start()
                .to_ascii_lowercase();
            start.starts_with("<!doctype html") || start.starts_with("<html")
        }
    }
}

/// Decodes an HTML body to text: a BOM wins, then the header's charset, then a
/// `<meta>` declaration in the first 1024 bytes, then UTF-8. A declaration the bytes
/// contradict (most of their non-ASCII text is malformed in it, as EUC-KR bytes are in
/// UTF-8) gives way to the encoding `chardetng` (Firefox's detector) guesses, when the
/// bytes are well formed in that one. Otherwise malformed bytes become U+FFFD, so a
/// few stray bytes in a page that is otherwise good UTF-8 cost only themselves.
/// Returns the encoding used. Text that is already UTF-8 is borrowed, not copied.
pub fn decode_html<'a>(
    body: &'a [u8],
    content_type: Option<&str>,
) -> (Cow<'a, str>, &'static Encoding) {
    let declared = content_type
        .and_then(charset_param)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| meta_charset(&body[..body.len().min(1024)]))
        .unwrap_or(encoding_rs::UTF_8);
    // UTF-16 declarations in a byte stream that parsed as ASCII are wrong by definition.
    let declared = if declared == encoding_rs::UTF_16LE || declared == encoding_rs::UTF_16BE {
        encoding_rs::UTF_8
    } else {
        declared
    };
    let (text, used, had_errors) = declared.decode(body);
    if had_errors && mostly_malformed(&text) {
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(body, true);
        let guess = detector.guess(None, chardetng::Utf8Detection::Allow);
        if guess != used {
            let (guessed, guess_had_errors) = guess.decode_without_bom_handling(body);
            if !guess_had_errors {
                return (Cow::Owned(guessed.into_owned()), guess);
            }
        }
    }
    (text, used)
}

/// Whether the malformed sequences (now replacement characters) outnumber the
/// well-formed non-ASCII characters: text in another encoding is mostly malformed
/// (GB2312 or EUC-KR in UTF-8, though some of their byte pairs happen to be well-formed
/// UTF-8, and a page may carry a banner that is), while a page in the declared one
/// with a few stray bytes is not. A handful of malformed bytes is too little to tell a
/// majority by: then only four to one does.
fn mostly_malformed(text: &str) -> bool {
    let (mut malformed, mut good) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        if c == char::REPLACEMENT_CHARACTER {
            malformed += 1;
        } else {
            good += 1;
        }
    }
    const ENOUGH: usize = 32;
    malformed > 4 * good || (malformed >= ENOUGH && malformed > good)
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
    })
}

fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("charset") {
        rest = &rest[pos + "charset".len()..];
        let value = rest.trim_start().strip_prefix('=')?.trim_start();
        let value = value.trim_start_matches(['"', '\'']);
        let end = value
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(value.len());
        if let Some(enc) = Encoding::for_label(&value.as_bytes()[..end]) {
            return Some(enc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euc_kr_from_header_and_meta() {
        let (bytes, _, _) = encoding_rs::EUC_KR.encode("<p>한국어 기사</p>");
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=EUC-KR"));
        assert_eq!(enc, encoding_rs::EUC_KR);
        assert!(text.contains("한국어 기사"));
        let mut page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=euc-kr\"></head>".to_vec();
        page.extend_from_slice(&bytes);
        let (text, enc) = decode_html(&page, Some("text/html"));
        assert_eq!(enc, encoding_rs::EUC_KR);
        assert!(text.contains("한국어 기사"));
        let (text, _) = decode_html("<meta charset='utf-8'><p>서울</p>".as_bytes(), None);
        assert!(text.contains("서울"));
    }

    #[test]
    fn a_charset_the_bytes_contradict_gives_way_to_the_detected_one() {
        let korean = "<p>서울에서 열린 회의에서 대표단은 새로운 협정에 서명했다.</p>";
        let (bytes, _, _) = encoding_rs::EUC_KR.encode(korean);
        let (text, enc) = decode_html(&bytes, Some("text/html; charset=utf-8"));
        assert_eq!((&*text, enc), (korean, encoding_rs::EUC_KR));
        // A few stray bytes in text that is otherwise good UTF-8 cost only themselves.
        let mut broken = "<p>caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e na\u{ef}ve "
            .as_bytes()
            .to_vec();
        broken.extend_from_slice(&[0xff, 0xfe, 0xfd]);
        broken.extend_from_slice("ok</p>".as_bytes());
        let (text, enc) = decode_html(&broken, Some("text/html; charset=utf-8"));
        assert_eq!(enc, encoding_rs::UTF_8);
        assert!(
            text.starts_with("<p>caf\u{e9} cr\u{e8}me") && text.ends_with("ok</p>"),
            "{text}"
        );
        assert!(text.contains('\u{fffd}'));
        // GB2312 text declared UTF-8, under a banner that is UTF-8: most of its
        // non-ASCII is malformed, not all (some GB2312 pairs are well-formed UTF-8).
        let chinese = "<p>话剧《约定无期限》河北各市巡演结束，演员们在石家庄、保定、唐山等地演出了十二场，观众反响热烈。</p>";
        let (gb, _, _) = encoding_rs::GBK.encode(chinese);
        let mut page = "<div>Wayback Machine · Archiv · Übersicht · Über uns · Zurück</div>"
            .as_bytes()
            .to_vec();
        page.extend_from_slice(&gb);
        let (text, enc) = decode_html(&page, Some("text/html; charset=utf-8"));
        assert_eq!(enc, encoding_rs::GBK, "{text}");
        assert!(text.contains("河北各市巡演结束"));
    }

    #[test]
    fn bom_wins_and_default_is_utf8() {
        let mut body = vec![0xEF, 0xBB, 0xBF];
        body.extend_from_slice("é".as_bytes());
        let (text, enc) = decode_html(&body, Some("text/html; charset=iso-8859-1"));
        assert_eq!((&*text, enc), ("é", encoding_rs::UTF_8));
        assert_eq!(decode_html("é".as_bytes(), None).0, "é");
    }

    #[test]
    fn html_detection() {
        assert!(is_html(Some("text/html; charset=utf-8"), b""));
        assert!(is_html(Some("application/xhtml+xml"), b""));
        assert!(!is_html(Some("application/pdf"), b"<html>"));
        assert!(is_html(None, b"  <!DOCTYPE html><html>"));
        assert!(!is_html(None, b"%PDF-1.4"));
    }
}
