//! The platform's blocking mutex, abstracted so that buffers are written once.
//!
//! Buffers keep their state behind a short, never-awaited critical section. On Tokio that is a
//! lock that spins, then yields, and releases with one plain store (`aimdb_tokio::ShortLocks`:
//! the sections are short and never run user code); on Embassy it is an `embassy_sync`
//! critical-section mutex. A runtime names its choice with [`MutexFamily`]; the core never
//! holds a lock across an `.await`, never calls user code while holding one, and never allocates
//! while holding one on the per-message path.
//!
//! "User code" here is everything a user's types run: a value's `Clone` and `Drop`, transform
//! closures, codecs. Buffers are read without their lock: a reader clones a value during a visit
//! the writer keeps clear of, and a write drops what it overwrote after the lock (see
//! `buffer::slots`); which is why a record's value type is `Send + Sync` (readers on several
//! threads clone one value at once). Under a lock the core runs only its own bookkeeping and the executor's `Waker` methods
//! (`wake`, `clone`, `drop` of the waker a reader parked). One nesting exists: acceptance reads
//! the records behind a transform while holding its input's lock, upstream first (a DAG, so no
//! cycle; see `accept`).

/// A mutex that runs a closure with exclusive access to the value it guards.
///
/// `with` blocks only for as long as another holder's closure runs; closures passed by the core
/// are short and never block or await.
pub trait BlockingMutex<T>: Send + Sync {
    /// Wraps `value`.
    fn new(value: T) -> Self;
    /// Runs `f` with exclusive access to the guarded value.
    fn with<U>(&self, f: impl FnOnce(&mut T) -> U) -> U;
}

/// Names the mutex type a runtime uses for values of any type (a type constructor).
pub trait MutexFamily: 'static {
    /// The mutex guarding a `T`.
    type Mutex<T: Send>: BlockingMutex<T>;
}

/// [`MutexFamily`] over `std::sync::Mutex`, for hosts without a faster choice and for tests.
/// A poisoned lock is recovered: buffer state is updated atomically inside one closure and stays
/// consistent even when a panic unwinds out of an unrelated holder.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct StdMutexFamily;

#[cfg(feature = "std")]
impl MutexFamily for StdMutexFamily {
    type Mutex<T: Send> = StdMutex<T>;
}

/// A `std::sync::Mutex` implementing [`BlockingMutex`].
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct StdMutex<T>(std::sync::Mutex<T>);

#[cfg(feature = "std")]
impl<T: Send> BlockingMutex<T> for StdMutex<T> {
    fn new(value: T) -> Self {
        Self(std::sync::Mutex::new(value))
    }

    fn with<U>(&self, f: impl FnOnce(&mut T) -> U) -> U {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

/// The atomics the core uses; loom's in its model-checked tests (`cfg(loom)`), so that loom
/// explores their orderings too. On targets without 64-bit atomics (the MCU), `AtomicU64` is
/// `portable-atomic`'s, which takes a critical section there.
pub(crate) mod atomic {
    #[cfg(all(loom, test))]
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };

    #[cfg(not(all(loom, test)))]
    pub(crate) use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicUsize, Ordering};

    #[cfg(all(not(all(loom, test)), target_has_atomic = "64"))]
    pub(crate) use core::sync::atomic::AtomicU64;

    #[cfg(all(not(all(loom, test)), not(target_has_atomic = "64")))]
    pub(crate) use portable_atomic::AtomicU64;
}

/// An `UnsafeCell` accessed through closures, so that loom can check every access for a data
/// race in the models (`loom::cell::UnsafeCell`); a plain `UnsafeCell` otherwise.
pub(crate) mod cell {
    #[cfg(all(loom, test))]
    pub(crate) use loom::cell::UnsafeCell;

    /// See the module docs.
    #[cfg(not(all(loom, test)))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    #[cfg(not(all(loom, test)))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Runs `f` with a pointer for reading.
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Runs `f` with a pointer for writing.
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
