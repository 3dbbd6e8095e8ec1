//! Scores three extractors on the corpus with the project's own scoring
//! (`newscrawl::eval`): body token F1, exact title, authors and date, time per page.

use std::path::PathBuf;
use std::time::Instant;

use extractor_comparison::names;
use newscrawl::eval::{score, Expected, PageScore};
use newscrawl::parse::{Page, ParserRegistry};
use newscrawl::record::Article;
use newscrawl::site::UrlKind;


fn main() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/extraction/pages");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    pages.sort();
    let ours = ParserRegistry::default().get("article").unwrap();
    let mut results: Vec<(&str, Vec<PageScore>)> = vec![
        ("newscrawl article", vec![]),
        ("trafilatura 0.6", vec![]),
        ("dom_smoothie 0.19", vec![]),
    ];
    for path in &pages {
        let want: Expected = serde_json_from(&std::fs::read(path.with_extension("json")).unwrap());
        let html = std::fs::read_to_string(path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let url = url::Url::parse(&format!("https://eval.invalid/{name}")).unwrap();

        let started = Instant::now();
        let page = Page {
            url: &url,
            kind: UrlKind::Article,
            headers: &[],
            body: &html,
            time_zone: want.time_zone.parse().unwrap(),
            fetched_at: None,
            max_links: usize::MAX,
        };
        let record = ours
            .parse(&page)
            .ok()
            .and_then(|p| p.articles.into_iter().next());
        results[0]
            .1
            .push(score(&name, record.as_ref(), &want, started.elapsed()));

        let started = Instant::now();
        let record = trafilatura::extract(&html, &trafilatura::Options::default())
            .ok()
            .map(|r| Article {
                title: Some(r.metadata.title.clone()).filter(|t| !t.is_empty()),
                authors: names(&r.metadata.author),
                published: r.metadata.date.map(|d| d.to_string()),
                body: r.content_text.clone(),
                ..Article::default()
            });
        results[1]
            .1
            .push(score(&name, record.as_ref(), &want, started.elapsed()));

        let started = Instant::now();
        let record = dom_smoothie::Readability::new(html.as_str(), Some(url.as_str()), None)
            .ok()
            .and_then(|mut r| r.parse().ok())
            .map(|a| Article {
                title: Some(a.title.clone()).filter(|t| !t.is_empty()),
                authors: a.byline.as_deref().map(names).unwrap_or_default(),
                published: a.published_time.clone(),
                body: a.text_content.to_string(),
                ..Article::default()
            });
        results[2]
            .1
            .push(score(&name, record.as_ref(), &want, started.elapsed()));
    }
    println!(
        "| extractor | pages | body P | body R | body F1 | title | authors | date | ms/page |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (label, scores) in &results {
        let n = scores.len() as f64;
        let mean = |f: &dyn Fn(&PageScore) -> f64| scores.iter().map(f).sum::<f64>() / n;
        let rate =
            |f: &dyn Fn(&PageScore) -> bool| scores.iter().filter(|p| f(p)).count() as f64 / n;
        println!(
            "| {label} | {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} |",
            scores.len(),
            mean(&|p| p.precision),
            mean(&|p| p.recall),
            mean(&|p| p.f1),
            rate(&|p| p.title_ok),
            rate(&|p| p.authors_ok),
            rate(&|p| p.published_ok),
            mean(&|p| p.millis)
        );
    }
}

fn serde_json_from(bytes: &[u8]) -> Expected {
    newscrawl::eval::parse_expected(bytes).expect("expectation JSON")
}
