//! The buffers' mutex on Embassy: an `embassy-sync` critical-section mutex around a `RefCell`.
//!
//! A critical section (interrupts off on a single-core MCU; a global lock on the host) is the
//! only lock that is correct everywhere an Embassy program runs: thread mode, interrupt
//! executors, several cores. The core holds it only for a few instructions per call (store or take
//! a value, park or wake wakers) and never across an `.await`, so interrupt latency stays short.

use core::cell::RefCell;

use aimdb_core::{BlockingMutex, MutexFamily};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;

/// [`MutexFamily`] of [`CsMutex`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CsMutexFamily;

impl MutexFamily for CsMutexFamily {
    type Mutex<T: Send> = CsMutex<T>;
}

/// An `embassy_sync` critical-section mutex implementing [`BlockingMutex`].
///
/// `with` runs its closure inside a critical section. Calling `with` again on the same mutex from
/// inside the closure panics (the `RefCell` is already borrowed) instead of aliasing; the core
/// never does.
pub struct CsMutex<T>(Mutex<CriticalSectionRawMutex, RefCell<T>>);

impl<T: Send> BlockingMutex<T> for CsMutex<T> {
    fn new(value: T) -> Self {
        Self(Mutex::new(RefCell::new(value)))
    }

    #[inline]
    fn with<U>(&self, f: impl FnOnce(&mut T) -> U) -> U {
        self.0.lock(|cell| f(&mut cell.borrow_mut()))
    }
}
