//! Which of a page's links its commit carries: each link looked at once (and not at
//! all when the link cache knows it), classified by the site's patterns, those its
//! host's robots.txt disallows recorded as denied; the feeds a section page declares;
//! and, on a section's revisit that showed only new stories, its next page.
//!
//! Invariant: a link is in the commit at most once per page, and only as the kind the
//! site's patterns give it; a next page is asked for only on a revisit of a section
//! (or for a next page), and never when the page shows a story known before the
//! section's last visit (`crawl::cover` says which known stories are newer).

use ::url::Url;

use super::{PageJob, PageOutcome};
use crate::site::UrlKind;
use crate::store::{PageCommit, Priority, QueueEntry, UrlState};

impl PageJob {
    /// Puts the page's links (as its parser found them) in its commit.
    pub(super) fn follow_links(
        &self,
        links: &[String],
        text: &str,
        state: &mut UrlState,
        commit: &mut PageCommit,
        outcome: &mut PageOutcome,
        followed: &mut Vec<u64>,
    ) {
        let depth = self.entry.depth + 1;
        if self.config.max_depth.is_none_or(|max| depth <= max) {
            // Pages repeat links (menus printed twice, boxes): look at each once, and
            // not at all when an earlier page already led to it.
            let limit = self.config.max_links_per_page;
            // Parsers may stop at one past the limit: "more than" is all that is known.
            if links.len() > limit {
                tracing::debug!(url = %self.url, "more than {limit} links; only the first {limit} are read");
                outcome.links_ignored += links.len() - limit;
                state.note = Some(format!(
                    "more than {limit} links; only the first {limit} read (crawler.max_links_per_page)"
                ));
            }
            // Repeats are found by the key of their text (one hash per link).
            let mut seen = crate::hashes::HashedSet::with_capacity_and_hasher(
                links.len().min(limit),
                Default::default(),
            );
            let (unique, keys): (Vec<&String>, Vec<u64>) = links
                .iter()
                .take(limit)
                .map(|link| (link, self.known_links.key(link)))
                .filter(|(_, key)| seen.insert(*key))
                .unzip();
            let known = self.known_links.known(&keys);
            // A revisit of a section (or a next page) that shows only new stories may
            // have missed those pushed off it since the last visit: its next page says.
            let next = (self.site.follow_next_pages
                && commit.links_priority == Priority::Revisit
                && matches!(self.entry.kind, UrlKind::Section | UrlKind::NextPage))
            .then(|| crate::parse::next_page_link(text, &self.url))
            .flatten();
            // Whether the page shows a story known before its last visit (one another
            // listing page found since is news all the same); and the known stories it
            // shows, for the cover.
            let since = outcome.listing_visit.map(|v| v.since_ms);
            let mut old_story = false;
            let mut known_stories = Vec::new();
            for ((link, key), known) in unique.into_iter().zip(keys).zip(known) {
                if known {
                    // Known to the cache: whether it is a story matters to the next
                    // page and to the cover.
                    let wanted = since.is_some() || (next.is_some() && !old_story);
                    if wanted && self.is_story(link) {
                        old_story = old_story
                            || !since.is_some_and(|since| self.cover.found_after(key, since));
                        known_stories.push(key);
                    }
                    continue;
                }
                let Ok(url) = self.config.normalizer.parse(link) else {
                    outcome.links_ignored += 1;
                    continue;
                };
                match self.site.classify(&url) {
                    Some(kind) => {
                        let denied = self.robots_denies(&url);
                        let entry = QueueEntry::found(url, &self.site.name, kind, depth);
                        if denied {
                            commit.denied.push(entry);
                        } else {
                            commit.links.push(entry);
                        }
                        followed.push(key);
                    }
                    None => outcome.links_ignored += 1,
                }
            }
            if !old_story {
                commit.next_page = next.and_then(|next| self.next_page(&next, depth));
                if let (Some(next), Some(visit)) = (&commit.next_page, outcome.listing_visit) {
                    self.cover.chain(&next.url, visit.since_ms, visit.at_ms);
                }
            }
            if let Some(since) = since {
                let new = commit.links.iter().filter(|l| !l.kind.is_listing()).count();
                commit.overlap =
                    self.cover
                        .visit(&self.entry.url, self.entry.kind, since, new, &known_stories);
            }
            if self.entry.kind == UrlKind::Section && self.site.discover_feeds {
                self.follow_feeds(text, depth, commit, followed);
            }
        }
    }

    /// Whether a link leads to a story (not a listing page) of the site.
    fn is_story(&self, link: &str) -> bool {
        self.config
            .normalizer
            .parse(link)
            .ok()
            .and_then(|url| self.site.classify(&url))
            .is_some_and(|kind| !kind.is_listing())
    }

    /// The page's next page as the frontier takes it: a URL of the site's hosts that
    /// no pattern claims (a listing page the patterns name is revisited on its own
    /// schedule, and a story is no next page), not denied, not this page.
    fn next_page(&self, link: &str, depth: u32) -> Option<QueueEntry> {
        let url = self.config.normalizer.parse(link).ok()?;
        let unclaimed = self.site.allows_host(&url)
            && !self.site.denies(&url)
            && self.site.classify(&url).is_none()
            && !self.robots_denies(&url)
            && url.as_str() != self.entry.url;
        unclaimed.then(|| QueueEntry::found(url, &self.site.name, UrlKind::NextPage, depth))
    }

    /// Whether this page's robots.txt refuses `url`: known for URLs of the page's own
    /// host only (another host's policy is checked when its URL is leased).
    fn robots_denies(&self, url: &Url) -> bool {
        let same_host = url.host_str() == self.url.host_str()
            && url.port_or_known_default() == self.url.port_or_known_default();
        same_host && !self.robots.allows(crate::site::path_and_query(url))
    }

    /// Queues the feeds a listing page declares on the site's hosts, as feeds: the
    /// cheapest page to learn of new stories from, revisited like the page itself.
    fn follow_feeds(
        &self,
        body: &str,
        depth: u32,
        commit: &mut PageCommit,
        followed: &mut Vec<u64>,
    ) {
        let feeds = crate::parse::feed_links(body, &self.url);
        let keys: Vec<u64> = feeds.iter().map(|f| self.known_links.key(f)).collect();
        let known = self.known_links.known(&keys);
        for ((feed, key), known) in feeds.iter().zip(keys).zip(known) {
            let Ok(url) = self.config.normalizer.parse(feed) else {
                continue;
            };
            if known
                || !self.site.allows_host(&url)
                || self.site.denies(&url)
                || self.robots_denies(&url)
            {
                continue;
            }
            commit.links.push(QueueEntry::found(
                url,
                &self.site.name,
                UrlKind::Feed,
                depth,
            ));
            followed.push(key);
        }
    }
}
