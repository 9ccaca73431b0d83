//! Ring state of an `spmc_ring` buffer: the last `capacity` values, each numbered.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::Read;

pub(crate) struct SpmcRing<T> {
    /// Each value behind a reusable `Arc` (see [`super::slot`]).
    slots: Box<[Option<Arc<T>>]>,
    /// Sequence number of the next value to be written.
    next_seq: u64,
}

impl<T> SpmcRing<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || None);
        Self {
            slots: slots.into_boxed_slice(),
            next_seq: 0,
        }
    }

    // The remainder is below `slots.len()`, which is a usize: nothing is truncated.
    #[allow(clippy::cast_possible_truncation)]
    fn index(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }

    /// Writes the next value with `store` into the oldest slot; the ring moves on only if it
    /// succeeds.
    pub(crate) fn push<D, E>(
        &mut self,
        store: impl FnOnce(&mut Option<Arc<T>>) -> Result<D, E>,
    ) -> Result<D, E> {
        let i = self.index(self.next_seq);
        let displaced = store(&mut self.slots[i])?;
        self.next_seq += 1;
        Ok(displaced)
    }

    /// Values held at most.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// A new reader starts after the newest value.
    pub(crate) fn subscribe_cursor(&self) -> u64 {
        self.next_seq
    }

    /// `Ok` when a value stands at `cursor`; else what a read answers: `Empty` past the newest
    /// value, `Lagged` (the cursor moved to the oldest value kept) before the oldest.
    fn readable<X>(&self, cursor: &mut u64) -> Result<(), Read<X>> {
        if *cursor >= self.next_seq {
            return Err(Read::Empty);
        }
        let oldest = self.next_seq.saturating_sub(self.slots.len() as u64);
        if *cursor < oldest {
            let missed = oldest - *cursor;
            *cursor = oldest;
            return Err(Read::Lagged(missed));
        }
        Ok(())
    }

    /// The value at `cursor` (a reference, cloned by the caller outside the lock).
    pub(crate) fn read(&self, cursor: &mut u64) -> Read<Arc<T>> {
        if let Err(nothing) = self.readable(cursor) {
            return nothing;
        }
        match &self.slots[self.index(*cursor)] {
            Some(v) => {
                *cursor += 1;
                Read::Value(v.clone())
            }
            // Unreachable by construction: every seq in [oldest, next_seq) was written.
            None => Read::Empty,
        }
    }

    /// Up to `max` values from `cursor` on, handed to `take` oldest first (references, cloned
    /// by the caller outside the lock): `Value(n)` with how many, or what [`Self::read`] says
    /// when there is none.
    pub(crate) fn read_many(
        &self,
        cursor: &mut u64,
        max: usize,
        mut take: impl FnMut(Arc<T>),
    ) -> Read<usize> {
        if let Err(nothing) = self.readable(cursor) {
            return nothing;
        }
        let ready = self.next_seq - *cursor;
        let n = usize::try_from(ready).map_or(max, |r| r.min(max));
        let mut taken = 0;
        let mut i = self.index(*cursor);
        while taken < n {
            // Every seq in [oldest, next_seq) was written.
            let Some(v) = &self.slots[i] else { break };
            take(v.clone());
            taken += 1;
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
        *cursor += taken as u64;
        if taken == 0 {
            Read::Empty
        } else {
            Read::Value(taken)
        }
    }

    pub(crate) fn newest(&self) -> Option<Arc<T>> {
        let seq = self.next_seq.checked_sub(1)?;
        self.slots[self.index(seq)].clone()
    }
}
