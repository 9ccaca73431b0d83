//! [`AckQueue`]: which inbound QoS ≥ 1 messages may be acknowledged to the broker, in the order
//! they were received (MQTT 3.1.1 §4.6 requires PUBACKs in that order).
//!
//! A message is acknowledged once every value it became has been accepted downstream
//! (`aimdb_core::accept`): routing it *owes* one `(link, position)` per value pushed, and each
//! link's obligations are settled in order as its record's watermark passes them. A message
//! whose values need nothing (no durable reader, filtered out, dropped as bad input) owes
//! nothing and is acknowledged as soon as the messages before it are.
//!
//! No allocation per message once the queues have grown to the broker's inflight window:
//! entries are `(u64, u64)` pairs in ring buffers.

use std::collections::VecDeque;

use rumqttc::QoS;

struct Pending {
    pkid: u16,
    qos: QoS,
    /// Values still to be accepted.
    owed: u32,
    /// Still being routed (waiting for room): more obligations may come.
    routing: bool,
}

/// The unacknowledged inbound messages of one connection.
pub struct AckQueue {
    pending: VecDeque<Pending>,
    /// Id of `pending[0]`; ids increase by one per message.
    first: u64,
    /// Per link: `(message id, record position)` still to be accepted, oldest first.
    owed: Vec<VecDeque<(u64, u64)>>,
}

impl AckQueue {
    /// An empty queue for `links` inbound links.
    pub fn new(links: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            first: 0,
            owed: (0..links).map(|_| VecDeque::new()).collect(),
        }
    }

    /// A message `pkid` (QoS 1 or 2) arrived; returns its id. It is being routed until
    /// [`AckQueue::routed`].
    pub fn begin(&mut self, pkid: u16, qos: QoS) -> u64 {
        self.pending.push_back(Pending {
            pkid,
            qos,
            owed: 0,
            routing: true,
        });
        self.first + self.pending.len() as u64 - 1
    }

    /// Message `id` put a value at position `pos` into link `link`'s record.
    pub fn owe(&mut self, id: u64, link: usize, pos: u64) {
        if link >= self.owed.len() {
            return;
        }
        let Some(p) = self.entry(id) else {
            return;
        };
        p.owed += 1;
        self.owed[link].push_back((id, pos));
    }

    /// Message `id` has been routed to every link it goes to.
    pub fn routed(&mut self, id: u64) {
        if let Some(p) = self.entry(id) {
            p.routing = false;
        }
    }

    fn entry(&mut self, id: u64) -> Option<&mut Pending> {
        let i = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.pending.get_mut(i)
    }

    /// Settles the obligations that link `i`'s record has accepted (`watermark(i)`).
    pub fn settle(&mut self, watermark: impl Fn(usize) -> u64) {
        for link in 0..self.owed.len() {
            if self.owed[link].is_empty() {
                continue;
            }
            let w = watermark(link);
            while let Some(&(id, pos)) = self.owed[link].front() {
                if pos > w {
                    break;
                }
                self.owed[link].pop_front();
                if let Some(p) = self.entry(id) {
                    p.owed = p.owed.saturating_sub(1);
                }
            }
        }
    }

    /// The oldest message, if it may be acknowledged now: `(pkid, qos)`.
    pub fn ready(&self) -> Option<(u16, QoS)> {
        self.pending
            .front()
            .filter(|p| !p.routing && p.owed == 0)
            .map(|p| (p.pkid, p.qos))
    }

    /// The oldest message was acknowledged.
    pub fn pop(&mut self) {
        if self.pending.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// Forgets every message (the connection is gone: its packet ids mean nothing on the next
    /// one; a persistent session's broker sends what it did not get acknowledged again).
    pub fn clear(&mut self) {
        self.first += self.pending.len() as u64;
        self.pending.clear();
        self.owed.iter_mut().for_each(VecDeque::clear);
    }

    /// Messages not yet acknowledged.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether every message is acknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut AckQueue) -> Vec<u16> {
        let mut out = Vec::new();
        while let Some((pkid, _)) = q.ready() {
            out.push(pkid);
            q.pop();
        }
        out
    }

    #[test]
    fn acknowledges_in_order_once_every_value_is_accepted() {
        let mut q = AckQueue::new(2);
        let a = q.begin(1, QoS::AtLeastOnce);
        q.owe(a, 0, 1);
        q.routed(a);
        let b = q.begin(2, QoS::AtLeastOnce);
        q.owe(b, 1, 1);
        q.owe(b, 0, 2); // one message, two links
        q.routed(b);
        let c = q.begin(3, QoS::AtLeastOnce);
        q.routed(c); // owes nothing (filtered, no durable reader)

        // Link 1 accepted first: b still waits for link 0, and a comes first anyway.
        q.settle(|l| if l == 1 { 1 } else { 0 });
        assert!(drain(&mut q).is_empty());
        q.settle(|_| 1);
        assert_eq!(drain(&mut q), vec![1], "a is accepted; b still owes link 0");
        q.settle(|_| 2);
        assert_eq!(drain(&mut q), vec![2, 3]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_message_still_routing_is_not_acknowledged() {
        let mut q = AckQueue::new(1);
        let a = q.begin(7, QoS::ExactlyOnce);
        q.settle(|_| u64::MAX);
        assert!(q.ready().is_none(), "waiting for room: not routed yet");
        q.owe(a, 0, 5);
        q.routed(a);
        q.settle(|_| 4);
        assert!(q.ready().is_none());
        q.settle(|_| 5);
        assert_eq!(q.ready(), Some((7, QoS::ExactlyOnce)));
    }

    #[test]
    fn clear_forgets_the_connection() {
        let mut q = AckQueue::new(1);
        let a = q.begin(1, QoS::AtLeastOnce);
        q.owe(a, 0, 1);
        q.clear();
        assert!(q.is_empty());
        q.owe(a, 0, 2); // a late obligation of a forgotten message is ignored
        let b = q.begin(1, QoS::AtLeastOnce);
        assert!(b > a);
        q.routed(b);
        q.settle(|_| 0);
        assert_eq!(drain(&mut q), vec![1]);
    }
}
