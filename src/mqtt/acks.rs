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
//! Links come and go with the graph's parts (a reload rebinds only the parts that changed, on the
//! same session): [`AckQueue::bind`] gives each new link a slot — a stable number, carrying what
//! it settles against (`A`, the link's `Acceptance`) — and [`AckQueue::release`] lets a part's
//! slots go. A released slot keeps its obligations and is settled as that part's readers
//! accept them; once it owes nothing it is free, and a later binding may reuse its number (a
//! [`SlotId`] names one use of a number, so a reuse is never mistaken for the old link).

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
    /// What it settles against; `None` once free.
    link: Option<A>,
    owed: VecDeque<(u64, u64)>,
    /// Its part let it go: it is freed once it owes nothing.
    released: bool,
    /// Bumped each time the slot is freed.
    epoch: u64,
}

/// One use of a slot: its number and the epoch it was bound in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotId {
    /// The number passed to [`AckQueue::owe`].
    pub(crate) index: usize,
    epoch: u64,
}

/// The unacknowledged inbound messages of one connection.
pub(crate) struct AckQueue<A> {
    pending: VecDeque<Pending>,
    /// Id of `pending[0]`; ids increase by one per message.
    first: u64,
    /// One per link number, free ones included.
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

#[cfg(test)]
impl AckQueue<usize> {
    /// An empty queue for `links` inbound links, each slot holding its own number.
    pub(crate) fn new(links: usize) -> Self {
        let mut q = Self::default();
        q.bind(0..links);
        q
    }
}

impl<A> AckQueue<A> {
    /// Gives each of `links` a slot — a free one if there is, else a new one — and returns
    /// them in order: link `i` of them is number `ids[i].index` in [`AckQueue::owe`].
    pub(crate) fn bind(&mut self, links: impl IntoIterator<Item = A>) -> Vec<SlotId> {
        let free: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].link.is_none())
            .collect();
        let mut free = free.into_iter();
        let mut ids = Vec::new();
        for link in links {
            let index = match free.next() {
                Some(i) => {
                    let s = &mut self.slots[i];
                    s.link = Some(link);
                    s.released = false;
                    i
                }
                None => {
                    self.slots.push(Slot {
                        link: Some(link),
                        owed: VecDeque::new(),
                        released: false,
                        epoch: 0,
                    });
                    self.slots.len() - 1
                }
            };
            ids.push(SlotId {
                index,
                epoch: self.slots[index].epoch,
            });
        }
        ids
    }

    /// The part owning `ids` let them go: nothing more is owed on them, what they owe is still
    /// settled, and each is freed once it owes nothing.
    pub(crate) fn release(&mut self, ids: &[SlotId]) {
        for id in ids {
            if let Some(s) = self.slots.get_mut(id.index).filter(|s| s.epoch == id.epoch) {
                s.released = true;
                free_if_settled(s);
            }
        }
    }

    /// Whether any of `ids` (still in that use) owes something.
    pub(crate) fn owes(&self, ids: &[SlotId]) -> bool {
        ids.iter().any(|id| {
            self.slots
                .get(id.index)
                .is_some_and(|s| s.epoch == id.epoch && !s.owed.is_empty())
        })
    }

    /// A message `pkid` (QoS 1 or 2) arrived; returns its id. It is being routed until
    /// [`AckQueue::routed`].
    pub(crate) fn begin(&mut self, pkid: u16, qos: QoS) -> u64 {
        self.pending.push_back(Pending {
            pkid,
            qos,
            owed: 0,
            routing: true,
        });
        self.first + self.pending.len() as u64 - 1
    }

    /// Message `id` put a value at position `pos` into link `link`'s record.
    pub(crate) fn owe(&mut self, id: u64, link: usize, pos: u64) {
        if self
            .slots
            .get(link)
            .is_none_or(|s| s.link.is_none() || s.released)
        {
            return;
        }
        let Some(p) = self.entry(id) else {
            return;
        };
        p.owed += 1;
        self.slots[link].owed.push_back((id, pos));
    }

    /// Message `id` has been routed to every link it goes to.
    pub(crate) fn routed(&mut self, id: u64) {
        if let Some(p) = self.entry(id) {
            p.routing = false;
        }
    }

    fn entry(&mut self, id: u64) -> Option<&mut Pending> {
        let i = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.pending.get_mut(i)
    }

    /// Settles the obligations that each link's record has accepted (`watermark(link)`);
    /// returns whether a released slot was freed (its part owes nothing more).
    pub(crate) fn settle(&mut self, watermark: impl Fn(&A) -> u64) -> bool {
        let mut freed = false;
        for i in 0..self.slots.len() {
            let Some(link) = &self.slots[i].link else {
                continue;
            };
            if self.slots[i].owed.is_empty() {
                continue;
            }
            let w = watermark(link);
            while let Some(&(id, pos)) = self.slots[i].owed.front() {
                if pos > w {
                    break;
                }
                self.slots[i].owed.pop_front();
                if let Some(p) = self.entry(id) {
                    p.owed = p.owed.saturating_sub(1);
                }
            }
            freed |= free_if_settled(&mut self.slots[i]);
        }
        freed
    }

    /// The oldest message, if it may be acknowledged now: `(pkid, qos)`.
    pub(crate) fn ready(&self) -> Option<(u16, QoS)> {
        self.pending
            .front()
            .filter(|p| !p.routing && p.owed == 0)
            .map(|p| (p.pkid, p.qos))
    }

    /// The oldest message was acknowledged.
    pub(crate) fn pop(&mut self) {
        if self.pending.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// Forgets every message (the connection is gone: its packet ids mean nothing on the next
    /// one; a persistent session's broker sends what it did not get acknowledged again).
    pub(crate) fn clear(&mut self) {
        self.first += self.pending.len() as u64;
        self.pending.clear();
        for s in &mut self.slots {
            s.owed.clear();
            free_if_settled(s);
        }
    }

    /// Messages not yet acknowledged.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether every message is acknowledged.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Frees `s` if it is released and owes nothing; returns whether it was freed now.
fn free_if_settled<A>(s: &mut Slot<A>) -> bool {
    if s.released && s.owed.is_empty() && s.link.is_some() {
        s.link = None;
        s.released = false;
        s.epoch += 1;
        return true;
    }
    false
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
    fn a_released_part_keeps_what_its_links_still_owe() {
        let mut q = AckQueue::new(2);
        let old = q.bind([]); // nothing: the first part's slots are 0 and 1 from `new`
        assert!(old.is_empty());
        let first = [SlotId { index: 0, epoch: 0 }, SlotId { index: 1, epoch: 0 }];
        let a = q.begin(1, QoS::AtLeastOnce);
        q.owe(a, 0, 3);
        q.routed(a);
        // A reload rebinds that part: its slots are released, the new part's link bound.
        q.release(&first);
        assert!(q.owes(&first), "slot 0 still owes a");
        let new = q.bind([10]);
        assert_eq!(new[0].index, 1, "slot 1 owed nothing: freed and reused");
        assert!(!q.owes(&first[1..]), "a reused slot is not the old link");
        let b = q.begin(2, QoS::AtLeastOnce);
        q.owe(b, new[0].index, 1);
        q.owe(b, 0, 9); // a released slot takes no new obligations
        q.routed(b);
        q.settle(|&l| if l == 10 { 1 } else { 2 });
        assert!(
            drain(&mut q).is_empty(),
            "a waits for old slot 0, b waits for a"
        );
        assert!(q.settle(|&l| if l == 10 { 1 } else { 3 }), "slot 0 freed");
        assert_eq!(
            drain(&mut q),
            vec![1, 2],
            "in the order received, across the parts"
        );
        assert!(!q.owes(&first));
        assert_eq!(q.bind([11])[0].index, 0, "the freed slot is reused");
    }

    #[test]
    fn parts_bound_side_by_side_keep_their_numbers() {
        let mut q: AckQueue<usize> = AckQueue::default();
        let p1 = q.bind([1, 2]);
        let p2 = q.bind([3]);
        q.release(&p1);
        let p3 = q.bind([4, 5, 6]);
        assert_eq!(p2[0].index, 2, "an unchanged part keeps its number");
        let mut used: Vec<_> = p3.iter().map(|s| s.index).collect();
        used.sort_unstable();
        assert_eq!(used, vec![0, 1, 3]);
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
