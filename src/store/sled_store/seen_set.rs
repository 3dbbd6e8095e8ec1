//! The seen set: the 64-bit fingerprints of every URL a store has found, in memory,
//! at about 8.5 bytes each (a hash table of them took 14.5).
//!
//! Most fingerprints sit in one sorted array; a directory indexed by a fingerprint's
//! top bits gives the slice of the array that can hold it, so a lookup is a binary
//! search of about 20 entries. Fingerprints added since the array was last rebuilt
//! wait in a small hash table until it holds a sixteenth as many as the array; then
//! they are sorted and merged into the array, in place, from its end.
//!
//! Invariant: `sorted` is sorted and holds each fingerprint once; `directory[b]` is the index in `sorted` of the first fingerprint
//! whose top `bits` bits are at least `b`, and `directory[2^bits]` is `sorted.len()`.

use crate::hashes::HashedSet;

/// Fingerprints `recent` holds before they are merged into `sorted`, at the least.
const RECENT_MIN: usize = 1 << 16;
/// `recent` is merged into `sorted` when it holds more than `sorted.len()` divided by
/// this: each fingerprint is then moved about this many times in all, and `recent`'s
/// table stays a small part of the set's memory.
const RECENT_FRACTION: usize = 16;
/// About how many fingerprints of `sorted` one directory entry covers.
const PER_DIRECTORY_ENTRY: usize = 32;

#[derive(Default)]
pub(super) struct SeenSet {
    sorted: Vec<u64>,
    /// How many top bits of a fingerprint index `directory`; 0 while it is empty.
    bits: u32,
    directory: Vec<usize>,
    recent: HashedSet,
}

impl SeenSet {
    /// The set of `fingerprints`, which may repeat and come in any order.
    pub(super) fn from_unsorted(mut fingerprints: Vec<u64>) -> Self {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        fingerprints.shrink_to_fit();
        let mut set = Self {
            sorted: fingerprints,
            ..Self::default()
        };
        set.rebuild_directory();
        set
    }

    /// Fingerprints in the set, once all of `recent` is merged.
    #[cfg(test)]
    fn len(&mut self) -> usize {
        self.merge_recent();
        self.sorted.len()
    }

    pub(super) fn contains(&self, fp: u64) -> bool {
        self.recent.contains(&fp) || self.sorted_slice_for(fp).binary_search(&fp).is_ok()
    }

    /// Adds `fp`. Callers add what they found missing, so this looks only at
    /// `recent`: a fingerprint already in `sorted` waits there until the next merge,
    /// which drops it.
    pub(super) fn insert(&mut self, fp: u64) {
        self.recent.insert(fp);
        if self.recent.len() > RECENT_MIN.max(self.sorted.len() / RECENT_FRACTION) {
            self.merge_recent();
        }
    }

    /// Every fingerprint; one added twice since the last merge may come twice.
    pub(super) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.sorted
            .iter()
            .copied()
            .chain(self.recent.iter().copied())
    }

    /// The part of `sorted` where `fp` would be.
    fn sorted_slice_for(&self, fp: u64) -> &[u64] {
        if self.directory.is_empty() {
            return &self.sorted;
        }
        let bucket = top_bits(fp, self.bits);
        &self.sorted[self.directory[bucket]..self.directory[bucket + 1]]
    }

    fn merge_recent(&mut self) {
        let mut incoming: Vec<u64> = self.recent.drain().collect();
        incoming.sort_unstable();
        // In order, so that the lookups walk `sorted` from start to end.
        incoming.retain(|&fp| self.sorted_slice_for(fp).binary_search(&fp).is_err());
        let old_len = self.sorted.len();
        self.sorted.resize(old_len + incoming.len(), 0);
        // From the end, so that no entry is overwritten before it is moved.
        let (mut from_old, mut from_new) = (old_len, incoming.len());
        for slot in (0..self.sorted.len()).rev() {
            if from_new == 0 {
                break;
            }
            if from_old > 0 && self.sorted[from_old - 1] > incoming[from_new - 1] {
                from_old -= 1;
                self.sorted[slot] = self.sorted[from_old];
            } else {
                from_new -= 1;
                self.sorted[slot] = incoming[from_new];
            }
        }
        if self.directory.len() == directory_buckets(self.sorted.len()) + 1 {
            self.shift_directory(&incoming);
        } else {
            self.rebuild_directory();
        }
    }

    /// Moves the directory's entries past the `incoming` fingerprints (sorted) just
    /// merged, when its size stays.
    fn shift_directory(&mut self, incoming: &[u64]) {
        let mut below = 0;
        for (bucket, start) in self.directory.iter_mut().enumerate() {
            while below < incoming.len() && top_bits(incoming[below], self.bits) < bucket {
                below += 1;
            }
            *start += below;
        }
    }

    fn rebuild_directory(&mut self) {
        let buckets = directory_buckets(self.sorted.len());
        if buckets < 2 {
            self.bits = 0;
            self.directory = Vec::new();
            return;
        }
        self.bits = buckets.trailing_zeros();
        self.directory.clear();
        self.directory.reserve_exact(buckets + 1);
        let mut index = 0;
        for bucket in 0..buckets {
            while index < self.sorted.len() && top_bits(self.sorted[index], self.bits) < bucket {
                index += 1;
            }
            self.directory.push(index);
        }
        self.directory.push(self.sorted.len());
    }
}

impl Extend<u64> for SeenSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, fingerprints: I) {
        for fp in fingerprints {
            self.insert(fp);
        }
    }
}

/// The directory's size for `len` fingerprints (below 2: no directory).
fn directory_buckets(len: usize) -> usize {
    (len / PER_DIRECTORY_ENTRY).next_power_of_two()
}

/// The top `bits` bits of `fp` (`bits` from 1 to 63).
fn top_bits(fp: u64, bits: u32) -> usize {
    (fp >> (64 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Fingerprints spread like real ones (splitmix64 of a counter).
    fn spread(n: u64) -> u64 {
        let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn holds_what_was_added_across_many_merges() {
        let mut set = SeenSet::from_unsorted((0..50_000).map(spread).collect());
        for n in 50_000..400_000 {
            assert!(!set.contains(spread(n)), "{n} is not in yet");
            set.insert(spread(n));
        }
        assert!(
            set.sorted.len() > 300_000,
            "recent fingerprints were merged"
        );
        for n in (0..400_000).rev() {
            assert!(set.contains(spread(n)), "{n} is in the set");
            set.insert(spread(n));
        }
        for n in 400_000..500_000 {
            assert!(!set.contains(spread(n)), "{n} was never added");
        }
        assert_eq!(set.len(), 400_000, "each once");
        assert!(
            set.sorted.windows(2).all(|w| w[0] < w[1]),
            "sorted, no repeats"
        );
        assert_eq!(set.iter().count(), 400_000);
    }

    #[test]
    fn repeated_fingerprints_on_load_count_once() {
        let mut set = SeenSet::from_unsorted(vec![7, 3, 7, u64::MAX, 0, 3]);
        assert_eq!(set.len(), 4);
        assert!(set.contains(0) && set.contains(u64::MAX) && !set.contains(5));
    }

    proptest! {
        #[test]
        fn agrees_with_a_hash_set(
            loaded in proptest::collection::vec(any::<u64>(), 0..3_000),
            added in proptest::collection::vec(any::<u64>(), 0..3_000),
            probes in proptest::collection::vec(any::<u64>(), 0..200),
        ) {
            let mut set = SeenSet::from_unsorted(loaded.clone());
            let mut expected: HashSet<u64> = loaded.into_iter().collect();
            for fp in added {
                prop_assert_eq!(set.contains(fp), expected.contains(&fp));
                set.insert(fp);
                expected.insert(fp);
                // Merges that small sets would never reach on their own.
                if fp % 7 == 0 {
                    set.merge_recent();
                }
            }
            for fp in expected.iter().copied().chain(probes) {
                prop_assert_eq!(set.contains(fp), expected.contains(&fp));
            }
            let listed: HashSet<u64> = set.iter().collect();
            prop_assert_eq!(&listed, &expected);
            prop_assert_eq!(set.len(), expected.len());
            prop_assert!(set.sorted.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
