//! The queue's lock, condvar and drain thread: `parking_lot` and `std::thread`, or loom's in
//! the model-checked tests (`cfg(loom)`, see `loom_tests.rs`) behind the same API.

#[cfg(not(all(loom, test)))]
pub(super) use parking_lot::{Condvar, Mutex};

#[cfg(not(all(loom, test)))]
pub(super) fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new().name(name).spawn(f).map(drop)
}

#[cfg(all(loom, test))]
pub(super) use self::loom_shim::{spawn, Condvar, Mutex};

#[cfg(all(loom, test))]
mod loom_shim {
    use std::ops::{Deref, DerefMut};
    use std::sync::PoisonError;
    use std::time::Instant;

    /// loom's mutex with `parking_lot`'s API (a guard, no poisoning).
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(PoisonError::into_inner)))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_deref().expect("guard held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_deref_mut().expect("guard held")
        }
    }

    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// loom's condvar with `parking_lot`'s API. loom does not model time: `wait_until` returns
    /// "timed out" at once, i.e. as if the deadline had passed (every interleaving of the
    /// drain's batch wait is still explored through `wait`).
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let g = guard.0.take().expect("guard held");
            guard.0 = Some(self.0.wait(g).unwrap_or_else(PoisonError::into_inner));
        }

        pub(crate) fn wait_until<T>(
            &self,
            _guard: &mut MutexGuard<'_, T>,
            _deadline: Instant,
        ) -> WaitTimeoutResult {
            WaitTimeoutResult(true)
        }

        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
    }

    pub(crate) fn spawn(_name: String, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        loom::thread::spawn(f);
        Ok(())
    }
}
