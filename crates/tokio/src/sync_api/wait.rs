//! Blocking on a record from a plain thread: a waker that unparks the waiting thread, and the
//! spin-then-park loop around a poll.
//!
//! Each thread has one [`ThreadWaker`], created the first time it blocks on a record and reused
//! for every later wait (a consumer parks it in the buffer's waker slot; re-parking the same
//! waker does not even clone it). Waiting never allocates.

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

#[cfg(not(all(loom, test)))]
use std::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, Ordering},
    thread::{self, Thread},
    thread_local,
};

// The model-checked tests (below) run this hand-off on loom's threads, atomics and parking.
#[cfg(all(loom, test))]
use loom::{
    sync::atomic::{AtomicBool, Ordering},
    thread::{self, Thread},
    thread_local,
};

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
        // Under loom the steps only count: a yield there would let the other thread finish
        // first in every explored order, and the park path would go unchecked.
        #[cfg(not(all(loom, test)))]
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
                        park_timeout(deadline - now);
                    }
                }
            }
        }
    })
}

#[cfg(not(all(loom, test)))]
fn park_timeout(timeout: std::time::Duration) {
    thread::park_timeout(timeout);
}

/// loom has no timed park; the models use no deadline.
#[cfg(all(loom, test))]
fn park_timeout(_timeout: std::time::Duration) {
    thread::park();
}

#[cfg(all(loom, test))]
mod loom_tests {
    //! The hand-off between a thread blocked in [`block_on_poll`] and a waker fired from
    //! another thread, model-checked: whichever order the flag clear, the poll, the wake and the
    //! park run in, the waiter sees the value (a lost wake-up is a loom deadlock).

    use std::sync::Arc;
    use std::task::{Poll, Waker};

    use loom::sync::atomic::{AtomicU32, Ordering};
    use loom::sync::Mutex;
    use loom::thread;

    use super::block_on_poll;

    /// A one-value slot with one parked waker, like a record with one reader.
    #[derive(Default)]
    struct Slot {
        value: AtomicU32,
        waker: Mutex<Option<Waker>>,
    }

    impl Slot {
        fn set(&self, v: u32) {
            self.value.store(v, Ordering::Release);
            if let Some(w) = self.waker.lock().unwrap().take() {
                w.wake();
            }
        }

        fn poll(&self, cx: Option<&mut std::task::Context<'_>>) -> Poll<u32> {
            if let Some(cx) = cx {
                *self.waker.lock().unwrap() = Some(cx.waker().clone());
            }
            match self.value.load(Ordering::Acquire) {
                0 => Poll::Pending,
                v => Poll::Ready(v),
            }
        }
    }

    #[test]
    fn loom_sync_get_sees_a_value_set_from_another_thread() {
        loom::model(|| {
            let slot = Arc::new(Slot::default());
            // Not joined: `join` after park/unpark trips loom's own assertion (loom#249); the
            // model still waits for every thread.
            let slot2 = slot.clone();
            thread::spawn(move || slot2.set(7));
            assert_eq!(block_on_poll(None, |cx| slot.poll(cx)), Some(7));
        });
    }

    /// Two values in a row through two slots (a round trip's two legs), the second set only
    /// after the first was seen: the same thread's waker is reused for both waits.
    #[test]
    fn loom_sync_round_trip_reuses_the_thread_waker() {
        loom::model(|| {
            let ping = Arc::new(Slot::default());
            let pong = Arc::new(Slot::default());
            let (ping2, pong2) = (ping.clone(), pong.clone());
            thread::spawn(move || {
                let v = block_on_poll(None, |cx| ping2.poll(cx)).expect("ping");
                pong2.set(v + 1);
            });
            ping.set(1);
            assert_eq!(block_on_poll(None, |cx| pong.poll(cx)), Some(2));
        });
    }
}
