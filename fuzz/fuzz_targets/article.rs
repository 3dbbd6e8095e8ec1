//! The article parser: any text is parsed (or refused with an error), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newscrawl::parse::{ArticleParser, Page, Parser};
use newscrawl::site::UrlKind;

fuzz_target!(|html: &str| {
    let url = url::Url::parse("https://news.example/2024/03/01/story.html").unwrap();
    for kind in [UrlKind::Article, UrlKind::Page] {
        let page = Page {
            url: &url,
            kind,
            headers: &[],
            body: html,
            time_zone: chrono_tz::Asia::Seoul,
            max_links: 1000,
        };
        let _ = ArticleParser.parse(&page);
    }
});
