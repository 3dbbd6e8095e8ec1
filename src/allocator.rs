//! The binary's memory allocator and its settings, applied once at the start of
//! `main`, before any thread is started.
//!
//! Built with the default `mimalloc` feature: mimalloc (the crawl allocates and frees
//! many small strings and DOM nodes; glibc's malloc spent about 15% of the CPU of a
//! polite crawl), without transparent huge pages (the crate's `no_thp` feature: with
//! them, mimalloc's arenas doubled the peak RSS), giving freed memory back to the OS
//! at once. Built without it (`--no-default-features`): the system allocator, which
//! heap profilers can follow, limited to two arenas; about a third less memory for
//! 5-20% more CPU (BENCHMARKS.md, "Memory"). An environment variable that sets the
//! same option (`MIMALLOC_PURGE_DELAY`, `MALLOC_ARENA_MAX`) wins.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option: its index in `mi_option_t`, the same in
/// mimalloc 2 and 3 (libmimalloc-sys names no constant for it).
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

pub fn tune() {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets an option mimalloc reads on each purge; no other thread runs yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: glibc's documented tuning call; no other thread runs yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    }
}
