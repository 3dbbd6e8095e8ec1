//! Sets and maps of values that are already hashes (URL fingerprints, link-text hashes): they
//! are used as their own hash, so a lookup costs no hashing. Keys must be uniformly
//! distributed, as the outputs of a good hash function are.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A set of 64-bit hashes.
pub type HashedSet = HashSet<u64, BuildHasherDefault<PassThrough>>;

/// A map keyed by 64-bit hashes.
pub type HashedMap<V> = std::collections::HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// Hashes a `u64` to itself.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
