//! A reader's own queue of values taken from a ring several at a time.
//!
//! A [`ReadAhead`] lets a reader take every value that is ready (up to a bound) in one visit to
//! the buffer, and hand them out one by one afterwards: what a visit costs (for a ring, the
//! marks it publishes and the fence; for the other kinds, the lock) is paid once per visit
//! instead of once per value. Each value is cloned during the visit, with no lock held (the
//! lock rule), into room reserved when the `ReadAhead` was made.
//!
//! Semantics stay the buffer's: values come in order, values taken are counted as delivered
//! when taken, and a lag is reported once the values taken before it have been handed out. A
//! ring bounds the read-ahead to a quarter of its capacity (a visit's positions are kept from
//! the writer while it clones, so the spare cells stay few); other kinds read one value per
//! visit.

use alloc::collections::VecDeque;

/// Values one reader has taken from its buffer and not yet handed out; see the module docs.
pub struct ReadAhead<T> {
    values: VecDeque<T>,
    max: usize,
}

impl<T> ReadAhead<T> {
    /// Room for `max` values (at least 1), allocated now.
    pub(crate) fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            values: VecDeque::with_capacity(max),
            max,
        }
    }

    /// Values held, not yet handed out.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values one visit takes at most.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many more values fit without allocating.
    pub(crate) fn room(&self) -> usize {
        self.max - self.values.len()
    }

    /// Keeps a value taken in a visit; the caller takes at most [`Self::room`].
    pub(crate) fn push(&mut self, value: T) {
        debug_assert!(self.values.len() < self.max, "read-ahead overfilled");
        self.values.push_back(value);
    }

    /// The oldest value held.
    pub fn pop(&mut self) -> Option<T> {
        self.values.pop_front()
    }
}

impl<T> core::fmt::Debug for ReadAhead<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadAhead")
            .field("len", &self.values.len())
            .field("max", &self.max)
            .finish()
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use alloc::vec::Vec;
    use core::time::Duration;

    use super::super::{BufferCfg, Shared, TryRecvError};
    use crate::sync::StdMutexFamily;

    type Buffer = Shared<u64, StdMutexFamily>;

    fn buffer(cfg: BufferCfg) -> Buffer {
        let b = Buffer::with_progress(cfg, None);
        b.add_writer();
        b
    }

    #[test]
    fn a_ring_is_read_several_values_per_visit_in_order() {
        let b = buffer(BufferCfg::SpmcRing { capacity: 64 });
        let (id, mut cursor) = b.add_reader();
        let mut ahead = b.read_ahead(32);
        assert_eq!(ahead.max(), 16, "a quarter of the ring");
        for round in 0..5u64 {
            for i in 0..40 {
                b.push(round * 40 + i, Duration::ZERO);
            }
            let mut got = Vec::new();
            let mut visits = 0;
            while let Ok(n) = b.try_read_ahead(&id, &mut cursor, &mut ahead) {
                assert!(n > 0 && n <= 16);
                visits += 1;
                while let Some(v) = ahead.pop() {
                    got.push(v);
                }
            }
            assert_eq!(visits, 3, "16 + 16 + 8");
            assert_eq!(got, (round * 40..round * 40 + 40).collect::<Vec<_>>());
        }
        assert_eq!(b.stats().delivered, 200);
        assert_eq!(
            b.try_read_ahead(&id, &mut cursor, &mut ahead),
            Err(TryRecvError::Empty)
        );
    }

    #[test]
    fn lag_is_reported_once_then_the_oldest_values_follow() {
        let b = buffer(BufferCfg::SpmcRing { capacity: 8 });
        let (id, mut cursor) = b.add_reader();
        let mut ahead = b.read_ahead(32);
        assert_eq!(ahead.max(), 2);
        for i in 0..20 {
            b.push(i, Duration::ZERO);
        }
        assert_eq!(
            b.try_read_ahead(&id, &mut cursor, &mut ahead),
            Err(TryRecvError::Lagged(12))
        );
        let mut got = Vec::new();
        while b.try_read_ahead(&id, &mut cursor, &mut ahead).is_ok() {
            while let Some(v) = ahead.pop() {
                got.push(v);
            }
        }
        assert_eq!(got, (12..20).collect::<Vec<_>>());
        assert_eq!(b.stats().lagged, 12);
    }

    #[test]
    fn values_taken_ahead_are_kept_when_the_writer_laps_them() {
        let b = buffer(BufferCfg::SpmcRing { capacity: 8 });
        let (id, mut cursor) = b.add_reader();
        let mut ahead = b.read_ahead(2);
        for i in 0..3 {
            b.push(i, Duration::ZERO);
        }
        assert_eq!(b.try_read_ahead(&id, &mut cursor, &mut ahead), Ok(2));
        // The writer overwrites both slots the read-ahead holds, twice over.
        for i in 3..19 {
            b.push(i, Duration::ZERO);
        }
        assert_eq!(
            (ahead.pop(), ahead.pop(), ahead.pop()),
            (Some(0), Some(1), None)
        );
        assert_eq!(
            b.try_read_ahead(&id, &mut cursor, &mut ahead),
            Err(TryRecvError::Lagged(9))
        );
        assert_eq!(b.try_read_ahead(&id, &mut cursor, &mut ahead), Ok(2));
        assert_eq!((ahead.pop(), ahead.pop()), (Some(11), Some(12)));
    }

    #[test]
    fn other_kinds_read_one_value_per_visit() {
        for cfg in [BufferCfg::SingleLatest, BufferCfg::Mailbox] {
            let b = buffer(cfg);
            let (id, mut cursor) = b.add_reader();
            let mut ahead = b.read_ahead(32);
            assert_eq!(ahead.max(), 1);
            for i in 0..5 {
                b.push(i, Duration::ZERO);
            }
            assert_eq!(b.try_read_ahead(&id, &mut cursor, &mut ahead), Ok(1));
            assert_eq!(ahead.pop(), Some(4), "{cfg}: the newest only");
            assert_eq!(
                b.try_read_ahead(&id, &mut cursor, &mut ahead),
                Err(TryRecvError::Empty)
            );
        }
    }

    #[test]
    fn closed_comes_after_the_values_left() {
        let b = buffer(BufferCfg::SpmcRing { capacity: 64 });
        let (id, mut cursor) = b.add_reader();
        let mut ahead = b.read_ahead(32);
        for i in 0..3 {
            b.push(i, Duration::ZERO);
        }
        b.remove_writer();
        let mut full = b.read_ahead(2);
        let (other_id, mut other) = (b.add_reader().0, 0);
        assert_eq!(b.try_read_ahead(&other_id, &mut other, &mut full), Ok(2));
        assert_eq!(
            b.try_read_ahead(&other_id, &mut other, &mut full),
            Ok(0),
            "full: nothing read"
        );
        assert_eq!(b.try_read_ahead(&id, &mut cursor, &mut ahead), Ok(3));
        assert_eq!(
            (ahead.pop(), ahead.pop(), ahead.pop()),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(
            b.try_read_ahead(&id, &mut cursor, &mut ahead),
            Err(TryRecvError::Closed)
        );
    }
}
