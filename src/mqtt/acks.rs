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
//!
//! Links come and go with the graph (a reload binds a new graph's links to the same session):
//! [`AckQueue::bind`] adds a new set of link slots, each carrying what it settles against (`A`,
//! the link's `Acceptance`), and forgets earlier slots that owe nothing any more. Obligations of
//! an earlier graph stay where they are and are settled as that graph's readers accept them.

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

/// One link's obligations: `(message id, record position)` still to be accepted, oldest first.
struct Slot<A> {
    link: A,
    owed: VecDeque<(u64, u64)>,
}

/// The unacknowledged inbound messages of one connection.
pub struct AckQueue<A> {
    pending: VecDeque<Pending>,
    /// Id of `pending[0]`; ids increase by one per message.
    first: u64,
    /// One per link, bound ones last.
    slots: Vec<Slot<A>>,
}

impl<A> Default for AckQueue<A> {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
            first: 0,
            slots: Vec::new(),
        }
    }
}

impl AckQueue<usize> {
    /// An empty queue for `links` inbound links, each slot holding its own number.
    pub fn new(links: usize) -> Self {
        let mut q = Self::default();
        q.bind(0..links);
        q
    }
}

impl<A> AckQueue<A> {
    /// Adds a slot for each of `links` and returns the number of the first: link `i` of them is
    /// number `base + i` in [`AckQueue::owe`]. Slots of earlier links that owe nothing are
    /// forgotten (their numbers must not be used again).
    pub fn bind(&mut self, links: impl IntoIterator<Item = A>) -> usize {
        self.slots.retain(|s| !s.owed.is_empty());
        let base = self.slots.len();
        self.slots.extend(links.into_iter().map(|link| Slot {
            link,
            owed: VecDeque::new(),
        }));
        base
    }

    /// Whether any link slot before `base` (an earlier binding) still owes something.
    pub fn owes_before(&self, base: usize) -> bool {
        self.slots[..base.min(self.slots.len())]
            .iter()
            .any(|s| !s.owed.is_empty())
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
        if link >= self.slots.len() {
            return;
        }
        let Some(p) = self.entry(id) else {
            return;
        };
        p.owed += 1;
        self.slots[link].owed.push_back((id, pos));
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

    /// Settles the obligations that each link's record has accepted (`watermark(link)`).
    pub fn settle(&mut self, watermark: impl Fn(&A) -> u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].owed.is_empty() {
                continue;
            }
            let w = watermark(&self.slots[i].link);
            while let Some(&(id, pos)) = self.slots[i].owed.front() {
                if pos > w {
                    break;
                }
                self.slots[i].owed.pop_front();
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
        self.slots.iter_mut().for_each(|s| s.owed.clear());
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

    fn drain(q: &mut AckQueue<usize>) -> Vec<u16> {
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
        q.settle(|&l| if l == 1 { 1 } else { 0 });
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
    fn a_new_binding_keeps_what_the_old_links_still_owe() {
        let mut q = AckQueue::new(2);
        let a = q.begin(1, QoS::AtLeastOnce);
        q.owe(a, 0, 3);
        q.routed(a);
        // A reload binds the new graph's one link; old link 1 owed nothing and is forgotten.
        let base = q.bind([10]);
        assert_eq!(base, 1, "old link 0 still owes, so it stays in front");
        assert!(q.owes_before(base));
        let b = q.begin(2, QoS::AtLeastOnce);
        q.owe(b, base, 1);
        q.routed(b);
        q.settle(|&l| if l == 10 { 1 } else { 2 });
        assert!(
            drain(&mut q).is_empty(),
            "a waits for old link 0, b waits for a"
        );
        q.settle(|&l| if l == 10 { 1 } else { 3 });
        assert_eq!(
            drain(&mut q),
            vec![1, 2],
            "in the order received, across the graphs"
        );
        assert!(!q.owes_before(base));
        assert_eq!(
            q.bind([11]),
            0,
            "the settled slots are forgotten at the next binding"
        );
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
