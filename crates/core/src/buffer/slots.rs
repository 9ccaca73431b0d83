//! The storage of every buffer kind: numbered values in stamped slots, read without the
//! buffer's lock. A ring has `capacity` slots; `single_latest` and `mailbox` one, which always
//! holds the newest value (a `single_latest` reader takes it if it has not seen it yet, a mailbox
//! reader if no reader took it yet: the readers claim a mailbox value with a compare-and-swap,
//! and a write claims the unread value it overwrites, which counts it as dropped).
//!
//! Writers take the buffer's lock (it orders them, the counters and the parked readers); a
//! reader takes it only to park, to learn how far it lagged, or when the value it wants is being
//! replaced under it. The protocol between the two:
//!
//! - Each slot holds its newest value in a *cell* (the slot's own, beside the stamp, or a spare)
//!   and a *stamp*: the value's position and which cell holds it (0: never written; [`WRITING`]
//!   while the writer replaces a value a reader may be reading). A reader clones the value only
//!   if the stamp names the position it wants; for a spare it loads the spare's pointer and
//!   checks the stamp again (a writer installs another spare only after stamping `WRITING`).
//! - Each reader publishes its [`Marks`]: its *floor* (its position after its last visit; it never
//!   reads below it) and, during a visit, the positions `[start, end)` the visit may read.
//! - To overwrite the value at position `old`, the writer first compares `old` with a lower bound
//!   of every reader's floor that it caches (reloaded only when it does not clear `old`). Above
//!   `old`, no reader can read that value any more and it is replaced in place: the path of
//!   readers that keep up, on which the writer reads no line a reader writes. Otherwise the writer
//!   stamps the slot [`WRITING`], fences, and reads the readers' visits; a reader stores its visit,
//!   fences, then loads stamps — so one of the two sees the other (Dekker's pattern). If a visit
//!   covers `old`, the new value goes into a spare cell and the old cell is *retired* until no
//!   visit covers it; else it is replaced in place.
//! - No user code runs under the lock: a reader clones during its visit, with no lock held, and
//!   the writer hands back what it replaced, to be dropped after the lock.
//!
//! Spare cells are allocated outside the lock (the writer hands the value back when none is
//! free, and the caller retries with a new one) and reused; a visit covers at most a read-ahead
//! (a quarter of the ring), so spares stay few. Free and retired cells form intrusive lists, so
//! the writer never allocates under the lock.

// The ring's reads without the lock need raw cells; every `unsafe` here is audited and carries
// a `SAFETY:` comment, and the models in `crate::loom_tests` check the protocol.
#![allow(unsafe_code)]

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use super::{BufferCfg, Read};
use crate::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};
use crate::sync::cell::UnsafeCell;

/// Which buffer the slots serve (see [`super::BufferCfg`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ring,
    Latest,
    Mailbox,
}

/// Stamp of a slot whose value the writer is replacing.
const WRITING: u64 = u64::MAX;
/// Visit start of a reader between visits, and the floor of nobody.
const IDLE: u64 = u64::MAX;
/// Stamp bit: the value is in the slot's spare cell, not in the slot itself.
const IN_SPARE: u64 = 1;

/// A slot's stamp for the value at `pos`.
const fn stamp(pos: u64, in_spare: bool) -> u64 {
    ((pos + 1) << 1) | if in_spare { IN_SPARE } else { 0 }
}

/// The position a stamp names (`None`: never written).
const fn position(stamp: u64) -> Option<u64> {
    (stamp >> 1).checked_sub(1)
}

/// `n` values as `make` makes them, which is all zero bits: allocated zeroed, so that a large
/// ring's memory is neither written now nor, on a host, taken until it is used. (loom's atomics
/// are not plain bits: the models call `make`.)
fn zeroed<X>(n: usize, make: impl FnMut() -> X) -> Box<[X]> {
    #[cfg(not(all(loom, test)))]
    {
        use alloc::alloc::{alloc_zeroed, handle_alloc_error, Layout};
        let _ = make;
        let Ok(layout) = Layout::array::<X>(n) else {
            panic!("a buffer of {n} values does not fit the address space");
        };
        if layout.size() == 0 {
            return Box::new([]);
        }
        // SAFETY: the layout has a non-zero size.
        let data = unsafe { alloc_zeroed(layout) }.cast::<X>();
        if data.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `data` is a fresh allocation of `n` values with `X`'s layout, as `Box` frees
        // it; only called for `Slot<T>` (a zero `AtomicU64` and an uninitialised cell) and
        // `AtomicPtr` (null), whose all-zero bit patterns are those values.
        unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(data, n)) }
    }
    #[cfg(all(loom, test))]
    {
        let mut v = Vec::with_capacity(n);
        v.resize_with(n, make);
        v.into_boxed_slice()
    }
}

/// Claims the mailbox value at `pos` in `taken` (positions below it are consumed or dropped):
/// whether this caller is the one that takes it.
fn claim(taken: &AtomicU64, pos: u64) -> bool {
    let mut t = taken.load(Ordering::Acquire);
    while t <= pos {
        match taken.compare_exchange_weak(t, pos + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => t = now,
        }
    }
    false
}

/// A cell for a value whose slot's own cell a reader may still be reading.
pub(crate) struct Spare<T> {
    value: UnsafeCell<Option<T>>,
    /// The next spare in the free or the retired list (writer only, under the lock).
    next: core::cell::Cell<*mut Spare<T>>,
    /// The position of the value a retired spare holds (writer only, under the lock).
    pos: core::cell::Cell<u64>,
    /// While the spare is a slot's: the position of the older value in the slot's own cell
    /// (writer only, under the lock).
    own_pos: core::cell::Cell<u64>,
}

impl<T> Spare<T> {
    /// An empty spare, to be allocated outside the lock.
    pub(crate) fn new() -> Box<Self> {
        Box::new(Self {
            value: UnsafeCell::new(None),
            next: core::cell::Cell::new(ptr::null_mut()),
            pos: core::cell::Cell::new(0),
            own_pos: core::cell::Cell::new(0),
        })
    }
}

/// A stamp and the slot's own cell, side by side: a reader that keeps up reads one line for
/// several values (a `u64` slot is 16 bytes, as a crossbeam channel's).
struct Slot<T> {
    /// See [`stamp`]; 0 before the first value, [`WRITING`] while one is replaced.
    stamp: AtomicU64,
    /// The slot's own cell: initialised from the first value on; it holds the value unless the
    /// stamp says it is in the slot's spare (then it holds an older one).
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A buffer's slots, shared by the writer and readers (see the module docs).
pub(crate) struct Slots<T> {
    kind: Kind,
    /// A mailbox's first position not yet consumed or dropped.
    taken: AtomicU64,
    slots: Box<[Slot<T>]>,
    /// Per slot, set while its value is in a spare (its own cell is read by a visit). Apart
    /// from the slots: readers look here only when a stamp says so.
    spares: Box<[AtomicPtr<Spare<T>>]>,
}

// SAFETY: a value is moved into a cell by the writer (writers are serialised by the buffer's
// lock) and cloned by readers on any thread, hence `T: Send + Sync`. The protocol in the module
// docs keeps each cell either written by the writer or read by readers, never both at once; the
// `core::cell::Cell` fields of spares are touched only by the writer, under the lock.
unsafe impl<T: Send + Sync> Sync for Slots<T> {}
// SAFETY: as above; the spare pointers are owned by the ring.
unsafe impl<T: Send + Sync> Send for Slots<T> {}

/// What one reader publishes for the writer; written by that reader only. On a cache line of
/// its own (bare-metal targets have no data cache: no padding there).
#[cfg_attr(not(target_os = "none"), repr(align(128)))]
pub(crate) struct Marks {
    /// First position of the current visit; [`IDLE`] between visits.
    start: AtomicU64,
    /// End (exclusive) of the positions the current visit may read.
    end: AtomicU64,
    /// The reader never reads below this position again.
    floor: AtomicU64,
    /// Values this reader took from the ring.
    delivered: AtomicU64,
}

impl Marks {
    pub(crate) fn new() -> Self {
        Self {
            start: AtomicU64::new(IDLE),
            end: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// Values this reader took from the ring.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Starts a visit of `[start, end)`; the caller fences before loading stamps, unless it
    /// holds the buffer's lock (then the writer sees the visit through the lock).
    fn begin(&self, start: u64, end: u64) {
        self.end.store(end, Ordering::Relaxed);
        self.start.store(start, Ordering::Release);
    }

    /// Whether the current visit may read position `pos` (writer side, after its fence).
    fn covers(&self, pos: u64) -> bool {
        let start = self.start.load(Ordering::Acquire);
        start != IDLE && start <= pos && pos < self.end.load(Ordering::Relaxed)
    }

    fn floor(&self) -> u64 {
        self.floor.load(Ordering::Acquire)
    }

    /// Moves the floor to `pos` (never down: a lagged cursor only moves on).
    fn raise_floor(&self, pos: u64) {
        self.floor.store(pos, Ordering::Release);
    }
}

/// Ends a visit when dropped, also on a panicking `Clone`: the reader's position moves past
/// the values taken, and the writer may reuse what the visit covered.
struct Visit<'a> {
    marks: &'a Marks,
    cursor: &'a mut u64,
    taken: u64,
}

impl Drop for Visit<'_> {
    fn drop(&mut self) {
        // Release: the clones above happen before a writer that sees these reuses their cells.
        self.marks.start.store(IDLE, Ordering::Release);
        self.marks.raise_floor(*self.cursor);
        let d = &self.marks.delivered;
        d.store(d.load(Ordering::Relaxed) + self.taken, Ordering::Relaxed);
    }
}

/// What a visit without the lock found.
pub(crate) enum Visited {
    /// This many values, handed to `take`.
    Took(usize),
    /// The value at the cursor is not written yet.
    Empty,
    /// The value at the cursor is being replaced, or was: ask under the lock.
    Locked,
}

/// Where a value found under the lock is, to be cloned after it.
pub(crate) enum Found<T> {
    Own(NonNull<UnsafeCell<MaybeUninit<T>>>),
    Spare(NonNull<Spare<T>>),
}

impl<T: Clone> Found<T> {
    /// Clones the value.
    ///
    /// SAFETY: the caller holds a visit (or a peek) registered under the lock for the value's
    /// position, so the writer leaves this cell alone; cells live as long as the ring.
    unsafe fn clone_value(&self) -> Option<T> {
        match self {
            // SAFETY: see above; a slot's own cell is initialised once stamped.
            Found::Own(cell) => Some(unsafe { clone_own(cell.as_ref()) }),
            // SAFETY: see above.
            Found::Spare(spare) => unsafe { clone_spare(spare.as_ref()) },
        }
    }
}

/// Clones the value in a slot's own cell.
///
/// SAFETY: the cell is initialised and no writer writes it during the call.
unsafe fn clone_own<T: Clone>(cell: &UnsafeCell<MaybeUninit<T>>) -> T {
    // SAFETY: by the caller.
    cell.with(|v| unsafe { (*v).assume_init_ref().clone() })
}

/// Clones the value in a spare.
///
/// SAFETY: no writer writes the spare during the call.
unsafe fn clone_spare<T: Clone>(spare: &Spare<T>) -> Option<T> {
    // SAFETY: by the caller.
    spare.value.with(|v| unsafe { (*v).clone() })
}

impl<T> Slots<T> {
    pub(crate) fn new(cfg: BufferCfg) -> Self {
        let kind = match cfg {
            BufferCfg::SpmcRing { .. } => Kind::Ring,
            BufferCfg::SingleLatest => Kind::Latest,
            BufferCfg::Mailbox => Kind::Mailbox,
        };
        let capacity = cfg.capacity().max(1);
        Self {
            kind,
            taken: AtomicU64::new(0),
            slots: zeroed(capacity, || Slot {
                stamp: AtomicU64::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            spares: zeroed(capacity, || AtomicPtr::new(ptr::null_mut())),
        }
    }

    // The remainder is below `slots.len()`, which is a usize: nothing is truncated.
    #[allow(clippy::cast_possible_truncation)]
    fn index(&self, pos: u64) -> usize {
        (pos % self.slots.len() as u64) as usize
    }

    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[self.index(pos)]
    }

    /// Slot `i`'s spare (null when its value is in the slot).
    fn spare(&self, i: usize, order: Ordering) -> *mut Spare<T> {
        self.spares[i].load(order)
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Values held at most.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Where a new reader starts: after the newest value of a ring; at the newest (unseen,
    /// untaken) value of the other kinds.
    fn first_cursor(&self, next_seq: u64) -> u64 {
        match self.kind {
            Kind::Ring => next_seq,
            Kind::Latest | Kind::Mailbox => 0,
        }
    }

    /// The cell of the value at `pos`, if the slot holds it (under the lock: stamps are
    /// stable).
    fn find(&self, pos: u64) -> Option<Found<T>> {
        let i = self.index(pos);
        let st = self.slots[i].stamp.load(Ordering::Relaxed);
        if st == stamp(pos, false) {
            Some(Found::Own(NonNull::from(&self.slots[i].value)))
        } else if st == stamp(pos, true) {
            NonNull::new(self.spare(i, Ordering::Relaxed)).map(Found::Spare)
        } else {
            None
        }
    }
}

impl<T: Clone> Slots<T> {
    /// Takes up to `max` values from `cursor` on, oldest first, without the lock; each is
    /// cloned here (no lock is held) and handed to `take`.
    pub(crate) fn visit(
        &self,
        marks: &Marks,
        cursor: &mut u64,
        max: usize,
        take: &mut dyn FnMut(T),
    ) -> Visited {
        let st = self.slot(*cursor).stamp.load(Ordering::Acquire);
        if st == WRITING {
            return Visited::Locked;
        }
        let max = if self.kind == Kind::Ring {
            if st < stamp(*cursor, false) {
                // Never written, or the previous lap's value: not produced yet.
                return Visited::Empty;
            }
            if st > stamp(*cursor, true) {
                // A later lap's value: this reader lagged.
                return Visited::Locked;
            }
            max
        } else {
            // One slot, holding the newest value: this reader's if it has not seen it
            // (`single_latest`), or if no reader took it (mailbox).
            let Some(pos) = position(st) else {
                return Visited::Empty;
            };
            let seen = match self.kind {
                Kind::Mailbox => self.taken.load(Ordering::Acquire),
                Kind::Ring | Kind::Latest => *cursor,
            };
            if pos < seen {
                return Visited::Empty;
            }
            *cursor = pos;
            1
        };
        let end = cursor.saturating_add(max as u64);
        marks.begin(*cursor, end);
        fence(Ordering::SeqCst);
        let mut visit = Visit {
            marks,
            cursor,
            taken: 0,
        };
        while *visit.cursor < end {
            let pos = *visit.cursor;
            let i = self.index(pos);
            let slot = &self.slots[i];
            let st = slot.stamp.load(Ordering::Acquire);
            let spare = if st == stamp(pos, false) {
                None
            } else if st == stamp(pos, true) {
                let spare = self.spare(i, Ordering::Acquire);
                // The spare holds `pos` only if the stamp still says so: a writer installs
                // another spare only after stamping `WRITING`.
                if spare.is_null() || slot.stamp.load(Ordering::Acquire) != st {
                    break;
                }
                Some(spare)
            } else {
                break;
            };
            if self.kind == Kind::Mailbox && !claim(&self.taken, pos) {
                // Another reader took it (or the writer dropped it) first.
                return Visited::Empty;
            }
            // SAFETY (both clones): the cell holds the value at `pos`, published by the
            // writer's release store of the stamp we acquired. Our visit covers `pos`: a writer
            // replacing it after its fence sees the visit and leaves this cell alone, and one
            // that fenced before us left `WRITING` (or a later stamp) for our loads after our
            // fence. Cells live as long as the ring.
            let value = match spare {
                None => unsafe { clone_own(&slot.value) },
                Some(spare) => match unsafe { clone_spare(&*spare) } {
                    Some(value) => value,
                    None => break,
                },
            };
            *visit.cursor += 1;
            visit.taken += 1;
            take(value);
        }
        match visit.taken {
            0 => Visited::Locked,
            // At most `max`, a usize.
            #[allow(clippy::cast_possible_truncation)]
            n => Visited::Took(n as usize),
        }
    }

    /// Takes the value `found` at `cursor` under the lock by [`WriterSide::locate`] (whose visit
    /// keeps the writer off it); clones it here, after the lock.
    pub(crate) fn take_found(marks: &Marks, found: Found<T>, cursor: &mut u64) -> Option<T> {
        let mut visit = Visit {
            marks,
            cursor,
            taken: 0,
        };
        // SAFETY: `locate` registered a visit of this position under the lock, which lasts
        // until `visit` drops.
        let value = unsafe { found.clone_value() }?;
        *visit.cursor += 1;
        visit.taken = 1;
        Some(value)
    }

    /// Clones the value `found` by [`WriterSide::peek`] (which keeps the writer off it until
    /// [`Positions::unpeek`]).
    pub(crate) fn clone_peeked(found: Found<T>) -> Option<T> {
        // SAFETY: the peek is registered under the lock until `unpeek`.
        unsafe { found.clone_value() }
    }
}

impl<T> Drop for Slots<T> {
    fn drop(&mut self) {
        for slot in &*self.slots {
            if slot.stamp.load(Ordering::Relaxed) != 0 {
                // SAFETY: a stamped slot's own cell is initialised; nothing else reads it now.
                slot.value.with_mut(|v| unsafe { (*v).assume_init_drop() });
            }
        }
        for i in 0..self.spares.len() {
            let spare = self.spare(i, Ordering::Relaxed);
            if !spare.is_null() {
                // SAFETY: made by `Spare::new`; a spare is in one place only (a slot, or the
                // writer's free or retired list).
                drop(unsafe { Box::from_raw(spare) });
            }
        }
    }
}

/// What a write replaced, dropped by the caller after the lock.
pub(crate) type Replaced<T> = (Option<T>, Option<T>);

/// The writer's bookkeeping of a ring's positions and readers, behind the buffer's lock. Not
/// generic: one copy of this code serves every value type (it counts on the MCU's flash).
pub(crate) struct Positions {
    /// Position of the next value to be written.
    next_seq: u64,
    capacity: usize,
    /// A lower bound of every reader's floor and of the peeks (see the module docs).
    floor: u64,
    readers: Vec<Arc<Marks>>,
    /// Clones of the newest value ([`WriterSide::peek`]) in progress, and the positions they
    /// read (`[IDLE, 0]` when none).
    peeks: usize,
    peek_range: (u64, u64),
}

impl Positions {
    /// Registers a reader (see [`Slots::first_cursor`]); returns its cursor.
    pub(crate) fn subscribe<T>(&mut self, slots: &Slots<T>, marks: Arc<Marks>) -> u64 {
        let cursor = slots.first_cursor(self.next_seq);
        marks.raise_floor(cursor);
        self.floor = self.floor.min(cursor);
        self.readers.push(marks);
        cursor
    }

    /// Unregisters a reader; returns how many values it took.
    pub(crate) fn unsubscribe(&mut self, marks: &Arc<Marks>) -> u64 {
        self.readers.retain(|m| !Arc::ptr_eq(m, marks));
        marks.delivered()
    }

    /// Values taken by the readers registered now.
    pub(crate) fn delivered(&self) -> u64 {
        self.readers.iter().map(|m| m.delivered()).sum()
    }

    /// Whether every reader's floor (and every peek) is above `old`, reloading the cached
    /// bound only when it is not.
    fn clear_of_floors(&mut self, old: u64) -> bool {
        if self.floor > old {
            return true;
        }
        let peek = if self.peeks > 0 {
            self.peek_range.0
        } else {
            IDLE
        };
        self.floor = self.readers.iter().map(|m| m.floor()).fold(peek, u64::min);
        self.floor > old
    }

    /// Whether a visit or a peek may be reading the value at `pos` (after the writer's fence).
    fn visited(&self, pos: u64) -> bool {
        let (lo, hi) = self.peek_range;
        (lo..=hi).contains(&pos) || self.readers.iter().any(|m| m.covers(pos))
    }

    /// Where `cursor` stands (see [`WriterSide::locate`]): `Value(())` when a value is held at
    /// it (then registered as a one-value visit of `marks`; a mailbox value is claimed).
    fn locate(&self, kind: Kind, taken: &AtomicU64, marks: &Marks, cursor: &mut u64) -> Read<()> {
        let Some(newest) = self.next_seq.checked_sub(1) else {
            return Read::Empty;
        };
        match kind {
            Kind::Ring => {}
            Kind::Latest if newest < *cursor => return Read::Empty,
            Kind::Mailbox if !claim(taken, newest) => return Read::Empty,
            // The newest value, whatever came before it.
            Kind::Latest | Kind::Mailbox => {
                *cursor = newest;
                marks.begin(newest, newest + 1);
                return Read::Value(());
            }
        }
        if *cursor >= self.next_seq {
            return Read::Empty;
        }
        let oldest = self.next_seq.saturating_sub(self.capacity as u64);
        if *cursor < oldest {
            let missed = oldest - *cursor;
            *cursor = oldest;
            marks.raise_floor(oldest);
            return Read::Lagged(missed);
        }
        marks.begin(*cursor, *cursor + 1);
        Read::Value(())
    }

    /// Keeps the newest value from the writer until [`Positions::unpeek`]; returns its
    /// position.
    fn peek(&mut self) -> Option<u64> {
        let seq = self.next_seq.checked_sub(1)?;
        self.peeks += 1;
        self.peek_range = (self.peek_range.0.min(seq), self.peek_range.1.max(seq));
        self.floor = self.floor.min(seq);
        Some(seq)
    }

    /// Ends a [`Positions::peek`] (or a [`WriterSide::peek`], which makes one).
    pub(crate) fn unpeek(&mut self) {
        self.peeks -= 1;
        if self.peeks == 0 {
            self.peek_range = (IDLE, 0);
        }
    }
}

/// The writer's side of the slots (every kind), behind the buffer's lock.
pub(crate) struct WriterSide<T> {
    at: Positions,
    /// Spares no reader can reach.
    free: *mut Spare<T>,
    /// Spares taken out of their slot while a visit covered their value.
    retired: *mut Spare<T>,
}

// SAFETY: the raw pointers are to spares this ring owns; they are used only under the buffer's
// lock. Values move between threads, hence `T: Send`.
unsafe impl<T: Send> Send for WriterSide<T> {}

impl<T> WriterSide<T> {
    pub(crate) fn new(slots: &Slots<T>) -> Self {
        Self {
            at: Positions {
                next_seq: 0,
                capacity: slots.slots.len(),
                floor: IDLE,
                readers: Vec::new(),
                peeks: 0,
                peek_range: (IDLE, 0),
            },
            free: ptr::null_mut(),
            retired: ptr::null_mut(),
        }
    }

    /// Values held at most.
    pub(crate) fn capacity(&self) -> usize {
        self.at.capacity
    }

    /// The positions and readers.
    pub(crate) fn positions(&mut self) -> &mut Positions {
        &mut self.at
    }

    /// Values taken by the readers registered now.
    pub(crate) fn delivered(&self) -> u64 {
        self.at.delivered()
    }

    /// Writes the next value (taken from `value`) into the oldest slot; puts what it replaced
    /// into `replaced`, to be dropped after the lock, and returns whether it dropped a mailbox
    /// value nobody took. `None` leaves the value in place when the write needs a spare and none
    /// is free: call again with `spare` (made by [`Spare::new`] outside the lock).
    pub(crate) fn push(
        &mut self,
        slots: &Slots<T>,
        value: &mut Option<T>,
        spare: Option<Box<Spare<T>>>,
        replaced: &mut Replaced<T>,
    ) -> Option<bool> {
        if let Some(spare) = spare {
            self.release(Box::into_raw(spare));
        }
        let Some(v) = value.take() else {
            return Some(false);
        };
        let seq = self.at.next_seq;
        let i = slots.index(seq);
        let slot = &slots.slots[i];
        let st = slot.stamp.load(Ordering::Relaxed);
        let in_spare = st & IN_SPARE != 0;
        if st == 0 {
            // First fill: a slot never stamped is read by nobody.
            // SAFETY: as above; nothing was in the cell.
            slot.value.with_mut(|cell| unsafe { (*cell).write(v) });
            slot.stamp.store(stamp(seq, false), Ordering::Release);
        } else {
            let old = seq - self.capacity() as u64;
            if self.at.clear_of_floors(old) {
                // No reader reads `old` or anything before it: the slot's cells are all free.
                replaced.0 = put_own(slot, v);
                replaced.1 = self.unlink_spare(&slots.spares[i]);
                slot.stamp.store(stamp(seq, false), Ordering::Release);
            } else {
                slot.stamp.store(WRITING, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                if let Err(v) = self.replace_visited(slots, i, old, in_spare, v, replaced) {
                    slot.stamp.store(st, Ordering::Release);
                    *value = Some(v);
                    return None;
                }
            }
        }
        self.at.next_seq = seq + 1;
        // A mailbox value nobody took is dropped by this write: claimed here, so that a reader
        // still on its way to it finds it gone (or took it first, and it is not dropped).
        let dropped = slots.kind == Kind::Mailbox && st != 0 && claim(&slots.taken, seq - 1);
        Some(dropped)
    }

    /// The write of [`WriterSide::push`] when a reader's floor does not clear `old`, after the
    /// slot was stamped `WRITING` and fenced: into whichever cell no visit covers.
    #[cold]
    #[inline(never)]
    fn replace_visited(
        &mut self,
        slots: &Slots<T>,
        i: usize,
        old: u64,
        in_spare: bool,
        value: T,
        replaced: &mut Replaced<T>,
    ) -> Result<(), T> {
        let seq = self.at.next_seq;
        let (slot, spare_of) = (&slots.slots[i], &slots.spares[i]);
        let old_covered = self.at.visited(old);
        // The slot's own cell holds `old`, or (while the value is in a spare) an older one.
        let current = spare_of.load(Ordering::Relaxed);
        let own_free = if in_spare {
            // SAFETY: the slot's spare is live; its fields other than the value are the
            // writer's.
            !self.at.visited(unsafe { (*current).own_pos.get() })
        } else {
            !old_covered
        };
        if own_free {
            if in_spare && old_covered {
                spare_of.store(ptr::null_mut(), Ordering::Relaxed);
                self.retire(current, old);
            } else {
                replaced.1 = self.unlink_spare(spare_of);
            }
            replaced.0 = put_own(slot, value);
            slot.stamp.store(stamp(seq, false), Ordering::Release);
            return Ok(());
        }
        if in_spare && !old_covered {
            // SAFETY: the slot's spare is live; no visit covers the value it holds.
            replaced.0 = put(unsafe { &(*current).value }, value);
            slot.stamp.store(stamp(seq, true), Ordering::Release);
            return Ok(());
        }
        self.recycle();
        let Some(fresh) = NonNull::new(self.free) else {
            return Err(value);
        };
        // SAFETY: spares of the free list are live and reached by no reader.
        let fresh = unsafe { fresh.as_ref() };
        self.free = fresh.next.get();
        replaced.0 = put(&fresh.value, value);
        if in_spare {
            // SAFETY: as above.
            fresh.own_pos.set(unsafe { (*current).own_pos.get() });
            self.retire(current, old);
        } else {
            fresh.own_pos.set(old);
        }
        spare_of.store(ptr::from_ref(fresh).cast_mut(), Ordering::Release);
        slot.stamp.store(stamp(seq, true), Ordering::Release);
        Ok(())
    }

    /// Takes a slot's spare (whose value no reader reads) back to the free list; returns its
    /// value.
    fn unlink_spare(&mut self, spare_of: &AtomicPtr<Spare<T>>) -> Option<T> {
        // Only the writer stores it: a load and a store, no read-modify-write on a line readers
        // may be reading.
        let spare = spare_of.load(Ordering::Relaxed);
        if spare.is_null() {
            return None;
        }
        spare_of.store(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the slot's spare is live and, by the caller, read by nobody.
        let value = unsafe { &(*spare).value }.with_mut(|v| unsafe { (*v).take() });
        self.release(spare);
        value
    }

    fn release(&mut self, spare: *mut Spare<T>) {
        // SAFETY: a live spare no reader reaches; its links are the writer's.
        unsafe { (*spare).next.set(self.free) };
        self.free = spare;
    }

    fn retire(&mut self, spare: *mut Spare<T>, pos: u64) {
        if spare.is_null() {
            return;
        }
        // SAFETY: a live spare; its links are the writer's.
        unsafe {
            (*spare).pos.set(pos);
            (*spare).next.set(self.retired);
        }
        self.retired = spare;
    }

    /// Moves retired spares no visit covers any more to the free list.
    fn recycle(&mut self) {
        let mut link: *mut *mut Spare<T> = &mut self.retired;
        // SAFETY: the retired list holds live spares linked under the lock; we hold `&mut self`.
        unsafe {
            while !(*link).is_null() {
                let spare = *link;
                if self.at.visited((*spare).pos.get()) {
                    link = (*spare).next.as_ptr();
                } else {
                    *link = (*spare).next.get();
                    (*spare).next.set(self.free);
                    self.free = spare;
                }
            }
        }
    }

    /// Where `cursor` stands, under the lock (no value is being written): `Value` with the cell
    /// of the value at it — registered as a one-value visit of `marks`, to be taken after the
    /// lock with [`Slots::take_found`] — or `Empty`, or `Lagged` (the cursor moved to the oldest
    /// value held).
    pub(crate) fn locate(
        &self,
        slots: &Slots<T>,
        marks: &Marks,
        cursor: &mut u64,
    ) -> Read<Found<T>> {
        match self.at.locate(slots.kind, &slots.taken, marks, cursor) {
            // Always found: every position in [oldest, next_seq) is held.
            Read::Value(()) => slots.find(*cursor).map_or(Read::Empty, Read::Value),
            Read::Lagged(n) => Read::Lagged(n),
            Read::Empty => Read::Empty,
        }
    }

    /// The cell of the newest value, kept from the writer until [`Positions::unpeek`]; clone
    /// it with [`Slots::clone_peeked`] after the lock.
    pub(crate) fn peek(&mut self, slots: &Slots<T>) -> Option<Found<T>> {
        let newest = self.at.next_seq.checked_sub(1)?;
        if slots.kind == Kind::Mailbox && slots.taken.load(Ordering::Acquire) > newest {
            // A mailbox shows only a value nobody took.
            return None;
        }
        let seq = self.at.peek()?;
        let found = slots.find(seq);
        if found.is_none() {
            self.at.unpeek();
        }
        found
    }
}

/// Stores `value` in a spare; returns what it held. No reader reads the spare now (see
/// `WriterSide::push`).
fn put<T>(cell: &UnsafeCell<Option<T>>, value: T) -> Option<T> {
    // SAFETY: by the caller, no reader reads the cell now.
    cell.with_mut(|v| unsafe { (*v).replace(value) })
}

/// Stores `value` in a stamped slot's own cell; returns what it held. No reader reads the cell
/// now (see `WriterSide::push`).
fn put_own<T>(slot: &Slot<T>, value: T) -> Option<T> {
    // SAFETY: by the caller, no reader reads the cell now; a stamped slot's own cell is
    // initialised.
    Some(
        slot.value
            .with_mut(|v| unsafe { core::mem::replace((*v).assume_init_mut(), value) }),
    )
}

/// Frees a list of spares.
fn free_list<T>(mut spare: *mut Spare<T>) {
    while !spare.is_null() {
        // SAFETY: made by `Spare::new`; list spares are live and each is in one place only.
        let owned = unsafe { Box::from_raw(spare) };
        spare = owned.next.get();
    }
}

impl<T> Drop for WriterSide<T> {
    fn drop(&mut self) {
        free_list(self.free);
        free_list(self.retired);
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    //! The protocol at saturation, on real threads: a writer laps a small ring as fast as it
    //! can while readers of every speed clone heap-owning values (a slow `Clone` stands for a
    //! reader preempted mid-clone, which makes the writer use spares). Every value a reader
    //! gets must be intact and in order, and every value is either delivered or counted as
    //! lagged. (The loom models in `crate::loom_tests` check the orderings exhaustively on
    //! small cases; this checks the same code under real contention.)

    extern crate std;

    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use core::time::Duration;
    use std::thread;

    use super::super::{BufferCfg, Shared, TryRecvError};
    use crate::sync::StdMutexFamily;

    #[derive(Debug)]
    struct Payload {
        n: u64,
        text: String,
    }

    impl Clone for Payload {
        fn clone(&self) -> Self {
            // Now and then a clone takes a while: the writer laps the ring meanwhile.
            if self.n % 251 == 0 {
                thread::sleep(Duration::from_micros(200));
            }
            Self {
                n: self.n,
                text: self.text.clone(),
            }
        }
    }

    type Buffer = Shared<Payload, StdMutexFamily>;

    /// Reads until the close, one value at a time or `ahead` at a time; returns (values got,
    /// values lagged).
    fn read_all(b: &Buffer, ahead: usize, slow: bool) -> (u64, u64) {
        let (id, mut cursor) = b.add_reader();
        let mut read_ahead = b.read_ahead(ahead);
        let (mut got, mut lagged, mut last) = (0u64, 0u64, None);
        let mut check = |v: Payload| {
            assert_eq!(
                v.text,
                v.n.to_string(),
                "a value torn or freed under its reader"
            );
            assert!(last < Some(v.n), "out of order: {:?} then {}", last, v.n);
            last = Some(v.n);
            got += 1;
        };
        loop {
            let r = if ahead > 1 {
                b.try_read_ahead(&id, &mut cursor, &mut read_ahead)
                    .map(|_| {
                        while let Some(v) = read_ahead.pop() {
                            check(v);
                        }
                    })
            } else {
                b.try_read(&id, &mut cursor).map(&mut check)
            };
            match r {
                Ok(()) if slow => thread::sleep(Duration::from_micros(20)),
                Ok(()) => {}
                Err(TryRecvError::Lagged(n)) => lagged += n,
                Err(TryRecvError::Empty) => thread::yield_now(),
                Err(TryRecvError::Closed) => break,
            }
        }
        b.remove_reader(&id);
        (got, lagged)
    }

    #[test]
    fn readers_of_every_speed_get_intact_values_in_order_while_the_writer_laps_them() {
        const VALUES: u64 = 300_000;
        let b = Buffer::with_progress(BufferCfg::SpmcRing { capacity: 8 }, None);
        b.add_writer();
        let b = &b;
        let results: Vec<(u64, u64)> = thread::scope(|s| {
            let readers: Vec<_> = [(1, false), (2, false), (1, true), (2, true)]
                .into_iter()
                .map(|(ahead, slow)| s.spawn(move || read_all(b, ahead, slow)))
                .collect();
            // Every reader subscribes before the first value.
            while b.stats().readers < 4 {
                thread::yield_now();
            }
            for n in 0..VALUES {
                b.push(
                    Payload {
                        n,
                        text: n.to_string(),
                    },
                    Duration::ZERO,
                );
            }
            b.remove_writer();
            readers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for (got, lagged) in &results {
            assert_eq!(
                got + lagged,
                VALUES,
                "every value delivered or counted as lagged"
            );
        }
        let stats = b.stats();
        assert_eq!(stats.produced, VALUES);
        assert_eq!(stats.delivered, results.iter().map(|r| r.0).sum::<u64>());
        assert_eq!(stats.lagged, results.iter().map(|r| r.1).sum::<u64>());
        assert!(
            results.iter().any(|r| r.1 > 0),
            "the slow readers lagged: the test drove the writer past them"
        );
    }
}
