//! Model-checked tests (loom) of the core's synchronisation: the waker slab behind every wait
//! ([`crate::waiters`]), a buffer's read/write/close ([`crate::buffer::Shared`]), the shutdown
//! signal and task tracker ([`crate::lifecycle`]) and the progress signal ([`crate::accept`]).
//!
//! The core takes its mutex from a [`MutexFamily`], so the models plug in loom's mutex
//! ([`LoomFamily`]); the core's atomics, fences and the buffers' value cells are swapped for
//! loom's under `cfg(loom)` ([`crate::sync::atomic`], [`crate::sync::cell`]). Each model explores
//! every interleaving up to the preemption bound and fails on a lost wake-up (loom reports the
//! deadlock), a panic, a wrong value, or a value's cell written while a reader clones it.
//!
//! Run (what `scripts/test.sh` does; a few minutes with `LOOM_MAX_PREEMPTIONS=2`):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p aimdb-core --lib
//! --target-dir target/loom loom_tests`

use alloc::sync::Arc as StdArc;
use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::time::Duration;

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::accept::{Progress, Signal};
use crate::buffer::{BufferCfg, RecvError, Shared};
use crate::lifecycle::{ShutdownSignal, TaskTracker};
use crate::sync::{BlockingMutex, MutexFamily};
use crate::ProgressWatch;

/// [`MutexFamily`] over loom's mutex.
struct LoomFamily;

impl MutexFamily for LoomFamily {
    type Mutex<T: Send> = LoomMutex<T>;
}

struct LoomMutex<T>(loom::sync::Mutex<T>);

impl<T: Send> BlockingMutex<T> for LoomMutex<T> {
    fn new(value: T) -> Self {
        Self(loom::sync::Mutex::new(value))
    }

    fn with<U>(&self, f: impl FnOnce(&mut T) -> U) -> U {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

type Buffer = Shared<u32, LoomFamily>;

/// Reads every value a new reader of `buf` gets until `Closed` (parking between values).
fn read_to_close(buf: &Buffer) -> Vec<Result<u32, RecvError>> {
    let (id, mut cursor) = buf.add_reader();
    let mut got = Vec::new();
    loop {
        let r = block_on(poll_fn(|cx| buf.poll_read(&id, &mut cursor, cx)));
        got.push(r);
        if r == Err(RecvError::Closed) {
            break;
        }
    }
    buf.remove_reader(&id);
    got
}

/// A reader parked on an empty buffer is woken by a produce from another thread, whichever
/// runs first, and gets the value; then one parked again is woken by the close, also from
/// another thread, and gets `Closed`.
fn produce_then_close_reaches_a_parked_reader(cfg: BufferCfg) {
    loom::model(move || {
        let buf = Arc::new(Buffer::with_progress(cfg, None));
        buf.add_writer();
        let (id, mut cursor) = buf.add_reader();
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || buf.push(7, Duration::ZERO))
        };
        let first = block_on(poll_fn(|cx| buf.poll_read(&id, &mut cursor, cx)));
        assert_eq!(first, Ok(7));
        writer.join().unwrap();
        let closer = {
            let buf = buf.clone();
            thread::spawn(move || buf.remove_writer())
        };
        let next = block_on(poll_fn(|cx| buf.poll_read(&id, &mut cursor, cx)));
        assert_eq!(next, Err(RecvError::Closed));
        buf.remove_reader(&id);
        closer.join().unwrap();
        assert_eq!(buf.stats().produced, 1);
        assert_eq!(buf.stats().delivered, 1);
    });
}

#[test]
fn loom_ring_produce_then_close_reaches_a_parked_reader() {
    produce_then_close_reaches_a_parked_reader(BufferCfg::SpmcRing { capacity: 2 });
}

#[test]
fn loom_single_latest_produce_then_close_reaches_a_parked_reader() {
    produce_then_close_reaches_a_parked_reader(BufferCfg::SingleLatest);
}

#[test]
fn loom_mailbox_produce_then_close_reaches_a_parked_reader() {
    produce_then_close_reaches_a_parked_reader(BufferCfg::Mailbox);
}

/// Two writers race a reader that clones while they overwrite its slot (a ring of one, so
/// every write replaces the value being read): the reader sees values in order, each counted,
/// and the counters add up. Exercises the ring's reads without the lock against its writer:
/// the stamps, the reader's visit and floor, spares, and the lag found under the lock; loom
/// checks every access to a value's cell for a data race.
#[test]
fn loom_ring_overwrites_race_a_reader() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(
            BufferCfg::SpmcRing { capacity: 1 },
            None,
        ));
        buf.add_writer();
        buf.add_writer();
        let (id, mut cursor) = buf.add_reader();
        buf.push(1, Duration::ZERO);
        let writers: Vec<_> = [2, 3]
            .into_iter()
            .map(|v| {
                let buf = buf.clone();
                thread::spawn(move || {
                    buf.push(v, Duration::ZERO);
                    buf.remove_writer();
                })
            })
            .collect();
        let reader = {
            let buf = buf.clone();
            thread::spawn(move || {
                // Subscribed before the overwrites: it reads 1, or is told how many values it
                // lost to them (perhaps twice) and then reads the one the ring holds.
                let mut seen = Vec::new();
                let mut lagged = 0;
                while seen.is_empty() {
                    match buf.try_read(&id, &mut cursor) {
                        Ok(v) => seen.push(v),
                        Err(crate::TryRecvError::Lagged(n)) => lagged += n,
                        Err(crate::TryRecvError::Empty) => thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                }
                assert!(lagged <= 2, "lagged {lagged}");
                // The value read is the one after those lost (2 and 3 race, so by position).
                assert_eq!(cursor, lagged + 1, "losses counted");
                assert!(lagged > 0 || seen[0] == 1, "{seen:?}");
                buf.remove_reader(&id);
                seen
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        let seen = reader.join().unwrap();
        assert!(seen.iter().all(|v| (1..=3).contains(v)), "{seen:?}");
        let stats = buf.stats();
        assert_eq!(stats.produced, 3);
        assert_eq!(stats.delivered, 1);
        assert_eq!(buf.newest().map(|v| v == 2 || v == 3), Some(true));
    });
}

/// A reader that keeps up with a ring of two (so the writer overwrites a slot the reader has
/// just read, past its floor) and one that reads the newest value (a peek) meanwhile: every
/// value arrives once, in order, and no cell is written while it is cloned (loom checks).
#[test]
fn loom_ring_reader_keeping_up_and_a_peek_race_the_writer() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(
            BufferCfg::SpmcRing { capacity: 2 },
            None,
        ));
        buf.add_writer();
        let (id, mut cursor) = buf.add_reader();
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                for v in 1..=3 {
                    buf.push(v, Duration::ZERO);
                }
                buf.remove_writer();
            })
        };
        let peeker = {
            let buf = buf.clone();
            thread::spawn(move || buf.newest())
        };
        let mut got = Vec::new();
        let mut lagged = 0;
        loop {
            match block_on(poll_fn(|cx| buf.poll_read(&id, &mut cursor, cx))) {
                Ok(v) => got.push(v),
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(RecvError::Closed) => break,
            }
        }
        // A ring of two may lap a slow reader once: then it is told so and reads on.
        assert_eq!(got.len() as u64 + lagged, 3, "{got:?} lagged {lagged}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        assert_eq!(got.last(), Some(&3));
        writer.join().unwrap();
        let peeked = peeker.join().unwrap();
        assert!(peeked.is_none_or(|v| (1..=3).contains(&v)), "{peeked:?}");
        buf.remove_reader(&id);
    });
}

/// Two readers race for a mailbox's values while the writer replaces them (readers claim a
/// value with a compare-and-swap, and the writer claims the unread value it drops): each value
/// goes to one reader at most, and every value is delivered, counted as dropped, or still
/// waiting in the mailbox.
#[test]
fn loom_mailbox_values_are_taken_once_while_the_writer_replaces_them() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(BufferCfg::Mailbox, None));
        buf.add_writer();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let buf = buf.clone();
                thread::spawn(move || {
                    let (id, mut cursor) = buf.add_reader();
                    let got = buf.try_read(&id, &mut cursor).ok();
                    buf.remove_reader(&id);
                    got
                })
            })
            .collect();
        buf.push(1, Duration::ZERO);
        buf.push(2, Duration::ZERO);
        let got: Vec<u32> = readers
            .into_iter()
            .filter_map(|r| r.join().unwrap())
            .collect();
        assert!(
            got.len() < 2 || got[0] != got[1],
            "a value taken twice: {got:?}"
        );
        let stats = buf.stats();
        let waiting = u64::from(buf.newest().is_some());
        assert_eq!(stats.delivered, got.len() as u64);
        assert_eq!(
            stats.delivered + stats.dropped + waiting,
            2,
            "{stats:?} {got:?}"
        );
    });
}

/// Many readers of one buffer (a slab of waker slots): a reader that leaves while a produce
/// wakes the others frees its slot without losing anybody's wake-up.
#[test]
fn loom_waiters_survive_a_reader_leaving_during_a_wake() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(BufferCfg::SingleLatest, None));
        buf.add_writer();
        let stayer = {
            let buf = buf.clone();
            thread::spawn(move || read_to_close(&buf))
        };
        // Another reader parks once (or finds the value), then leaves while the writer wakes.
        let leaving = {
            let buf = buf.clone();
            thread::spawn(move || {
                let (id, mut cursor) = buf.add_reader();
                block_on(poll_fn(|cx| {
                    let _ = buf.poll_read(&id, &mut cursor, cx);
                    core::task::Poll::Ready(())
                }));
                buf.remove_reader(&id);
            })
        };
        buf.push(5, Duration::ZERO);
        buf.remove_writer();
        leaving.join().unwrap();
        let got = stayer.join().unwrap();
        assert_eq!(got.last(), Some(&Err(RecvError::Closed)));
        assert!(got.len() <= 2, "{got:?}");
    });
}

/// Every waiter of the shutdown signal completes once it is raised, whether it parked before or
/// checks after; a waiter dropped concurrently frees its slot.
#[test]
fn loom_shutdown_reaches_every_waiter() {
    loom::model(|| {
        let signal = ShutdownSignal::<LoomFamily>::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = signal.clone();
                thread::spawn(move || block_on(s.wait()))
            })
            .collect();
        let dropped = {
            let s = signal.clone();
            thread::spawn(move || {
                let mut w = core::pin::pin!(s.wait());
                let _ = block_on(poll_fn(|cx| {
                    core::task::Poll::Ready(w.as_mut().poll(cx).is_ready())
                }));
            })
        };
        signal.raise();
        for w in waiters {
            w.join().unwrap();
        }
        dropped.join().unwrap();
        assert!(signal.is_raised());
    });
}

/// The engine's wait for its tasks completes once the last token is dropped, on any thread.
#[test]
fn loom_task_tracker_sees_the_last_task_end() {
    loom::model(|| {
        let tracker = TaskTracker::<LoomFamily>::new();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let token = tracker.token();
                thread::spawn(move || drop(token))
            })
            .collect();
        block_on(tracker.all_done());
        assert_eq!(tracker.live(), 0);
        for t in tasks {
            t.join().unwrap();
        }
    });
}

/// A progress bump from another thread wakes a watcher parked on the signal, whichever of the
/// watcher's poll and the bump runs first; a second watcher joining concurrently does not
/// disturb it.
#[test]
fn loom_progress_bump_wakes_a_watcher() {
    loom::model(|| {
        let signal: StdArc<dyn Signal> = StdArc::new(Progress::<LoomFamily>::new());
        let mut watch = ProgressWatch::new(signal.clone());
        let bumper = {
            let signal = signal.clone();
            thread::spawn(move || signal.bump())
        };
        let joiner = {
            let signal = signal.clone();
            thread::spawn(move || drop(ProgressWatch::new(signal)))
        };
        block_on(watch.changed());
        bumper.join().unwrap();
        joiner.join().unwrap();
    });
}

/// What the sync `get` does: try a visit with a read-ahead (no lock when nothing is ready), then
/// park on the buffer when that found nothing. A writer produces two values then closes, from
/// another thread: the reader gets both in order, then `Closed` — a visit without the lock
/// never hides a value or the close.
#[test]
fn loom_read_ahead_reader_spinning_then_parking_sees_every_value() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(
            BufferCfg::SpmcRing { capacity: 8 },
            None,
        ));
        buf.add_writer();
        let (id, mut cursor) = buf.add_reader();
        let mut ahead = buf.read_ahead(2);
        let writer = {
            let buf = buf.clone();
            thread::spawn(move || {
                buf.push(1, Duration::ZERO);
                buf.push(2, Duration::ZERO);
                buf.remove_writer();
            })
        };
        let mut got = Vec::new();
        loop {
            if let Some(v) = ahead.pop() {
                got.push(Ok(v));
                continue;
            }
            // One spin step.
            match buf.try_read_ahead(&id, &mut cursor, &mut ahead) {
                Ok(_) => continue,
                Err(crate::TryRecvError::Closed) => break,
                Err(crate::TryRecvError::Lagged(n)) => panic!("lagged {n}"),
                Err(crate::TryRecvError::Empty) => {}
            }
            // Done spinning: park.
            match block_on(poll_fn(|cx| {
                buf.poll_read_ahead(&id, &mut cursor, cx, &mut ahead)
            })) {
                Ok(_) => {}
                Err(RecvError::Closed) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, [Ok::<u32, RecvError>(1), Ok(2)]);
        writer.join().unwrap();
        buf.remove_reader(&id);
    });
}

/// A writer retired (the sync API's shutdown) while another thread produces through it: the
/// value is either stored before the close (and read) or handed back, never stored after it.
#[test]
fn loom_retired_writer_stores_nothing_after_the_close() {
    loom::model(|| {
        let buf = Arc::new(Buffer::with_progress(
            BufferCfg::SpmcRing { capacity: 2 },
            None,
        ));
        buf.add_writer();
        let retired = Arc::new(core::sync::atomic::AtomicBool::new(false));
        let producer = {
            let (buf, retired) = (buf.clone(), retired.clone());
            thread::spawn(move || {
                buf.push_if(7, Duration::ZERO, || {
                    !retired.load(core::sync::atomic::Ordering::Relaxed)
                })
                .is_ok()
            })
        };
        assert!(buf.retire_writer(&retired));
        let at_close = buf.stats().produced;
        assert!(!buf.retire_writer(&retired), "once");
        let stored = producer.join().unwrap();
        // Stored only before the close; handed back after it.
        assert_eq!(buf.stats().produced, at_close);
        assert_eq!(at_close, u64::from(stored));
        assert_eq!(buf.stats().writers, 0);
    });
}
