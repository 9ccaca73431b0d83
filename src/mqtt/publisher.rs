//! [`Publisher`]: hands outbox values to the MQTT client in order and matches the broker's
//! acknowledgements back to them.
//!
//! rumqttc assigns packet ids itself, inside its event loop. It takes publish requests from its
//! channel in order and reports each as `Outgoing::Publish(pkid)` when written (pkid 0 for
//! QoS 0), so the publisher keeps the values it handed over in a FIFO (`awaiting`) and pairs
//! each report with the oldest entry; the pkid then maps to the value until its PUBACK (QoS 1)
//! or PUBCOMP (QoS 2). Every send happens under the publisher's lock, so the FIFO order is the
//! channel order. Sends use `try_publish` only: a full channel just stops sending until the
//! event loop (always polled by the session) frees room — nothing here ever waits on rumqttc.
//!
//! After a disconnect the session drains the channel into rumqttc's pending list and clears it
//! (rumqttc would otherwise replay it with ids the publisher does not know); the queues rewind
//! and everything unacknowledged is sent again after the reconnect, oldest first.
//!
//! The publisher outlives graphs (a reload keeps the session): each graph's links are bound
//! with [`Publisher::attach`], which gives a link the slot — the outbox — of the earlier link
//! with the same record and topic, so what it held is still sent, in order, and new values
//! queue behind it. A slot whose link is gone keeps sending what it holds. Every call names its
//! slot with a [`SlotRef`]; calls from a graph that no longer owns the slot (one whose drain
//! timed out) are ignored.
//!
//! Metrics, without allocating per message: each handed-over publish carries its packet size
//! (counted in `aimdbd_mqtt_sent_bytes_total` when written), and each inflight link value the
//! time it was written (observed in `aimdbd_mqtt_publish_ack_duration_seconds` at its ack).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_core::Acceptor;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::Notify;

use super::metrics::{LinkMetrics, MqttMetrics};
use super::outbox::{DiskOutbox, OutboxQueue, Pushed, Registered};
use super::ratelimit::LogLimit;
use crate::mqtt::config::OutboxFull;

/// One outbound link as the publisher sees it.
#[derive(Debug)]
pub(crate) struct OutLink {
    /// The record's key.
    pub(crate) record: Arc<str>,
    /// The topic published to (templates expanded).
    pub(crate) topic: String,
    /// Its QoS.
    pub(crate) qos: QoS,
    /// Retained publishes.
    pub(crate) retain: bool,
    /// What its outbox does when full.
    pub(crate) full: OutboxFull,
    /// Its hold on its record (QoS ≥ 1 links): a value is accepted once it is in the outbox
    /// (memory) or committed (disk); see `aimdb_core::accept`.
    pub(crate) acceptor: Option<Acceptor>,
    /// Its counters.
    pub(crate) metrics: Arc<LinkMetrics>,
}

struct Slot {
    link: OutLink,
    queue: OutboxQueue,
    open: bool,
    /// The attachment (graph) that feeds it now.
    owner: u64,
    /// Its row id in the disk outbox, if there is one.
    disk_id: Option<i64>,
}

/// A link's slot, as the graph that feeds it names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotRef {
    /// The slot's index.
    pub(crate) index: usize,
    /// The attachment that owns it.
    pub(crate) owner: u64,
}

/// A value handed to the client: `(link, seq)`, or `None` for the session's own status messages.
type Tag = Option<(usize, u64)>;

struct State {
    /// Whether an outbox held more than [`TRIM_AFTER`] bytes since memory was last given back.
    grown: bool,
    client: Option<AsyncClient>,
    connected: bool,
    closing: bool,
    slots: Vec<Slot>,
    /// Handed to the client, not written yet: the tag and the PUBLISH packet's size.
    awaiting: VecDeque<(Tag, u32)>,
    /// Written, not acknowledged yet: the tag and when it was written.
    inflight: HashMap<u16, (Tag, Instant)>,
    /// QoS 2 values handed over and not yet complete (PUBCOMP), at most [`QOS2_INFLIGHT`].
    qos2_out: usize,
    next: usize,
    disk: Option<DiskOutbox>,
    /// Attachments so far.
    owners: u64,
    capacity: usize,
    max_bytes: usize,
}

/// Shared by the session, the outbound link tasks and the shutdown task.
pub(crate) struct Publisher {
    state: Mutex<State>,
    changed: Notify,
    /// Notified when values leave an outbox or the disk writer's queue (room for blocked
    /// links).
    room: Arc<Notify>,
    max_packet: usize,
    too_large: LogLimit,
    /// Outbox drops at the bound (`outbox_full = "drop_*"`), logged at most every 10 s.
    dropped_log: LogLimit,
    /// Values the disk writer had no room for, logged at most every 10 s.
    disk_skipped_log: LogLimit,
    /// The bridge's counters.
    metrics: Arc<MqttMetrics>,
}

impl Publisher {
    /// A publisher with no links yet; each will have an outbox of `capacity` values and
    /// `max_bytes` bytes. It counts into `metrics`.
    pub(crate) fn new(
        capacity: usize,
        max_bytes: usize,
        max_packet: usize,
        metrics: Arc<MqttMetrics>,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                grown: false,
                client: None,
                connected: false,
                closing: false,
                slots: Vec::new(),
                awaiting: VecDeque::new(),
                inflight: HashMap::new(),
                qos2_out: 0,
                next: 0,
                disk: None,
                owners: 0,
                capacity,
                max_bytes,
            }),
            changed: Notify::new(),
            room: Arc::new(Notify::new()),
            max_packet,
            too_large: LogLimit::new(Duration::from_secs(10)),
            dropped_log: LogLimit::new(Duration::from_secs(10)),
            disk_skipped_log: LogLimit::new(Duration::from_secs(10)),
            metrics,
        }
    }

    /// What the disk outbox notifies when its writer's queue shrinks (see
    /// [`super::outbox::DiskOutbox::open`]): blocked links wait on it.
    pub(crate) fn room(&self) -> Arc<Notify> {
        self.room.clone()
    }

    /// Keeps a disk copy of every outbox from now on (before the first [`Publisher::attach`]).
    pub(crate) fn set_disk(&self, disk: DiskOutbox) {
        self.state.lock().disk = Some(disk);
    }

    /// Asks the disk outbox (if any) to register those of `links` that have no slot yet;
    /// resolves with their row ids and kept values, in that order, for [`Publisher::attach`].
    pub(crate) async fn register_new(&self, links: &[OutLink]) -> Registered {
        let asked = {
            let st = self.state.lock();
            let Some(disk) = &st.disk else {
                return Registered::default();
            };
            let names: Vec<_> = links
                .iter()
                .filter(|l| find_slot(&st.slots, l).is_none())
                .map(|l| (l.record.to_string(), l.topic.clone()))
                .collect();
            if names.is_empty() {
                return Registered::default();
            }
            disk.register(names)
        };
        match asked.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::error!("{e}; their outbound values are kept in memory only");
                Registered::default()
            }
            Err(_) => {
                tracing::error!("the disk outbox thread ended; values are kept in memory only");
                Registered::default()
            }
        }
    }

    /// Binds the `links` of a starting part of the graph: each takes the slot of the earlier
    /// link with the same record and topic (its outbox and what it holds), or a new slot,
    /// filled with what the disk kept for it (`registered`, from [`Publisher::register_new`]
    /// with the same links). Returns each link's slot; their [`SlotRef::owner`] names this
    /// attachment for [`Publisher::retire`].
    pub(crate) fn attach(&self, links: Vec<OutLink>, registered: Registered) -> Vec<SlotRef> {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.owners += 1;
        let owner = st.owners;
        let mut kept = registered.links.into_iter();
        let mut refs = Vec::with_capacity(links.len());
        for link in links {
            link.metrics
                .outbox_capacity
                .store(st.capacity as u64, Ordering::Relaxed);
            let index = match find_slot(&st.slots, &link) {
                Some(i) => {
                    let slot = &mut st.slots[i];
                    slot.queue.set_policy(link.full);
                    slot.link = link;
                    i
                }
                None => {
                    let mut slot = Slot {
                        queue: OutboxQueue::new(st.capacity, st.max_bytes, link.full),
                        link,
                        open: true,
                        owner,
                        disk_id: None,
                    };
                    if st.disk.is_some() {
                        if let Some((id, values)) = kept.next() {
                            slot.disk_id = Some(id);
                            restore(&mut slot, values, st.disk.as_ref());
                        }
                    }
                    st.slots.push(slot);
                    st.slots.len() - 1
                }
            };
            let slot = &mut st.slots[index];
            slot.open = true;
            slot.owner = owner;
            set_depth(slot);
            refs.push(SlotRef { index, owner });
        }
        if registered.orphans > 0 {
            tracing::warn!(
                values = registered.orphans,
                "disk outbox holds values of links that are not configured now; they are kept"
            );
        }
        pump(st);
        refs
    }

    /// The slot `at` names, if its graph still owns it.
    fn slot(st: &mut State, at: SlotRef) -> Option<&mut Slot> {
        st.slots.get_mut(at.index).filter(|s| s.owner == at.owner)
    }

    /// Whether the slot's outbox may take a value without dropping one.
    pub(crate) fn has_room(&self, at: SlotRef) -> bool {
        let mut st = self.state.lock();
        let disk_room = st.disk.as_ref().is_none_or(DiskOutbox::has_room);
        Self::slot(&mut st, at)
            .is_none_or(|s| s.queue.has_room() && (disk_room || s.disk_id.is_none()))
    }

    /// Waits until the slot's outbox has room (`outbox_full = "block"`). Cancel-safe.
    pub(crate) async fn wait_room(&self, at: SlotRef) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room(at) {
                return;
            }
            notified.await;
        }
    }

    /// The slot's link skipped the value at record position `pos` (it could not be encoded):
    /// it is accepted, as nothing will ever deliver it.
    pub(crate) fn skip(&self, at: SlotRef, pos: u64) {
        if let Some(a) =
            Self::slot(&mut self.state.lock(), at).and_then(|s| s.link.acceptor.as_ref())
        {
            a.accept(pos);
        }
    }

    /// The client to send through, once the session has one.
    pub(crate) fn set_client(&self, client: AsyncClient) {
        self.state.lock().client = Some(client);
    }

    /// Takes one encoded value for the slot, from record position `pos`. Never blocks: the
    /// value is queued (dropping per `outbox_full` at capacity; a blocking link waits for
    /// [`Publisher::wait_room`] first, which includes room in the disk writer's queue) and sent
    /// at once if the session is connected. The value is accepted upstream now (memory outbox),
    /// once committed (disk), or now if dropped or if the disk writer had no room for it (a
    /// `drop_*` link: kept in memory only, counted).
    pub(crate) fn push(&self, at: SlotRef, payload: &[u8], pos: u64) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let Some(slot) = st.slots.get_mut(at.index).filter(|s| s.owner == at.owner) else {
            return;
        };
        if payload.len() > self.max_packet {
            slot.link.metrics.errors.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = self.too_large.allow() {
                tracing::warn!(
                    record = %slot.link.record,
                    topic = %slot.link.topic,
                    bytes = payload.len(),
                    max_packet_size = self.max_packet,
                    suppressed,
                    "outbound value larger than max_packet_size: dropped"
                );
            }
            if let Some(a) = &slot.link.acceptor {
                a.accept(pos);
            }
            return;
        }
        let disk = st.disk.as_ref().zip(slot.disk_id);
        let acceptor = &slot.link.acceptor;
        // A blocking link waited for room in the writer's queue (see `has_room`).
        let waited = slot.link.full == OutboxFull::Block;
        let pushed = slot.queue.push(payload.to_vec());
        let dropped = match &pushed {
            Pushed::HeldDroppingOldest { dropped, .. } => dropped.len(),
            Pushed::DroppedNewest => 1,
            Pushed::Held(_) => 0,
        };
        if dropped > 0 {
            if let Some(suppressed) = self.dropped_log.allow() {
                tracing::warn!(
                    record = %slot.link.record,
                    topic = %slot.link.topic,
                    dropped,
                    policy = ?slot.link.full,
                    held = slot.queue.len(),
                    bytes = slot.queue.bytes(),
                    suppressed,
                    "outbox full: values dropped (see aimdbd_mqtt_outbox_dropped_total; raise outbox_capacity / outbox_max_bytes, or use outbox_full = \"block\" where the writer can wait)"
                );
            }
        }
        let on_disk = match pushed {
            Pushed::Held(seq) => {
                disk.map(|(d, id)| d.insert(id, seq, payload, pos, acceptor.clone(), waited))
            }
            Pushed::HeldDroppingOldest { seq, dropped } => {
                slot.link
                    .metrics
                    .outbox_dropped
                    .fetch_add(dropped.len() as u64, Ordering::Relaxed);
                disk.map(|(d, id)| {
                    let queued = d.insert(id, seq, payload, pos, acceptor.clone(), waited);
                    for old in dropped {
                        d.delete(id, old);
                    }
                    queued
                })
            }
            Pushed::DroppedNewest => {
                slot.link
                    .metrics
                    .outbox_dropped
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        if on_disk == Some(false) {
            self.metrics.disk_skipped.fetch_add(1, Ordering::Relaxed);
            if let Some(suppressed) = self.disk_skipped_log.allow() {
                tracing::warn!(
                    record = %slot.link.record,
                    topic = %slot.link.topic,
                    policy = ?slot.link.full,
                    suppressed,
                    "disk outbox writer behind: a value is kept in memory only, lost if the daemon stops before it is sent (see aimdbd_mqtt_outbox_disk_skipped_total; outbox_full = \"block\" waits for the writer instead)"
                );
            }
        }
        if on_disk != Some(true) {
            if let Some(a) = &slot.link.acceptor {
                a.accept(pos);
            }
        }
        st.grown |= slot.queue.bytes() > TRIM_AFTER;
        set_depth(slot);
        pump(st);
    }

    /// The part of the graph that attached as `owner` drained (or was abandoned): the slots it
    /// still feeds stop being fed and send what they hold; their holds go with that part.
    pub(crate) fn retire(&self, owner: u64) {
        let mut st = self.state.lock();
        for slot in st.slots.iter_mut().filter(|s| s.owner == owner) {
            slot.open = false;
            slot.link.acceptor = None;
        }
        drop(st);
        self.changed.notify_one();
    }

    /// The slot's link ended (its record closed).
    pub(crate) fn link_closed(&self, at: SlotRef) {
        if let Some(slot) = Self::slot(&mut self.state.lock(), at) {
            slot.open = false;
        }
        self.changed.notify_one();
    }

    /// The broker accepted the connection: subscribe to `filters`, publish `births` (topic,
    /// payload; retained, QoS 1: the status `online` and the schema announcement), then send
    /// everything unacknowledged, oldest first.
    pub(crate) fn connected(&self, filters: &[(String, QoS)], births: &[(&str, &[u8])]) {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.awaiting.clear();
        st.inflight.clear();
        st.qos2_out = 0;
        for slot in &mut st.slots {
            slot.queue.rewind();
        }
        let Some(client) = &st.client else {
            return;
        };
        if !filters.is_empty() {
            if let Err(e) = client.try_subscribe_many(
                filters
                    .iter()
                    .map(|(f, q)| rumqttc::SubscribeFilter::new(f.clone(), *q)),
            ) {
                tracing::error!("cannot subscribe: {e}");
            }
        }
        for (topic, payload) in births {
            if client
                .try_publish(*topic, QoS::AtLeastOnce, true, payload.to_vec())
                .is_ok()
            {
                st.awaiting.push_back((
                    None,
                    publish_size(topic.len(), payload.len(), QoS::AtLeastOnce),
                ));
            }
        }
        st.connected = true;
        pump(st);
    }

    /// The connection is gone: stop sending; everything unacknowledged will be sent again.
    pub(crate) fn disconnected(&self) {
        let mut st = self.state.lock();
        st.connected = false;
        st.awaiting.clear();
        st.inflight.clear();
        st.qos2_out = 0;
        for slot in &mut st.slots {
            slot.queue.rewind();
        }
    }

    /// rumqttc wrote the oldest handed-over publish with packet id `pkid` (0: QoS 0, done).
    pub(crate) fn written(&self, pkid: u16) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let Some((tag, size)) = st.awaiting.pop_front() else {
            return;
        };
        self.metrics
            .sent_bytes
            .fetch_add(u64::from(size), Ordering::Relaxed);
        if pkid == 0 {
            delivered(st, tag);
            self.changed.notify_one();
            self.room.notify_waiters();
        } else {
            st.inflight.insert(pkid, (tag, Instant::now()));
        }
        pump(st);
    }

    /// The broker acknowledged packet `pkid` (PUBACK for QoS 1, PUBCOMP for QoS 2).
    pub(crate) fn acked(&self, pkid: u16) {
        let mut st = self.state.lock();
        let st = &mut *st;
        if let Some((tag, written)) = st.inflight.remove(&pkid) {
            if tag.is_some() {
                self.metrics.publish_ack.observe(written.elapsed());
            }
            delivered(st, tag);
        }
        pump(st);
        self.changed.notify_one();
        self.room.notify_waiters();
    }

    /// Whether shutdown may proceed: every link ended and every QoS ≥ 1 value is acknowledged
    /// (QoS 0 values too, while connected).
    pub(crate) fn drained(&self) -> bool {
        let st = self.state.lock();
        st.slots.iter().all(|s| {
            !s.open && (s.queue.is_empty() || (s.link.qos == QoS::AtMostOnce && !st.connected))
        })
    }

    /// Waits for a change that may make [`Publisher::drained`] true.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Stops sending. If connected, publishes `offline` (retained, QoS 1) and a DISCONNECT;
    /// returns whether it did.
    pub(crate) fn close(&self, offline: (&str, &str)) -> bool {
        let mut st = self.state.lock();
        st.closing = true;
        if !st.connected {
            return false;
        }
        let Some(client) = &st.client else {
            return false;
        };
        let sent = client
            .try_publish(offline.0, QoS::AtLeastOnce, true, offline.1.as_bytes())
            .is_ok()
            && client.try_disconnect().is_ok();
        if sent {
            st.awaiting.push_back((
                None,
                publish_size(offline.0.len(), offline.1.len(), QoS::AtLeastOnce),
            ));
        }
        sent
    }

    /// Whether [`Publisher::close`] was called.
    pub(crate) fn closing(&self) -> bool {
        self.state.lock().closing
    }

    /// Values still held, over all links.
    pub(crate) fn held(&self) -> usize {
        self.state.lock().slots.iter().map(|s| s.queue.len()).sum()
    }

    /// Logs each link's outbox counters (delivered, dropped at the bound, held now), e.g. at
    /// shutdown.
    pub(crate) fn log_stats(&self) {
        for s in &self.state.lock().slots {
            let m = &s.link.metrics;
            tracing::info!(
                record = %s.link.record,
                topic = %s.link.topic,
                delivered = m.messages.load(Ordering::Relaxed),
                dropped = m.outbox_dropped.load(Ordering::Relaxed),
                held = s.queue.len(),
                "outbox stats"
            );
        }
    }

    /// Takes the disk outbox (to close it at the end of the session).
    pub(crate) fn take_disk(&self) -> Option<DiskOutbox> {
        self.state.lock().disk.take()
    }
}

/// Outbox bytes past which, once every outbox is empty again, freed memory is handed back to
/// the OS (glibc keeps freed heap otherwise, and RSS stays at its outage peak).
const TRIM_AFTER: usize = 4 << 20;

/// Hands freed heap back to the OS, off the async workers.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn_blocking(|| {
            // SAFETY: malloc_trim takes no pointers; it only walks glibc's own free lists and
            // may be called from any thread at any time.
            unsafe {
                libc::malloc_trim(0);
            }
        });
    }
}

fn set_depth(slot: &Slot) {
    slot.link
        .metrics
        .outbox_depth
        .store(slot.queue.len() as u64, Ordering::Relaxed);
    slot.link
        .metrics
        .outbox_bytes
        .store(slot.queue.bytes() as u64, Ordering::Relaxed);
}

fn delivered(st: &mut State, tag: Tag) {
    let Some((link, seq)) = tag else {
        return;
    };
    let Some(slot) = st.slots.get_mut(link) else {
        return;
    };
    if slot.link.qos == QoS::ExactlyOnce {
        st.qos2_out = st.qos2_out.saturating_sub(1);
    }
    let gone = slot.queue.ack(seq);
    let disk_id = slot.disk_id;
    slot.link
        .metrics
        .messages
        .fetch_add(gone.len() as u64, Ordering::Relaxed);
    set_depth(slot);
    if st.grown && st.slots.iter().all(|s| s.queue.is_empty()) {
        st.grown = false;
        give_back_memory();
    }
    if let (Some(d), Some(id)) = (&st.disk, disk_id) {
        for seq in gone {
            d.delete(id, seq);
        }
    }
}

/// The slot of the link with `link`'s record and topic.
fn find_slot(slots: &[Slot], link: &OutLink) -> Option<usize> {
    slots
        .iter()
        .position(|s| s.link.record == link.record && s.link.topic == link.topic)
}

/// Refills a new slot with `values` the disk kept from earlier runs (those past its bounds are
/// dropped, counted, and deleted from the disk).
fn restore(slot: &mut Slot, values: Vec<(u64, Vec<u8>)>, disk: Option<&DiskOutbox>) {
    let n = values.len();
    let dropped = slot.queue.restore(values);
    if n > 0 {
        tracing::info!(
            record = %slot.link.record,
            topic = %slot.link.topic,
            values = n - dropped.len(),
            dropped = dropped.len(),
            "disk outbox: values kept from an earlier run will be sent"
        );
    }
    slot.link
        .metrics
        .outbox_dropped
        .fetch_add(dropped.len() as u64, Ordering::Relaxed);
    if let (Some(d), Some(id)) = (disk, slot.disk_id) {
        for seq in dropped {
            d.delete(id, seq);
        }
    }
}

/// QoS 2 values in flight at once (handed to the client, PUBCOMP not yet received).
///
/// A broker holds each QoS 2 message it receives until its PUBREL, and limits how many it
/// holds per client; past that limit an MQTT 3.1.1 broker cannot refuse one (Mosquitto answers
/// with a PUBREC that, without 5.0's reason codes, reads as success) and the message is
/// silently dropped. Mosquitto's default limit (`max_inflight_messages`) is 20: stay below it.
/// QoS 1 is not limited this way (the broker keeps nothing per message in flight).
pub(crate) const QOS2_INFLIGHT: usize = 16;

/// Hands unsent values to the client, round-robin over links, until the client's channel is
/// full or nothing is left. Never blocks.
fn pump(st: &mut State) {
    if !st.connected || st.closing {
        return;
    }
    let Some(client) = &st.client else {
        return;
    };
    let n = st.slots.len();
    if n == 0 {
        return;
    }
    let mut idle = 0;
    while idle < n {
        let i = st.next % n;
        st.next = (i + 1) % n;
        let slot = &mut st.slots[i];
        let qos2 = slot.link.qos == QoS::ExactlyOnce;
        if qos2 && st.qos2_out >= QOS2_INFLIGHT {
            idle += 1;
            continue;
        }
        let Some(held) = slot.queue.next_unsent() else {
            idle += 1;
            continue;
        };
        idle = 0;
        let seq = held.seq;
        let size = publish_size(slot.link.topic.len(), held.payload.len(), slot.link.qos);
        let sent = client.try_publish(
            slot.link.topic.as_str(),
            slot.link.qos,
            slot.link.retain,
            held.payload.clone(),
        );
        match sent {
            Ok(()) => {
                st.awaiting.push_back((Some((i, seq)), size));
                st.qos2_out += usize::from(qos2);
            }
            Err(_) => {
                slot.queue.unsend_last();
                st.next = i;
                return;
            }
        }
    }
}

/// Bytes of a PUBLISH packet with a `topic`-byte topic and a `payload`-byte payload (MQTT
/// 3.1.1 §3.3): fixed header (1 byte plus the 1–4 byte remaining length), the topic's length
/// prefix and bytes, the packet id at QoS ≥ 1, the payload. Saturates at `u32::MAX`.
fn publish_size(topic: usize, payload: usize, qos: QoS) -> u32 {
    let id = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let remaining = 2 + topic + id + payload;
    let len_len = match remaining {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    u32::try_from(1 + len_len + remaining).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(record: &str, full: OutboxFull) -> OutLink {
        OutLink {
            record: record.into(),
            topic: format!("out/{record}"),
            qos: QoS::AtLeastOnce,
            retain: false,
            full,
            acceptor: None,
            metrics: Arc::default(),
        }
    }

    /// The disk writer's bound, seen through the publisher: a `drop_*` link's value past it is
    /// kept in memory only and counted; a blocking link waits for room until the writer
    /// commits; every value the writer took is on disk.
    #[test]
    fn a_full_disk_writer_holds_blocking_links_back_and_counts_what_others_skip() {
        use super::super::outbox::DISK_QUEUE;
        let dir = std::env::temp_dir().join(format!("aimdbd-pub-disk-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("outbox.db");
        let _ = std::fs::remove_file(&path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let metrics = Arc::new(MqttMetrics::default());
        let publisher = Publisher::new(4 * DISK_QUEUE, 1 << 30, 1 << 20, metrics.clone());
        let disk = DiskOutbox::open(path.clone(), 1 << 30, metrics.clone(), publisher.room())
            .blocking_recv()
            .unwrap()
            .unwrap();
        publisher.set_disk(disk);
        let links = vec![
            link("blocking", OutboxFull::Block),
            link("dropping", OutboxFull::DropNewest),
        ];
        let registered = rt.block_on(publisher.register_new(&links));
        let slots = publisher.attach(links, registered);
        let (blocking, dropping) = (slots[0], slots[1]);
        // Another connection holds the write lock: the writer commits nothing until released.
        let blocker = rusqlite::Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE;").unwrap();
        for pos in 0..=DISK_QUEUE as u64 {
            publisher.push(dropping, b"v", pos);
        }
        assert_eq!(
            metrics.disk_skipped.load(Ordering::Relaxed),
            1,
            "the value past the bound is kept in memory only"
        );
        assert!(!publisher.has_room(blocking), "the blocking link must wait");
        let wait = |d: Duration| {
            rt.block_on(async { tokio::time::timeout(d, publisher.wait_room(blocking)).await })
        };
        assert!(
            wait(Duration::from_millis(200)).is_err(),
            "no room while the writer is stuck"
        );
        blocker.execute_batch("COMMIT;").unwrap();
        wait(Duration::from_secs(10)).expect("room once the writer committed");
        publisher.push(blocking, b"b", 0);
        let disk = publisher.take_disk().expect("the disk outbox");
        rt.block_on(disk.close());
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, i64::try_from(DISK_QUEUE).unwrap() + 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn publish_size_matches_rumqttc_encoding() {
        for (topic, payload) in [(1, 0), (10, 100), (20, 16_000), (30, 300_000)] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let mut p = rumqttc::Publish::new("t".repeat(topic), qos, vec![0u8; payload]);
                if qos != QoS::AtMostOnce {
                    p.pkid = 1;
                }
                assert_eq!(
                    publish_size(topic, payload, qos) as usize,
                    p.size(),
                    "{topic}/{payload}/{qos:?}"
                );
            }
        }
    }
}
