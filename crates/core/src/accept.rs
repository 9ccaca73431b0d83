//! Acceptance: how far a record's *durable* readers have taken its values, so that a connector
//! can acknowledge an inbound message only once every value it became is safe downstream.
//!
//! Every record numbers its values by **position**: the n-th value produced (1-based) has
//! position n, and a reader that has read it stands at position n. A durable reader (an outbox
//! that will deliver, a store that will commit) registers a **hold** on its record and moves an
//! *accepted* position forward as it makes values safe ([`Acceptor::accept`]). A transform whose
//! output record has durable readers holds its inputs too: an input value counts as accepted
//! once everything the transform derived from it is accepted downstream (a per-input queue of
//! `(input position, output position)` pairs, pruned as the output's watermark moves). A value a
//! transform filters out is accepted as soon as the values before it are.
//!
//! - [`watermark`](Ledger::watermark): the position up to which every value is accepted — the
//!   minimum over the active holds; the record's own position when it has none (a value with no
//!   durable reader is accepted as soon as it is in the buffer). A value the buffer itself
//!   discarded by its contract (overwritten in a ring, collapsed in a `single_latest`) counts as
//!   accepted: it can never be delivered.
//! - [`room`](Ledger::room): how many more values a writer may produce before a durable reader
//!   downstream (in this ring or a ring behind a transform) would lose one. Only rings limit it;
//!   an inbound link that can wait (an MQTT QoS ≥ 1 subscription) stops taking messages at 0.
//! - Progress: every accept, and every transform step on a held input, bumps the graph's
//!   [`ProgressWatch`] signal, so a connector waiting for acceptance is woken without polling.
//!
//! Nothing here allocates per value once a queue has grown to its working size; positions are
//! counters. Locks are taken upstream first (a record, then the records behind its transforms),
//! which the graph being a DAG makes deadlock-free.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::task::{Context, Poll};

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{BlockingMutex, MutexFamily};
use crate::waiters::{WaiterId, Waiters};

/// Index of a hold in its record's [`Holds`].
pub(crate) type HoldId = usize;

/// Queue length past which a transform's hold prunes itself on a step (rather than only when a
/// connector asks), so a hold no connector asks about stays small.
const PRUNE_AT: usize = 64;

/// What a record exposes about its acceptance, with its value type erased.
pub(crate) trait Ledger: Send + Sync {
    /// The position up to which every value is accepted (see the module docs).
    fn watermark(&self) -> u64;
    /// Values a writer may still produce before a durable reader downstream would lose one.
    fn room(&self) -> u64;
    /// Whether any durable reader waits on this record or on one behind its transforms.
    fn has_durable(&self) -> bool;
    /// Hold `id` accepted every value up to `pos`.
    fn accept(&self, id: HoldId, pos: u64);
    /// Hold `id` is gone.
    fn release(&self, id: HoldId);
    /// A transform step on hold `id`: the input now stands at `in_pos`; `out` is the position of
    /// the value it produced, if any.
    fn settle(&self, id: HoldId, in_pos: u64, out: Option<u64>);
}

enum Hold {
    /// A durable reader: accepted up to `accepted`.
    Direct { accepted: u64 },
    /// A transform's input, held for the values derived from it in `out`.
    Derived(Derived),
}

struct Derived {
    out: Arc<dyn Ledger>,
    /// Whether `out` has durable readers; learnt at the first step (holds are final by then).
    active: Option<bool>,
    /// Input position after the last step.
    pos: u64,
    /// Input position accepted so far, while `queue` is not empty.
    base: u64,
    /// `(input position, output position)`: the input is accepted up to the first once the
    /// output's watermark reaches the second.
    queue: VecDeque<(u64, u64)>,
}

impl Derived {
    fn active(&mut self) -> bool {
        *self.active.get_or_insert_with(|| self.out.has_durable())
    }

    /// Pops the entries the output has accepted; returns the accepted input position.
    fn prune(&mut self) -> u64 {
        if self.queue.is_empty() {
            return self.pos;
        }
        let w = self.out.watermark();
        while let Some(&(input, out)) = self.queue.front() {
            if out > w {
                break;
            }
            self.base = input;
            self.queue.pop_front();
        }
        if self.queue.is_empty() {
            self.pos
        } else {
            self.base
        }
    }
}

/// The holds on one record; lives inside the record's buffer lock.
#[derive(Default)]
pub(crate) struct Holds {
    slots: Vec<Option<Hold>>,
    free: Vec<HoldId>,
}

impl Holds {
    fn insert(&mut self, hold: Hold) -> HoldId {
        match self.free.pop() {
            Some(id) => {
                self.slots[id] = Some(hold);
                id
            }
            None => {
                self.slots.push(Some(hold));
                self.slots.len() - 1
            }
        }
    }

    /// A durable reader standing at `pos`.
    pub(crate) fn add_direct(&mut self, pos: u64) -> HoldId {
        self.insert(Hold::Direct { accepted: pos })
    }

    /// A transform input standing at `pos`, deriving values into `out`.
    pub(crate) fn add_derived(&mut self, pos: u64, out: Arc<dyn Ledger>) -> HoldId {
        self.insert(Hold::Derived(Derived {
            out,
            active: None,
            pos,
            base: pos,
            queue: VecDeque::new(),
        }))
    }

    pub(crate) fn release(&mut self, id: HoldId) {
        if let Some(slot) = self.slots.get_mut(id) {
            if slot.take().is_some() {
                self.free.push(id);
            }
        }
    }

    pub(crate) fn accept(&mut self, id: HoldId, pos: u64) {
        if let Some(Some(Hold::Direct { accepted })) = self.slots.get_mut(id) {
            *accepted = (*accepted).max(pos);
        }
    }

    /// Records a transform step; returns whether it may have moved the watermark.
    pub(crate) fn settle(&mut self, id: HoldId, in_pos: u64, out: Option<u64>) -> bool {
        let Some(Some(Hold::Derived(d))) = self.slots.get_mut(id) else {
            return false;
        };
        d.pos = in_pos;
        if !d.active() {
            return false;
        }
        match (out, d.queue.back_mut()) {
            (Some(out), _) => d.queue.push_back((in_pos, out)),
            (None, Some(back)) => back.0 = in_pos,
            (None, None) => {}
        }
        if d.queue.len() > PRUNE_AT {
            d.prune();
        }
        true
    }

    /// The minimum accepted position over the active holds, each at least `floor` (values
    /// below it were discarded by the buffer); `None` without active holds.
    pub(crate) fn accepted(&mut self, floor: u64) -> Option<u64> {
        let mut min: Option<u64> = None;
        for slot in self.slots.iter_mut().flatten() {
            let acc = match slot {
                Hold::Direct { accepted } => *accepted,
                Hold::Derived(d) => {
                    if !d.active() {
                        continue;
                    }
                    d.prune()
                }
            };
            let acc = acc.max(floor);
            min = Some(min.map_or(acc, |m| m.min(acc)));
        }
        min
    }

    /// The smallest room behind the active transform holds (`u64::MAX` without any), for a
    /// record that has produced `produced` values: values a transform has not stepped over yet
    /// will land in its output, so they take from the output's room already.
    pub(crate) fn room_behind(&mut self, produced: u64) -> u64 {
        let mut room = u64::MAX;
        for slot in self.slots.iter_mut().flatten() {
            if let Hold::Derived(d) = slot {
                if d.active() {
                    let unstepped = produced.saturating_sub(d.pos);
                    room = room.min(d.out.room().saturating_sub(unstepped));
                }
            }
        }
        room
    }

    pub(crate) fn has_durable(&mut self) -> bool {
        self.slots.iter_mut().flatten().any(|h| match h {
            Hold::Direct { .. } => true,
            Hold::Derived(d) => d.active(),
        })
    }
}

/// The graph-wide progress signal that [`ProgressWatch`]es wait on.
pub(crate) trait Signal: Send + Sync {
    fn bump(&self);
    fn join(&self) -> WaiterId;
    fn leave(&self, id: WaiterId);
    fn poll(&self, id: WaiterId, seen: &mut u64, cx: &mut Context<'_>) -> Poll<()>;
}

struct ProgressInner {
    generation: u64,
    waiters: Waiters,
}

/// [`Signal`] over the runtime's mutex. Bumping without watchers costs one atomic load.
pub(crate) struct Progress<F: MutexFamily> {
    watchers: AtomicUsize,
    inner: F::Mutex<ProgressInner>,
}

impl<F: MutexFamily> Progress<F> {
    pub(crate) fn new() -> Self {
        Self {
            watchers: AtomicUsize::new(0),
            inner: F::Mutex::new(ProgressInner {
                generation: 0,
                waiters: Waiters::new(),
            }),
        }
    }
}

impl<F: MutexFamily> Signal for Progress<F> {
    fn bump(&self) {
        if self.watchers.load(Ordering::Acquire) == 0 {
            return;
        }
        self.inner.with(|p| {
            p.generation = p.generation.wrapping_add(1);
            p.waiters.wake_all();
        });
    }

    fn join(&self) -> WaiterId {
        self.watchers.fetch_add(1, Ordering::AcqRel);
        self.inner.with(|p| p.waiters.join())
    }

    fn leave(&self, id: WaiterId) {
        self.inner.with(|p| p.waiters.leave(id));
        self.watchers.fetch_sub(1, Ordering::AcqRel);
    }

    fn poll(&self, id: WaiterId, seen: &mut u64, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.with(|p| {
            if p.generation != *seen {
                *seen = p.generation;
                Poll::Ready(())
            } else {
                p.waiters.park(id, cx.waker());
                Poll::Pending
            }
        })
    }
}

/// Wakes its owner when any durable reader of the graph accepted values (or a transform stepped
/// over a held input). Obtained from an inbound link ([`crate::InboundLink::watch`]).
pub struct ProgressWatch {
    signal: Arc<dyn Signal>,
    id: WaiterId,
    seen: u64,
}

impl ProgressWatch {
    pub(crate) fn new(signal: Arc<dyn Signal>) -> Self {
        let id = signal.join();
        Self {
            signal,
            id,
            seen: 0,
        }
    }

    /// Ready once progress happened since the last time it was ready (or since creation).
    /// Registers `cx`'s waker otherwise. Never allocates after the first call.
    pub fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.signal.poll(self.id, &mut self.seen, cx)
    }

    /// Waits for progress; cancel-safe.
    pub async fn changed(&mut self) {
        core::future::poll_fn(|cx| self.poll_changed(cx)).await
    }
}

impl Drop for ProgressWatch {
    fn drop(&mut self) {
        self.signal.leave(self.id);
    }
}

struct HoldHandle {
    ledger: Arc<dyn Ledger>,
    id: HoldId,
}

impl Drop for HoldHandle {
    fn drop(&mut self) {
        self.ledger.release(self.id);
    }
}

/// A durable reader's hold on its record (from [`crate::Consumer::hold`] or
/// [`crate::OutboundLink::hold`]): values up to the position passed to [`Acceptor::accept`] are
/// safe, and the connector upstream may acknowledge them. Until then they count against the
/// room of the writers upstream. Cloneable and `Send + Sync` (an outbox's disk thread accepts
/// what it committed); the hold is released when the last clone is dropped.
#[derive(Clone)]
pub struct Acceptor {
    hold: Arc<HoldHandle>,
}

impl Acceptor {
    pub(crate) fn new(ledger: Arc<dyn Ledger>, id: HoldId) -> Self {
        Self {
            hold: Arc::new(HoldHandle { ledger, id }),
        }
    }

    /// Every value up to position `pos` is safe (positions only move forward; an older `pos`
    /// is ignored). Never blocks beyond the record's short lock; wakes watchers.
    pub fn accept(&self, pos: u64) {
        self.hold.ledger.accept(self.hold.id, pos);
    }

    /// Whether `other` is a clone of this acceptor (the same hold).
    pub fn same_hold(&self, other: &Acceptor) -> bool {
        Arc::ptr_eq(&self.hold, &other.hold)
    }
}

impl core::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Acceptor")
            .field("hold", &self.hold.id)
            .finish()
    }
}
