//! The built-in `article` extractor on the shapes of page that broke extractors
//! before: stories split into boxes, text without `<p>`, `<br>`-separated lines,
//! non-Latin and right-to-left scripts, a body only in JSON-LD, chrome inside and
//! around the story, dates without a zone and relative dates. Each page is small and
//! written here; the real-page figures come from `benches/extraction_dev.py`.

use chrono::TimeZone;
use newscrawl::parse::{Page, ParserRegistry};
use newscrawl::record::Article;
use newscrawl::site::UrlKind;

fn extract(html: &str, zone: &str) -> Article {
    let url = url::Url::parse("https://news.example/local/library-stays-open").unwrap();
    let page = Page {
        url: &url,
        kind: UrlKind::Article,
        headers: &[],
        body: html,
        time_zone: zone.parse().unwrap(),
        fetched_at: Some(chrono::Utc.with_ymd_and_hms(2024, 5, 3, 12, 0, 0).unwrap()),
        max_links: usize::MAX,
    };
    let parser = ParserRegistry::default().get("article").unwrap();
    let mut parsed = parser.parse(&page).expect("parses");
    assert_eq!(parsed.articles.len(), 1, "one record");
    parsed.articles.remove(0)
}

const PROSE: [&str; 4] = [
    "The council voted on Tuesday to keep the old library open for another decade, after months of debate.",
    "Residents had collected more than four thousand signatures, a record for a petition in the town.",
    "The building, opened in 1911, will get a new roof and a lift paid for by a regional fund.",
    "Opponents said the money would have been better spent on a new school in the northern district.",
];

fn chrome() -> &'static str {
    r#"<nav class="menu"><ul><li><a href="/a">World</a></li><li><a href="/b">Politics</a></li><li><a href="/c">Sport</a></li></ul></nav>
    <div class="cookie-banner"><p>We use cookies to improve your experience on this website, as described in our policy.</p></div>"#
}

#[test]
fn a_story_split_over_boxes_comes_out_whole_and_in_order() {
    let html = format!(
        r#"<html><body>{}<article><h1>Library stays open</h1>
        <div class="story-part"><p>{}</p></div><div class="ad-slot"><p>Advertisement</p></div>
        <div class="story-part"><p>{}</p><p>{}</p></div>
        <div class="story-part"><p>{}</p></div></article></body></html>"#,
        chrome(),
        PROSE[0],
        PROSE[1],
        PROSE[2],
        PROSE[3]
    );
    let a = extract(&html, "UTC");
    assert_eq!(a.body, PROSE.join("\n\n"));
    assert_eq!(a.title.as_deref(), Some("Library stays open"));
}

#[test]
fn text_in_divs_and_br_separated_lines_are_kept() {
    let html = format!(
        r#"<html><body>{}<h1>Library stays open</h1><div class="content">
        <div>{}</div><div>{}<br>{}<br><br>{}</div></div></body></html>"#,
        chrome(),
        PROSE[0],
        PROSE[1],
        PROSE[2],
        PROSE[3]
    );
    let a = extract(&html, "UTC");
    assert_eq!(
        a.body,
        format!("{}\n\n{}\n{}\n{}", PROSE[0], PROSE[1], PROSE[2], PROSE[3])
    );
}

#[test]
fn korean_chinese_and_right_to_left_stories_come_out_whole() {
    for (lang, dir, lines) in [
        (
            "ko",
            "ltr",
            [
                "서울시는 화요일 오래된 도서관을 앞으로 십 년 더 운영하기로 결정했다고 밝혔다.",
                "주민들은 사천 명이 넘는 서명을 모았으며 이는 지역 청원 가운데 가장 많은 숫자다.",
                "1911년에 문을 연 건물은 지역 기금으로 새 지붕과 승강기를 갖추게 된다.",
            ],
        ),
        (
            "zh",
            "ltr",
            [
                "市议会周二投票决定，在经过数月辩论之后，旧图书馆将再开放十年。",
                "居民们收集了四千多个签名，这是该镇请愿活动的最高纪录，令人瞩目。",
                "这座建于一九一一年的建筑将获得地区基金资助，更换新屋顶并加装电梯。",
            ],
        ),
        (
            "ar",
            "rtl",
            [
                "صوت المجلس البلدي يوم الثلاثاء على إبقاء المكتبة القديمة مفتوحة لعقد آخر بعد نقاش طويل.",
                "جمع السكان أكثر من أربعة آلاف توقيع، وهو رقم قياسي لعريضة في المدينة.",
                "سيحصل المبنى الذي افتتح عام ١٩١١ على سقف جديد ومصعد بتمويل من صندوق إقليمي.",
            ],
        ),
    ] {
        let html = format!(
            r#"<html lang="{lang}" dir="{dir}"><body>{}<article><h1>{}</h1><p>{}</p><p>{}</p><p>{}</p>
            <div class="share-bar"><a href="/s">Share</a> <a href="/t">Tweet</a></div></article></body></html>"#,
            chrome(),
            &lines[0][..lines[0].char_indices().nth(10).unwrap().0],
            lines[0],
            lines[1],
            lines[2]
        );
        let a = extract(&html, "UTC");
        assert_eq!(a.body, lines.join("\n\n"), "{lang}");
        assert_eq!(a.language.as_deref(), Some(lang));
    }
}

#[test]
fn a_body_only_in_structured_data_is_not_lost() {
    let html = format!(
        r#"<html><head><script type="application/ld+json">{{"@type":"NewsArticle","headline":"Library stays open",
        "articleBody":"{} {}"}}</script></head><body>{}<h1>Library stays open</h1>
        <div id="app"></div></body></html>"#,
        PROSE[0],
        PROSE[1],
        chrome()
    );
    let a = extract(&html, "UTC");
    assert_eq!(a.body, format!("{} {}", PROSE[0], PROSE[1]));
}

#[test]
fn chrome_inside_and_around_the_story_stays_out() {
    let html = format!(
        r#"<html><body>{}<aside class="most-read"><h3>Most read</h3><ol><li><a href="/1">Another story about something else entirely</a></li>
        <li><a href="/2">A second story that is very popular today</a></li></ol></aside>
        <article><h1>Library stays open</h1><p class="byline">By Jane Doe</p>
        <figure><img src="/i.jpg"><figcaption>The library in 1911. Photo: Archive</figcaption></figure>
        <p>{}</p><p>{}</p>
        <div class="newsletter-signup"><p>Get our morning briefing in your inbox every day, free of charge.</p></div>
        <p>{}</p>
        <ul class="related-links"><li><a href="/r1">Related: the library's history in pictures</a></li><li><a href="/r2">Related: what the council decided last year</a></li></ul>
        <p>{}</p>
        <h3>Read more</h3><p><a href="/m">Schools in the north are running out of places</a></p>
        <div class="share-bar"><a href="/s">Share on Facebook</a> <a href="/t">Share on Twitter</a></div>
        </article>
        <section id="comments"><h2>Comments</h2><div class="comment"><p>This is a great decision and I fully support the council on it, well done.</p></div></section>
        </body></html>"#,
        chrome(),
        PROSE[0],
        PROSE[1],
        PROSE[2],
        PROSE[3]
    );
    let a = extract(&html, "UTC");
    assert_eq!(a.body, PROSE.join("\n\n"));
    assert_eq!(a.authors, ["Jane Doe"]);
}

#[test]
fn dates_without_a_zone_are_the_sites_and_relative_dates_read_against_the_fetch() {
    let page = |date_line: &str| {
        format!(
            r#"<html><body>{}<article><h1>Library stays open</h1><div class="meta">{date_line}</div>
            <p>{}</p><p>{}</p></article></body></html>"#,
            chrome(),
            PROSE[0],
            PROSE[1]
        )
    };
    let a = extract(&page("Published: 2 May 2024, 18:30"), "Asia/Seoul");
    assert_eq!(a.published.as_deref(), Some("2024-05-02T18:30:00+09:00"));
    let a = extract(
        &page("Veröffentlicht am 02.05.2024 um 18:30 Uhr"),
        "Europe/Berlin",
    );
    assert_eq!(a.published.as_deref(), Some("2024-05-02T18:30:00+02:00"));
    // Fetched at 12:00 UTC, 21:00 in Seoul: three hours earlier.
    let a = extract(&page("3 hours ago"), "Asia/Seoul");
    assert_eq!(a.published.as_deref(), Some("2024-05-03T18:00:00+09:00"));
}

#[test]
fn the_render_time_clock_above_the_headline_is_never_the_date() {
    let html = format!(
        r#"<html><body><div class="top-bar"><span class="date">Friday, May 3, 2024 | 20:48</span></div>{}
        <article><h1>Library stays open</h1><p>{}</p><p>{}</p></article></body></html>"#,
        chrome(),
        PROSE[0],
        PROSE[1]
    );
    assert_eq!(extract(&html, "UTC").published, None);
}

#[test]
fn of_stories_stacked_by_an_endless_scroll_the_first_is_the_page() {
    // The later story is longer: length alone would pick it.
    let later: String = PROSE.iter().map(|p| format!("<p>{p} {p}</p>")).collect();
    let html = format!(
        r#"<html><body>{}<main><article><header><h1>Library stays open</h1></header>
        <div class="entry-text"><p>{}</p><p>{}</p><p>{}</p><p>{}</p></div></article>
        <article><header><h1>Council elects a new mayor</h1></header>
        <div class="entry-text">{later}</div></article></main></body></html>"#,
        chrome(),
        PROSE[0],
        PROSE[1],
        PROSE[2],
        PROSE[3],
    );
    let a = extract(&html, "UTC");
    assert_eq!(a.body, PROSE.join("\n\n"));
    assert_eq!(a.title.as_deref(), Some("Library stays open"));
}
