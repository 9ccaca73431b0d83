//! [`OutboxQueue`]: the values one outbound link holds until the broker has them.
//!
//! Contract:
//! - [`OutboxQueue::push`] never blocks. At capacity it drops the oldest value held (even one
//!   already sent and awaiting its acknowledgement) or the new one, per [`OutboxFull`], and says
//!   which, so a disk copy can follow; under `Block` it drops nothing (the caller waits for
//!   [`OutboxQueue::has_room`] before pushing).
//! - Values leave in order: [`OutboxQueue::next_unsent`] yields them oldest first; a value stays
//!   held until [`OutboxQueue::ack`] (QoS ≥ 1: the broker's PUBACK/PUBCOMP; QoS 0: written to the
//!   connection).
//! - After a disconnect, [`OutboxQueue::rewind`] makes every unacknowledged value unsent again, so
//!   it is sent again after the reconnect (at-least-once; a value the broker got but whose ack
//!   was lost arrives twice).

use std::collections::VecDeque;

use crate::mqtt::config::OutboxFull;

/// One held value: its sequence number (increasing per link) and its encoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// Position in the link's stream; increases by one per accepted value.
    pub(crate) seq: u64,
    /// The encoded value.
    pub(crate) payload: Vec<u8>,
    acked: bool,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Held as `seq`.
    Held(u64),
    /// Held as `seq`; the oldest values, `dropped`, were discarded to make room.
    HeldDroppingOldest {
        /// The new value's sequence number.
        seq: u64,
        /// The discarded values' sequence numbers, oldest first.
        dropped: Vec<u64>,
    },
    /// The queue is full and keeps what it has: the new value was discarded.
    DroppedNewest,
}

/// A bounded, ordered queue of values awaiting delivery.
#[derive(Debug)]
pub(crate) struct OutboxQueue {
    held: VecDeque<Held>,
    /// Index in `held` of the first value not yet handed to the client.
    unsent: usize,
    next_seq: u64,
    capacity: usize,
    /// Payload bytes held at most (at least one value is always taken).
    max_bytes: usize,
    /// Payload bytes held now (acknowledged values inside included until they leave).
    bytes: usize,
    full: OutboxFull,
    /// Values acknowledged out of order, still in `held` behind an older unacknowledged one.
    acked_inside: usize,
}

impl OutboxQueue {
    /// An empty queue holding at most `capacity` (≥ 1) values and `max_bytes` payload bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize, full: OutboxFull) -> Self {
        Self {
            held: VecDeque::new(),
            unsent: 0,
            next_seq: 1,
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            full,
            acked_inside: 0,
        }
    }

    /// Sets what a push does at the bound from now on (a reload may change `outbox_full`).
    pub(crate) fn set_policy(&mut self, full: OutboxFull) {
        self.full = full;
    }

    /// Whether `extra` more bytes (and one more value) would pass a bound; an empty queue always
    /// takes a value, however large.
    fn over(&self, extra: usize) -> bool {
        !self.held.is_empty()
            && (self.held.len() >= self.capacity || self.bytes + extra > self.max_bytes)
    }

    fn pop_oldest(&mut self) -> Option<u64> {
        let h = self.held.pop_front()?;
        self.bytes -= h.payload.len();
        if h.acked {
            self.acked_inside -= 1;
        }
        self.unsent = self.unsent.saturating_sub(1);
        Some(h.seq)
    }

    /// Refills the queue with values kept from an earlier run (oldest first), before any push.
    /// Beyond capacity the oldest are dropped; their sequence numbers are returned.
    pub(crate) fn restore(&mut self, values: Vec<(u64, Vec<u8>)>) -> Vec<u64> {
        let mut dropped = Vec::new();
        for (seq, payload) in values {
            self.next_seq = self.next_seq.max(seq + 1);
            while self.over(payload.len()) {
                match self.pop_oldest() {
                    Some(seq) => dropped.push(seq),
                    None => break,
                }
            }
            self.bytes += payload.len();
            self.held.push_back(Held {
                seq,
                payload,
                acked: false,
            });
        }
        dropped
    }

    /// Takes a new value; never blocks. See the module docs for what happens at capacity (in
    /// values or bytes, whichever comes first).
    pub(crate) fn push(&mut self, payload: Vec<u8>) -> Pushed {
        let mut dropped = Vec::new();
        if self.over(payload.len()) {
            match self.full {
                // The link's task waits for room before it takes a value, so a blocking queue
                // is full only right after a restore: hold the value (nothing is dropped).
                OutboxFull::Block => {}
                OutboxFull::DropNewest => return Pushed::DroppedNewest,
                OutboxFull::DropOldest => {
                    while self.over(payload.len()) {
                        match self.pop_oldest() {
                            Some(seq) => dropped.push(seq),
                            None => break,
                        }
                    }
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += payload.len();
        self.held.push_back(Held {
            seq,
            payload,
            acked: false,
        });
        if dropped.is_empty() {
            Pushed::Held(seq)
        } else {
            Pushed::HeldDroppingOldest { seq, dropped }
        }
    }

    /// The oldest value not yet sent, marking it sent.
    pub(crate) fn next_unsent(&mut self) -> Option<&Held> {
        while self.held.get(self.unsent).is_some_and(|h| h.acked) {
            self.unsent += 1;
        }
        let h = self.held.get(self.unsent)?;
        self.unsent += 1;
        Some(h)
    }

    #[cfg(test)]
    /// Whether a value waits to be sent.
    pub(crate) fn has_unsent(&self) -> bool {
        self.held.iter().skip(self.unsent).any(|h| !h.acked)
    }

    /// Un-marks the last value [`OutboxQueue::next_unsent`] gave (the client could not take it).
    pub(crate) fn unsend_last(&mut self) {
        self.unsent = self.unsent.saturating_sub(1);
    }

    /// The value `seq` has been delivered: it leaves the queue. Returns the sequence numbers
    /// that left (acks may come out of order; a value leaves once all older ones have).
    pub(crate) fn ack(&mut self, seq: u64) -> Vec<u64> {
        let Ok(i) = self.held.binary_search_by_key(&seq, |h| h.seq) else {
            return Vec::new(); // dropped meanwhile
        };
        if !self.held[i].acked {
            self.held[i].acked = true;
            self.acked_inside += 1;
        }
        let mut gone = Vec::new();
        while self.held.front().is_some_and(|h| h.acked) {
            if let Some(seq) = self.pop_oldest() {
                gone.push(seq);
            }
        }
        if self.held.is_empty() && self.held.capacity() > 64 {
            // Give back what a burst or an outage grew (payloads are freed as they leave).
            self.held.shrink_to(64);
        }
        gone
    }

    /// Every unacknowledged value becomes unsent again (after a disconnect).
    pub(crate) fn rewind(&mut self) {
        self.unsent = 0;
    }

    /// Values held (sent or not, not yet acknowledged).
    pub(crate) fn len(&self) -> usize {
        self.held.len() - self.acked_inside
    }

    /// Whether a push would not go past a bound (values or bytes; a value of more than
    /// `max_bytes` still goes into an empty queue).
    pub(crate) fn has_room(&self) -> bool {
        self.held.is_empty() || (self.held.len() < self.capacity && self.bytes < self.max_bytes)
    }

    /// Payload bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(cap: usize, full: OutboxFull) -> OutboxQueue {
        OutboxQueue::new(cap, usize::MAX, full)
    }

    fn send_all(q: &mut OutboxQueue) -> Vec<u64> {
        std::iter::from_fn(|| q.next_unsent().map(|h| h.seq)).collect()
    }

    #[test]
    fn values_leave_in_order_only_when_acked() {
        let mut o = q(10, OutboxFull::DropOldest);
        for i in 0..3u8 {
            assert_eq!(o.push(vec![i]), Pushed::Held(u64::from(i) + 1));
        }
        assert_eq!(send_all(&mut o), vec![1, 2, 3]);
        assert!(!o.has_unsent());
        assert_eq!(o.ack(2), Vec::<u64>::new(), "1 is still awaited");
        assert_eq!(o.len(), 2);
        assert_eq!(o.ack(1), vec![1, 2]);
        o.rewind();
        assert_eq!(
            send_all(&mut o),
            vec![3],
            "after a disconnect only 3 is sent again"
        );
        assert_eq!(o.ack(3), vec![3]);
        assert!(o.is_empty());
    }

    #[test]
    fn at_capacity_drop_oldest_or_newest() {
        let mut o = q(2, OutboxFull::DropOldest);
        o.push(vec![1]);
        o.push(vec![2]);
        assert_eq!(o.next_unsent().map(|h| h.seq), Some(1));
        assert_eq!(
            o.push(vec![3]),
            Pushed::HeldDroppingOldest {
                seq: 3,
                dropped: vec![1]
            }
        );
        assert_eq!(send_all(&mut o), vec![2, 3]);
        assert_eq!(
            o.ack(1),
            Vec::<u64>::new(),
            "an ack for a dropped value is ignored"
        );

        let mut o = q(2, OutboxFull::DropNewest);
        o.push(vec![1]);
        o.push(vec![2]);
        assert_eq!(o.push(vec![3]), Pushed::DroppedNewest);
        assert_eq!(send_all(&mut o), vec![1, 2]);
    }

    #[test]
    fn restore_continues_the_sequence() {
        let mut o = q(2, OutboxFull::DropOldest);
        let dropped = o.restore(vec![(7, vec![7]), (8, vec![8]), (9, vec![9])]);
        assert_eq!(dropped, vec![7]);
        assert_eq!(
            o.push(vec![10]),
            Pushed::HeldDroppingOldest {
                seq: 10,
                dropped: vec![8]
            }
        );
        assert_eq!(send_all(&mut o), vec![9, 10]);
    }

    #[test]
    fn the_byte_bound_holds_whatever_the_count() {
        let mut o = OutboxQueue::new(100, 1000, OutboxFull::DropOldest);
        for _ in 0..3 {
            o.push(vec![0; 400]);
        }
        assert_eq!(o.len(), 2, "1000 bytes hold two values of 400");
        assert!(o.bytes() <= 1000);
        assert_eq!(
            o.push(vec![0; 900]),
            Pushed::HeldDroppingOldest {
                seq: 4,
                dropped: vec![2, 3]
            }
        );
        let mut b = OutboxQueue::new(100, 1000, OutboxFull::Block);
        b.push(vec![0; 600]);
        assert!(b.has_room(), "600 of 1000 bytes");
        b.push(vec![0; 600]);
        assert!(
            !b.has_room(),
            "a blocking link waits once the bytes are used"
        );
        let mut e = OutboxQueue::new(100, 10, OutboxFull::DropNewest);
        assert_eq!(
            e.push(vec![0; 50]),
            Pushed::Held(1),
            "an empty queue takes any value"
        );
        assert_eq!(e.push(vec![0; 1]), Pushed::DroppedNewest);
        send_all(&mut e);
        assert_eq!(e.ack(1), vec![1]);
        assert_eq!(e.bytes(), 0);
    }

    #[test]
    fn unsend_last_gives_the_value_again() {
        let mut o = q(4, OutboxFull::DropOldest);
        o.push(vec![1]);
        assert_eq!(o.next_unsent().map(|h| h.seq), Some(1));
        o.unsend_last();
        assert_eq!(o.next_unsent().map(|h| h.seq), Some(1));
    }
}
