//! [`Router`]: delivers each received MQTT message to every inbound link whose filter matches
//! its topic, and acknowledges QoS ≥ 1 messages only once their values are safe downstream.
//!
//! Contract:
//! - Routing never blocks (decoding and producing into a record are synchronous and bounded).
//! - **Acknowledge after acceptance** (manual acks): a QoS ≥ 1 message is acknowledged, in the
//!   order received, once every value it became has been taken by every durable reader
//!   downstream — a QoS ≥ 1 outbox (committed, for `outbox = "disk"`) or a `persist = true`
//!   store — through any transforms (see [`super::acks`] and `aimdb_core::accept`). Until then
//!   the broker holds it and, once its inflight window is full, sends no more.
//! - **Backpressure instead of loss**: a QoS ≥ 1 message whose link has no room (a ring with a
//!   durable reader behind it would overwrite a value that reader has not accepted) waits here,
//!   unacknowledged, with every QoS ≥ 1 message after it (order is kept); the link is marked
//!   paused (`aimdbd_mqtt_inbound_paused`). QoS 0 messages are never held: they cannot be
//!   redelivered, so they take the buffer's drop contract.
//! - A message that no filter matches, that is larger than `max_packet_size`, or whose payload
//!   a link cannot decode is dropped and counted (`aimdbd_mqtt_bad_input_total{reason}`, and per
//!   link), logged with its topic and the reason — at most one line per reason every 10
//!   seconds, with the number of lines suppressed — and acknowledged (redelivering it would not
//!   help). A message several filters match reaches each of their links; one link failing to
//!   decode does not stop the others.
//! - After a disconnect, nothing of the old connection is acknowledged; with a persistent
//!   session the broker redelivers it (messages that were waiting for room are dropped here,
//!   since they come again). At shutdown ([`Router::close`]) waiting messages are left to the
//!   broker and values already routed are still acknowledged as they are accepted.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Acceptance, InboundLink, ProgressWatch};
use aimdb_records::topic;
use parking_lot::{Mutex, RwLock};
use rumqttc::{AsyncClient, Publish, QoS};

use super::acks::AckQueue;
use super::metrics::{metrics, BadInput, LinkMetrics};
use super::ratelimit::LogLimit;

/// One inbound link's subscription.
pub struct Route {
    /// The MQTT filter (templates expanded).
    pub filter: String,
    /// The link's counters.
    pub metrics: Arc<LinkMetrics>,
}

/// What the router keeps between messages; touched by the session task (and `close`).
struct Flow {
    acks: AckQueue,
    /// QoS ≥ 1 messages waiting for room, with their ack ids, in the order received.
    waiting: VecDeque<(Publish, u64)>,
    client: Option<AsyncClient>,
    /// An acknowledgement was due but the client's queue was full: retry at the next event.
    ack_blocked: bool,
    /// Whether each link is paused now (mirrors its `paused` gauge).
    paused: Vec<bool>,
}

/// Routes received messages to inbound links.
pub struct Router {
    routes: Vec<Route>,
    /// `None` once closed (shutdown): the links are dropped so their records can close.
    links: RwLock<Option<Vec<InboundLink>>>,
    /// Each link's acceptance, which outlives the link (acks during the drain).
    acceptance: Vec<Acceptance>,
    flow: Mutex<Flow>,
    /// Whether the broker keeps the session (and so redelivers what was not acknowledged).
    persistent: bool,
    max_packet: usize,
    logs: [LogLimit; 3],
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Router {
    /// Routes to `links`; `routes[i]` is the route of `links[i]`.
    pub fn new(
        routes: Vec<Route>,
        links: Vec<InboundLink>,
        max_packet: usize,
        persistent: bool,
    ) -> Self {
        let acceptance = links.iter().map(InboundLink::acceptance).collect();
        Self {
            flow: Mutex::new(Flow {
                acks: AckQueue::new(links.len()),
                waiting: VecDeque::new(),
                client: None,
                ack_blocked: false,
                paused: vec![false; links.len()],
            }),
            routes,
            links: RwLock::new(Some(links)),
            acceptance,
            persistent,
            max_packet,
            logs: [
                LogLimit::new(LOG_EVERY),
                LogLimit::new(LOG_EVERY),
                LogLimit::new(LOG_EVERY),
            ],
        }
    }

    /// The client acknowledgements are sent through.
    pub fn set_client(&self, client: AsyncClient) {
        self.flow.lock().client = Some(client);
    }

    /// A watch woken when acceptance moves in the graph (`None` without inbound links).
    pub fn watch(&self) -> Option<ProgressWatch> {
        self.links.read().as_ref()?.first()?.watch()
    }

    /// Whether messages wait for room or for their acknowledgement.
    pub fn busy(&self) -> bool {
        let f = self.flow.lock();
        !f.acks.is_empty() || !f.waiting.is_empty()
    }

    /// Takes one received message: routes it (or holds it while a link has no room) and sends
    /// the acknowledgements that are due. Never blocks.
    pub fn receive(&self, p: Publish) {
        let durable = p.qos != QoS::AtMostOnce;
        let guard = self.links.read();
        let mut flow = self.flow.lock();
        let flow = &mut *flow;
        let Some(links) = guard.as_ref() else {
            // Shutting down: not taken, not acknowledged; the broker keeps it.
            return;
        };
        let id = durable.then(|| flow.acks.begin(p.pkid, p.qos));
        if p.payload.len() > self.max_packet {
            self.bad(BadInput::Oversized, &p.topic, None, || {
                format!(
                    "{} bytes is more than max_packet_size ({} bytes)",
                    p.payload.len(),
                    self.max_packet
                )
            });
            if let Some(id) = id {
                flow.acks.routed(id);
            }
        } else {
            if let Some(t) = topic::parse(&p.topic) {
                metrics().node_message(t.node());
            }
            match id {
                Some(id) if !flow.waiting.is_empty() => flow.waiting.push_back((p, id)),
                Some(id) => {
                    if !self.deliver(links, flow, &p, Some(id)) {
                        flow.waiting.push_back((p, id));
                    }
                }
                None => {
                    self.deliver(links, flow, &p, None);
                }
            }
        }
        self.settle_locked(Some(links), flow);
    }

    /// Routes waiting messages that now have room and sends the acknowledgements that are due.
    pub fn settle(&self) {
        let guard = self.links.read();
        let mut flow = self.flow.lock();
        self.settle_locked(guard.as_deref(), &mut flow);
    }

    /// Sends acknowledgements that were due when the client's queue was full. Cheap when none.
    pub fn retry_acks(&self) {
        let guard = self.links.read();
        let mut flow = self.flow.lock();
        if std::mem::take(&mut flow.ack_blocked) {
            self.settle_locked(guard.as_deref(), &mut flow);
        }
    }

    fn settle_locked(&self, links: Option<&[InboundLink]>, flow: &mut Flow) {
        if let Some(links) = links {
            while let Some((p, id)) = flow.waiting.pop_front() {
                if !self.deliver(links, flow, &p, Some(id)) {
                    flow.waiting.push_front((p, id));
                    break;
                }
            }
            if flow.waiting.is_empty() {
                for (paused, route) in flow.paused.iter_mut().zip(&self.routes) {
                    if std::mem::take(paused) {
                        route.metrics.paused.store(0, Ordering::Relaxed);
                    }
                }
            }
        }
        flow.acks.settle(|i| self.acceptance[i].watermark());
        if let Some(client) = &flow.client {
            while let Some((pkid, qos)) = flow.acks.ready() {
                let ack = Publish {
                    dup: false,
                    qos,
                    retain: false,
                    topic: String::new(),
                    pkid,
                    payload: Default::default(),
                };
                if client.try_ack(&ack).is_err() {
                    // The client's queue is full: the session retries after its next event.
                    flow.ack_blocked = true;
                    break;
                }
                flow.acks.pop();
            }
        }
        metrics()
            .unacked
            .store(flow.acks.len() as u64, Ordering::Relaxed);
    }

    /// Pushes `p` into every matching link; false (nothing pushed) if `id` is set (QoS ≥ 1)
    /// and a matching link has no room.
    fn deliver(
        &self,
        links: &[InboundLink],
        flow: &mut Flow,
        p: &Publish,
        id: Option<u64>,
    ) -> bool {
        let matches = |route: &Route| topic::filter_matches(&route.filter, &p.topic);
        if id.is_some() {
            let mut full = false;
            for (i, (route, link)) in self.routes.iter().zip(links).enumerate() {
                if matches(route) && link.room() == 0 {
                    full = true;
                    if !std::mem::replace(&mut flow.paused[i], true) {
                        route.metrics.paused.store(1, Ordering::Relaxed);
                        route.metrics.pauses.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            if full {
                return false;
            }
        }
        let mut matched = false;
        for (i, (route, link)) in self.routes.iter().zip(links).enumerate() {
            if !matches(route) {
                continue;
            }
            matched = true;
            match link.push_at(&p.topic, &p.payload) {
                Ok(pos) => {
                    route.metrics.messages.fetch_add(1, Ordering::Relaxed);
                    if let Some(id) = id {
                        flow.acks.owe(id, i, pos);
                    }
                }
                Err(e) => {
                    route.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.bad(BadInput::Decode, &p.topic, Some(&link.record), || {
                        e.to_string()
                    });
                }
            }
        }
        if !matched {
            self.bad(BadInput::UnknownTopic, &p.topic, None, || {
                "no link_from filter matches the topic".to_string()
            });
        }
        if let Some(id) = id {
            flow.acks.routed(id);
        }
        true
    }

    /// The connection is gone: nothing of it is acknowledged any more (see the module docs).
    pub fn disconnected(&self) {
        let mut flow = self.flow.lock();
        flow.acks.clear();
        // A persistent session's broker sends waiting messages again; a clean one forgot
        // them, so they are still routed once there is room (their stale ids owe nothing).
        if self.persistent {
            flow.waiting.clear();
        }
        metrics().unacked.store(0, Ordering::Relaxed);
    }

    fn bad(
        &self,
        why: BadInput,
        topic: &str,
        record: Option<&str>,
        reason: impl FnOnce() -> String,
    ) {
        metrics().bad_input(why);
        if let Some(suppressed) = self.logs[why as usize].allow() {
            tracing::warn!(
                topic = %truncated(topic),
                record = record.unwrap_or(""),
                reason = %reason(),
                kind = why.as_str(),
                suppressed,
                "MQTT message dropped"
            );
        }
    }

    /// Drops the inbound links (shutdown): their records may close; later messages and those
    /// waiting for room are left to the broker (not acknowledged). Routed values are still
    /// acknowledged as they are accepted during the drain.
    pub fn close(&self) {
        let mut links = self.links.write();
        let mut flow = self.flow.lock();
        // Never routed, never acknowledged: every QoS ≥ 1 message after the first of them is
        // waiting too, so only the acknowledgements before it are still sent.
        let left = flow.waiting.len();
        flow.waiting.clear();
        if left > 0 {
            tracing::info!(
                messages = left,
                "MQTT shutdown: inbound messages waiting for room are left to the broker"
            );
        }
        links.take();
    }
}

/// A topic for a log line: at most 200 bytes (topics can be 64 KiB).
fn truncated(topic: &str) -> &str {
    if topic.len() <= 200 {
        return topic;
    }
    let mut end = 200;
    while !topic.is_char_boundary(end) {
        end -= 1;
    }
    &topic[..end]
}
