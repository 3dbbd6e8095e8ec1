//! The binary's memory allocator and its settings, applied once at the start of
//! `main`, before any thread is started.
//!
//! Built with the default `mimalloc` feature: mimalloc (the crawl allocates and frees
//! many small strings and DOM nodes; glibc's malloc spent about 15% of the CPU of a
//! polite crawl), without transparent huge pages (the crate's `no_thp` feature: with
//! them, mimalloc's arenas doubled the peak RSS), giving freed memory back to the OS
//! at once, and collecting each thread's empty pages often. Built without it
//! (`--no-default-features`): the system allocator, which heap profilers can follow,
//! limited to two arenas; less memory for 5-20% more CPU (BENCHMARKS.md, "Memory").
//! An environment variable that sets one of these options (`MIMALLOC_PURGE_DELAY`,
//! `MIMALLOC_GENERIC_COLLECT`, `MIMALLOC_PAGE_RECLAIM_ON_FREE`, `MALLOC_ARENA_MAX`)
//! wins.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A mimalloc option this binary sets, unless the environment sets it.
#[cfg(feature = "mimalloc")]
struct MiOption {
    /// Its environment variable, which wins.
    env: &'static str,
    /// Its index in mimalloc 3's `mi_option_t` (libmimalloc-sys names no constant for
    /// these).
    index: libmimalloc_sys::mi_option_t,
    value: std::ffi::c_long,
}

/// Give freed memory back to the OS at once (`purge_delay`, index 15 in mimalloc 2
/// and 3), rather than after mimalloc's delay (10 ms in mimalloc 2, 1 s in 3).
#[cfg(feature = "mimalloc")]
const PURGE_AT_ONCE: MiOption = MiOption {
    env: "MIMALLOC_PURGE_DELAY",
    index: 15,
    value: 0,
};

/// mimalloc 3 only. Each thread keeps its own partly used pages of each size class;
/// a crawl has about 18 threads (the runtime's, the pools', sled's), so those pages
/// are a good part of the process's memory. Collecting a thread's empty pages every
/// 10 calls to the allocator's slow path instead of every 10,000 (`generic_collect`),
/// and never adopting another thread's abandoned page on a free
/// (`page_reclaim_on_free` -1; adopting them at every free tripled the polite
/// crawl's RSS), took about 20 MB off the polite crawl's peak RSS and 12-16 MB off
/// the unthrottled ones', at no measurable CPU (BENCHMARKS.md, "Memory: mimalloc's
/// thread pages").
#[cfg(feature = "mimalloc")]
const THREAD_PAGES: [MiOption; 2] = [
    MiOption {
        env: "MIMALLOC_GENERIC_COLLECT",
        index: 34,
        value: 10,
    },
    MiOption {
        env: "MIMALLOC_PAGE_RECLAIM_ON_FREE",
        index: 35,
        value: -1,
    },
];

/// The first release of mimalloc 3, as `mi_version` reports it.
#[cfg(feature = "mimalloc")]
const MIMALLOC_3: std::ffi::c_int = 300;

pub fn tune() {
    #[cfg(feature = "mimalloc")]
    {
        // SAFETY: reads a constant of the linked library.
        let version = unsafe { libmimalloc_sys::mi_version() };
        let thread_pages: &[MiOption] = if version >= MIMALLOC_3 {
            &THREAD_PAGES
        } else {
            &[]
        };
        for option in std::iter::once(&PURGE_AT_ONCE).chain(thread_pages) {
            if std::env::var_os(option.env).is_none() {
                // SAFETY: sets an option mimalloc reads when it needs it; no other
                // thread runs yet.
                unsafe { libmimalloc_sys::mi_option_set(option.index, option.value) };
            }
        }
    }
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: glibc's documented tuning call; no other thread runs yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    use super::*;

    /// The indices name the options they are meant to: each holds that option's
    /// default until `tune` sets it (a renumbering in a later mimalloc fails here).
    #[test]
    fn tune_sets_the_options_at_their_indices() {
        // SAFETY: reads a constant of the linked library.
        assert!(unsafe { libmimalloc_sys::mi_version() } >= MIMALLOC_3);
        let options: Vec<&MiOption> = std::iter::once(&PURGE_AT_ONCE)
            .chain(&THREAD_PAGES)
            .filter(|option| std::env::var_os(option.env).is_none())
            .collect();
        for option in &options {
            // mimalloc's own default, in the release linked.
            let default = match option.env {
                "MIMALLOC_PURGE_DELAY" => 1000,
                "MIMALLOC_GENERIC_COLLECT" => 10_000,
                "MIMALLOC_PAGE_RECLAIM_ON_FREE" => 0,
                other => panic!("no default known for {other}"),
            };
            // SAFETY: reads an option.
            let before = unsafe { libmimalloc_sys::mi_option_get(option.index) };
            assert_eq!(before, default, "{} before tune", option.env);
        }
        tune();
        for option in &options {
            // SAFETY: reads an option.
            let after = unsafe { libmimalloc_sys::mi_option_get(option.index) };
            assert_eq!(after, option.value, "{} after tune", option.env);
        }
    }
}
