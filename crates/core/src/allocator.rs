//! glibc's allocator, tuned for Finstage's long-running processes. By default glibc gives
//! threads that allocate at once up to eight arenas per core, and each keeps what was freed in
//! it: about 6 MiB of an idle `finstage-api`, and more in a job that builds a ten-year history
//! per symbol on eight symbols at once (docs/PERFORMANCE.md, "Idle memory" and "End-to-end
//! refresh"). Both binaries call [`limit_arenas`] first thing in `main` and run
//! [`trim_periodically`]. Elsewhere (musl, macOS) these do nothing: other allocators tune
//! themselves.

use std::time::Duration;

/// Arenas when `MALLOC_ARENA_MAX` is not set: two serve two busy threads per core without the
/// lock contention of one (one cost the 50-quote batch about 30 % of its throughput).
pub const DEFAULT_ARENAS: i32 = 2;

/// How often [`trim_periodically`] gives freed memory back.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(60);

/// Caps glibc's arenas at [`DEFAULT_ARENAS`] unless `MALLOC_ARENA_MAX` is set (the operator's
/// value wins). Call it before the runtime starts its threads.
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        imp::set_arena_max(DEFAULT_ARENAS);
    }
}

/// Gives the free memory at the top of each arena and in whole free pages back to the system.
pub fn release_free_memory() {
    imp::trim();
}

/// Calls [`release_free_memory`] now and then every [`TRIM_INTERVAL`] on the current tokio
/// runtime, until the runtime stops: the jobs free a ten-year history per symbol in bursts,
/// and an idle process should not keep the peak.
pub fn trim_periodically() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            release_free_memory();
        }
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod imp {
    pub(super) fn set_arena_max(arenas: i32) {
        // SAFETY: `mallopt` sets one of the allocator's parameters under the allocator's own
        // lock; M_ARENA_MAX with a positive value is a documented use.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }

    pub(super) fn trim() {
        // SAFETY: `malloc_trim` only releases memory no allocation uses, under the allocator's
        // locks; any thread may call it at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn set_arena_max(_arenas: i32) {}
    pub(super) fn trim() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_trimmer_runs_until_it_is_aborted() {
        limit_arenas();
        let trimmer = trim_periodically();
        tokio::time::advance(TRIM_INTERVAL * 3).await;
        assert!(!trimmer.is_finished(), "it keeps running");
        trimmer.abort();
        assert!(trimmer.await.unwrap_err().is_cancelled());
    }
}
