//! One page: fetch it, then (on the CPU pool) decode, hash and parse it, and hand
//! everything it produced to the store as one atomic commit, awaited off the pool.
//!
//! Invariant: every leased URL ends in exactly one commit: settled (fetched, skipped,
//! failed, alias) or, after a failure that may be temporary, queued again with its
//! attempt counted, at most `max_retries` times.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::url::Url;
use tokio::time::Instant;

mod follow;

use super::known_links::KnownLinks;
use super::pool::WorkerPool;
use super::CrawlError;
use crate::clock::{now_ms, rfc3339};
use crate::config::CrawlConfig;
use crate::discover::{maybe_gunzip, parse_feed, parse_sitemap, Sitemap};
use crate::fetch::{decode_html, is_html, BodyLimit, FetchError, Fetcher, Response, Validators};
use crate::metrics::Metrics;
use crate::parse::Page;
use crate::politeness::{parse_retry_after, retry_wait, Feedback, Politeness};
use crate::revisit::ListingBudgets;
use crate::site::{Site, UrlKind};
use crate::store::{
    fingerprint, hex, Capture, CommitReport, PageCommit, PageStore, Priority, QueueEntry, Revisit,
    UrlState, UrlStatus,
};

/// What a settled page tells the scheduler.
#[derive(Debug, Default)]
pub(super) struct PageOutcome {
    pub status: Option<UrlStatus>,
    /// Put back in the queue after a temporary failure.
    pub requeued: bool,
    /// Unix ms at which a page put back is due for its next try.
    pub retry_due_ms: Option<u64>,
    pub new_links: Vec<(String, usize)>,
    pub records: usize,
    pub links_ignored: usize,
    /// Unix ms at which the page is due again (daemon mode).
    pub revisit_due_ms: Option<u64>,
    /// A listing page's estimated changes an hour after this visit (daemon mode).
    pub revisit_rate: Option<f64>,
    /// Why the page failed, when it did.
    pub error: Option<String>,
    pub url: String,
    /// Fetched again and found as it was (304, or the same bytes).
    pub unchanged: bool,
    /// An article page that was parsed: which fields its record had.
    pub found: Option<crate::health::Found>,
    /// Links to this host that robots.txt disallows, recorded as denied when found.
    pub robots_denied: usize,
    /// A listing page's revisit (or a next page's visit).
    pub listing_visit: Option<ListingVisit>,
}

/// When a listing page's revisit was made, and since when the stories it shows are
/// news: its visit before. A next page's are those of the section's revisit it
/// continues. Stories another listing page found since then are not old ones; the
/// links it finds first, once committed, are stories found at the revisit's time.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListingVisit {
    pub since_ms: u64,
    pub at_ms: u64,
}

/// When a page a daemon fetches is queued again: a listing page at its change
/// estimate (priced by its site's listing budget), an article at its site's
/// `article_recheck`; a one-shot crawl queues nothing again.
pub(crate) fn revisit_of(
    mode: super::Mode,
    kind: UrlKind,
    site: &Site,
    budgets: &ListingBudgets,
) -> Option<Revisit> {
    match mode {
        super::Mode::OneShot => None,
        super::Mode::Daemon if kind.is_revisited() => Some(Revisit::Adaptive(budgets.bounds(
            &site.name,
            site.revisit,
            site.max_listing_rate,
        ))),
        super::Mode::Daemon if kind == UrlKind::NextPage => None,
        super::Mode::Daemon => site.article_recheck.map(Revisit::After),
    }
}

impl PageOutcome {
    /// Adds what the page's commit did; a page queued again for another try learns
    /// nothing from it.
    fn committed(
        mut self,
        report: CommitReport,
        followed: Vec<u64>,
        known_links: &KnownLinks,
        cover: &super::cover::Cover,
        metrics: &Metrics,
    ) -> Self {
        if self.requeued {
            return self;
        }
        if let Some(visit) = self.listing_visit {
            cover.found(&self.url, &followed, visit.at_ms);
        }
        known_links.remember(followed);
        self.revisit_due_ms = report.revisit_due_ms;
        self.revisit_rate = report.revisit_rate;
        self.new_links = report.new_links;
        self.new_links
            .extend(report.refreshed.into_iter().map(|host| (host, 0)));
        self.records = report.records;
        self.robots_denied = report.denied;
        self.links_ignored += report.over_budget;
        if report.over_budget > 0 {
            metrics.links_over_budget(report.over_budget as u64);
        }
        self
    }
}

/// A page settled on the CPU pool, its commit started.
struct Settled {
    commit: crate::store::CommitFuture,
    outcome: PageOutcome,
    /// Keys of the links the commit carries, remembered once it succeeded.
    followed: Vec<u64>,
}

/// What the answer (or failure) says about the server, for its clock.
/// The pause a 429 or 503 asks for in its `Retry-After`, uncapped.
fn requested_pause(r: &Response) -> Option<Duration> {
    if !matches!(r.status, 429 | 503) {
        return None;
    }
    r.retry_after
        .as_deref()
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

pub(super) fn feedback_of(
    response: &Result<Response, FetchError>,
    sent: Instant,
    policy: &Politeness,
    url: &Url,
) -> Feedback {
    match response {
        Ok(r) => {
            if let Some(pause) = requested_pause(r) {
                if pause > policy.max_retry_after {
                    tracing::warn!(%url, "Retry-After of {pause:?} capped at {:?}", policy.max_retry_after);
                }
                return Feedback::Pause(pause.min(policy.max_retry_after));
            }
            if r.status >= 500 || r.status == 429 {
                Feedback::Failed
            } else {
                Feedback::Healthy {
                    latency: r.answered_at.saturating_duration_since(sent),
                }
            }
        }
        // The server answered; the page was merely too large.
        Err(FetchError::TooLarge { .. }) => Feedback::Healthy {
            latency: Instant::now().saturating_duration_since(sent),
        },
        Err(_) => Feedback::Failed,
    }
}

/// Whether a failure may go away if the URL is tried again later.
fn is_temporary(response: &Result<Response, FetchError>) -> Option<String> {
    match response {
        Ok(r) if r.status >= 500 || r.status == 429 => Some(format!("HTTP {}", r.status)),
        Ok(_) | Err(FetchError::TooLarge { .. }) | Err(FetchError::Refused(_)) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// One leased URL to fetch and settle.
pub(super) struct PageJob {
    pub fetcher: Fetcher,
    pub cpu: WorkerPool,
    pub store: Arc<dyn PageStore>,
    pub config: Arc<CrawlConfig>,
    pub parser: Arc<dyn crate::parse::Parser>,
    pub site: Arc<Site>,
    pub entry: QueueEntry,
    pub url: Url,
    pub metrics: Arc<Metrics>,
    /// Daemon mode: when the page is looked at again once settled.
    pub revisit: Option<Revisit>,
    /// Links already in the store, shared by all pages.
    pub known_links: Arc<KnownLinks>,
    /// Which listing pages show news another showed first, shared by all pages.
    pub cover: Arc<super::cover::Cover>,
    /// The host's robots.txt rules: links to this host that they disallow are
    /// recorded as denied when found instead of being queued.
    pub robots: Arc<crate::robots::Robots>,
}

/// The error kind (for metrics) of a request that failed, if it did.
fn error_kind(response: &Result<Response, FetchError>) -> Option<&'static str> {
    match response {
        Ok(r) if (400..500).contains(&r.status) => Some("http_4xx"),
        Ok(r) if r.status >= 500 => Some("http_5xx"),
        Ok(_) => None,
        Err(FetchError::Timeout(_)) => Some("timeout"),
        Err(FetchError::Connect(_)) => Some("connect"),
        Err(FetchError::Tls(_)) => Some("tls"),
        Err(FetchError::TooLarge { .. }) => Some("too_large"),
        Err(FetchError::Other(_)) => Some("network"),
        Err(FetchError::Refused(_)) => Some("refused"),
    }
}

impl PageJob {
    /// Fetches the page, reports the answer at once (`answered`: when, and what it
    /// says about the server), then settles the page on the CPU pool.
    pub async fn run(
        self,
        answered: impl FnOnce(Instant, Feedback),
    ) -> Result<PageOutcome, CrawlError> {
        let sent = Instant::now();
        let validators = Validators {
            etag: self.entry.etag.clone(),
            last_modified: self.entry.last_modified.clone(),
        };
        // Sitemaps may be as large as their protocol allows, even above the page limit.
        let limit = match self.entry.kind {
            UrlKind::Sitemap | UrlKind::Feed => BodyLimit::Fail(
                self.config
                    .max_body_bytes
                    .max(crate::discover::MAX_DECODED_BYTES),
            ),
            _ => BodyLimit::Default,
        };
        let response = self
            .fetcher
            .get_for_site(Some(&self.site.name), &self.url, &validators, limit)
            .await;
        match &response {
            Ok(r) => {
                self.metrics
                    .request("page", Some(r.status), r.body.len() as u64, sent.elapsed())
            }
            Err(_) => self.metrics.request("page", None, 0, sent.elapsed()),
        }
        if let Some(kind) = error_kind(&response) {
            self.metrics.error(kind);
        }
        if let Err(e @ FetchError::Tls(_)) = &response {
            tracing::warn!(host = self.url.host_str().unwrap_or_default(), url = %self.url, "{e}");
        }
        let answered_at = response
            .as_ref()
            .map_or_else(|_| Instant::now(), |r| r.answered_at);
        answered(
            answered_at,
            feedback_of(&response, sent, &self.config.politeness, &self.url),
        );
        let fetched_at = chrono::Utc::now();
        let cpu = self.cpu.clone();
        let (known_links, cover, metrics) = (
            self.known_links.clone(),
            self.cover.clone(),
            self.metrics.clone(),
        );
        let settled = cpu.run(move || self.settle(response, fetched_at)).await??;
        // The commit is awaited here, not on the CPU pool: its thread goes on to the
        // next page while commits are grouped.
        let report = settled.commit.await?;
        Ok(settled
            .outcome
            .committed(report, settled.followed, &known_links, &cover, &metrics))
    }

    /// Decodes, hashes and parses the answer into what the page's commit writes.
    fn settle(
        self,
        response: Result<Response, FetchError>,
        fetched_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Settled, CrawlError> {
        let mut state = self
            .store
            .recorded_state(&self.entry.url)?
            .unwrap_or_else(|| UrlState::queued(&self.entry));
        // A listing page fetched before (or a next page, fetched only on a revisit):
        // the links it has that were never seen are new articles, queued before the
        // host's backlog.
        let revisited = (self.entry.kind.is_revisited() && state.fetched_at_ms > 0)
            || self.entry.kind == UrlKind::NextPage;
        let previous_visit_ms = state.fetched_at_ms;
        // A settled URL taken again (a shared crawl's revisit) starts a new visit.
        if state.status != UrlStatus::Queued {
            state.attempts = 0;
        }
        state.attempts += 1;
        state.fetched_at_ms = now_ms();
        let mut commit = PageCommit {
            now_ms: state.fetched_at_ms,
            max_urls_per_host: Some(self.config.max_urls_per_host),
            links_priority: if revisited {
                Priority::Revisit
            } else {
                Priority::Found
            },
            ..Default::default()
        };
        let mut outcome = PageOutcome {
            url: self.entry.url.clone(),
            listing_visit: (revisited && self.entry.kind.is_listing()).then(|| {
                let chain = (self.entry.kind == UrlKind::NextPage)
                    .then(|| self.cover.chain_of(&self.entry.url))
                    .flatten();
                let (since_ms, at_ms) = chain.unwrap_or((previous_visit_ms, state.fetched_at_ms));
                ListingVisit { since_ms, at_ms }
            }),
            ..Default::default()
        };
        // Keys of the links this commit carries, remembered once it succeeded.
        let mut followed = Vec::new();
        if self.config.warc_path.is_some() {
            if let Ok(response) = &response {
                commit.capture = Some(self.capture(response, &rfc3339(fetched_at)));
            }
        }
        if let Some(reason) = is_temporary(&response) {
            if state.attempts <= self.config.politeness.max_retries {
                // When the server said when to come back, then; else the page's own
                // backoff.
                let policy = &self.config.politeness;
                let wait = match response.as_ref().ok().and_then(requested_pause) {
                    Some(pause) => pause.min(policy.max_retry_after),
                    None => retry_wait(state.attempts, policy),
                };
                let due_ms = state.fetched_at_ms + wait.as_millis() as u64;
                tracing::debug!(url = %self.url, "attempt {} failed ({reason}); will try again in {wait:?}", state.attempts);
                state.status = UrlStatus::Queued;
                state.note = Some(format!("attempt {} failed: {reason}", state.attempts));
                state.http_status = response.as_ref().map_or(0, |r| r.status);
                commit.requeue = Some((self.entry.clone(), due_ms));
                outcome.requeued = true;
                outcome.retry_due_ms = Some(due_ms);
                outcome.status = Some(UrlStatus::Queued);
                commit.state = Some(state);
                return Ok(Settled {
                    commit: self.store.clone().commit(commit),
                    outcome,
                    followed,
                });
            }
        }
        match response {
            Err(e @ FetchError::TooLarge { .. }) => {
                state.status = UrlStatus::Skipped;
                state.note = Some(e.to_string());
            }
            Err(e) => {
                tracing::debug!(url = %self.url, "fetch failed: {e}");
                state.status = UrlStatus::Failed;
                state.note = Some(e.to_string());
            }
            Ok(response) => {
                // An earlier try's failure is no longer the news.
                state.note = None;
                state.http_status = response.status;
                if response.status != 304 {
                    state.etag = response.etag.clone();
                    state.last_modified = response.last_modified.clone();
                }
                self.settle_response(
                    response,
                    fetched_at,
                    &mut state,
                    &mut commit,
                    &mut outcome,
                    &mut followed,
                );
            }
        }
        outcome.status = Some(state.status);
        if state.status == UrlStatus::Failed {
            outcome.error = state.note.clone();
        }
        if state.status == UrlStatus::Fetched && !outcome.unchanged {
            self.metrics.page_parsed();
        }
        commit.state = Some(state);
        commit.revisit = self.revisit;
        commit.unchanged = outcome.unchanged;
        if outcome.unchanged && outcome.listing_visit.is_some() {
            // No stories to count: where the page stood at its last visit.
            commit.overlap = self.cover.standing(&self.entry.url, self.entry.kind);
        }
        Ok(Settled {
            commit: self.store.clone().commit(commit),
            outcome,
            followed,
        })
    }

    fn settle_response(
        &self,
        response: Response,
        fetched_at: chrono::DateTime<chrono::Utc>,
        state: &mut UrlState,
        commit: &mut PageCommit,
        outcome: &mut PageOutcome,
        followed: &mut Vec<u64>,
    ) {
        let status = response.status;
        if status == 304 {
            state.status = UrlStatus::Fetched;
            state.note = Some("not modified".into());
            outcome.unchanged = true;
            return;
        }
        if (300..400).contains(&status) {
            self.settle_redirect(response.location.as_deref(), state, commit);
            return;
        }
        if !(200..300).contains(&status) {
            state.status = UrlStatus::Failed;
            state.note = Some(format!("HTTP {status}"));
            return;
        }
        if matches!(self.entry.kind, UrlKind::Sitemap | UrlKind::Feed) {
            self.settle_discovery(&response.body, state, commit, outcome, followed);
            return;
        }
        if response.body.is_empty() {
            state.status = UrlStatus::Skipped;
            state.note = Some("empty body".into());
            return;
        }
        if !is_html(response.content_type.as_deref(), &response.body) {
            state.status = UrlStatus::Skipped;
            state.note = Some(format!(
                "not HTML ({})",
                response
                    .content_type
                    .as_deref()
                    .unwrap_or("no Content-Type")
            ));
            return;
        }
        let hash = fingerprint(&response.body);
        if state.content_hash == Some(hash) && state.version > 0 {
            // A revisit that found the same bytes (a server without validators).
            state.status = UrlStatus::Fetched;
            state.note = Some("unchanged".into());
            outcome.unchanged = true;
            return;
        }
        state.content_hash = Some(hash);
        match self.store.content_owner(&hash) {
            Ok(Some(owner)) if owner != self.entry.url => {
                state.status = UrlStatus::Alias;
                state.note = Some("same content as another URL".into());
                state.alias_of = Some(owner);
                return;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(url = %self.url, "content lookup failed: {e}"),
        }
        commit.content = Some((hash, self.entry.url.clone()));
        let (text, _encoding) = decode_html(&response.body, response.content_type.as_deref());
        let page = Page {
            url: &self.url,
            // Parsers read a next page as the section it continues.
            kind: match self.entry.kind {
                UrlKind::NextPage => UrlKind::Section,
                kind => kind,
            },
            headers: &response.headers,
            body: &text,
            time_zone: self.site.time_zone,
            fetched_at: Some(fetched_at),
            max_links: self.config.max_links_per_page,
        };
        let parsed = match catch_unwind(AssertUnwindSafe(|| self.parser.parse(&page))) {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(e)) => {
                self.metrics.error("parse");
                state.status = UrlStatus::Failed;
                state.note = Some(format!("parser {:?}: {e}", self.site.parser));
                return;
            }
            Err(_) => {
                self.metrics.error("parse");
                state.status = UrlStatus::Failed;
                state.note = Some(format!(
                    "parser {:?} panicked on this page",
                    self.site.parser
                ));
                return;
            }
        };
        state.status = UrlStatus::Fetched;
        // What an article page's record had, for extraction health.
        let found = (self.entry.kind == UrlKind::Article).then(|| match parsed.articles.first() {
            Some(a) => [
                a.title.as_deref().is_some_and(|t| !t.trim().is_empty()),
                !a.body.trim().is_empty(),
                !a.authors.is_empty(),
                a.published.is_some(),
            ],
            None => [false; 4],
        });
        self.follow_links(&parsed.links, &text, state, commit, outcome, followed);
        for mut article in parsed.articles {
            // A canonical link to another URL of the site: that URL is the article.
            if let Some(canonical) = self.canonical_elsewhere(article.canonical_url.as_deref()) {
                state.status = UrlStatus::Alias;
                state.note = Some("canonical URL is another".into());
                state.alias_of = Some(canonical.url.clone());
                commit.links.push(canonical);
                return;
            }
            article.url = self.entry.url.clone();
            article.site = self.site.name.clone();
            // What the article says, without when or how it was fetched: an edit
            // changes it, a new "most read" box around it does not.
            let record_hash = fingerprint(&serde_json::to_vec(&article).unwrap_or_default());
            if state.record_hash == Some(record_hash) {
                state.note = Some("page changed, article did not".into());
                continue;
            }
            state.record_hash = Some(record_hash);
            state.version += 1;
            article.fetched_at = rfc3339(fetched_at);
            article.content_hash = hex(&hash);
            article.version = state.version;
            match serde_json::to_vec(&article) {
                Ok(json) => commit.records.push(crate::store::packed::pack(&json)),
                Err(e) => tracing::warn!(url = %self.url, "record does not serialize: {e}"),
            }
        }
        outcome.found = found;
    }

    /// The exchange as the WARC output records it. The request's headers are those
    /// the client sends (reqwest adds `accept` and `accept-encoding` itself).
    fn capture(&self, response: &Response, date: &str) -> Capture {
        let host = match self.url.port() {
            Some(port) => format!("{}:{port}", self.url.host_str().unwrap_or_default()),
            None => self.url.host_str().unwrap_or_default().to_string(),
        };
        let mut request_headers = vec![
            ("host".to_string(), host),
            ("user-agent".to_string(), self.config.user_agent.clone()),
            ("accept".to_string(), "*/*".to_string()),
            (
                "accept-encoding".to_string(),
                "gzip, br, deflate".to_string(),
            ),
        ];
        if let Some(etag) = &self.entry.etag {
            request_headers.push(("if-none-match".to_string(), etag.clone()));
        }
        if let Some(lm) = &self.entry.last_modified {
            request_headers.push(("if-modified-since".to_string(), lm.clone()));
        }
        Capture {
            url: self.url.to_string(),
            date: date.to_string(),
            request_headers,
            http_version: response.http_version.clone(),
            status: response.status,
            response_headers: response.headers.clone(),
            body: response.body.clone(),
            ip: response.remote_addr.map(|a| a.ip().to_string()),
        }
    }

    /// A sitemap or feed: its URLs go to the frontier (new ones queued, known ones
    /// queued again when the document says they changed after we fetched them). On a
    /// revisit, the stories it lists that the link cache knows tell the cover how it
    /// stands to the site's other listing pages, as a section's do.
    fn settle_discovery(
        &self,
        body: &[u8],
        state: &mut UrlState,
        commit: &mut PageCommit,
        outcome: &mut PageOutcome,
        followed: &mut Vec<u64>,
    ) {
        let body = match maybe_gunzip(body) {
            Ok(body) => body,
            Err(e) => {
                state.status = UrlStatus::Failed;
                state.note = Some(e.to_string());
                return;
            }
        };
        let hash = fingerprint(&body);
        state.status = UrlStatus::Fetched;
        if state.content_hash == Some(hash) {
            state.note = Some("unchanged".into());
            outcome.unchanged = true;
            return;
        }
        state.content_hash = Some(hash);
        let found = match self.entry.kind {
            UrlKind::Feed => {
                parse_feed(&body).map(|f| f.into_iter().map(|f| (f, None)).collect::<Vec<_>>())
            }
            _ => parse_sitemap(&body).map(|sitemap| match sitemap {
                Sitemap::Urls(found) => found.into_iter().map(|f| (f, None)).collect(),
                Sitemap::Index(found) => found
                    .into_iter()
                    .map(|f| (f, Some(UrlKind::Sitemap)))
                    .collect(),
            }),
        };
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                self.metrics.error("parse");
                state.status = UrlStatus::Failed;
                state.note = Some(e.to_string());
                return;
            }
        };
        let depth = self.entry.depth + 1;
        if self.config.max_depth.is_some_and(|max| depth > max) {
            return;
        }
        // The stories' keys, for the cover (on a revisit).
        let mut stories = Vec::new();
        for (item, kind) in found {
            // Entries should be absolute; a relative one is read against the document's
            // URL, as a browser would.
            let absolute = self.url.join(item.url.trim()).map(String::from);
            // On a revisit, the link cache and the cover learn what it listed (a first
            // visit's thousands of sitemap entries would only crowd the cache).
            let key = outcome.listing_visit.map(|_| {
                self.known_links
                    .key(absolute.as_deref().unwrap_or(&item.url))
            });
            let Ok(url) = self
                .config
                .normalizer
                .parse(absolute.as_deref().unwrap_or(&item.url))
            else {
                outcome.links_ignored += 1;
                continue;
            };
            let kind = match kind {
                Some(kind) if self.site.allows_host(&url) && !self.site.denies(&url) => Some(kind),
                Some(_) => None,
                None => self.site.classify(&url),
            };
            let Some(kind) = kind else {
                outcome.links_ignored += 1;
                continue;
            };
            if let Some(key) = key.filter(|_| !kind.is_listing()) {
                stories.push(key);
            }
            let mut entry = QueueEntry::found(url, &self.site.name, kind, depth);
            if let Some(modified) = item.modified_ms {
                entry.listed_modified_ms = Some(modified);
                commit.refresh.push((entry.clone(), modified));
            }
            commit.links.push(entry);
            followed.extend(key);
        }
        if let Some(visit) = outcome.listing_visit {
            let known = self.known_links.known(&stories);
            let known_stories: Vec<u64> = stories
                .iter()
                .zip(&known)
                .filter_map(|(key, known)| known.then_some(*key))
                .collect();
            let new = stories.len() - known_stories.len();
            commit.overlap = self.cover.visit(
                &self.entry.url,
                self.entry.kind,
                visit.since_ms,
                new,
                &known_stories,
            );
        }
    }

    /// The queue entry of a canonical URL that is not this page's but belongs to the
    /// site, if the page names one.
    fn canonical_elsewhere(&self, canonical: Option<&str>) -> Option<QueueEntry> {
        let url = self.config.normalizer.parse(canonical?).ok()?;
        if url.as_str() == self.entry.url {
            return None;
        }
        let kind = self.site.classify(&url)?;
        Some(QueueEntry::found(
            url,
            &self.site.name,
            kind,
            self.entry.depth,
        ))
    }

    /// A redirect's target goes back to the frontier like a link.
    fn settle_redirect(
        &self,
        location: Option<&str>,
        state: &mut UrlState,
        commit: &mut PageCommit,
    ) {
        state.status = UrlStatus::Skipped;
        let Some(location) = location else {
            state.note = Some("redirect without Location".into());
            return;
        };
        let target = match self.config.normalizer.parse(location) {
            Ok(t) => t,
            Err(e) => {
                state.note = Some(format!("redirect to unusable URL {location:?}: {e}"));
                return;
            }
        };
        if target.as_str() == self.entry.url {
            state.status = UrlStatus::Failed;
            state.note = Some("redirects to itself".into());
            return;
        }
        if usize::from(self.entry.redirects) >= self.config.max_redirects {
            self.metrics.error("redirect");
            state.status = UrlStatus::Failed;
            state.note = Some(format!("more than {} redirects", self.config.max_redirects));
            return;
        }
        // A redirect from a wanted URL is wanted even if the target matches no
        // pattern, but it must stay on the site's hosts and outside its deny list.
        let kind = match self.site.classify(&target) {
            Some(kind) => kind,
            None if self.site.allows_host(&target) && !self.site.denies(&target) => self.entry.kind,
            None => {
                state.note = Some(format!("redirect to {target}, outside the site"));
                return;
            }
        };
        state.status = UrlStatus::Alias;
        state.alias_of = Some(target.to_string());
        state.note = Some("redirect".into());
        commit.links.push(QueueEntry {
            url: target.into(),
            site: self.site.name.clone(),
            kind,
            depth: self.entry.depth,
            redirects: self.entry.redirects + 1,
            etag: None,
            last_modified: None,
            listed_modified_ms: None,
        });
    }
}
