//! Link extraction: any text gives absolute http(s) URLs, streamed or from the DOM.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::parse::{extract_links, stream_links};

fuzz_target!(|html: &str| {
    let page = url::Url::parse("https://news.example/section/page.html").unwrap();
    let dom = extract_links(&scraper::Html::parse_document(html), &page);
    for link in dom
        .iter()
        .chain(stream_links(html, &page, 1000).iter().flatten())
    {
        assert!(
            link.starts_with("http://") || link.starts_with("https://"),
            "{link}"
        );
    }
});
