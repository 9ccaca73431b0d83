//! The state all handles of one buffer share: the kind's state machine, parked readers,
//! counters and the open/closed flag, behind the runtime's mutex.
//!
//! The lock rule: no user code runs under that mutex. Values sit behind reusable `Arc`s
//! ([`super::slot`]): a read takes a reference under the lock and runs `T::clone` after it, and
//! a write drops the value it overwrote (or collapsed) after it. So a value's `Clone` or `Drop`
//! may call back into its own record (its counters, its newest value) without deadlocking.

use alloc::sync::Arc;
use core::task::{Context, Poll};
use core::time::Duration;

use super::mailbox::Mailbox;
use super::single_latest::SingleLatest;
use super::slot::{self, Displaced, Spares};
use super::spmc_ring::SpmcRing;
use super::{BufferCfg, Read, ReadAhead, RecordStats, RecvError, TryRecvError};
use crate::accept::{HoldId, Holds, Ledger, Signal};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{BlockingMutex, MutexFamily};
use crate::waiters::{WaiterId, Waiters};

enum State<T> {
    Ring(SpmcRing<T>),
    Latest(SingleLatest<T>),
    Mailbox(Mailbox<T>),
}

struct Inner<T> {
    state: State<T>,
    readers: Waiters,
    stats: RecordStats,
    /// Set when the last producer leaves; cleared when one joins.
    closed: bool,
    /// Durable readers' acceptance (see [`crate::accept`]).
    holds: Holds,
    /// `Arc`s free for values whose slot a reader still holds.
    spares: Spares<T>,
}

impl<T> Inner<T> {
    /// Stores the next value with `store` (into the slot the kind picks, with the spares);
    /// counts and wakes only if it succeeds. Returns the value's position and what it displaced.
    fn push<E>(
        &mut self,
        store: impl FnOnce(&mut Option<Arc<T>>, &mut Spares<T>) -> Result<Displaced<T>, E>,
        now: Duration,
    ) -> Result<(u64, Displaced<T>), E> {
        let spares = &mut self.spares;
        let displaced = match &mut self.state {
            State::Ring(r) => r.push(|s| store(s, spares))?,
            State::Latest(l) => l.push(|s| store(s, spares))?,
            State::Mailbox(m) => {
                let (displaced, overwritten) = m.push(|s| store(s, spares))?;
                if overwritten {
                    self.stats.dropped += 1;
                }
                displaced
            }
        };
        self.stats.produced += 1;
        self.stats.last_produced = Some(now);
        self.readers.wake_all();
        Ok((self.stats.produced, displaced))
    }

    /// A reference to the next value for `cursor`; the caller clones it after the lock.
    fn read(&mut self, cursor: &mut u64) -> Result<Arc<T>, TryRecvError> {
        let read = match &mut self.state {
            State::Ring(r) => r.read(cursor),
            State::Latest(l) => l.read(cursor),
            State::Mailbox(m) => m.take(),
        };
        match read {
            Read::Value(v) => {
                if let State::Mailbox(_) = self.state {
                    *cursor = self.stats.produced;
                }
                self.stats.delivered += 1;
                Ok(v)
            }
            Read::Lagged(n) => {
                self.stats.lagged += n;
                Err(TryRecvError::Lagged(n))
            }
            Read::Empty if self.closed => Err(TryRecvError::Closed),
            Read::Empty => Err(TryRecvError::Empty),
        }
    }

    /// Up to `max` references for `cursor` handed to `take`, oldest first (a ring's ready
    /// values; one value of the other kinds); returns how many.
    fn read_many(
        &mut self,
        cursor: &mut u64,
        max: usize,
        mut take: impl FnMut(Arc<T>),
    ) -> Result<usize, TryRecvError> {
        let State::Ring(r) = &self.state else {
            return self.read(cursor).map(|v| {
                take(v);
                1
            });
        };
        match r.read_many(cursor, max, take) {
            Read::Value(n) => {
                self.stats.delivered += n as u64;
                Ok(n)
            }
            Read::Lagged(n) => {
                self.stats.lagged += n;
                Err(TryRecvError::Lagged(n))
            }
            Read::Empty if self.closed => Err(TryRecvError::Closed),
            Read::Empty => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Inner<T> {
    /// Values below this position are gone from the buffer by its contract: accepted.
    fn floor(&self) -> u64 {
        let produced = self.stats.produced;
        match &self.state {
            State::Ring(r) => produced.saturating_sub(r.capacity() as u64),
            State::Latest(_) => produced.saturating_sub(1),
            State::Mailbox(_) => produced,
        }
    }
}

/// A counter on a cache line of its own, so that a reader polling it shares no line with the
/// lock or the ring.
#[repr(align(128))]
struct Changes(AtomicUsize);

/// One buffer, shared by its producers and consumers.
pub(crate) struct Shared<T: Send + Sync, F: MutexFamily> {
    inner: F::Mutex<Inner<T>>,
    /// Moves (under the lock, after the change) on every produce and on closing: a reader that
    /// found nothing may skip the lock until it moves (see [`Shared::changes`]).
    changes: Changes,
    /// The graph's progress signal, bumped when a hold moves.
    progress: Option<Arc<dyn Signal>>,
}

impl<T: Send + Sync, F: MutexFamily> Shared<T, F> {
    /// A buffer whose holds bump `progress`.
    pub(crate) fn with_progress(cfg: BufferCfg, progress: Option<Arc<dyn Signal>>) -> Self {
        let state = match cfg {
            BufferCfg::SpmcRing { capacity } => State::Ring(SpmcRing::new(capacity)),
            BufferCfg::SingleLatest => State::Latest(SingleLatest::new()),
            BufferCfg::Mailbox => State::Mailbox(Mailbox::new()),
        };
        Self {
            inner: F::Mutex::new(Inner {
                state,
                readers: Waiters::new(),
                stats: RecordStats::default(),
                closed: false,
                holds: Holds::default(),
                spares: Spares::new(),
            }),
            changes: Changes(AtomicUsize::new(0)),
            progress,
        }
    }

    /// Marks a change; called under the lock, so a load and a store do (one writer at a time).
    fn changed(&self) {
        let c = &self.changes.0;
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
    }

    /// The buffer's change count, read without the lock: it moves after every produce and
    /// when the buffer closes. A hint for a reader that spins: if it read the count, then found
    /// nothing, it finds nothing as long as the count has not moved. (It wraps; a reader that
    /// parks always takes the lock.)
    pub(crate) fn changes(&self) -> usize {
        self.changes.0.load(Ordering::Acquire)
    }

    /// Stores `value` and wakes parked readers; returns its position. Never blocks beyond the
    /// short lock; what it overwrote is dropped after the lock. Allocates only while the slots
    /// are first filled, or when readers hold every reusable `Arc` (then outside the lock).
    pub(crate) fn push(&self, value: T, now: Duration) -> u64 {
        match self.push_if(value, now, || true) {
            Ok(pos) => pos,
            // Not reachable: `open` always holds.
            Err(_) => self.inner.with(|inner| inner.stats.produced),
        }
    }

    /// [`Shared::push`] if `open()` holds under the lock; else the value is handed back. A
    /// writer that can be retired passes its flag, so that no value follows its retirement.
    pub(crate) fn push_if(
        &self,
        value: T,
        now: Duration,
        open: impl Fn() -> bool,
    ) -> Result<u64, T> {
        let stored = self.inner.with(|inner| {
            if !open() {
                return Err(Err(value));
            }
            let done = inner
                .push(|s, spares| slot::store(s, value, spares), now)
                .map_err(Ok)?;
            self.changed();
            Ok(done)
        });
        let (pos, displaced) = match stored {
            Ok(done) => done,
            Err(Err(value)) => return Err(value),
            Err(Ok(value)) => {
                let arc = Arc::new(value);
                let done = self.inner.with(|inner| {
                    if !open() {
                        return Err(arc);
                    }
                    let Ok(done) = inner.push(|s, spares| slot::store_shared(s, arc, spares), now);
                    self.changed();
                    Ok(done)
                });
                match done {
                    Ok(done) => done,
                    // Retired meanwhile. The `Arc` is ours alone (made above, never stored),
                    // so `into_inner` hands the value back.
                    Err(arc) => return Arc::into_inner(arc).map_or(Ok(0), Err),
                }
            }
        };
        drop(displaced);
        Ok(pos)
    }

    /// Registers a durable reader standing at `pos`.
    pub(crate) fn hold_direct(&self, pos: u64) -> HoldId {
        self.inner.with(|inner| inner.holds.add_direct(pos))
    }

    /// Registers a transform input standing at `pos` that derives values into `out`.
    pub(crate) fn hold_derived(&self, pos: u64, out: Arc<dyn Ledger>) -> HoldId {
        self.inner.with(|inner| inner.holds.add_derived(pos, out))
    }

    /// Releases hold `id` (its reader is gone).
    pub(crate) fn release_hold(&self, id: HoldId) {
        self.inner.with(|inner| inner.holds.release(id));
        self.bump();
    }

    fn bump(&self) {
        if let Some(p) = &self.progress {
            p.bump();
        }
    }

    /// The graph's progress signal, if the buffer belongs to a graph.
    pub(crate) fn progress(&self) -> Option<&Arc<dyn Signal>> {
        self.progress.as_ref()
    }

    pub(crate) fn add_writer(&self) {
        self.inner.with(|inner| {
            inner.stats.writers += 1;
            inner.closed = false;
        });
    }

    pub(crate) fn remove_writer(&self) {
        self.inner.with(|inner| self.leave(inner));
    }

    /// Removes a writer that `retired` marks, once: later [`Shared::push_if`]s checking the
    /// flag are refused. Returns whether it was still there.
    pub(crate) fn retire_writer(&self, retired: &core::sync::atomic::AtomicBool) -> bool {
        self.inner.with(|inner| {
            if retired.swap(true, core::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            self.leave(inner);
            true
        })
    }

    fn leave(&self, inner: &mut Inner<T>) {
        inner.stats.writers = inner.stats.writers.saturating_sub(1);
        if inner.stats.writers == 0 {
            inner.closed = true;
            inner.readers.wake_all();
            self.changed();
        }
    }

    /// Registers a reader; returns its waker slot and its starting cursor.
    pub(crate) fn add_reader(&self) -> (WaiterId, u64) {
        self.inner.with(|inner| {
            let cursor = match &inner.state {
                State::Ring(r) => r.subscribe_cursor(),
                State::Latest(l) => l.subscribe_cursor(),
                State::Mailbox(_) => 0,
            };
            let id = inner.readers.join();
            inner.stats.readers = inner.readers.parties();
            (id, cursor)
        })
    }

    /// A read-ahead of at most `max` values for one reader: a ring bounds it to a quarter of
    /// its capacity and keeps that many more spare `Arc`s (so that a writer lapping the slots it
    /// pins reuses spares instead of allocating); the other kinds read one value per visit.
    pub(crate) fn read_ahead(&self, max: usize) -> ReadAhead<T> {
        let max = self.inner.with(|inner| match &inner.state {
            State::Ring(r) => {
                let max = max.min(r.capacity() / 4).max(1);
                if max > 1 {
                    inner.spares.reserve(max);
                }
                max
            }
            State::Latest(_) | State::Mailbox(_) => 1,
        });
        ReadAhead::new(max)
    }

    pub(crate) fn remove_reader(&self, id: WaiterId) {
        self.inner.with(|inner| {
            inner.readers.leave(id);
            inner.stats.readers = inner.readers.parties();
        });
    }
}

impl<T: Clone + Send + Sync, F: MutexFamily> Shared<T, F> {
    /// Takes the next value for `cursor` if one is ready; `T::clone` runs after the lock.
    pub(crate) fn try_read(&self, cursor: &mut u64) -> Result<T, TryRecvError> {
        let value = self.inner.with(|inner| inner.read(cursor))?;
        Ok(T::clone(&value))
    }

    /// Takes the ready values for `cursor` into `ahead` (as many as it has room for) in one
    /// visit; returns how many. Nothing is cloned under the lock.
    pub(crate) fn try_read_ahead(
        &self,
        cursor: &mut u64,
        ahead: &mut ReadAhead<T>,
    ) -> Result<usize, TryRecvError> {
        let room = ahead.room();
        if room == 0 {
            return Ok(0);
        }
        self.inner
            .with(|inner| inner.read_many(cursor, room, |v| ahead.push(v)))
    }

    /// [`Self::try_read_ahead`], or parks the reader's waker when there is nothing to read.
    pub(crate) fn poll_read_ahead(
        &self,
        cursor: &mut u64,
        id: WaiterId,
        cx: &mut Context<'_>,
        ahead: &mut ReadAhead<T>,
    ) -> Poll<Result<usize, RecvError>> {
        let room = ahead.room();
        if room == 0 {
            return Poll::Ready(Ok(0));
        }
        self.inner.with(
            |inner| match inner.read_many(cursor, room, |v| ahead.push(v)) {
                Ok(n) => Poll::Ready(Ok(n)),
                Err(TryRecvError::Lagged(n)) => Poll::Ready(Err(RecvError::Lagged(n))),
                Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError::Closed)),
                Err(TryRecvError::Empty) => {
                    inner.readers.park(id, cx.waker());
                    Poll::Pending
                }
            },
        )
    }

    /// Reads, or parks the reader's waker when there is nothing to read.
    pub(crate) fn poll_read(
        &self,
        cursor: &mut u64,
        id: WaiterId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, RecvError>> {
        let read = self.inner.with(|inner| match inner.read(cursor) {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Lagged(n)) => Poll::Ready(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => Poll::Ready(Err(RecvError::Closed)),
            Err(TryRecvError::Empty) => {
                inner.readers.park(id, cx.waker());
                Poll::Pending
            }
        });
        read.map_ok(|v| T::clone(&v))
    }

    /// The newest value held, without consuming it (a mailbox keeps its value). `T::clone`
    /// runs after the lock.
    pub(crate) fn newest(&self) -> Option<T> {
        let value = self.inner.with(|inner| match &inner.state {
            State::Ring(r) => r.newest(),
            State::Latest(l) => l.newest(),
            State::Mailbox(m) => m.peek(),
        })?;
        Some(T::clone(&value))
    }

    pub(crate) fn stats(&self) -> RecordStats {
        self.inner.with(|inner| inner.stats)
    }
}

impl<T: Send + Sync + 'static, F: MutexFamily> Ledger for Shared<T, F> {
    fn watermark(&self) -> u64 {
        self.inner.with(|inner| {
            let floor = inner.floor();
            inner.holds.accepted(floor).unwrap_or(inner.stats.produced)
        })
    }

    fn room(&self) -> u64 {
        self.inner.with(|inner| {
            let own = match &inner.state {
                State::Ring(r) => match inner.holds.accepted(0) {
                    Some(acc) => (r.capacity() as u64)
                        .saturating_sub(inner.stats.produced.saturating_sub(acc)),
                    None => u64::MAX,
                },
                State::Latest(_) | State::Mailbox(_) => u64::MAX,
            };
            own.min(inner.holds.room_behind(inner.stats.produced))
        })
    }

    fn has_durable(&self) -> bool {
        self.inner.with(|inner| inner.holds.has_durable())
    }

    fn accept(&self, id: HoldId, pos: u64) {
        self.inner.with(|inner| inner.holds.accept(id, pos));
        self.bump();
    }

    fn release(&self, id: HoldId) {
        self.release_hold(id);
    }

    fn settle(&self, id: HoldId, in_pos: u64, out: Option<u64>) {
        if self.inner.with(|inner| inner.holds.settle(id, in_pos, out)) {
            self.bump();
        }
    }
}
