//! The state all handles of one buffer share: its slots (read without the lock), and behind the
//! runtime's mutex the writer's side, parked readers, counters and the open/closed flag.
//!
//! The lock rule: no user code runs under that mutex. Values are read without it
//! ([`super::slots`]: readers clone during a visit the writer keeps clear of), and a write
//! drops the value it overwrote (or collapsed) after it. So a value's `Clone` or `Drop` may call
//! back into its own record (its counters, its newest value) without deadlocking.

use alloc::sync::Arc;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use super::slots::{Kind, Marks, Slots, Spare, Visited, WriterSide};
use super::{BufferCfg, Read, ReadAhead, RecordStats, RecvError, TryRecvError};
use crate::accept::{HoldId, Holds, Ledger, Signal};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{BlockingMutex, MutexFamily};
use crate::waiters::{WaiterId, Waiters};

struct Inner<T> {
    /// The writer's side of the slots.
    writer: WriterSide<T>,
    book: Book,
}

/// What the lock guards beside the slots' writer side; not generic, so that its code exists
/// once for every value type (the MCU's flash).
struct Book {
    readers: Waiters,
    /// Counters; readers count what they take in their [`Marks`] (see [`Shared::stats`]).
    stats: RecordStats,
    /// Set when the last producer leaves; cleared when one joins.
    closed: bool,
    /// Durable readers' acceptance (see [`crate::accept`]).
    holds: Holds,
}

impl Book {
    /// Counts a value stored and wakes parked readers; returns its position.
    fn produced(&mut self, now: Duration) -> u64 {
        self.stats.produced += 1;
        self.stats.last_produced = Some(now);
        self.readers.wake_all();
        self.stats.produced
    }
}

impl<T> Inner<T> {
    /// Values below this position are gone from the buffer by its contract: accepted.
    fn floor(&self, kind: Kind) -> u64 {
        let produced = self.book.stats.produced;
        match kind {
            Kind::Ring => produced.saturating_sub(self.writer.capacity() as u64),
            Kind::Latest => produced.saturating_sub(1),
            Kind::Mailbox => produced,
        }
    }
}

/// What readers read on every visit, on cache lines of its own: the lock's line (and the
/// counters the writer updates beside it) moves to the writer on every produce. (Bare-metal
/// targets have no data cache: no padding there.)
#[cfg_attr(not(target_os = "none"), repr(align(128)))]
struct ReadSide<T> {
    /// The slots, read without the lock.
    slots: Slots<T>,
    /// `Inner::closed`, for readers that found nothing without the lock.
    closed: AtomicBool,
}

/// One reader's registration: its waker slot and the marks it publishes.
pub(crate) struct ReaderId {
    waiter: WaiterId,
    marks: Arc<Marks>,
}

/// One buffer, shared by its producers and consumers.
pub(crate) struct Shared<T: Send + Sync, F: MutexFamily> {
    inner: F::Mutex<Inner<T>>,
    read: ReadSide<T>,
    /// The graph's progress signal, bumped when a hold moves.
    progress: Option<Arc<dyn Signal>>,
}

impl<T: Send + Sync, F: MutexFamily> Shared<T, F> {
    /// A buffer whose holds bump `progress`.
    pub(crate) fn with_progress(cfg: BufferCfg, progress: Option<Arc<dyn Signal>>) -> Self {
        let slots = Slots::new(cfg);
        Self {
            inner: F::Mutex::new(Inner {
                writer: WriterSide::new(&slots),
                book: Book {
                    readers: Waiters::new(),
                    stats: RecordStats::default(),
                    closed: false,
                    holds: Holds::default(),
                },
            }),
            read: ReadSide {
                slots,
                closed: AtomicBool::new(false),
            },
            progress,
        }
    }

    /// Stores `value` and wakes parked readers; returns its position. Never blocks beyond the
    /// short lock; what it overwrote is dropped after the lock. Allocates only when a reader's
    /// visit covers the value it replaces and no spare cell is free (then outside the lock).
    pub(crate) fn push(&self, value: T, now: Duration) -> u64 {
        match self.push_if(value, now, || true) {
            Ok(pos) => pos,
            // Not reachable: `open` always holds.
            Err(_) => self.inner.with(|inner| inner.book.stats.produced),
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
        // Not generic over `open` below: one copy per value type (MCU flash).
        self.push_with(value, now, &open)
    }

    #[inline(never)]
    fn push_with(&self, value: T, now: Duration, open: &dyn Fn() -> bool) -> Result<u64, T> {
        let slots = &self.read.slots;
        // The value stays here until it is written, and what it replaces comes back here: no
        // moves of `T` through return values (they cost on the MCU's flash).
        let mut value = Some(value);
        let mut replaced = (None, None);
        let mut spare = None;
        loop {
            let stored = self.inner.with(|inner| {
                if !open() {
                    return Err(true);
                }
                let dropped = inner
                    .writer
                    .push(slots, &mut value, spare.take(), &mut replaced)
                    .ok_or(false)?;
                inner.book.stats.dropped += u64::from(dropped);
                Ok(inner.book.produced(now))
            });
            match stored {
                Ok(pos) => {
                    drop(replaced);
                    return Ok(pos);
                }
                // Retired: the value goes back.
                Err(true) => return value.map_or(Ok(0), Err),
                // Every spare cell is covered by a reader's visit: make one outside the lock.
                Err(false) => spare = Some(Spare::new()),
            }
        }
    }

    /// Registers a durable reader standing at `pos`.
    pub(crate) fn hold_direct(&self, pos: u64) -> HoldId {
        self.inner.with(|inner| inner.book.holds.add_direct(pos))
    }

    /// Registers a transform input standing at `pos` that derives values into `out`.
    pub(crate) fn hold_derived(&self, pos: u64, out: Arc<dyn Ledger>) -> HoldId {
        self.inner
            .with(|inner| inner.book.holds.add_derived(pos, out))
    }

    /// Releases hold `id` (its reader is gone).
    pub(crate) fn release_hold(&self, id: HoldId) {
        self.inner.with(|inner| inner.book.holds.release(id));
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
            inner.book.stats.writers += 1;
            inner.book.closed = false;
            self.read.closed.store(false, Ordering::Release);
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
        inner.book.stats.writers = inner.book.stats.writers.saturating_sub(1);
        if inner.book.stats.writers == 0 {
            inner.book.closed = true;
            self.read.closed.store(true, Ordering::Release);
            inner.book.readers.wake_all();
        }
    }

    /// Registers a reader; returns its registration and its starting cursor.
    pub(crate) fn add_reader(&self) -> (ReaderId, u64) {
        let marks = Arc::new(Marks::new());
        self.inner.with(|inner| {
            let cursor = inner
                .writer
                .positions()
                .subscribe(&self.read.slots, marks.clone());
            let waiter = inner.book.readers.join();
            inner.book.stats.readers = inner.book.readers.parties();
            (ReaderId { waiter, marks }, cursor)
        })
    }

    /// A read-ahead of at most `max` values for one reader: a ring bounds it to a quarter of
    /// its capacity (a visit's positions are kept from the writer while it clones, so a small
    /// bound keeps the spare cells few); the other kinds read one value per visit.
    pub(crate) fn read_ahead(&self, max: usize) -> ReadAhead<T> {
        let slots = &self.read.slots;
        let max = match slots.kind() {
            Kind::Ring => max.min(slots.capacity() / 4).max(1),
            Kind::Latest | Kind::Mailbox => 1,
        };
        ReadAhead::new(max)
    }

    pub(crate) fn remove_reader(&self, id: &ReaderId) {
        self.inner.with(|inner| {
            inner.book.stats.delivered += inner.writer.positions().unsubscribe(&id.marks);
            inner.book.readers.leave(id.waiter);
            inner.book.stats.readers = inner.book.readers.parties();
        });
    }
}

impl<T: Clone + Send + Sync, F: MutexFamily> Shared<T, F> {
    /// Reads up to `max` values for `cursor`, handed to `take`: without the lock when they are
    /// ready, else under it (to learn a lag or the close, or to park `waker`). `Ok(0)` never:
    /// nothing read is `Err(Empty)` (or `Pending` when parked).
    #[inline(never)]
    fn read_with(
        &self,
        id: &ReaderId,
        cursor: &mut u64,
        max: usize,
        take: &mut dyn FnMut(T),
        waker: Option<&Waker>,
    ) -> Poll<Result<usize, TryRecvError>> {
        let slots = &self.read.slots;
        match slots.visit(&id.marks, cursor, max, take) {
            Visited::Took(n) => return Poll::Ready(Ok(n)),
            Visited::Empty if waker.is_none() && !self.read.closed.load(Ordering::Acquire) => {
                return Poll::Ready(Err(TryRecvError::Empty));
            }
            Visited::Empty | Visited::Locked => {}
        }
        let located =
            self.inner.with(
                |inner| match inner.writer.locate(slots, &id.marks, cursor) {
                    Read::Value(cell) => Ok(cell),
                    Read::Lagged(n) => {
                        inner.book.stats.lagged += n;
                        Err(TryRecvError::Lagged(n))
                    }
                    Read::Empty if inner.book.closed => Err(TryRecvError::Closed),
                    Read::Empty => {
                        if let Some(waker) = waker {
                            inner.book.readers.park(id.waiter, waker);
                        }
                        Err(TryRecvError::Empty)
                    }
                },
            );
        match located {
            Ok(found) => match Slots::take_found(&id.marks, found, cursor) {
                Some(v) => {
                    take(v);
                    Poll::Ready(Ok(1))
                }
                None => Poll::Ready(Err(TryRecvError::Empty)),
            },
            Err(TryRecvError::Empty) if waker.is_some() => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Takes the next value for `cursor` if one is ready; `T::clone` runs with no lock held.
    pub(crate) fn try_read(&self, id: &ReaderId, cursor: &mut u64) -> Result<T, TryRecvError> {
        let mut got = None;
        let read = self.read_with(id, cursor, 1, &mut |v| got = Some(v), None);
        match (read, got) {
            (_, Some(v)) => Ok(v),
            (Poll::Ready(Err(e)), None) => Err(e),
            _ => Err(TryRecvError::Empty),
        }
    }

    /// Takes the ready values for `cursor` into `ahead` (as many as it has room for) in one
    /// visit; returns how many. Nothing is cloned under the lock.
    pub(crate) fn try_read_ahead(
        &self,
        id: &ReaderId,
        cursor: &mut u64,
        ahead: &mut ReadAhead<T>,
    ) -> Result<usize, TryRecvError> {
        match self.poll_ahead(id, cursor, ahead, None) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(TryRecvError::Empty),
        }
    }

    /// [`Self::try_read_ahead`], or parks the reader's waker when there is nothing to read.
    pub(crate) fn poll_read_ahead(
        &self,
        id: &ReaderId,
        cursor: &mut u64,
        cx: &mut Context<'_>,
        ahead: &mut ReadAhead<T>,
    ) -> Poll<Result<usize, RecvError>> {
        self.poll_ahead(id, cursor, ahead, Some(cx.waker()))
            .map_err(recv_error)
    }

    fn poll_ahead(
        &self,
        id: &ReaderId,
        cursor: &mut u64,
        ahead: &mut ReadAhead<T>,
        waker: Option<&Waker>,
    ) -> Poll<Result<usize, TryRecvError>> {
        let room = ahead.room();
        if room == 0 {
            return Poll::Ready(Ok(0));
        }
        self.read_with(id, cursor, room, &mut |v| ahead.push(v), waker)
    }

    /// Reads, or parks the reader's waker when there is nothing to read.
    pub(crate) fn poll_read(
        &self,
        id: &ReaderId,
        cursor: &mut u64,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, RecvError>> {
        let mut got = None;
        let read = self.read_with(id, cursor, 1, &mut |v| got = Some(v), Some(cx.waker()));
        match (read, got) {
            (_, Some(v)) => Poll::Ready(Ok(v)),
            (Poll::Ready(Err(e)), None) => Poll::Ready(Err(recv_error(e))),
            (Poll::Ready(Ok(_)) | Poll::Pending, None) => Poll::Pending,
        }
    }

    /// The newest value held, without consuming it (a mailbox keeps its value; a taken one is
    /// not shown). `T::clone` runs with no lock held.
    pub(crate) fn newest(&self) -> Option<T> {
        let slots = &self.read.slots;
        let cell = self.inner.with(|inner| inner.writer.peek(slots))?;
        let value = Slots::clone_peeked(cell);
        self.inner.with(|inner| inner.writer.positions().unpeek());
        value
    }
}

impl<T: Send + Sync, F: MutexFamily> Shared<T, F> {
    /// The record's counters (readers' deliveries summed from their marks).
    pub(crate) fn stats(&self) -> RecordStats {
        self.inner.with(|inner| {
            let mut stats = inner.book.stats;
            stats.delivered += inner.writer.delivered();
            stats
        })
    }
}

/// `Empty` only reaches here from a poll that parked, which answers `Pending` instead.
fn recv_error(e: TryRecvError) -> RecvError {
    match e {
        TryRecvError::Lagged(n) => RecvError::Lagged(n),
        TryRecvError::Closed | TryRecvError::Empty => RecvError::Closed,
    }
}

impl<T: Send + Sync + 'static, F: MutexFamily> Ledger for Shared<T, F> {
    fn watermark(&self) -> u64 {
        self.inner.with(|inner| {
            let floor = inner.floor(self.read.slots.kind());
            inner
                .book
                .holds
                .accepted(floor)
                .unwrap_or(inner.book.stats.produced)
        })
    }

    fn room(&self) -> u64 {
        self.inner.with(|inner| {
            let own = match self.read.slots.kind() {
                Kind::Ring => match inner.book.holds.accepted(0) {
                    Some(acc) => (inner.writer.capacity() as u64)
                        .saturating_sub(inner.book.stats.produced.saturating_sub(acc)),
                    None => u64::MAX,
                },
                Kind::Latest | Kind::Mailbox => u64::MAX,
            };
            own.min(inner.book.holds.room_behind(inner.book.stats.produced))
        })
    }

    fn has_durable(&self) -> bool {
        self.inner.with(|inner| inner.book.holds.has_durable())
    }

    fn accept(&self, id: HoldId, pos: u64) {
        self.inner.with(|inner| inner.book.holds.accept(id, pos));
        self.bump();
    }

    fn release(&self, id: HoldId) {
        self.release_hold(id);
    }

    fn settle(&self, id: HoldId, in_pos: u64, out: Option<u64>) {
        if self
            .inner
            .with(|inner| inner.book.holds.settle(id, in_pos, out))
        {
            self.bump();
        }
    }
}
