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
//! - **Parts come and go, the router stays** (a reload keeps the session and rebuilds only the
//!   parts of the graph that changed): each part's links are bound with [`Router::attach`] when
//!   it starts and let go with [`Router::detach`] when it drains; bindings of unchanged parts
//!   stay. From [`Router::begin_swap`] (or a detach) to [`Router::end_swap`] — and before the
//!   first start has bound every part — messages wait here, unacknowledged, in the order
//!   received (QoS 0 ones too, up to [`SWAP_QOS0`]; more are dropped and counted as
//!   `reason="reloading"`), and are then routed into the bound parts. Values a drained part
//!   took are acknowledged as its readers accept them, still in order; one task per part
//!   ([`Router::settle_while_owed`]) wakes on its progress.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Acceptance, CodecError, InboundLink, ProgressWatch};
use aimdb_records::topic;
use parking_lot::{Mutex, RwLock};
use rumqttc::{AsyncClient, Publish, QoS};
use tokio::sync::Notify;

use super::acks::{AckQueue, SlotId};
use super::metrics::{BadInput, LinkMetrics, MqttMetrics};
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
pub(crate) const SWAP_QOS0: usize = 10_000;

/// One inbound link's subscription.
pub(crate) struct Route {
    /// The MQTT filter (templates expanded).
    pub(crate) filter: String,
    /// The link's counters.
    pub(crate) metrics: Arc<LinkMetrics>,
}

/// The inbound links of one running part of the graph.
struct Binding {
    /// The part (see `crate::engine`).
    part: u64,
    routes: Vec<Route>,
    links: Vec<InboundLink>,
    /// The ack-queue slot of each link.
    slots: Vec<SlotId>,
    /// The filters its links need, with their QoS.
    filters: Vec<(String, QoS)>,
}

/// The parts bound now.
struct Bound {
    parts: Vec<Binding>,
    /// Messages wait, unrouted: before the first start has bound every part, and while a reload
    /// swaps parts ([`Router::begin_swap`] … [`Router::end_swap`]).
    swapping: bool,
    /// Shutdown: nothing more is taken.
    closed: bool,
}

/// What the router keeps between messages; touched by the session task (and the graph tasks).
struct Flow {
    acks: AckQueue<Acceptance>,
    /// Messages not routed yet, in the order received: QoS ≥ 1 ones waiting for room (with
    /// their ack ids), and any while parts are swapped.
    waiting: VecDeque<(Publish, Option<u64>)>,
    /// QoS 0 messages in `waiting`.
    waiting_qos0: usize,
    client: Option<AsyncClient>,
    /// An acknowledgement was due but the client's queue was full: retry at the next event.
    ack_blocked: bool,
}

/// Routes received messages to inbound links.
pub(crate) struct Router {
    bound: RwLock<Bound>,
    flow: Mutex<Flow>,
    /// This gateway's node id: its own schema announcement comes back and is not a node's.
    own_node: String,
    /// The filters subscribed to, with their QoS (the bound parts', or the last ones').
    filters: Mutex<Vec<(String, QoS)>>,
    /// Wakes the settle tasks (a binding released, a released slot settled, a close, a
    /// disconnect).
    rebound: Notify,
    /// Whether the broker keeps the session (and so redelivers what was not acknowledged).
    persistent: bool,
    max_packet: usize,
    logs: [LogLimit; BadInput::ALL.len()],
    /// The bridge's counters.
    metrics: Arc<MqttMetrics>,
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Router {
    /// A router with no part bound yet: messages wait until [`Router::end_swap`] (or an
    /// [`Router::attach`] that starts routing); it counts into `metrics`.
    pub(crate) fn new(
        max_packet: usize,
        persistent: bool,
        own_node: &str,
        metrics: Arc<MqttMetrics>,
    ) -> Self {
        Self {
            own_node: own_node.to_string(),
            bound: RwLock::new(Bound {
                parts: Vec::new(),
                swapping: true,
                closed: false,
            }),
            flow: Mutex::new(Flow {
                acks: AckQueue::default(),
                waiting: VecDeque::new(),
                waiting_qos0: 0,
                client: None,
                ack_blocked: false,
            }),
            filters: Mutex::new(Vec::new()),
            rebound: Notify::new(),
            persistent,
            max_packet,
            logs: std::array::from_fn(|_| LogLimit::new(LOG_EVERY)),
            metrics,
        }
    }

    /// The client acknowledgements (and subscription changes) are sent through.
    pub(crate) fn set_client(&self, client: AsyncClient) {
        self.flow.lock().client = Some(client);
    }

    /// The filters to subscribe to after a (re)connect.
    pub(crate) fn filters(&self) -> Vec<(String, QoS)> {
        with_schema_filter(self.filters.lock().clone())
    }

    /// Binds the inbound `links` of starting part `part` (`routes[i]` is the route of
    /// `links[i]`), which need `filters`. With `route` the swap ends at once (see
    /// [`Router::end_swap`]: subscriptions follow the bound parts, waiting messages are routed);
    /// otherwise messages keep waiting until the daemon ends the swap, once every new part is
    /// bound. Returns the task that acknowledges what this part accepts (see
    /// [`Router::settle_while_owed`]), if it has links. Nothing is bound after
    /// [`Router::close`].
    pub(crate) fn attach(
        self: &Arc<Self>,
        part: u64,
        routes: Vec<Route>,
        links: Vec<InboundLink>,
        filters: Vec<(String, QoS)>,
        route: bool,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let watch = links.first().and_then(InboundLink::watch);
        let slots;
        {
            let mut bound = self.bound.write();
            if bound.closed {
                return None;
            }
            let mut flow = self.flow.lock();
            slots = flow.acks.bind(links.iter().map(InboundLink::acceptance));
            bound.parts.push(Binding {
                part,
                routes,
                links,
                slots: slots.clone(),
                filters,
            });
        }
        if route {
            self.end_swap();
        }
        let me = self.clone();
        watch.map(|w| me.settle_while_owed(w, part, slots))
    }

    /// A reload swaps parts: from now on received messages wait, unrouted (QoS 0 ones up to
    /// [`SWAP_QOS0`]), until [`Router::end_swap`].
    pub(crate) fn begin_swap(&self) {
        self.bound.write().swapping = true;
    }

    /// Every part of the graph is bound: subscriptions the bound parts no longer need are
    /// dropped and new ones made (at once if connected, else at the next connect), and the
    /// messages that waited are routed.
    pub(crate) fn end_swap(&self) {
        {
            let mut bound = self.bound.write();
            if bound.closed {
                return;
            }
            bound.swapping = false;
            let mut filters: Vec<(String, QoS)> = Vec::new();
            for (f, q) in bound.parts.iter().flat_map(|b| &b.filters) {
                match filters.iter_mut().find(|(have, _)| have == f) {
                    Some((_, have)) if *q > *have => *have = *q,
                    Some(_) => {}
                    None => filters.push((f.clone(), *q)),
                }
            }
            self.resubscribe(&self.flow.lock(), filters);
        }
        self.settle();
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

    /// Lets part `part`'s links go (its drain starts: their records may close). Values already
    /// routed into it are still acknowledged as they are accepted. From now on messages wait,
    /// unrouted and unacknowledged, as in a swap (a message for the part must not be taken as
    /// one no link wants): a reload ends the swap once the replacing parts are bound, a
    /// shutdown closes the router. Its subscriptions stay until the next [`Router::end_swap`].
    pub(crate) fn detach(&self, part: u64) {
        {
            let mut bound = self.bound.write();
            bound.swapping = true;
            let Some(i) = bound.parts.iter().position(|b| b.part == part) else {
                return;
            };
            let b = bound.parts.remove(i);
            for route in &b.routes {
                route.metrics.paused.store(0, Ordering::Relaxed);
            }
            self.flow.lock().acks.release(&b.slots);
        }
        self.rebound.notify_waiters();
    }

    /// Acknowledges what part `part` accepts, woken by its `watch`; once the part is let go
    /// (or the router closed), goes on until its links' `slots` owe nothing, then ends.
    async fn settle_while_owed(
        self: Arc<Self>,
        mut watch: ProgressWatch,
        part: u64,
        slots: Vec<SlotId>,
    ) {
        loop {
            let rebound = self.rebound.notified();
            tokio::pin!(rebound);
            rebound.as_mut().enable();
            let bound = self.bound.read().parts.iter().any(|b| b.part == part);
            if bound {
                if self.busy() {
                    self.settle();
                }
            } else {
                self.settle();
                if !self.flow.lock().acks.owes(&slots) {
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
    pub(crate) fn busy(&self) -> bool {
        let f = self.flow.lock();
        !f.acks.is_empty() || !f.waiting.is_empty()
    }

    /// Takes one received message: routes it (or holds it while a link has no room, or no
    /// graph is bound) and sends the acknowledgements that are due. Never blocks.
    pub(crate) fn receive(&self, p: Publish) {
        let durable = p.qos != QoS::AtMostOnce;
        let guard = self.bound.read();
        if guard.closed {
            // Shutting down: not taken, not acknowledged; the broker keeps it.
            return;
        }
        let binding = (!guard.swapping).then_some(guard.parts.as_slice());
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
                    self.metrics.node_message(t.node(), unix_ms());
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
                        "more than {SWAP_QOS0} QoS 0 messages arrived while the graph's parts were swapped"
                    )
                }),
            }
        }
        self.settle_locked(binding, flow);
    }

    /// Routes waiting messages that now have room and sends the acknowledgements that are due.
    pub(crate) fn settle(&self) {
        let guard = self.bound.read();
        let binding = (!guard.swapping && !guard.closed).then_some(guard.parts.as_slice());
        let mut flow = self.flow.lock();
        self.settle_locked(binding, &mut flow);
    }

    /// Sends acknowledgements that were due when the client's queue was full. Cheap when none.
    pub(crate) fn retry_acks(&self) {
        let mut flow = self.flow.lock();
        if std::mem::take(&mut flow.ack_blocked) {
            drop(flow);
            self.settle();
        }
    }

    fn settle_locked(&self, binding: Option<&[Binding]>, flow: &mut Flow) {
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
                for route in b.iter().flat_map(|b| &b.routes) {
                    if route.metrics.paused.load(Ordering::Relaxed) != 0 {
                        route.metrics.paused.store(0, Ordering::Relaxed);
                    }
                }
            }
        }
        if flow.acks.settle(Acceptance::watermark) {
            // A released part's link owes nothing more: its settle task may end.
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
        self.metrics
            .unacked
            .store(flow.acks.len() as u64, Ordering::Relaxed);
    }

    /// Pushes `p` into every matching link of every bound part; false (nothing pushed) if
    /// `id` is set (QoS ≥ 1) and a matching link has no room.
    fn deliver(&self, parts: &[Binding], flow: &mut Flow, p: &Publish, id: Option<u64>) -> bool {
        let matches = |route: &Route| topic::filter_matches(&route.filter, &p.topic);
        let links = || {
            parts.iter().flat_map(|b| {
                b.routes
                    .iter()
                    .zip(&b.links)
                    .zip(&b.slots)
                    .map(|((r, l), s)| (r, l, s.index))
            })
        };
        if id.is_some() {
            let mut full = false;
            for (route, link, _) in links() {
                if matches(route) && link.room() == 0 {
                    full = true;
                    if route.metrics.paused.swap(1, Ordering::Relaxed) == 0 {
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
        for (route, link, slot) in links() {
            if !matches(route) {
                continue;
            }
            matched = true;
            match link.push_at(&p.topic, &p.payload) {
                Ok(pos) => {
                    route.metrics.messages.fetch_add(1, Ordering::Relaxed);
                    route.metrics.last_message_ms.store(now, Ordering::Relaxed);
                    if let Some(id) = id {
                        flow.acks.owe(id, slot, pos);
                    }
                }
                Err(CodecError::Refused { .. }) => {
                    // Logged once per record and version where it was refused.
                    route.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.metrics.bad_input(BadInput::Version);
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
    pub(crate) fn disconnected(&self) {
        let mut flow = self.flow.lock();
        flow.acks.clear();
        // A persistent session's broker sends waiting messages again; a clean one forgot
        // them, so they are still routed once there is room (their stale ids owe nothing).
        if self.persistent {
            flow.waiting.retain(|(_, id)| id.is_none());
        }
        drop(flow);
        self.rebound.notify_waiters();
        self.metrics.unacked.store(0, Ordering::Relaxed);
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
        self.metrics.bad_input(why);
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
    pub(crate) fn close(&self) {
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
        // Every part is let go: their settle tasks end once nothing is owed.
        for b in bound.parts.drain(..) {
            flow.acks.release(&b.slots);
        }
        bound.closed = true;
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use aimdb_core::{
        AimDbBuilder, BoxError, BoxFuture, BufferCfg, CodecError, Connector, InboundLink,
        OutboundLink, RuntimeContext,
    };
    use parking_lot::Mutex;
    use rumqttc::{Publish, QoS};

    use super::{Route, Router};
    use crate::mqtt::metrics::{BadInput, LinkMetrics, MqttMetrics};
    use crate::Rt;

    /// Hands the graph's inbound links to the test.
    #[derive(Clone, Default)]
    struct Grab(Arc<Mutex<Vec<InboundLink>>>);

    impl Connector<Rt> for Grab {
        fn scheme(&self) -> &str {
            "mqtt"
        }
        fn start(
            &self,
            _ctx: RuntimeContext<Rt>,
            _out: Vec<OutboundLink>,
            inbound: Vec<InboundLink>,
        ) -> Result<Vec<BoxFuture>, BoxError> {
            *self.0.lock() = inbound;
            Ok(Vec::new())
        }
    }

    /// A payload `v<N>` is of version N, which this side refuses (with a reason that starts
    /// with nothing in particular); any other payload but `ok` is garbage.
    fn decode(payload: &[u8]) -> Result<u32, CodecError> {
        match payload {
            b"ok" => Ok(1),
            [b'v', n] => Err(CodecError::Refused {
                version: u16::from(*n - b'0'),
                reason: "a version nobody here speaks".into(),
            }),
            _ => Err(CodecError::Malformed("not a number".into())),
        }
    }

    #[tokio::test]
    async fn a_refused_payload_counts_as_version_and_a_malformed_one_as_decode() {
        let grab = Grab::default();
        let mut b = AimDbBuilder::new().runtime(Rt::new().expect("runtime"));
        b.connector(grab.clone());
        b.configure::<u32>("sensor.n", |r| {
            r.buffer(BufferCfg::SpmcRing { capacity: 8 })
                .link_from_with("mqtt://aimdb/n1/sensor.n", Arc::new(decode));
        });
        let db = b.build().expect("graph");
        let links = std::mem::take(&mut *grab.0.lock());
        let filter = "aimdb/n1/sensor.n".to_string();
        let route = Route {
            filter: filter.clone(),
            metrics: Arc::new(LinkMetrics::default()),
        };
        let link_metrics = route.metrics.clone();
        let metrics = Arc::new(MqttMetrics::default());
        let router = Arc::new(Router::new(1024, false, "gw-test", metrics.clone()));
        let _settle = router.attach(
            1,
            vec![route],
            links,
            vec![(filter.clone(), QoS::AtMostOnce)],
            true,
        );
        let mut c = db.handle().consumer::<u32>("sensor.n").expect("record");
        let send = |payload: &[u8]| {
            router.receive(Publish::new(&filter, QoS::AtMostOnce, payload.to_vec()));
        };

        // The router's own counters (no other test shares them).
        let counts = || {
            (
                metrics.bad_inputs(BadInput::Version),
                metrics.bad_inputs(BadInput::Decode),
                link_metrics.errors.load(Ordering::Relaxed),
            )
        };
        let (version, decode, _) = counts();
        send(b"v2");
        assert_eq!(
            counts(),
            (version + 1, decode, 1),
            "refused by its kind, whatever its text says"
        );
        send(b"garbage");
        assert_eq!(
            counts(),
            (version + 1, decode + 1, 2),
            "a malformed payload is not a version refusal"
        );
        send(b"ok");
        assert_eq!(c.try_recv(), Ok(1), "neither stopped the link");
        assert_eq!(link_metrics.messages.load(Ordering::Relaxed), 1);
    }
}
