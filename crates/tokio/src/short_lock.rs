//! The lock the core's buffers and signals take on Tokio ([`ShortLocks`]).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use aimdb_core::{BlockingMutex, MutexFamily};
use crossbeam_utils::Backoff;

/// [`MutexFamily`] for the core's short critical sections: a lock that spins, then yields the
/// thread ([`crossbeam_utils::Backoff`]) while another thread holds it, and is released with
/// one plain store.
///
/// Why not `parking_lot::Mutex` (the choice until issue 12's streaming work): its release is a
/// compare-and-swap, and on x86 every locked instruction waits until the thread's earlier
/// stores have reached the cache — for a produce, the stores into a ring slot that a reader on
/// another core is reading. So each produce paid that wait twice (lock and unlock); now once.
/// Measured in the same run: sync API streaming 13.8 → 17.8 M/s (docs/PERFORMANCE.md).
///
/// Why a lock that does not park is fine here: the core holds these locks only for its own
/// bookkeeping — never across user code, an `.await`, or an allocation on the per-message path
/// (see `aimdb_core::sync`) — so a waiter waits for a few hundred nanoseconds, unless the holder
/// was preempted, and then it yields its core to it. Not for general use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShortLocks;

impl MutexFamily for ShortLocks {
    type Mutex<T: Send> = ShortLock<T>;
}

/// A lock of [`ShortLocks`]. A holder that panics releases it (there is no poisoning: the core
/// updates what it guards within one closure).
pub struct ShortLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only by the one holder of `locked` (acquired with a swap,
// released after the closure), so sharing the lock shares `T` between threads one at a time.
#[allow(unsafe_code)] // audited: see the SAFETY comment
unsafe impl<T: Send> Sync for ShortLock<T> {}

/// Releases the lock when the holder's closure returns or unwinds.
struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<T: Send> BlockingMutex<T> for ShortLock<T> {
    fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    fn with<U>(&self, f: impl FnOnce(&mut T) -> U) -> U {
        if self.locked.swap(true, Ordering::Acquire) {
            let backoff = Backoff::new();
            loop {
                // Wait on a plain load (the line stays shared), then try again.
                while self.locked.load(Ordering::Relaxed) {
                    backoff.snooze();
                }
                if !self.locked.swap(true, Ordering::Acquire) {
                    break;
                }
            }
        }
        let _release = Release(&self.locked);
        // SAFETY: we hold the lock (the swap above saw it free), so no other reference to the
        // value exists until `_release` drops after `f`.
        #[allow(unsafe_code)] // audited: see the SAFETY comment
        let value = unsafe { &mut *self.value.get() };
        f(value)
    }
}

impl<T> std::fmt::Debug for ShortLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortLock")
            .field("locked", &self.locked.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn threads_take_turns_and_a_panicking_holder_releases_it() {
        let lock = Arc::new(ShortLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        lock.with(|n| *n += 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("counting thread");
        }
        assert_eq!(lock.with(|n| *n), 400_000, "no increment lost");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lock.with(|_| panic!("holder panics"));
        }));
        assert!(panicked.is_err());
        assert_eq!(lock.with(|n| *n), 400_000, "released by the unwind");
    }
}
