//! A slab of wakers, one slot per waiting party, reused without allocating.
//!
//! Slots are allocated on registration of a party (a consumer, a shutdown listener) and reused
//! after it leaves; parking and waking never allocate. Callers hold their own lock around it.

use alloc::vec::Vec;
use core::task::Waker;

/// Index of a party's slot.
pub(crate) type WaiterId = usize;

#[derive(Debug, Default)]
pub(crate) struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<WaiterId>,
    parked: usize,
}

impl Waiters {
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            parked: 0,
        }
    }

    /// Reserves a slot for a new party.
    pub(crate) fn join(&mut self) -> WaiterId {
        match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                self.free.reserve(1);
                self.slots.len() - 1
            }
        }
    }

    /// Frees a party's slot (dropping any parked waker).
    pub(crate) fn leave(&mut self, id: WaiterId) {
        if let Some(slot) = self.slots.get_mut(id) {
            if slot.take().is_some() {
                self.parked -= 1;
            }
            self.free.push(id);
        }
    }

    /// Parks `waker` in slot `id`; clones only when a different waker was parked.
    pub(crate) fn park(&mut self, id: WaiterId, waker: &Waker) {
        if let Some(slot) = self.slots.get_mut(id) {
            match slot {
                Some(w) if w.will_wake(waker) => {}
                Some(w) => w.clone_from(waker),
                None => {
                    *slot = Some(waker.clone());
                    self.parked += 1;
                }
            }
        }
    }

    /// Wakes every parked waker, emptying their slots.
    pub(crate) fn wake_all(&mut self) {
        if self.parked == 0 {
            return;
        }
        for slot in &mut self.slots {
            if let Some(w) = slot.take() {
                w.wake();
            }
        }
        self.parked = 0;
    }

    /// Number of parties that joined and have not left.
    pub(crate) fn parties(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
