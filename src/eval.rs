//! Extraction quality against a corpus of pages with known answers: body-text token
//! precision, recall and F1, and exact-match rates for title, authors and the
//! publication date (the `eval` command and `tests/extraction.rs`).
//!
//! A corpus is a directory of `NAME.html` pages, each with `NAME.json` holding what a
//! reader takes from it: `title`, `authors`, `published` (RFC 3339, or just the day
//! when the page gives no time), `time_zone` (the site's) and `body` (paragraphs
//! joined by blank lines). Invariant: scoring depends only on the record and the
//! expectation, never on how the parser got there.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::parse::{Page, Parser};
use crate::record::Article;
use crate::site::UrlKind;

/// What a page should give.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    #[serde(default)]
    pub family: String,
    pub title: String,
    pub authors: Vec<String>,
    pub published: String,
    pub time_zone: String,
    pub body: String,
}

/// Reads an expectation file's contents.
pub fn parse_expected(bytes: &[u8]) -> Result<Expected, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// How one page scored.
#[derive(Debug, Clone, Serialize)]
pub struct PageScore {
    pub page: String,
    pub family: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub title_ok: bool,
    pub authors_ok: bool,
    pub published_ok: bool,
    /// What the parser gave for the fields that did not match, for the report.
    pub got_title: Option<String>,
    pub got_authors: Vec<String>,
    pub got_published: Option<String>,
    pub millis: f64,
}

/// A corpus's scores.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub pages: Vec<PageScore>,
    /// Means over pages.
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub title: f64,
    pub authors: f64,
    pub published: f64,
    /// Title, authors and date all right.
    pub all_fields: f64,
    pub mean_millis: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {reason}")]
    Corpus { path: String, reason: String },
}

/// Lower-cased word tokens (letters and digits).
fn tokens(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for t in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        *out.entry(t.to_lowercase()).or_insert(0) += 1;
    }
    out
}

/// Token precision, recall and F1 of `got` against `want` (bags of words).
pub fn token_scores(got: &str, want: &str) -> (f64, f64, f64) {
    let (g, w) = (tokens(got), tokens(want));
    let common: usize = g
        .iter()
        .map(|(t, n)| (*n).min(w.get(t).copied().unwrap_or(0)))
        .sum();
    let total = |m: &HashMap<String, usize>| m.values().sum::<usize>();
    let (gn, wn) = (total(&g), total(&w));
    if gn == 0 && wn == 0 {
        return (1.0, 1.0, 1.0);
    }
    let precision = if gn == 0 {
        0.0
    } else {
        common as f64 / gn as f64
    };
    let recall = if wn == 0 {
        0.0
    } else {
        common as f64 / wn as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The same moment (or, for a date-only expectation, the same day).
fn same_date(got: Option<&str>, want: &str) -> bool {
    let Some(got) = got else { return false };
    if want.len() == 10 {
        return got.get(..10) == Some(want);
    }
    match (
        chrono::DateTime::parse_from_rfc3339(got),
        chrono::DateTime::parse_from_rfc3339(want),
    ) {
        (Ok(g), Ok(w)) => g == w,
        _ => false,
    }
}

fn same_authors(got: &[String], want: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|a| squash(a).to_lowercase()).collect();
        v.sort();
        v
    };
    norm(got) == norm(want)
}

/// Scores one record against its expectation.
pub fn score(page: &str, record: Option<&Article>, want: &Expected, took: Duration) -> PageScore {
    let empty = Article::default();
    let got = record.unwrap_or(&empty);
    let (precision, recall, f1) = token_scores(&got.body, &want.body);
    PageScore {
        page: page.to_string(),
        family: want.family.clone(),
        precision,
        recall,
        f1,
        title_ok: got.title.as_deref().map(squash) == Some(squash(&want.title)),
        authors_ok: same_authors(&got.authors, &want.authors),
        published_ok: same_date(got.published.as_deref(), &want.published),
        got_title: got.title.clone(),
        got_authors: got.authors.clone(),
        got_published: got.published.clone(),
        millis: took.as_secs_f64() * 1000.0,
    }
}

/// Runs `parser` on every page of the corpus in `dir`.
pub fn evaluate(dir: &Path, parser: &dyn Parser) -> Result<Report, EvalError> {
    let corpus_error = |path: &Path, reason: String| EvalError::Corpus {
        path: path.display().to_string(),
        reason,
    };
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| corpus_error(dir, e.to_string()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    pages.sort();
    if pages.is_empty() {
        return Err(corpus_error(dir, "no .html pages".into()));
    }
    let mut scores = Vec::new();
    for html_path in pages {
        let json_path = html_path.with_extension("json");
        let want: Expected = std::fs::read(&json_path)
            .map_err(|e| corpus_error(&json_path, e.to_string()))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| corpus_error(&json_path, e.to_string()))
            })?;
        let zone = want
            .time_zone
            .parse()
            .map_err(|_| corpus_error(&json_path, format!("bad time_zone {:?}", want.time_zone)))?;
        let bytes =
            std::fs::read(&html_path).map_err(|e| corpus_error(&html_path, e.to_string()))?;
        let (text, _) = crate::fetch::decode_html(&bytes, None);
        let name = html_path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let url = url::Url::parse(&format!("https://eval.invalid/{name}")).expect("valid URL");
        let page = Page {
            url: &url,
            kind: UrlKind::Article,
            headers: &[],
            body: &text,
            time_zone: zone,
            fetched_at: None,
            max_links: usize::MAX,
        };
        let started = Instant::now();
        let parsed = parser.parse(&page);
        let took = started.elapsed();
        let record = parsed.ok().and_then(|p| p.articles.into_iter().next());
        scores.push(score(&name, record.as_ref(), &want, took));
    }
    Ok(summarize(scores))
}

fn summarize(pages: Vec<PageScore>) -> Report {
    let n = pages.len().max(1) as f64;
    let mean = |f: &dyn Fn(&PageScore) -> f64| pages.iter().map(f).sum::<f64>() / n;
    let rate = |f: &dyn Fn(&PageScore) -> bool| pages.iter().filter(|p| f(p)).count() as f64 / n;
    Report {
        precision: mean(&|p| p.precision),
        recall: mean(&|p| p.recall),
        f1: mean(&|p| p.f1),
        title: rate(&|p| p.title_ok),
        authors: rate(&|p| p.authors_ok),
        published: rate(&|p| p.published_ok),
        all_fields: rate(&|p| p.title_ok && p.authors_ok && p.published_ok),
        mean_millis: mean(&|p| p.millis),
        pages,
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut families: BTreeMap<&str, Vec<&PageScore>> = BTreeMap::new();
        for p in &self.pages {
            families.entry(&p.family).or_default().push(p);
        }
        writeln!(
            f,
            "{:<14} {:>5} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6}",
            "family", "pages", "P", "R", "F1", "title", "authors", "date"
        )?;
        for (family, pages) in &families {
            let n = pages.len() as f64;
            let mean = |g: &dyn Fn(&PageScore) -> f64| pages.iter().map(|p| g(p)).sum::<f64>() / n;
            let rate =
                |g: &dyn Fn(&PageScore) -> bool| pages.iter().filter(|p| g(p)).count() as f64 / n;
            writeln!(
                f,
                "{:<14} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.2} {:>7.2} {:>6.2}",
                family,
                pages.len(),
                mean(&|p| p.precision),
                mean(&|p| p.recall),
                mean(&|p| p.f1),
                rate(&|p| p.title_ok),
                rate(&|p| p.authors_ok),
                rate(&|p| p.published_ok)
            )?;
        }
        writeln!(
            f,
            "{:<14} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.2} {:>7.2} {:>6.2}",
            "all",
            self.pages.len(),
            self.precision,
            self.recall,
            self.f1,
            self.title,
            self.authors,
            self.published
        )?;
        writeln!(
            f,
            "title, authors and date all right: {:.2}; {:.2} ms per page",
            self.all_fields, self.mean_millis
        )?;
        for p in &self.pages {
            let mut wrong = Vec::new();
            if p.f1 < 0.97 {
                wrong.push(format!(
                    "body F1 {:.3} (P {:.3}, R {:.3})",
                    p.f1, p.precision, p.recall
                ));
            }
            if !p.title_ok {
                wrong.push(format!("title {:?}", p.got_title));
            }
            if !p.authors_ok {
                wrong.push(format!("authors {:?}", p.got_authors));
            }
            if !p.published_ok {
                wrong.push(format!("published {:?}", p.got_published));
            }
            if !wrong.is_empty() {
                writeln!(f, "  {}: {}", p.page, wrong.join("; "))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_scores_count_repeated_words_once_each() {
        let (p, r, f1) = token_scores("the cat the hat", "The cat sat on the mat");
        assert!((p - 3.0 / 4.0).abs() < 1e-9, "{p}");
        assert!((r - 3.0 / 6.0).abs() < 1e-9, "{r}");
        assert!((f1 - 0.6).abs() < 1e-9, "{f1}");
        assert_eq!(token_scores("", ""), (1.0, 1.0, 1.0));
        assert_eq!(token_scores("", "x").2, 0.0);
    }

    #[test]
    fn dates_match_as_moments_or_days() {
        assert!(same_date(
            Some("2024-03-01T18:00:00+09:00"),
            "2024-03-01T09:00:00+00:00"
        ));
        assert!(!same_date(
            Some("2024-03-01T18:00:00+00:00"),
            "2024-03-01T09:00:00+00:00"
        ));
        assert!(same_date(Some("2024-03-01T00:00:00+09:00"), "2024-03-01"));
        assert!(!same_date(None, "2024-03-01"));
    }
}
