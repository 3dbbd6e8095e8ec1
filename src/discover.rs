//! Discovery beyond links: sitemaps (urlsets, sitemap indexes, Google News tags,
//! gzip) and RSS/Atom feeds, read into URLs with their last modification time.
//!
//! Invariant: pure and bounded. No I/O; at most [`MAX_ENTRIES`] entries per document
//! (the sitemap protocol's own limit) and [`MAX_DECODED_BYTES`] after gunzip; XML
//! entities are never expanded beyond the predefined five (quick-xml does not read
//! DTDs), so entity bombs stay small.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

/// Entries read from one sitemap or feed.
pub const MAX_ENTRIES: usize = 50_000;
/// Largest decoded (gunzipped) sitemap, as the protocol allows.
pub const MAX_DECODED_BYTES: u64 = 50 * 1024 * 1024;

/// A URL found in a sitemap or a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub url: String,
    /// Last modification (or publication), Unix ms.
    pub modified_ms: Option<u64>,
}

/// What a sitemap document lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sitemap {
    /// Pages.
    Urls(Vec<Found>),
    /// Other sitemaps.
    Index(Vec<Found>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoverError {
    #[error("not a sitemap: {0}")]
    Xml(String),
    #[error("not a feed: {0}")]
    Feed(String),
    #[error("gzip body: {0}")]
    Gzip(String),
    #[error("decoded body exceeds {MAX_DECODED_BYTES} bytes")]
    TooLarge,
}

/// Gunzips `body` if it starts with the gzip magic bytes; otherwise returns it.
pub fn maybe_gunzip(body: &[u8]) -> Result<Vec<u8>, DiscoverError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| DiscoverError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_DECODED_BYTES {
        return Err(DiscoverError::TooLarge);
    }
    Ok(out)
}

/// Parses a W3C datetime (`2024-03-01`, `2024-03-01T09:00:00+09:00`, `...Z`).
pub fn parse_w3c_datetime(text: &str) -> Option<u64> {
    let text = text.trim();
    let ms = chrono::DateTime::parse_from_rfc3339(text)
        .map(|d| d.timestamp_millis())
        .or_else(|_| {
            chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%:z")
                .map(|d| d.timestamp_millis())
        })
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .map(|d| {
                    d.and_time(chrono::NaiveTime::MIN)
                        .and_utc()
                        .timestamp_millis()
                })
        })?;
    u64::try_from(ms).ok()
}

/// Reads a sitemap (`<urlset>` or `<sitemapindex>`); namespaces are ignored, so Google
/// News (`news:publication_date`) and image extensions parse too.
pub fn parse_sitemap(body: &[u8]) -> Result<Sitemap, DiscoverError> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut index = None;
    let mut found: Vec<Found> = Vec::new();
    let mut current: Option<Found> = None;
    // Text of the element being read: quick-xml hands over text and entity references
    // (`&amp;`) as separate events.
    let mut text = String::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            DiscoverError::Xml(format!("at byte {}: {e}", reader.buffer_position()))
        })?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().as_bytes().to_ascii_lowercase();
                match name.as_slice() {
                    b"urlset" => index = Some(false),
                    b"sitemapindex" => index = Some(true),
                    b"url" | b"sitemap" if path.len() == 1 => {
                        current = Some(Found {
                            url: String::new(),
                            modified_ms: None,
                        })
                    }
                    _ => {}
                }
                text.clear();
                path.push(name);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                if let Some(entry) = current.as_mut() {
                    match name.as_slice() {
                        b"loc" if path.len() == 2 => entry.url = text.trim().to_string(),
                        b"lastmod" if path.len() == 2 => {
                            entry.modified_ms = parse_w3c_datetime(&text)
                        }
                        b"publication_date" if entry.modified_ms.is_none() => {
                            entry.modified_ms = parse_w3c_datetime(&text);
                        }
                        _ => {}
                    }
                }
                if matches!(name.as_slice(), b"url" | b"sitemap") && path.len() == 1 {
                    if let Some(entry) = current.take().filter(|f| !f.url.is_empty()) {
                        found.push(entry);
                        if found.len() >= MAX_ENTRIES {
                            break;
                        }
                    }
                }
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(t.as_ref()),
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let resolved = match name.as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ if r.is_char_ref() => r.resolve_char_ref().ok().flatten(),
                    // Other entities (declared in a DTD) are never expanded.
                    _ => None,
                };
                text.extend(resolved);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    match index {
        Some(true) => Ok(Sitemap::Index(found)),
        Some(false) => Ok(Sitemap::Urls(found)),
        None => Err(DiscoverError::Xml(
            "no <urlset> or <sitemapindex> element".into(),
        )),
    }
}

/// Reads an RSS, Atom or JSON feed: each entry's link, with its updated or published time.
pub fn parse_feed(body: &[u8]) -> Result<Vec<Found>, DiscoverError> {
    let feed = feed_rs::parser::parse(body).map_err(|e| DiscoverError::Feed(e.to_string()))?;
    Ok(feed
        .entries
        .into_iter()
        .filter_map(|entry| {
            let link = entry
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| entry.links.first())?;
            let modified = entry.updated.or(entry.published);
            Some(Found {
                url: link.href.clone(),
                modified_ms: modified.and_then(|t| u64::try_from(t.timestamp_millis()).ok()),
            })
        })
        .take(MAX_ENTRIES)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlset_with_news_tags_and_an_index() {
        let urlset = br#"<?xml version="1.0" encoding="UTF-8"?>
            <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
              <url><loc>https://news.example/a?x=1&amp;y=2</loc><lastmod>2024-03-01T09:00:00+09:00</lastmod></url>
              <url><loc> https://news.example/b </loc><news:news><news:publication_date>2024-03-02</news:publication_date></news:news></url>
              <url><lastmod>2024-03-01</lastmod></url>
            </urlset>"#;
        let Sitemap::Urls(found) = parse_sitemap(urlset).unwrap() else {
            panic!()
        };
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].url, "https://news.example/a?x=1&y=2");
        assert_eq!(found[0].modified_ms, Some(1_709_251_200_000));
        assert_eq!(found[1].url, "https://news.example/b");
        assert_eq!(found[1].modified_ms, parse_w3c_datetime("2024-03-02"));
        let index = b"<sitemapindex><sitemap><loc>https://news.example/s1.xml.gz</loc></sitemap></sitemapindex>";
        assert_eq!(
            parse_sitemap(index).unwrap(),
            Sitemap::Index(vec![Found {
                url: "https://news.example/s1.xml.gz".into(),
                modified_ms: None
            }])
        );
    }

    #[test]
    fn broken_and_hostile_sitemaps_are_errors_not_panics() {
        assert!(parse_sitemap(b"<html><body>not found</body></html>").is_err());
        assert!(parse_sitemap(b"<urlset><url><loc>x</loc></urlset>").is_err());
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
            <urlset><url><loc>&lol2;</loc></url></urlset>"#;
        // Custom entities are not expanded: an error (or an empty URL), never a bomb.
        if let Ok(Sitemap::Urls(found)) = parse_sitemap(bomb) {
            assert!(found.iter().all(|f| f.url.len() < 100));
        }
    }

    #[test]
    fn a_sitemap_or_feed_is_read_up_to_50000_entries() {
        let urls: String = (0..60_000)
            .map(|i| format!("<url><loc>https://n.example/a/{i}</loc></url>"))
            .collect();
        let sitemap = format!("<urlset>{urls}</urlset>");
        let Sitemap::Urls(found) = parse_sitemap(sitemap.as_bytes()).unwrap() else {
            panic!("a urlset");
        };
        assert_eq!(found.len(), MAX_ENTRIES);
        assert_eq!(found.last().unwrap().url, "https://n.example/a/49999");
        let items: String = (0..60_000)
            .map(|i| format!("<item><title>{i}</title><link>https://n.example/a/{i}</link></item>"))
            .collect();
        let feed = format!("<rss version=\"2.0\"><channel><title>N</title>{items}</channel></rss>");
        assert_eq!(parse_feed(feed.as_bytes()).unwrap().len(), MAX_ENTRIES);
    }

    #[test]
    fn gzip_is_detected_and_capped() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"<urlset><url><loc>https://n.example/</loc></url></urlset>")
            .unwrap();
        let gz = enc.finish().unwrap();
        let plain = maybe_gunzip(&gz).unwrap();
        assert!(matches!(parse_sitemap(&plain).unwrap(), Sitemap::Urls(f) if f.len() == 1));
        assert_eq!(maybe_gunzip(b"<urlset/>").unwrap(), b"<urlset/>");
    }

    #[test]
    fn rss_and_atom_feeds() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
            <item><title>One</title><link>https://news.example/1</link><pubDate>Fri, 01 Mar 2024 00:00:00 GMT</pubDate></item>
            <item><title>No link</title></item></channel></rss>"#;
        let found = parse_feed(rss).unwrap();
        assert_eq!(
            found,
            [Found {
                url: "https://news.example/1".into(),
                modified_ms: Some(1_709_251_200_000)
            }]
        );
        let atom = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>x</id><updated>2024-03-01T00:00:00Z</updated>
            <entry><title>E</title><id>e1</id><updated>2024-03-01T00:00:00Z</updated><link rel="alternate" href="https://news.example/e"/></entry></feed>"#;
        assert_eq!(parse_feed(atom).unwrap()[0].url, "https://news.example/e");
        assert!(parse_feed(b"not xml at all").is_err());
    }

    proptest::proptest! {
        /// Any bytes, gzipped or not: entries within the limit, or an error.
        #[test]
        fn any_bytes_give_entries_or_an_error(body in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            if let Ok(body) = maybe_gunzip(&body) {
                if let Ok(Sitemap::Urls(found) | Sitemap::Index(found)) = parse_sitemap(&body) {
                    proptest::prop_assert!(found.len() <= MAX_ENTRIES);
                }
                let _ = parse_feed(&body);
            }
        }

        /// Markup-shaped noise: sitemap and feed tags, entities, a DTD, cut anywhere.
        #[test]
        fn xml_shaped_noise_gives_entries_or_an_error(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "<urlset>", "</urlset>", "<url>", "</url>", "<loc>", "</loc>", "<sitemapindex>",
                "<sitemap>", "<lastmod>2024-03-01</lastmod>", "&amp;", "&lol;", "&#x41;", "&#xFFFFFF;",
                "<!DOCTYPE x [<!ENTITY lol \"lol\">]>", "<rss><channel>", "<item><link>",
                "</link></item>", "</channel></rss>", "http://x.example/a", "<![CDATA[", "]]>",
                "<feed xmlns=\"http://www.w3.org/2005/Atom\">", "<entry><link href=\"/e\"/></entry>",
            ]), 0..40),
        ) {
            let body = parts.concat();
            let _ = parse_sitemap(body.as_bytes());
            let _ = parse_feed(body.as_bytes());
        }

        /// A well-formed urlset lists back exactly its URLs, in order.
        #[test]
        fn urlsets_list_back_their_urls(paths in proptest::collection::vec("[a-z0-9/&<>'\"_.-]{0,20}", 0..30)) {
            let urls: Vec<String> = paths.iter().map(|p| format!("http://x.example/{p}")).collect();
            let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let body: String = std::iter::once("<urlset>".to_string())
                .chain(urls.iter().map(|u| format!("<url><loc>{}</loc></url>", escape(u))))
                .chain(std::iter::once("</urlset>".to_string()))
                .collect();
            let Ok(Sitemap::Urls(found)) = parse_sitemap(body.as_bytes()) else {
                return Err(proptest::test_runner::TestCaseError::fail("not a urlset"));
            };
            let listed: Vec<String> = found.into_iter().map(|f| f.url).collect();
            proptest::prop_assert_eq!(listed, urls);
        }
    }
}
