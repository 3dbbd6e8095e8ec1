//! `newscrawl parse`'s command line for the peer extractors, so that a scorer written
//! for `newscrawl parse --parser article --url URL FILE` (the development set's
//! `score.py`) scores them the same way: `peer-parse parse --parser NAME --url URL FILE`
//! (or `PEER=NAME ... --parser article`) prints `{"records": [{"title", "authors", "published", "body"}]}`.
//!
//! Peers: `trafilatura` (the crate's defaults), `trafilatura-recall` (favour recall),
//! `trafilatura-fallback` (its readability fallback on), `dom_smoothie`.

use extractor_comparison::names;
use serde_json::json;


fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    // score.py always says `--parser article`: the peer comes from `PEER` then.
    let parser = std::env::var("PEER").unwrap_or_else(|_| value("--parser").expect("--parser NAME"));
    let url = value("--url").expect("--url URL");
    let file = args.last().expect("FILE");
    let bytes = std::fs::read(file).expect("readable FILE");
    let html = String::from_utf8_lossy(&bytes).into_owned();
    let record = match parser.as_str() {
        "trafilatura" | "trafilatura-recall" | "trafilatura-fallback" => {
            let mut options = trafilatura::Options::default();
            if let Ok(u) = url::Url::parse(&url) {
                options = options.with_url(u);
            }
            if parser == "trafilatura-recall" {
                options = options.with_focus(trafilatura::ExtractionFocus::FavorRecall);
            }
            if parser == "trafilatura-fallback" {
                options = options.with_fallback(true);
            }
            trafilatura::extract(&html, &options).ok().map(|r| {
                json!({
                    "title": r.metadata.title,
                    "authors": names(&r.metadata.author),
                    "published": r.metadata.date.map(|d| d.to_string()),
                    "body": r.content_text,
                })
            })
        }
        "dom_smoothie" => dom_smoothie::Readability::new(html.as_str(), Some(url.as_str()), None)
            .ok()
            .and_then(|mut r| r.parse().ok())
            .map(|a| {
                json!({
                    "title": a.title,
                    "authors": a.byline.as_deref().map(names).unwrap_or_default(),
                    "published": a.published_time,
                    "body": a.text_content.to_string(),
                })
            }),
        other => panic!("unknown peer {other}"),
    };
    let records: Vec<_> = record.into_iter().collect();
    println!("{}", json!({ "records": records, "links": [] }));
}
