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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::Acceptor;
use parking_lot::Mutex;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{watch, Notify};

use super::metrics::LinkMetrics;
use super::outbox::{DiskOutbox, OutboxQueue, Pushed};
use super::ratelimit::LogLimit;
use crate::config::OutboxFull;

/// One outbound link as the publisher sees it.
#[derive(Debug)]
pub struct OutLink {
    /// The record's key.
    pub record: Arc<str>,
    /// The topic published to (templates expanded).
    pub topic: String,
    /// Its QoS.
    pub qos: QoS,
    /// Retained publishes.
    pub retain: bool,
    /// What its outbox does when full.
    pub full: OutboxFull,
    /// Its hold on its record (QoS ≥ 1 links): a value is accepted once it is in the outbox
    /// (memory) or committed (disk); see `aimdb_core::accept`.
    pub acceptor: Option<Acceptor>,
    /// Its counters.
    pub metrics: Arc<LinkMetrics>,
}

struct Slot {
    link: OutLink,
    queue: OutboxQueue,
    open: bool,
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
    awaiting: VecDeque<Tag>,
    inflight: HashMap<u16, Tag>,
    next: usize,
    disk: Option<DiskOutbox>,
}

/// Shared by the session, the outbound link tasks and the shutdown task.
pub struct Publisher {
    state: Mutex<State>,
    changed: Notify,
    /// Notified when values leave an outbox (room for blocked links).
    room: Notify,
    ready: watch::Sender<bool>,
    max_packet: usize,
    too_large: LogLimit,
}

impl Publisher {
    /// A publisher for `links`, each with an outbox of `capacity` values and `max_bytes` bytes.
    pub fn new(links: Vec<OutLink>, capacity: usize, max_bytes: usize, max_packet: usize) -> Self {
        let slots = links
            .into_iter()
            .map(|link| {
                link.metrics
                    .outbox_capacity
                    .store(capacity as u64, Ordering::Relaxed);
                link.metrics.outbox_depth.store(0, Ordering::Relaxed);
                Slot {
                    queue: OutboxQueue::new(capacity, max_bytes, link.full),
                    link,
                    open: true,
                }
            })
            .collect();
        Self {
            state: Mutex::new(State {
                grown: false,
                client: None,
                connected: false,
                closing: false,
                slots,
                awaiting: VecDeque::new(),
                inflight: HashMap::new(),
                next: 0,
                disk: None,
            }),
            changed: Notify::new(),
            room: Notify::new(),
            ready: watch::channel(false).0,
            max_packet,
            too_large: LogLimit::new(Duration::from_secs(10)),
        }
    }

    /// `(record, topic)` of each link, in link order (the disk outbox's names).
    pub fn link_names(&self) -> Vec<(String, String)> {
        self.state
            .lock()
            .slots
            .iter()
            .map(|s| (s.link.record.to_string(), s.link.topic.clone()))
            .collect()
    }

    /// Each link's hold on its record, in link order (for the disk outbox, which accepts what
    /// it committed).
    pub fn acceptors(&self) -> Vec<Option<Acceptor>> {
        self.state
            .lock()
            .slots
            .iter()
            .map(|s| s.link.acceptor.clone())
            .collect()
    }

    /// Whether link `link`'s outbox may take a value without dropping one.
    pub fn has_room(&self, link: usize) -> bool {
        self.state
            .lock()
            .slots
            .get(link)
            .is_none_or(|s| s.queue.has_room())
    }

    /// Waits until link `link`'s outbox has room (`outbox_full = "block"`). Cancel-safe.
    pub async fn wait_room(&self, link: usize) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room(link) {
                return;
            }
            notified.await;
        }
    }

    /// Link `link` skipped the value at record position `pos` (it could not be encoded): it
    /// is accepted, as nothing will ever deliver it.
    pub fn skip(&self, link: usize, pos: u64) {
        if let Some(a) = self
            .state
            .lock()
            .slots
            .get(link)
            .and_then(|s| s.link.acceptor.as_ref())
        {
            a.accept(pos);
        }
    }

    /// Refills the queues with values kept on disk and keeps the disk copy up to date from now
    /// on. Call before [`Publisher::set_ready`].
    pub fn restore(&self, kept: Vec<Vec<(u64, Vec<u8>)>>, disk: DiskOutbox) {
        let mut st = self.state.lock();
        for (i, values) in kept.into_iter().enumerate() {
            let Some(slot) = st.slots.get_mut(i) else {
                break;
            };
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
            set_depth(slot);
            for seq in dropped {
                disk.delete(i, seq);
            }
        }
        st.disk = Some(disk);
    }

    /// Links may push from now on.
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }

    /// Waits until [`Publisher::set_ready`].
    pub async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// The client to send through, once the session has one.
    pub fn set_client(&self, client: AsyncClient) {
        self.state.lock().client = Some(client);
    }

    /// Takes one encoded value of link `link`, from record position `pos`. Never blocks: the
    /// value is queued (dropping per `outbox_full` at capacity; a blocking link waits for
    /// [`Publisher::wait_room`] first) and sent at once if the session is connected. The value
    /// is accepted upstream now (memory outbox), once committed (disk), or now if dropped.
    pub fn push(&self, link: usize, payload: &[u8], pos: u64) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let Some(slot) = st.slots.get_mut(link) else {
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
        let on_disk = match slot.queue.push(payload.to_vec()) {
            Pushed::Held(seq) => st.disk.as_ref().map(|d| d.insert(link, seq, payload, pos)),
            Pushed::HeldDroppingOldest { seq, dropped } => {
                slot.link
                    .metrics
                    .outbox_dropped
                    .fetch_add(dropped.len() as u64, Ordering::Relaxed);
                st.disk.as_ref().map(|d| {
                    d.insert(link, seq, payload, pos);
                    for old in dropped {
                        d.delete(link, old);
                    }
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
        if on_disk.is_none() {
            if let Some(a) = &slot.link.acceptor {
                a.accept(pos);
            }
        }
        st.grown |= slot.queue.bytes() > TRIM_AFTER;
        set_depth(slot);
        pump(st);
    }

    /// Link `link` ended (its record closed).
    pub fn link_closed(&self, link: usize) {
        if let Some(slot) = self.state.lock().slots.get_mut(link) {
            slot.open = false;
        }
        self.changed.notify_one();
    }

    /// The broker accepted the connection: subscribe to `filters`, publish `birth` (topic,
    /// payload; retained, QoS 1), then send everything unacknowledged, oldest first.
    pub fn connected(&self, filters: &[(String, QoS)], birth: (&str, &str)) {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.awaiting.clear();
        st.inflight.clear();
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
        if client
            .try_publish(birth.0, QoS::AtLeastOnce, true, birth.1.as_bytes())
            .is_ok()
        {
            st.awaiting.push_back(None);
        }
        st.connected = true;
        pump(st);
    }

    /// The connection is gone: stop sending; everything unacknowledged will be sent again.
    pub fn disconnected(&self) {
        let mut st = self.state.lock();
        st.connected = false;
        st.awaiting.clear();
        st.inflight.clear();
        for slot in &mut st.slots {
            slot.queue.rewind();
        }
    }

    /// rumqttc wrote the oldest handed-over publish with packet id `pkid` (0: QoS 0, done).
    pub fn written(&self, pkid: u16) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let Some(tag) = st.awaiting.pop_front() else {
            return;
        };
        if pkid == 0 {
            delivered(st, tag);
            self.changed.notify_one();
            self.room.notify_waiters();
        } else {
            st.inflight.insert(pkid, tag);
        }
        pump(st);
    }

    /// The broker acknowledged packet `pkid` (PUBACK for QoS 1, PUBCOMP for QoS 2).
    pub fn acked(&self, pkid: u16) {
        let mut st = self.state.lock();
        let st = &mut *st;
        if let Some(tag) = st.inflight.remove(&pkid) {
            delivered(st, tag);
        }
        pump(st);
        self.changed.notify_one();
        self.room.notify_waiters();
    }

    /// Whether shutdown may proceed: every link ended and every QoS ≥ 1 value is acknowledged
    /// (QoS 0 values too, while connected).
    pub fn drained(&self) -> bool {
        let st = self.state.lock();
        st.slots.iter().all(|s| {
            !s.open && (s.queue.is_empty() || (s.link.qos == QoS::AtMostOnce && !st.connected))
        })
    }

    /// Waits for a change that may make [`Publisher::drained`] true.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Stops sending. If connected, publishes `offline` (retained, QoS 1) and a DISCONNECT;
    /// returns whether it did.
    pub fn close(&self, offline: (&str, &str)) -> bool {
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
            st.awaiting.push_back(None);
        }
        sent
    }

    /// Whether [`Publisher::close`] was called.
    pub fn closing(&self) -> bool {
        self.state.lock().closing
    }

    /// Values still held, over all links.
    pub fn held(&self) -> usize {
        self.state.lock().slots.iter().map(|s| s.queue.len()).sum()
    }

    /// Takes the disk outbox (to close it at the end of the session).
    pub fn take_disk(&self) -> Option<DiskOutbox> {
        self.state.lock().disk.take()
    }
}

/// Outbox bytes past which, once every outbox is empty again, freed memory is handed back to
/// the OS (glibc keeps freed heap otherwise, and RSS stays at its outage peak).
const TRIM_AFTER: usize = 4 << 20;

/// Hands freed heap back to the OS, off the async workers.
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
    let gone = slot.queue.ack(seq);
    slot.link
        .metrics
        .messages
        .fetch_add(gone.len() as u64, Ordering::Relaxed);
    set_depth(slot);
    if st.grown && st.slots.iter().all(|s| s.queue.is_empty()) {
        st.grown = false;
        give_back_memory();
    }
    if let Some(d) = &st.disk {
        for seq in gone {
            d.delete(link, seq);
        }
    }
}

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
        let Some(held) = slot.queue.next_unsent() else {
            idle += 1;
            continue;
        };
        idle = 0;
        let seq = held.seq;
        let sent = client.try_publish(
            slot.link.topic.as_str(),
            slot.link.qos,
            slot.link.retain,
            held.payload.clone(),
        );
        match sent {
            Ok(()) => st.awaiting.push_back(Some((i, seq))),
            Err(_) => {
                slot.queue.unsend_last();
                st.next = i;
                return;
            }
        }
    }
}
