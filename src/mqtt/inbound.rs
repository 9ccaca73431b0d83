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
//! - **Graphs come and go, the router stays** (a reload keeps the session): a graph's links are
//!   bound with [`Router::attach`] when it starts and let go with [`Router::detach`] when it
//!   drains. In between — and before the first graph — messages wait here, unacknowledged, in
//!   the order received (QoS 0 ones too, up to [`SWAP_QOS0`]; more are dropped and counted as
//!   `reason="reloading"`), and are routed into the next graph. Values an earlier graph took
//!   are acknowledged as that graph's readers accept them, still in order; one task per bound
//!   graph ([`Router::settle_while_owed`]) wakes on its progress.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Acceptance, InboundLink, ProgressWatch};
use aimdb_records::topic;
use parking_lot::{Mutex, RwLock};
use rumqttc::{AsyncClient, Publish, QoS};
use tokio::sync::Notify;

use super::acks::AckQueue;
use super::metrics::{metrics, BadInput, LinkMetrics};
use super::ratelimit::LogLimit;
use crate::telemetry::unix_ms;

/// `filters` and, unless it is there already, every node's schema announcement
/// (`aimdb/+/schema`, QoS 1), which the gateway always follows (see [`super::schemas`]).
fn with_schema_filter(mut filters: Vec<(String, QoS)>) -> Vec<(String, QoS)> {
    if !filters.iter().any(|(f, _)| f == topic::SCHEMA_FILTER) {
        filters.push((topic::SCHEMA_FILTER.to_string(), QoS::AtLeastOnce));
    }
    filters
}

/// QoS 0 messages kept while no graph is bound (a reload); later ones are dropped and counted.
pub const SWAP_QOS0: usize = 10_000;

/// One inbound link's subscription.
pub struct Route {
    /// The MQTT filter (templates expanded).
    pub filter: String,
    /// The link's counters.
    pub metrics: Arc<LinkMetrics>,
}

/// The links of the running graph.
struct Binding {
    routes: Vec<Route>,
    links: Vec<InboundLink>,
    /// Number of `links[0]` in the ack queue.
    base: usize,
}

enum Links {
    /// No graph (before the first, or while one is swapped for the next): messages wait.
    Detached,
    Bound(Binding),
    /// Shutdown: nothing more is taken.
    Closed,
}

/// What the router keeps between messages; touched by the session task (and the graph tasks).
struct Flow {
    acks: AckQueue<Acceptance>,
    /// Messages not routed yet, in the order received: QoS ≥ 1 ones waiting for room (with
    /// their ack ids), and any while no graph is bound.
    waiting: VecDeque<(Publish, Option<u64>)>,
    /// QoS 0 messages in `waiting`.
    waiting_qos0: usize,
    client: Option<AsyncClient>,
    /// An acknowledgement was due but the client's queue was full: retry at the next event.
    ack_blocked: bool,
    /// Whether each bound link is paused now (mirrors its `paused` gauge).
    paused: Vec<bool>,
    /// Ack-queue number of the bound graph's first link; links before it are earlier graphs'.
    base: usize,
    /// Whether earlier graphs' links still owe something (their settle tasks are waiting).
    stragglers: bool,
}

/// Routes received messages to inbound links.
pub struct Router {
    bound: RwLock<Links>,
    flow: Mutex<Flow>,
    /// This gateway's node id: its own schema announcement comes back and is not a node's.
    own_node: String,
    /// The filters subscribed to, with their QoS (the bound graph's, or the last one's).
    filters: Mutex<Vec<(String, QoS)>>,
    /// Bumped at every attach and at close.
    generation: AtomicU64,
    /// Wakes the settle tasks of earlier graphs (a new binding, a close, nothing owed).
    rebound: Notify,
    /// Whether the broker keeps the session (and so redelivers what was not acknowledged).
    persistent: bool,
    max_packet: usize,
    logs: [LogLimit; BadInput::ALL.len()],
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Router {
    /// A router with no graph bound yet.
    pub fn new(max_packet: usize, persistent: bool, own_node: &str) -> Self {
        Self {
            own_node: own_node.to_string(),
            bound: RwLock::new(Links::Detached),
            flow: Mutex::new(Flow {
                acks: AckQueue::default(),
                waiting: VecDeque::new(),
                waiting_qos0: 0,
                client: None,
                ack_blocked: false,
                paused: Vec::new(),
                base: 0,
                stragglers: false,
            }),
            filters: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            rebound: Notify::new(),
            persistent,
            max_packet,
            logs: std::array::from_fn(|_| LogLimit::new(LOG_EVERY)),
        }
    }

    /// The client acknowledgements (and subscription changes) are sent through.
    pub fn set_client(&self, client: AsyncClient) {
        self.flow.lock().client = Some(client);
    }

    /// The filters to subscribe to after a (re)connect.
    pub fn filters(&self) -> Vec<(String, QoS)> {
        with_schema_filter(self.filters.lock().clone())
    }

    /// Binds a starting graph's inbound `links` (`routes[i]` is the route of `links[i]`), to be
    /// subscribed with `filters`: subscriptions the previous graph had and this one has not are
    /// dropped, new ones made (at once if connected, else at the next connect), and messages
    /// that waited meanwhile are routed into it. Returns the task that acknowledges what this
    /// graph accepts (see [`Router::settle_while_owed`]), if it has links. Nothing is bound
    /// after [`Router::close`].
    pub fn attach(
        self: &Arc<Self>,
        routes: Vec<Route>,
        links: Vec<InboundLink>,
        filters: Vec<(String, QoS)>,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let watch = links.first().and_then(InboundLink::watch);
        let generation;
        {
            let mut bound = self.bound.write();
            if matches!(*bound, Links::Closed) {
                return None;
            }
            let mut flow = self.flow.lock();
            let base = flow.acks.bind(links.iter().map(InboundLink::acceptance));
            flow.base = base;
            flow.stragglers = flow.acks.owes_before(base);
            flow.paused = vec![false; links.len()];
            self.resubscribe(&flow, filters);
            *bound = Links::Bound(Binding {
                routes,
                links,
                base,
            });
            generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        }
        self.rebound.notify_waiters();
        self.settle();
        let me = self.clone();
        watch.map(|w| me.settle_while_owed(w, generation))
    }

    /// Unsubscribes what `filters` no longer has and subscribes what is new or changed.
    fn resubscribe(&self, flow: &Flow, filters: Vec<(String, QoS)>) {
        let filters = with_schema_filter(filters);
        let mut current = self.filters.lock();
        if let Some(client) = &flow.client {
            for (f, _) in current
                .iter()
                .filter(|(f, _)| !filters.iter().any(|n| n.0 == *f))
            {
                if let Err(e) = client.try_unsubscribe(f.clone()) {
                    tracing::error!(filter = %f, "cannot unsubscribe: {e}");
                }
            }
            let new: Vec<_> = filters
                .iter()
                .filter(|n| !current.contains(n))
                .map(|(f, q)| rumqttc::SubscribeFilter::new(f.clone(), *q))
                .collect();
            if !new.is_empty() {
                if let Err(e) = client.try_subscribe_many(new) {
                    tracing::error!("cannot subscribe: {e}");
                }
            }
        }
        *current = filters;
    }

    /// Lets the bound graph's links go (its drain starts: their records may close). Messages
    /// received from now on wait for the next [`Router::attach`]; values already routed are
    /// still acknowledged as they are accepted.
    pub fn detach(&self) {
        let mut bound = self.bound.write();
        if matches!(*bound, Links::Bound(_)) {
            *bound = Links::Detached;
        }
    }

    /// Acknowledges what the graph bound as `generation` accepts, woken by its `watch`; once a
    /// later graph is bound (or the router closed), goes on until that graph's links owe
    /// nothing, then ends.
    async fn settle_while_owed(self: Arc<Self>, mut watch: ProgressWatch, generation: u64) {
        loop {
            let rebound = self.rebound.notified();
            tokio::pin!(rebound);
            rebound.as_mut().enable();
            if self.generation.load(Ordering::Acquire) == generation {
                if self.busy() {
                    self.settle();
                }
            } else {
                self.settle();
                let flow = self.flow.lock();
                if !flow.acks.owes_before(flow.base) {
                    return;
                }
            }
            tokio::select! {
                _ = watch.changed() => {}
                _ = rebound => {}
            }
        }
    }

    /// Whether messages wait for room or for their acknowledgement.
    pub fn busy(&self) -> bool {
        let f = self.flow.lock();
        !f.acks.is_empty() || !f.waiting.is_empty()
    }

    /// Takes one received message: routes it (or holds it while a link has no room, or no
    /// graph is bound) and sends the acknowledgements that are due. Never blocks.
    pub fn receive(&self, p: Publish) {
        let durable = p.qos != QoS::AtMostOnce;
        let guard = self.bound.read();
        let binding = match &*guard {
            // Shutting down: not taken, not acknowledged; the broker keeps it.
            Links::Closed => return,
            Links::Detached => None,
            Links::Bound(b) => Some(b),
        };
        let mut flow = self.flow.lock();
        let flow = &mut *flow;
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
            match topic::parse(&p.topic) {
                // Our own announcement, retained: neither a node's message nor a node's schema.
                Some(topic::Topic::Schema { node }) if node == self.own_node => {}
                Some(t) => {
                    metrics().node_message(t.node(), unix_ms());
                    if let topic::Topic::Schema { node } = t {
                        self.announced(node, &p);
                    }
                }
                None => {}
            }
            match (binding, id) {
                (Some(b), None) => {
                    // QoS 0 is never held behind a full link.
                    self.deliver(b, flow, &p, None);
                }
                (Some(b), Some(id)) if flow.waiting.is_empty() => {
                    if !self.deliver(b, flow, &p, Some(id)) {
                        flow.waiting.push_back((p, Some(id)));
                    }
                }
                (_, Some(id)) => flow.waiting.push_back((p, Some(id))),
                (None, None) if flow.waiting_qos0 < SWAP_QOS0 => {
                    flow.waiting_qos0 += 1;
                    flow.waiting.push_back((p, None));
                }
                (None, None) => self.bad(BadInput::Reloading, &p.topic, None, || {
                    format!(
                        "more than {SWAP_QOS0} QoS 0 messages arrived while the graph was swapped"
                    )
                }),
            }
        }
        self.settle_locked(binding, flow);
    }

    /// Routes waiting messages that now have room and sends the acknowledgements that are due.
    pub fn settle(&self) {
        let guard = self.bound.read();
        let binding = match &*guard {
            Links::Bound(b) => Some(b),
            _ => None,
        };
        let mut flow = self.flow.lock();
        self.settle_locked(binding, &mut flow);
    }

    /// Sends acknowledgements that were due when the client's queue was full. Cheap when none.
    pub fn retry_acks(&self) {
        let mut flow = self.flow.lock();
        if std::mem::take(&mut flow.ack_blocked) {
            drop(flow);
            self.settle();
        }
    }

    fn settle_locked(&self, binding: Option<&Binding>, flow: &mut Flow) {
        if let Some(b) = binding {
            while let Some((p, id)) = flow.waiting.pop_front() {
                if id.is_none() {
                    flow.waiting_qos0 -= 1;
                }
                if !self.deliver(b, flow, &p, id) {
                    if id.is_none() {
                        flow.waiting_qos0 += 1;
                    }
                    flow.waiting.push_front((p, id));
                    break;
                }
            }
            if flow.waiting.is_empty() {
                for (paused, route) in flow.paused.iter_mut().zip(&b.routes) {
                    if std::mem::take(paused) {
                        route.metrics.paused.store(0, Ordering::Relaxed);
                    }
                }
            }
        }
        flow.acks.settle(Acceptance::watermark);
        if flow.stragglers && !flow.acks.owes_before(flow.base) {
            flow.stragglers = false;
            self.rebound.notify_waiters();
        }
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
    fn deliver(&self, b: &Binding, flow: &mut Flow, p: &Publish, id: Option<u64>) -> bool {
        let matches = |route: &Route| topic::filter_matches(&route.filter, &p.topic);
        if id.is_some() {
            let mut full = false;
            for (i, (route, link)) in b.routes.iter().zip(&b.links).enumerate() {
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
        let now = unix_ms();
        for (i, (route, link)) in b.routes.iter().zip(&b.links).enumerate() {
            if !matches(route) {
                continue;
            }
            matched = true;
            match link.push_at(&p.topic, &p.payload) {
                Ok(pos) => {
                    route.metrics.messages.fetch_add(1, Ordering::Relaxed);
                    route.metrics.last_message_ms.store(now, Ordering::Relaxed);
                    if let Some(id) = id {
                        flow.acks.owe(id, b.base + i, pos);
                    }
                }
                Err(e) if e.0.starts_with(crate::record_types::VERSION_ERROR) => {
                    // Logged once per record and version where it was refused.
                    route.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    metrics().bad_input(BadInput::Version);
                }
                Err(e) => {
                    route.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.bad(BadInput::Decode, &p.topic, Some(&link.record), || {
                        e.to_string()
                    });
                }
            }
        }
        if !matched && !matches!(topic::parse(&p.topic), Some(topic::Topic::Schema { .. })) {
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
            flow.waiting.retain(|(_, id)| id.is_none());
        }
        flow.stragglers = false;
        drop(flow);
        self.rebound.notify_waiters();
        metrics().unacked.store(0, Ordering::Relaxed);
    }

    /// Takes a node's schema announcement into the table; a refused one is counted and logged.
    fn announced(&self, node: &str, p: &Publish) {
        if let Err(e) = super::schemas::schemas().announce(node, &p.payload, unix_ms()) {
            self.bad(BadInput::Announcement, &p.topic, None, || e.to_string());
        }
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

    /// Shutdown: drops the bound links (their records may close); later messages and those
    /// waiting are left to the broker (not acknowledged). Routed values are still acknowledged
    /// as they are accepted during the drain.
    pub fn close(&self) {
        let mut bound = self.bound.write();
        let mut flow = self.flow.lock();
        // Never routed, never acknowledged: every QoS ≥ 1 message after the first of them is
        // waiting too, so only the acknowledgements before it are still sent.
        let left = flow.waiting.len();
        flow.waiting.clear();
        flow.waiting_qos0 = 0;
        if left > 0 {
            tracing::info!(
                messages = left,
                "MQTT shutdown: inbound messages not routed yet are left to the broker"
            );
        }
        // Every link is an earlier graph's now: their settle tasks end once nothing is owed.
        flow.base = usize::MAX;
        flow.stragglers = true;
        *bound = Links::Closed;
        self.generation.fetch_add(1, Ordering::AcqRel);
        drop(flow);
        drop(bound);
        self.rebound.notify_waiters();
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
