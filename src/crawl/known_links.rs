//! Links known to be in the store, by their text as the page gave it.
//!
//! News pages repeat most of their links (menus, section fronts, "most read" boxes):
//! on a typical article page over 95% of the links lead to URLs already queued or
//! fetched. Normalizing, classifying and looking each of them up again costs more than
//! parsing the page. This cache remembers the raw text of links that went into a
//! committed page, so the next page that repeats one skips it outright.
//!
//! Invariant: a link is remembered only after the commit that carried it succeeded, so
//! its URL is in the store (queued, fetched, or refused by the store as already seen);
//! skipping it again changes nothing the store would have done. Links that were not
//! followed (off-site, denied, malformed) are never remembered: a reloaded config may
//! follow them. Memory is bounded by two generations of 64-bit hashes.
//!
//! Keys come from foldhash (randomly seeded per process) rather than std's SipHash,
//! which took 2% of the CPU pool's samples in a links-only crawl; two links share a
//! key with odds of about n²/2⁶⁵, about 10⁻⁸ for the half million links the cache
//! holds.

use crate::hashes::HashedSet;
use std::hash::BuildHasher;
use std::sync::Mutex;

/// Hashes per generation: 2 x 2^18 x 8 bytes (plus the table) is about 6 MB.
const GENERATION: usize = 1 << 18;

#[derive(Default)]
pub(crate) struct KnownLinks {
    hasher: foldhash::quality::RandomState,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: HashedSet,
    old: HashedSet,
}

impl KnownLinks {
    /// The key of a link's text.
    pub fn key(&self, link: &str) -> u64 {
        self.hasher.hash_one(link)
    }

    /// Which of `keys` are known (one lock for the whole page).
    pub fn known(&self, keys: &[u64]) -> Vec<bool> {
        let generations = self.generations.lock().expect("known links lock poisoned");
        keys.iter()
            .map(|k| generations.young.contains(k) || generations.old.contains(k))
            .collect()
    }

    /// Remembers links whose commit succeeded.
    pub fn remember(&self, keys: impl IntoIterator<Item = u64>) {
        let mut generations = self.generations.lock().expect("known links lock poisoned");
        for key in keys {
            if generations.young.len() >= GENERATION {
                generations.old = std::mem::take(&mut generations.young);
            }
            generations.young.insert(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets_the_oldest_generation() {
        let cache = KnownLinks::default();
        let a = cache.key("http://x.example/a");
        let b = cache.key("http://x.example/b");
        assert_ne!(a, b);
        assert_eq!(cache.known(&[a, b]), [false, false]);
        cache.remember([a]);
        assert_eq!(cache.known(&[a, b]), [true, false]);
        // Two full generations later, `a` is gone: memory stays bounded.
        cache.remember((0..2 * GENERATION as u64).map(|i| cache.key(&i.to_string())));
        assert_eq!(cache.known(&[a]), [false]);
    }
}
