//! What a sled write costs here: 200,000 random 16-byte keys with 120-byte values,
//! 8 keys (twice: two trees or two prefixes) per "page", written three ways: a
//! transaction over two trees, one batch on one tree, and a transaction over nine
//! trees (the page commit's shape). Run with `cargo bench --bench sled_writes`;
//! `CACHE_MB` sets sled's cache (default 16, the crawler's).

use std::time::Instant;

use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

const KEYS: u64 = 200_000;
const PER_PAGE: u64 = 8;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let cache_mb: u64 = std::env::var("CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let value = vec![7u8; 120];
    for mode in [
        "transaction, 2 trees",
        "batch, 1 tree",
        "transaction, 9 trees",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .cache_capacity(cache_mb << 20)
            .mode(sled::Mode::HighThroughput)
            .open()
            .unwrap();
        let trees: Vec<sled::Tree> = (0..9)
            .map(|i| db.open_tree(format!("t{i}")).unwrap())
            .collect();
        let started = Instant::now();
        for page in 0..KEYS / PER_PAGE {
            let keys: Vec<[u8; 16]> = (0..PER_PAGE).map(|i| key(page * PER_PAGE + i)).collect();
            match mode {
                "batch, 1 tree" => {
                    let mut batch = sled::Batch::default();
                    for k in &keys {
                        batch.insert([b"u".as_slice(), k].concat(), value.as_slice());
                        batch.insert([b"q".as_slice(), k].concat(), value.as_slice());
                    }
                    trees[0].apply_batch(batch).unwrap();
                }
                "transaction, 2 trees" => {
                    (&trees[0], &trees[1])
                        .transaction(|(a, b)| {
                            for k in &keys {
                                a.insert(k.as_slice(), value.as_slice())?;
                                b.insert(k.as_slice(), value.as_slice())?;
                            }
                            Ok::<_, ConflictableTransactionError<()>>(())
                        })
                        .unwrap();
                }
                _ => {
                    let t = &trees;
                    (
                        &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[7], &t[8],
                    )
                        .transaction(|(a, b, _, _, _, _, _, _, meta)| {
                            for k in &keys {
                                a.insert(k.as_slice(), value.as_slice())?;
                                b.insert(k.as_slice(), value.as_slice())?;
                            }
                            meta.insert(b"commits".as_slice(), &[1u8; 8])?;
                            Ok::<_, ConflictableTransactionError<()>>(())
                        })
                        .unwrap();
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "{mode}: {:.0} us per page of {} writes, {:.1} us per write (cache {cache_mb} MB)",
            elapsed * 1e6 / (KEYS / PER_PAGE) as f64,
            2 * PER_PAGE,
            elapsed * 1e6 / (2 * KEYS) as f64
        );
    }
}
