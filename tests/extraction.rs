//! The built-in `article` extractor against the bundled corpus
//! (`tests/extraction/pages`: 40 pages in the markup of 10 CMS families, with the
//! values a reader takes from each). `newscrawl eval` prints the same figures per
//! family and lists every miss.

use std::path::Path;

use newscrawl::eval::evaluate;
use newscrawl::parse::ParserRegistry;

#[test]
fn the_article_extractor_meets_the_quality_targets_on_the_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/extraction/pages");
    let parser = ParserRegistry::default().get("article").unwrap();
    let report = evaluate(&corpus, &*parser).unwrap();
    assert!(report.pages.len() >= 40, "{} pages", report.pages.len());
    let families: std::collections::BTreeSet<&str> =
        report.pages.iter().map(|p| p.family.as_str()).collect();
    assert!(families.len() >= 10, "{families:?}");
    assert!(report.f1 >= 0.97, "body F1 {:.3}\n{report}", report.f1);
    for (field, rate) in [
        ("title", report.title),
        ("authors", report.authors),
        ("published", report.published),
    ] {
        assert!(rate >= 0.95, "{field} exact {rate:.2}\n{report}");
    }
}
