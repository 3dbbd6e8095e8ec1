//! Which listing pages only repeat another's news: a section whose stories the home
//! page (or a feed) also lists, among every other section's, buys little freshness
//! with its visits once the home page is visited.
//!
//! The stories a listing page's visit finds first are remembered with the page and
//! the time, and so are the pages that show them fresh later. A later visit of
//! another listing page that shows one of them (found since that page's own last
//! visit) is a story it shares with every page that showed it before, the finder
//! and the others: it counts for each pair against the stories fresh to each (new,
//! or found by another page since its last visit).
//! Page P is contained in page Q when most of P's fresh stories are also Q's
//! ([`CONTAINED`]), and P misses clearly more of Q's ([`MORE`]): Q shows P's news and
//! more. Whatever a visit of a page contained in another found (new stories, or the
//! page as it was), it is [`crate::revisit::Finding::Elsewhere`]: it is visited at
//! the upper bound, and the requests go to the page that shows all the news.
//!
//! A page whose own stories are too few to judge by ([`SEEN_ENOUGH`]: a quiet
//! section) is taken for contained in a hub of its host, a page that contains every
//! other page of the host judged so far (one at least), unless a story it showed says
//! otherwise: a home page that lists every busy section's news lists the quiet one's
//! too, and waiting for three of its stories would take hours of visits that buy
//! nothing. Where the hub misses one judged page's news the guess is not made. A
//! wrong guess costs the quiet page's first story its latency (found at the next
//! visit, up to the upper bound later; its next pages keep the coverage).
//!
//! Containment does not depend on which page happens to be visited first (a story both show counts for both,
//! whichever found it), so the home page is never taken for covered by a section.
//! Where no page shows another's news (sections only), nothing changes. Two pages
//! that show the same news (twins: neither misses [`MORE`] of the other's) need one
//! visitor: the other is taken for contained in it. That one is a feed or sitemap,
//! made to be polled, before an HTML page, then the page seen first; a twin sent to
//! the upper bound then misses more of the other's news at its rare visits, and stays
//! contained by the rule for two pages of different sizes.
//!
//! A revisit's next pages ([`crate::site::UrlKind::NextPage`]) are followed while they
//! show no story known before the section's last visit: stories another listing page
//! found since (the home page, before the sections' revisits after a pause) are news
//! all the same. The finds say which.
//!
//! A page's counts decay by [`DECAY`] per fresh story it shows, not per visit: they
//! weigh its last ten or so stories however often it is visited. Decayed per visit,
//! a page that shows fewer than one story a visit (what the square-root law gives
//! a section whose interval is near the lower bound) could never show enough to be
//! judged.
//!
//! Invariant: memory stays bounded (at most [`MAX_FINDS`] finds, the oldest dropped
//! first, [`MAX_CHAINS`] next pages, and a count per listing page and per pair that
//! shared a story); counts decay by [`DECAY`] per fresh story of their page, so
//! containment follows a site that changes its lists; only listing pages' visits
//! record finds (a story an article page links to first is no sign of another
//! listing).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use crate::hashes::HashedMap;
use crate::store::Overlap;
use crate::url_kind::UrlKind;

/// How much of a page's counts each fresh story it shows takes (a memory of about
/// ten stories).
const DECAY: f64 = 0.1;
/// The share of a page's fresh stories that another must show for the first page to
/// be contained in it.
const CONTAINED: f64 = 0.7;
/// The share of a page's fresh stories that a page contained in it must miss, at
/// least: what makes it the smaller of two pages that share news.
const MORE: f64 = 0.2;
/// Fresh stories (decayed) a page must have shown before its own stories say whether
/// it is contained.
const SEEN_ENOUGH: f64 = 3.0;
/// Finds kept (about 3 MB with their showers): only a listing visit's first finds
/// are kept, so this spans the longest revisit interval (6 hours by default) of a
/// crawl that finds over 100,000 stories a day.
const MAX_FINDS: usize = 1 << 15;
/// Pages remembered as having shown a find, after its finder.
const MAX_SHOWERS: usize = 8;
/// Next pages remembered with their chain's start (all forgotten past this many).
const MAX_CHAINS: usize = 4_096;

#[derive(Default)]
pub(crate) struct Cover {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Listing pages by URL, numbered in the order seen.
    pages: HashMap<String, u32>,
    stats: Vec<PageStats>,
    /// Each page's host, by number.
    hosts: Vec<String>,
    /// The pages each page contains by their own stories (only pages that contain one).
    members: HashMap<u32, HashSet<u32>>,
    /// The pages of each host that have shown enough stories to be judged by them.
    judged: HashMap<String, HashSet<u32>>,
    /// Each story (by its link key) found by a listing visit, and who showed it since.
    finds: HashedMap<Find>,
    /// Keys in the order found, for dropping the oldest.
    order: VecDeque<u64>,
    /// Next pages queued by a revisit: since when their stories are news (the visit
    /// before of the section they continue), and when that revisit was made (what
    /// they find counts as found then, so that a later chain takes it for old).
    chains: HashMap<String, (u64, u64)>,
}

/// Who found a story first, when (Unix ms), and that page's count of fresh stories
/// then (its `stories`); the pages that showed it fresh since, each with its count
/// then.
struct Find {
    finder: u32,
    at: u64,
    at_story: u32,
    showers: Vec<(u32, u32)>,
}

#[derive(Default)]
struct PageStats {
    /// A feed or sitemap: the twin that stays visited.
    feed: bool,
    /// Fresh stories counted, undecayed: where each find stands in its finder's
    /// history.
    stories: u32,
    /// Stories fresh to the page's visits (decayed).
    fresh: f64,
    /// Of those, the ones another page also showed, by that page (decayed).
    shared: HashMap<u32, f64>,
}

impl Inner {
    fn page(&mut self, url: &str) -> u32 {
        if let Some(&id) = self.pages.get(url) {
            return id;
        }
        let id = self.stats.len() as u32;
        self.pages.insert(url.to_string(), id);
        self.stats.push(PageStats::default());
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| crate::urlnorm::host_key(&u))
            .unwrap_or_default();
        self.hosts.push(host);
        id
    }

    /// A listing page's number, its kind noted.
    fn listing(&mut self, url: &str, kind: UrlKind) -> u32 {
        let p = self.page(url);
        self.stats[p as usize].feed = matches!(kind, UrlKind::Feed | UrlKind::Sitemap);
        p
    }

    /// Whether page `a` has shown enough stories for them to say where it stands.
    fn judged(&self, a: u32) -> bool {
        self.stats[a as usize].fresh >= SEEN_ENOUGH
    }

    /// The share of page `a`'s fresh stories that page `b` also showed.
    fn share(&self, a: u32, b: u32) -> f64 {
        let stats = &self.stats[a as usize];
        if stats.fresh <= 0.0 {
            return 0.0;
        }
        stats.shared.get(&b).copied().unwrap_or(0.0) / stats.fresh
    }

    /// Whether the pages' own stories say page `a` is contained in page `b`: both have
    /// shown enough, `b` shows most of `a`'s news, and `a` misses clearly more of
    /// `b`'s ([`MORE`], and twice what `b` misses of `a`'s), or the two are twins and
    /// `b` is the one to visit. A section that brings most of a site's news is still
    /// contained in the home page that lists them all. Never true both ways.
    fn within_by_stories(&self, a: u32, b: u32) -> bool {
        self.smaller(a, b) || (self.twins(a, b) && !self.smaller(b, a) && self.first_twin(b, a))
    }

    /// Whether `b` shows most of `a`'s news and clearly more: `a` is the smaller page.
    fn smaller(&self, a: u32, b: u32) -> bool {
        // Both judged: early on, a home page whose few stories came from one busy
        // section must not be taken for contained in it.
        if !self.judged(a) || !self.judged(b) || self.share(a, b) < CONTAINED {
            return false;
        }
        let (a_misses, b_misses) = (1.0 - self.share(b, a), 1.0 - self.share(a, b));
        a_misses >= MORE.max(2.0 * b_misses)
    }

    /// Whether `a` and `b` show the same news: both judged, neither misses [`MORE`] of
    /// the other's.
    fn twins(&self, a: u32, b: u32) -> bool {
        a != b
            && self.judged(a)
            && self.judged(b)
            && 1.0 - self.share(a, b) < MORE
            && 1.0 - self.share(b, a) < MORE
    }

    /// Of two twins, whether `b` is the one to visit: a feed or sitemap before an HTML
    /// page, then the page seen first.
    fn first_twin(&self, b: u32, a: u32) -> bool {
        let (fb, fa) = (self.stats[b as usize].feed, self.stats[a as usize].feed);
        (fb, std::cmp::Reverse(b)) > (fa, std::cmp::Reverse(a))
    }

    /// Whether page `a` is contained in page `b`. By `a`'s own stories once it has
    /// shown enough; before, `a` is taken for contained in a hub of its host that
    /// showed most of the few stories `a` did show (a site's home page that lists
    /// every other section's news lists this one's too, until a story says otherwise).
    fn within(&self, a: u32, b: u32) -> bool {
        if self.judged(a) {
            return self.within_by_stories(a, b);
        }
        let thin = self.stats[a as usize].fresh < 0.5 || self.share(a, b) >= CONTAINED;
        a != b && thin && self.hosts[a as usize] == self.hosts[b as usize] && self.hub(b)
    }

    /// Whether page `b` is a hub: it contains, by their stories, every other page of
    /// its host that has shown enough to be judged (one at least). A page that misses
    /// a judged section's news is no sign that it shows a quiet one's.
    fn hub(&self, b: u32) -> bool {
        let Some(members) = self.members.get(&b) else {
            return false;
        };
        self.judged
            .get(&self.hosts[b as usize])
            .is_some_and(|judged| judged.iter().all(|&c| c == b || members.contains(&c)))
    }

    /// Whether page `a` is contained in another: by its stories, or, too quiet to
    /// judge, in a hub of its host.
    fn contained(&self, a: u32) -> bool {
        if self.judged(a) {
            let stats = &self.stats[a as usize];
            return stats.shared.keys().any(|&q| self.within_by_stories(a, q));
        }
        self.members.keys().any(|&b| self.within(a, b))
    }

    /// How page `a` stands as a page contained in another.
    fn standing(&self, a: u32) -> Overlap {
        match self.contained(a) {
            true => Overlap::Contained,
            false => Overlap::Unknown,
        }
    }

    /// Updates which pages `a` and `b` contain by their stories.
    fn judge(&mut self, a: u32, b: u32) {
        for (x, y) in [(a, b), (b, a)] {
            if self.within_by_stories(x, y) {
                self.members.entry(y).or_default().insert(x);
            } else if let Some(m) = self.members.get_mut(&y) {
                m.remove(&x);
                if m.is_empty() {
                    self.members.remove(&y);
                }
            }
        }
    }
}

impl Cover {
    /// A visit of the listing page `page`, made `now_ms` (the one before it made at
    /// `previous_ms`), showed `new` stories first and the known stories `known` (by
    /// link key). Counts the stories it shares with other listing pages; returns how
    /// the page stands to them: contained in another (its new stories are covered),
    /// or showing stories found first since its last visit by a page it contains
    /// (they are news it would have shown).
    pub fn visit(
        &self,
        page: &str,
        kind: UrlKind,
        previous_ms: u64,
        new: usize,
        known: &[u64],
    ) -> Overlap {
        let mut inner = self.inner.lock().expect("cover lock poisoned");
        let p = inner.listing(page, kind);
        // The stories fresh to this visit that a listing page found, their finders,
        // and every page that showed them (finders first), each with its count then.
        let mut fresh_keys = Vec::new();
        let mut others = Vec::new();
        let mut shown_by = Vec::new();
        for key in known {
            if let Some(find) = inner.finds.get(key) {
                if find.finder != p && find.at > previous_ms {
                    fresh_keys.push(*key);
                    others.push((find.finder, find.at_story));
                    shown_by.push((find.finder, find.at_story));
                    shown_by.extend(find.showers.iter().filter(|(q, _)| *q != p));
                }
            }
        }
        let stats = &mut inner.stats[p as usize];
        let fresh = new + others.len();
        let keep = (1.0 - DECAY).powi(fresh as i32);
        stats.stories = stats.stories.saturating_add(fresh as u32);
        stats.fresh = stats.fresh * keep + fresh as f64;
        stats.shared.values_mut().for_each(|v| *v *= keep);
        for &(q, _) in &shown_by {
            *stats.shared.entry(q).or_default() += 1.0;
        }
        // Each story also counts for every page that showed it before, its finder and
        // the others: one of their fresh stories this page shows, decayed as their
        // count of it has since (a section that shows four of the home page's stories
        // at once, found among its last dozen, shares less than four of the home
        // page's fresh stories now). A story a section found first and both the home
        // page and a feed showed since counts for the two of them as for each and the
        // section.
        for &(q, at_story) in &shown_by {
            let other = &mut inner.stats[q as usize];
            let since = other.stories.saturating_sub(at_story);
            *other.shared.entry(p).or_default() += (1.0 - DECAY).powi(since as i32);
        }
        let at_story = inner.stats[p as usize].stories;
        for key in fresh_keys {
            if let Some(find) = inner.finds.get_mut(&key) {
                if find.showers.len() < MAX_SHOWERS {
                    find.showers.push((p, at_story));
                }
            }
        }
        let host = inner.hosts[p as usize].clone();
        if inner.judged(p) {
            inner.judged.entry(host).or_default().insert(p);
        } else if let Some(judged) = inner.judged.get_mut(&host) {
            judged.remove(&p);
        }
        let partners: Vec<u32> = inner.stats[p as usize].shared.keys().copied().collect();
        for q in partners {
            inner.judge(p, q);
        }
        match inner.standing(p) {
            Overlap::Unknown if others.iter().any(|&(q, _)| inner.within(q, p)) => {
                Overlap::Contains
            }
            standing => standing,
        }
    }

    /// How the listing page `page` stands to the others, for a visit that found it as
    /// it was (no stories to count): contained in another (or taken for so), or not
    /// known to be.
    pub fn standing(&self, page: &str, kind: UrlKind) -> Overlap {
        let mut inner = self.inner.lock().expect("cover lock poisoned");
        let p = inner.listing(page, kind);
        inner.standing(p)
    }

    /// Whether a listing page's visit found this link first after `since_ms`.
    pub fn found_after(&self, key: u64, since_ms: u64) -> bool {
        let inner = self.inner.lock().expect("cover lock poisoned");
        inner.finds.get(&key).is_some_and(|find| find.at > since_ms)
    }

    /// A next page was queued by a revisit made at `at_ms`, whose news are those
    /// since `since_ms`.
    pub fn chain(&self, next_page: &str, since_ms: u64, at_ms: u64) {
        let mut inner = self.inner.lock().expect("cover lock poisoned");
        if inner.chains.len() >= MAX_CHAINS {
            inner.chains.clear();
        }
        inner
            .chains
            .insert(next_page.to_string(), (since_ms, at_ms));
    }

    /// Since when the stories of a next page are news, and when the revisit that
    /// queued it was made (`None`: not known here, as after a restart).
    pub fn chain_of(&self, next_page: &str) -> Option<(u64, u64)> {
        let inner = self.inner.lock().expect("cover lock poisoned");
        inner.chains.get(next_page).copied()
    }

    /// The listing page `page`'s visit found these links, at `now_ms`: those no
    /// listing page found before are its finds.
    pub fn found(&self, page: &str, keys: &[u64], now_ms: u64) {
        let mut inner = self.inner.lock().expect("cover lock poisoned");
        let p = inner.page(page);
        let at_story = inner.stats[p as usize].stories;
        for &key in keys {
            // The first find stands: a feed lists again what a section found.
            if let std::collections::hash_map::Entry::Vacant(slot) = inner.finds.entry(key) {
                slot.insert(Find {
                    finder: p,
                    at: now_ms,
                    at_story,
                    showers: Vec::new(),
                });
                inner.order.push_back(key);
            }
        }
        while inner.order.len() > MAX_FINDS {
            if let Some(old) = inner.order.pop_front() {
                inner.finds.remove(&old);
            }
        }
    }
}

/// The store's meta key the counts are saved under.
pub(crate) const SAVED_KEY: &str = "cover";

/// What a run learned of its listing pages, kept across restarts: each page's counts
/// (the finds and next-page chains are not kept: a restart forgets which visit found
/// a story first, not which pages show whose news).
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// Pages in their numbering.
    pages: Vec<SavedPage>,
}

/// A page's URL, fresh stories counted (undecayed, then decayed), and the shared
/// ones by page number.
type SavedPage = (String, u32, f64, Vec<(u32, f64)>);

impl Cover {
    /// The counts to keep across a restart.
    pub fn save(&self) -> Vec<u8> {
        let inner = self.inner.lock().expect("cover lock poisoned");
        let mut pages: Vec<(&String, &u32)> = inner.pages.iter().collect();
        pages.sort_by_key(|(_, id)| **id);
        let saved = Saved {
            pages: pages
                .into_iter()
                .map(|(url, &id)| {
                    let stats = &inner.stats[id as usize];
                    let shared = stats.shared.iter().map(|(&q, &n)| (q, n)).collect();
                    (url.clone(), stats.stories, stats.fresh, shared)
                })
                .collect(),
        };
        postcard::to_stdvec(&saved).expect("the cover's counts serialize")
    }

    /// What an earlier run saved, as read from where it was kept: a cover that starts
    /// from it, or an empty one (the next visits learn it again) when there is none,
    /// or it could not be read or decoded, which a warning names.
    pub fn from_saved(read: Result<Option<Vec<u8>>, impl std::fmt::Display>) -> Self {
        match read {
            Ok(Some(bytes)) => Self::restore(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "the listing pages' overlap saved by the last run is unreadable ({e}); learning it again"
                );
                Self::default()
            }),
            Ok(None) => Self::default(),
            Err(e) => {
                tracing::warn!(
                    "the listing pages' overlap could not be read ({e}); learning it again"
                );
                Self::default()
            }
        }
    }

    /// A cover that starts from what an earlier run saved; an error names what is
    /// wrong with the bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self, String> {
        let saved: Saved = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        let count = saved.pages.len();
        let cover = Cover::default();
        let mut inner = cover.inner.lock().expect("cover lock poisoned");
        for (url, stories, fresh, shared) in saved.pages {
            if shared.iter().any(|&(q, _)| q as usize >= count) {
                return Err(format!("page {url} shares stories with a page not saved"));
            }
            let p = inner.page(&url);
            if p as usize + 1 != inner.stats.len() {
                return Err(format!("page {url} saved twice"));
            }
            let stats = &mut inner.stats[p as usize];
            stats.stories = stories;
            stats.fresh = fresh;
            stats.shared = shared.into_iter().collect();
        }
        for p in 0..count as u32 {
            let host = inner.hosts[p as usize].clone();
            if inner.judged(p) {
                inner.judged.entry(host).or_default().insert(p);
            }
            let partners: Vec<u32> = inner.stats[p as usize].shared.keys().copied().collect();
            for q in partners {
                inner.judge(p, q);
            }
        }
        drop(inner);
        Ok(cover)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Link keys are hashes: spread the tests' small numbers as a hash would.
    fn k(n: u64) -> u64 {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Four sections of one story per round each; the home page lists them all.
    /// `home_first(round, section)`: whether the home page's visit of the round came
    /// before the section's. Returns, of the last five rounds, the home page's visits
    /// that took stories its sections found first for its own news, and the sections'
    /// visits that took the stories they found first for covered.
    fn rounds(home_first: impl Fn(u64, u64) -> bool) -> (usize, usize) {
        let cover = Cover::default();
        let (mut home, mut sections) = (0, 0);
        let mut previous = [0u64; 5];
        for round in 1..=20u64 {
            let t = round * 1_000;
            let story = |s: u64| k(round * 10 + s);
            let counted = round > 15;
            // The sections that win the race visit first and find their story.
            for s in (0..4).filter(|&s| !home_first(round, s)) {
                let page = format!("section{s}");
                let overlap = cover.visit(&page, UrlKind::Section, previous[s as usize], 1, &[]);
                cover.found(&page, &[story(s)], t + 100);
                previous[s as usize] = t + 100;
                sections += usize::from(counted && overlap == Overlap::Contained);
            }
            // The home page: the others' stories are new to it.
            let known: Vec<u64> = (0..4)
                .filter(|&s| !home_first(round, s))
                .map(story)
                .collect();
            let found: Vec<u64> = (0..4)
                .filter(|&s| home_first(round, s))
                .map(story)
                .collect();
            let overlap = cover.visit("home", UrlKind::Section, previous[4], found.len(), &known);
            cover.found("home", &found, t + 500);
            previous[4] = t + 500;
            assert_ne!(overlap, Overlap::Contained, "round {round}");
            // Stories its sections found first are news it would have shown.
            home += usize::from(counted && !known.is_empty() && overlap == Overlap::Contains);
            // The sections that lost show their story known.
            for s in (0..4).filter(|&s| home_first(round, s)) {
                let page = format!("section{s}");
                let overlap = cover.visit(
                    &page,
                    UrlKind::Section,
                    previous[s as usize],
                    0,
                    &[story(s)],
                );
                assert_ne!(overlap, Overlap::Contains, "round {round}");
                previous[s as usize] = t + 600;
            }
        }
        (home, sections)
    }

    #[test]
    fn sections_the_home_page_lists_are_contained_in_it_whichever_is_visited_first() {
        // Sections win half the races: their new stories count as covered, and the
        // home page's visits that showed what they found first as its own news.
        let (home, sections) = rounds(|round, s| (round + s) % 2 == 0);
        assert_eq!(home, 5);
        assert_eq!(
            sections, 10,
            "every section's new story in the last five rounds"
        );
        // Sections win every race: the same.
        let (home, sections) = rounds(|_, _| false);
        assert_eq!((home, sections), (5, 20));
    }

    /// `rounds` rounds on one host: two busy sections find a story each, and each of
    /// `listers` shows both, in turn after them.
    fn two_sections_listed_by(rounds: u64, listers: &[(&str, UrlKind)]) -> Cover {
        let cover = Cover::default();
        let mut last = [0u64; 2];
        let mut listed = vec![0u64; listers.len()];
        for round in 1..=rounds {
            let t = round * 1_000;
            let mut shown = Vec::new();
            for s in 0..2u64 {
                let page = format!("https://news.example/s{s}");
                cover.visit(&page, UrlKind::Section, last[s as usize], 1, &[]);
                cover.found(&page, &[k(round * 10 + s)], t + s);
                last[s as usize] = t + s;
                shown.push(k(round * 10 + s));
            }
            for (i, &(page, kind)) in listers.iter().enumerate() {
                cover.visit(page, kind, listed[i], 0, &shown);
                listed[i] = t + 500 + 100 * i as u64;
            }
        }
        cover
    }

    /// Eight rounds of [`two_sections_listed_by`] the home page (returned with the
    /// cover).
    fn home_over_two_sections() -> (Cover, &'static str) {
        let home = "https://news.example/";
        (two_sections_listed_by(8, &[(home, UrlKind::Section)]), home)
    }

    #[test]
    fn a_page_with_too_few_stories_to_judge_is_taken_for_contained_in_its_hosts_hub() {
        let (cover, home) = home_over_two_sections();
        for s in 0..2 {
            let page = format!("https://news.example/s{s}");
            assert_eq!(
                cover.standing(&page, UrlKind::Section),
                Overlap::Contained,
                "s{s}"
            );
        }
        // A quiet section of the same host, no story seen yet: contained. One of
        // another host: not.
        let quiet = "https://news.example/quiet";
        assert_eq!(cover.standing(quiet, UrlKind::Section), Overlap::Contained);
        assert_eq!(
            cover.standing("https://other.example/quiet", UrlKind::Section),
            Overlap::Unknown
        );
        assert_eq!(cover.standing(home, UrlKind::Section), Overlap::Unknown);
        // Its first story, which the home page never shows, says otherwise.
        assert_eq!(
            cover.visit(quiet, UrlKind::Section, 9_000, 1, &[]),
            Overlap::Unknown
        );
        cover.found(quiet, &[k(999)], 9_100);
        assert_eq!(cover.standing(quiet, UrlKind::Section), Overlap::Unknown);
        // A busy section whose news the home page does not show: the home page no
        // longer vouches for the quiet sections.
        for round in 10..=14u64 {
            let page = "https://news.example/own";
            cover.visit(page, UrlKind::Section, round * 1_000 - 1_000, 1, &[]);
            cover.found(page, &[k(round * 100)], round * 1_000);
        }
        assert_eq!(
            cover.standing("https://news.example/quiet2", UrlKind::Section),
            Overlap::Unknown
        );
        assert_eq!(
            cover.standing("https://news.example/s0", UrlKind::Section),
            Overlap::Contained
        );
    }

    /// A section that shows a story at one visit in three (fewer stories than visits,
    /// as the square-root law has it for a section visited near the lower bound) is
    /// judged by its stories all the same once it has shown a few; the home page that
    /// lists them, and stories of its own, contains it.
    #[test]
    fn a_section_with_fewer_stories_than_visits_is_judged_by_them() {
        let cover = Cover::default();
        let (home, sparse) = ("https://news.example/", "https://news.example/sparse");
        let mut last = [0u64; 2];
        for round in 1..=12u64 {
            let t = round * 1_000;
            let mut stories = vec![k(round * 10)];
            if round % 3 == 0 {
                stories.push(k(round * 10 + 1));
            }
            cover.visit(home, UrlKind::Section, last[0], stories.len(), &[]);
            cover.found(home, &stories, t);
            last[0] = t;
            cover.visit(sparse, UrlKind::Section, last[1], 0, &stories[1..]);
            last[1] = t + 100;
        }
        assert_eq!(cover.standing(sparse, UrlKind::Section), Overlap::Contained);
        assert_eq!(cover.standing(home, UrlKind::Section), Overlap::Unknown);
    }

    /// Two pages that show the same news, whichever finds it first: one is visited for
    /// both, a feed before an HTML page, else the page seen first.
    #[test]
    fn of_two_pages_that_show_the_same_news_one_is_visited() {
        for (kind, stays) in [(UrlKind::Feed, 1), (UrlKind::Section, 0)] {
            let cover = Cover::default();
            let pages = [
                ("https://news.example/", UrlKind::Section),
                ("https://news.example/latest", kind),
            ];
            let mut last = [0u64; 2];
            for round in 1..=12u64 {
                let t = round * 1_000;
                // The home page is seen first, then each wins every other race.
                let first = ((round + 1) % 2) as usize;
                for (i, p) in [first, 1 - first].into_iter().enumerate() {
                    let (url, kind) = pages[p];
                    if i == 0 {
                        cover.visit(url, kind, last[p], 1, &[]);
                        cover.found(url, &[k(round)], t);
                    } else {
                        cover.visit(url, kind, last[p], 0, &[k(round)]);
                    }
                    last[p] = t + i as u64;
                }
            }
            let (url, kind) = pages[stays];
            assert_ne!(cover.standing(url, kind), Overlap::Contained, "{kind:?}");
            let (url, kind) = pages[1 - stays];
            assert_eq!(cover.standing(url, kind), Overlap::Contained, "{kind:?}");
        }
    }

    /// Stories the sections find first, which the home page and a feed both list: the
    /// two show the same news though neither found any of it, and the feed is visited
    /// for both.
    #[test]
    fn pages_that_show_the_same_stories_others_found_first_are_twins() {
        let (home, feed) = ("https://news.example/", "https://news.example/feed.xml");
        let cover = two_sections_listed_by(12, &[(home, UrlKind::Section), (feed, UrlKind::Feed)]);
        assert_eq!(cover.standing(home, UrlKind::Section), Overlap::Contained);
        assert_ne!(cover.standing(feed, UrlKind::Feed), Overlap::Contained);
    }

    #[test]
    fn what_a_run_learned_survives_a_restart() {
        let (cover, home) = home_over_two_sections();
        let restored = Cover::restore(&cover.save()).expect("saved counts restore");
        assert_eq!(
            restored.standing("https://news.example/s0", UrlKind::Section),
            Overlap::Contained
        );
        assert_eq!(
            restored.standing("https://news.example/quiet", UrlKind::Section),
            Overlap::Contained
        );
        assert_eq!(restored.standing(home, UrlKind::Section), Overlap::Unknown);
        assert!(Cover::restore(b"\xff\xff").is_err());
    }

    #[test]
    fn a_page_is_judged_contained_only_against_a_page_that_showed_enough_too() {
        let mut inner = Inner::default();
        let (home, s0) = (
            inner.page("https://n.example/"),
            inner.page("https://n.example/s0"),
        );
        // Early on, most of the home page's few stories came from one busy section
        // that has shown only two of its own.
        inner.stats[home as usize].fresh = 3.6;
        inner.stats[home as usize].shared.insert(s0, 2.8);
        inner.stats[s0 as usize].fresh = 2.0;
        inner.stats[s0 as usize].shared.insert(home, 2.0);
        assert!(!inner.within(home, s0));
        // Once the section has shown enough, it is the one contained.
        inner.stats[s0 as usize].fresh = 3.2;
        inner.stats[s0 as usize].shared.insert(home, 3.2);
        assert!(!inner.within(home, s0));
        assert!(inner.within(s0, home));
    }

    #[test]
    fn of_two_judged_pages_at_most_one_is_contained_in_the_other() {
        let mut inner = Inner::default();
        let (a, b) = (
            inner.page("https://n.example/a"),
            inner.page("https://n.example/b"),
        );
        for feed in [false, true] {
            inner.stats[b as usize].feed = feed;
            for ab in 0..=20 {
                for ba in 0..=20 {
                    inner.stats[a as usize].fresh = 5.0;
                    inner.stats[a as usize]
                        .shared
                        .insert(b, f64::from(ab) / 4.0);
                    inner.stats[b as usize].fresh = 5.0;
                    inner.stats[b as usize]
                        .shared
                        .insert(a, f64::from(ba) / 4.0);
                    let (ab_in, ba_in) = (inner.within(a, b), inner.within(b, a));
                    assert!(!(ab_in && ba_in), "{ab} {ba} {feed}");
                    // Twins: exactly one of them is visited.
                    if ab >= 17 && ba >= 17 {
                        assert!(ab_in || ba_in, "{ab} {ba} {feed}");
                    }
                }
            }
        }
    }

    #[test]
    fn pages_that_share_no_news_are_not_covered() {
        let cover = Cover::default();
        for round in 1..=20u64 {
            for page in ["a", "b"] {
                let key = k(round * 2 + u64::from(page == "b"));
                let overlap = cover.visit(page, UrlKind::Section, (round - 1) * 1_000, 1, &[]);
                assert_eq!(overlap, Overlap::Unknown);
                cover.found(page, &[key], round * 1_000);
            }
        }
    }

    #[test]
    fn a_next_page_reads_news_as_its_sections_revisit_does() {
        let cover = Cover::default();
        // The section, last visited at 1,000, revisited at 5,000: its page 2 is news
        // since 1,000, and what page 2 finds counts as found at 5,000.
        cover.chain("s?page=2", 1_000, 5_000);
        assert_eq!(cover.chain_of("s?page=2"), Some((1_000, 5_000)));
        assert_eq!(cover.chain_of("s?page=3"), None);
        cover.found("s?page=2", &[k(1)], 5_000);
        // A story the home page found at 3,000 is news to this chain; at the next
        // revisit (last visit 5,000) neither is.
        cover.found("home", &[k(2)], 3_000);
        assert!(cover.found_after(k(2), 1_000));
        assert!(!cover.found_after(k(1), 5_000) && !cover.found_after(k(2), 5_000));
    }

    #[test]
    fn finds_are_bounded() {
        let cover = Cover::default();
        let keys: Vec<u64> = (0..MAX_FINDS as u64 + 10).map(k).collect();
        cover.found("p", &keys, 1);
        let inner = cover.inner.lock().unwrap();
        assert_eq!(inner.finds.len(), MAX_FINDS);
        assert!(!inner.finds.contains_key(&k(0)), "the oldest were dropped");
        assert!(inner.finds.contains_key(&k(MAX_FINDS as u64 + 9)));
    }
}
