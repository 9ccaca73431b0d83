//! Engine lifecycle: the shutdown signal and the set of running tasks.

use alloc::sync::Arc;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::sync::{BlockingMutex, MutexFamily};
use crate::waiters::{WaiterId, Waiters};

struct Flag {
    raised: bool,
    waiters: Waiters,
}

/// A one-shot broadcast signal: once raised it stays raised, and every [`ShutdownSignal::wait`]
/// future completes. Cloning is cheap (an `Arc`).
pub struct ShutdownSignal<F: MutexFamily> {
    inner: Arc<F::Mutex<Flag>>,
}

impl<F: MutexFamily> Clone for ShutdownSignal<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<F: MutexFamily> Default for ShutdownSignal<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: MutexFamily> ShutdownSignal<F> {
    /// A signal not yet raised.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(F::Mutex::new(Flag {
                raised: false,
                waiters: Waiters::new(),
            })),
        }
    }

    /// Raises the signal and wakes every waiter. Idempotent.
    pub fn raise(&self) {
        self.inner.with(|f| {
            f.raised = true;
            f.waiters.wake_all();
        });
    }

    /// Whether the signal has been raised.
    pub fn is_raised(&self) -> bool {
        self.inner.with(|f| f.raised)
    }

    /// Completes once the signal is raised. Cancel-safe.
    pub fn wait(&self) -> ShutdownWait<F> {
        ShutdownWait {
            signal: self.clone(),
            id: None,
        }
    }
}

/// Future returned by [`ShutdownSignal::wait`].
pub struct ShutdownWait<F: MutexFamily> {
    signal: ShutdownSignal<F>,
    id: Option<WaiterId>,
}

impl<F: MutexFamily> Future for ShutdownWait<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let id = &mut this.id;
        this.signal.inner.with(|f| {
            if f.raised {
                return Poll::Ready(());
            }
            let slot = *id.get_or_insert_with(|| f.waiters.join());
            f.waiters.park(slot, cx.waker());
            Poll::Pending
        })
    }
}

impl<F: MutexFamily> Drop for ShutdownWait<F> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.signal.inner.with(|f| f.waiters.leave(id));
        }
    }
}

struct Count {
    live: usize,
    waiters: Waiters,
}

/// Counts running tasks so that the engine can wait for all of them to end, whatever runtime
/// spawned them (no join handles needed).
pub(crate) struct TaskTracker<F: MutexFamily> {
    inner: Arc<F::Mutex<Count>>,
}

impl<F: MutexFamily> Clone for TaskTracker<F> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// Held by a running task; dropping it (also on panic unwind) marks the task ended.
pub(crate) struct TaskToken<F: MutexFamily> {
    inner: Arc<F::Mutex<Count>>,
}

impl<F: MutexFamily> Drop for TaskToken<F> {
    fn drop(&mut self) {
        self.inner.with(|c| {
            c.live -= 1;
            if c.live == 0 {
                c.waiters.wake_all();
            }
        });
    }
}

impl<F: MutexFamily> TaskTracker<F> {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(F::Mutex::new(Count {
                live: 0,
                waiters: Waiters::new(),
            })),
        }
    }

    /// Registers a task about to start.
    pub(crate) fn token(&self) -> TaskToken<F> {
        self.inner.with(|c| c.live += 1);
        TaskToken {
            inner: self.inner.clone(),
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.inner.with(|c| c.live)
    }

    /// Completes when no task is live. Cancel-safe.
    pub(crate) fn all_done(&self) -> AllDone<F> {
        AllDone {
            tracker: self.clone(),
            id: None,
        }
    }
}

/// Future returned by [`TaskTracker::all_done`]; frees its waker slot when dropped.
pub(crate) struct AllDone<F: MutexFamily> {
    tracker: TaskTracker<F>,
    id: Option<WaiterId>,
}

impl<F: MutexFamily> Future for AllDone<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let id = &mut this.id;
        this.tracker.inner.with(|c| {
            if c.live == 0 {
                return Poll::Ready(());
            }
            let slot = *id.get_or_insert_with(|| c.waiters.join());
            c.waiters.park(slot, cx.waker());
            Poll::Pending
        })
    }
}

impl<F: MutexFamily> Drop for AllDone<F> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.tracker.inner.with(|c| c.waiters.leave(id));
        }
    }
}

/// Polls `main` until it completes or `stop` completes, whichever is first. Returns `true` when
/// `main` completed.
pub(crate) async fn until<A, B>(main: A, stop: B) -> bool
where
    A: Future<Output = ()>,
    B: Future<Output = ()>,
{
    let mut main = core::pin::pin!(main);
    let mut stop = core::pin::pin!(stop);
    core::future::poll_fn(|cx| {
        if main.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        if stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        Poll::Pending
    })
    .await
}
