//! The binary's memory allocator and its settings, applied once at the start of
//! `main`, before any thread is started.
//!
//! Built with the default `mimalloc` feature: mimalloc 2 (the crawl allocates and
//! frees many small strings and DOM nodes; glibc's malloc spent about 15% of the CPU
//! of a polite crawl), without transparent huge pages (the crate's `no_thp` feature:
//! with them, mimalloc's arenas doubled the peak RSS), giving freed memory back to the
//! OS at once. mimalloc 3 (libmimalloc-sys's default) kept 7-21 MB more of a polite or
//! article crawl resident at the same speed, even with its thread-page options tuned;
//! jemalloc (tikv-jemallocator 0.6) kept 11 MB more of a polite crawl resident.
//! Built without it (`--no-default-features`):
//! the system allocator, which heap profilers can follow, limited to two arenas; less
//! memory for 5-20% more CPU. An environment variable that
//! sets one of these options (`MIMALLOC_PURGE_DELAY`, `MALLOC_ARENA_MAX`) wins.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A mimalloc option this binary sets, unless the environment sets it.
#[cfg(feature = "mimalloc")]
struct MiOption {
    /// Its environment variable, which wins.
    env: &'static str,
    /// Its index in mimalloc 2's `mi_option_t` (libmimalloc-sys names no constant for
    /// it).
    index: libmimalloc_sys::mi_option_t,
    value: std::ffi::c_long,
}

/// Give freed memory back to the OS at once (`purge_delay`, index 15), rather than
/// after mimalloc's delay of 10 ms.
#[cfg(feature = "mimalloc")]
const PURGE_AT_ONCE: MiOption = MiOption {
    env: "MIMALLOC_PURGE_DELAY",
    index: 15,
    value: 0,
};

pub fn tune() {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os(PURGE_AT_ONCE.env).is_none() {
        // SAFETY: sets an option mimalloc reads when it needs it; no other thread runs
        // yet.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_AT_ONCE.index, PURGE_AT_ONCE.value) };
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

    /// The release linked is mimalloc 2, and the index names the option it is meant
    /// to: it holds that option's default until `tune` sets it (a renumbering in a
    /// later mimalloc fails here).
    #[test]
    fn tune_sets_the_purge_delay_at_its_index() {
        // SAFETY: reads a constant of the linked library.
        let version = unsafe { libmimalloc_sys::mi_version() };
        assert!(
            (20_000..30_000).contains(&version),
            "mimalloc {version}, not 2"
        );
        if std::env::var_os(PURGE_AT_ONCE.env).is_some() {
            return;
        }
        // SAFETY: reads an option.
        let before = unsafe { libmimalloc_sys::mi_option_get(PURGE_AT_ONCE.index) };
        assert_eq!(before, 10, "mimalloc 2's default purge delay");
        tune();
        // SAFETY: reads an option.
        let after = unsafe { libmimalloc_sys::mi_option_get(PURGE_AT_ONCE.index) };
        assert_eq!(after, PURGE_AT_ONCE.value);
    }
}
