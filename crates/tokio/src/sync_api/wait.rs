//! Blocking on a record from a plain thread: a waker that unparks the waiting thread, and the
//! spin-then-park loop around a poll.
//!
//! Each thread has one [`ThreadWaker`], created the first time it blocks on a record and reused
//! for every later wait (a consumer parks it in the buffer's waker slot; re-parking the same
//! waker does not even clone it). Waiting never allocates.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

/// Wakes one thread: sets its flag (what the spin phase watches) and unparks it (what a parked
/// thread waits for). A wake that finds the thread busy costs two atomic stores.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

thread_local! {
    /// This thread's waker (and its flag), made on its first wait.
    static WAKER: (Arc<ThreadWaker>, Waker) = {
        let flag = Arc::new(ThreadWaker {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        });
        (flag.clone(), Waker::from(flag))
    };
}

/// Spins a little, then yields, before a waiter parks — as crossbeam does: a value that arrives
/// within a few microseconds (a round trip with another running thread) is seen without the
/// cost of a park and an unpark.
struct Backoff {
    step: u32,
}

impl Backoff {
    /// Steps that spin `2^step` times.
    const SPIN_LIMIT: u32 = 6;
    /// Steps after which the waiter parks.
    const YIELD_LIMIT: u32 = 10;

    fn snooze(&mut self) {
        if self.step <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                spin_loop();
            }
        } else {
            thread::yield_now();
        }
        self.step += 1;
    }

    fn is_completed(&self) -> bool {
        self.step > Self::YIELD_LIMIT
    }
}

/// Waits until `poll` is ready, or until `deadline` (if any) has passed (`None` then; nothing
/// was taken, as `poll` takes a value only when it returns it).
///
/// `poll(None)` must try without registering a waker, `poll(Some(cx))` register `cx`'s waker
/// when not ready. It first spins a little on `poll(None)` (so a writer that keeps up has no
/// waker to wake — the streaming case), then registers this thread's waker, spins and yields
/// on its flag, and parks.
pub(super) fn block_on_poll<T>(
    deadline: Option<Instant>,
    mut poll: impl FnMut(Option<&mut Context<'_>>) -> Poll<T>,
) -> Option<T> {
    let mut spin = Backoff { step: 0 };
    while spin.step <= Backoff::SPIN_LIMIT {
        if let Poll::Ready(v) = poll(None) {
            return Some(v);
        }
        spin.snooze();
    }
    WAKER.with(|(flag, waker)| {
        let mut cx = Context::from_waker(waker);
        loop {
            // Cleared before polling: a wake after the poll parked our waker is seen below, and
            // a value produced before it is seen by the poll.
            flag.woken.store(false, Ordering::Release);
            if let Poll::Ready(v) = poll(Some(&mut cx)) {
                return Some(v);
            }
            let mut backoff = Backoff { step: 0 };
            while !flag.woken.load(Ordering::Acquire) {
                if !backoff.is_completed() {
                    backoff.snooze();
                    continue;
                }
                match deadline {
                    None => thread::park(),
                    Some(deadline) => {
                        let now = Instant::now();
                        if now >= deadline {
                            return None;
                        }
                        thread::park_timeout(deadline - now);
                    }
                }
            }
        }
    })
}
