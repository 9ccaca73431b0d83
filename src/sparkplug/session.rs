//! [`Sparkplug`]: the edge node's own MQTT session (spec 3.0: clean session, NDEATH as the
//! will, QoS 0 and no retain for data), separate from the daemon's bridge session so that its
//! will and its `bdSeq` belong to Sparkplug alone.
//!
//! Each connection attempt takes the next `bdSeq` (persisted first) and registers the NDEATH
//! carrying it as the will (QoS 1, not retained). Once connected it subscribes to its NCMD and
//! DCMD topics (QoS 1), the nodes' `aimdb/+/status` and the device records' `link_from`
//! filters (QoS 0), then publishes NBIRTH and the DBIRTHs of the online devices. A lost
//! connection is retried with backoff (`[mqtt] reconnect_min`..`reconnect_max`) and a new
//! `bdSeq`. A clean close publishes NDEATH and disconnects (the will is then not sent).
//!
//! With a primary host (`primary_host_id`) it also subscribes to `spBv1.0/STATE/<host>` and
//! publishes its births only once that says online on the current connection; a newer `STATE`
//! saying offline makes it publish NDEATH, disconnect and start over; an older one is ignored.
//! While not born, the values produced are held ([`super::history`]) and sent after the next
//! births with `is_historical`.
//!
//! Closing (a stop, a new session, the host going offline): NDEATH and DISCONNECT are queued
//! together, and the session waits until the broker has closed the connection (draining what
//! the event loop reports meanwhile, so it never blocks on a full channel); the daemon's
//! shutdown waits for that, at least [`CLOSE_MIN`]. A connection we drop ourselves — between
//! the two writes, or after them with the PUBACK unread, which makes a TCP reset that discards
//! the DISCONNECT at the broker — makes the broker send the will after our NDEATH: two deaths.
//!
//! Node metrics are read from the running graph (a reader per record, which never slows its
//! writer); device metrics from the session's own subscription, so each value is known by the
//! node that sent it. Publishing uses `try_publish` only: the task never waits on the MQTT
//! client; a message that does not fit the client's queue is counted and dropped (the host
//! sees a `seq` gap and asks for a rebirth).

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::backoff::Backoff;
use aimdb_records::topic::{self as aimdb_topic, Topic};
use aimdb_records::types::NodeStatus;
use rumqttc::{AsyncClient, Event, LastWill, Packet, QoS};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::bdseq::BdSeq;
use super::config::SparkplugConfig;
use super::edge::{EdgeNode, Outgoing, REBIRTH_ALIAS};
use super::held_disk::HeldDisk;
use super::host::{state_topic, PrimaryHost, Verdict};
use super::payload;
use super::stats::stats;
use super::table;
use super::topic::{Command, MessageType};
use crate::components::TapEvent;
use crate::config::{Config, MqttConfig};
use crate::engine::typed::{ops, SetJsonError};
use crate::engine::Graphs;

/// Requests the MQTT client may queue before `try_publish` refuses.
const CHANNEL: usize = 1024;

/// The least time a close is given to write NDEATH and DISCONNECT, whatever is left of the
/// daemon's shutdown budget (a drain that used it all must not cut the two apart).
pub(crate) const CLOSE_MIN: Duration = Duration::from_secs(2);

/// The largest MQTT packet the session sends or takes (births of many records, batches of held
/// values up to [`super::history::MESSAGE_BYTES`]).
const MAX_PACKET: usize = 1 << 20;

/// How long a close waits for NDEATH and DISCONNECT to be queued and written (within
/// [`CLOSE_MIN`], so that the caller's wait outlasts it).
const CLOSE_WRITE: Duration = Duration::from_millis(1500);

/// The running Sparkplug edge node.
pub(crate) struct Sparkplug {
    identity: (MqttConfig, String, String, Option<String>),
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
}

enum Control {
    Graph(Graphs, Arc<SparkplugConfig>),
    Close(oneshot::Sender<()>),
}

enum Net {
    Connected,
    Message(String, Vec<u8>),
    Down(String),
}

/// Why a connection ended.
enum Ended {
    /// Lost (or refused): retry with backoff.
    Lost(String),
    /// The primary host went offline: NDEATH and DISCONNECT sent; start over.
    HostOffline,
}

impl Sparkplug {
    /// Starts the edge node of `config` (nothing without `[sparkplug]` and `[mqtt]`), reading
    /// node metrics from `graph`.
    pub(crate) fn start(config: &Config, graph: Graphs) -> Option<Self> {
        let (Some(spb), Some(mqtt)) = (&config.sparkplug, &config.mqtt) else {
            return None;
        };
        stats().enable();
        let spb = Arc::new(spb.clone());
        let (control, rx) = mpsc::channel(8);
        let identity = (
            mqtt.clone(),
            spb.group_id.clone(),
            spb.edge_node_id.clone(),
            spb.primary_host_id.clone(),
        );
        let task = tokio::spawn(run(mqtt.clone(), spb, graph, rx));
        Some(Self {
            identity,
            control,
            task,
        })
    }

    /// Whether this session can take `config` without a new connection (same `[mqtt]`,
    /// group, edge node id and primary host).
    pub(crate) fn serves(&self, config: &Config) -> bool {
        match (&config.sparkplug, &config.mqtt) {
            (Some(s), Some(m)) => {
                self.identity.0 == *m
                    && self.identity.1 == s.group_id
                    && self.identity.2 == s.edge_node_id
                    && self.identity.3 == s.primary_host_id
            }
            _ => false,
        }
    }

    /// A reload: reads node metrics from the new `graph` and sends new births for `config`.
    pub(crate) async fn graph_changed(&self, config: &Config, graph: Graphs) {
        if let Some(s) = &config.sparkplug {
            let _ = self
                .control
                .send(Control::Graph(graph, Arc::new(s.clone())))
                .await;
        }
    }

    /// The session after a reload to `config`: this one, given the new graph, if it
    /// [`serves`](Self::serves) it; else it is closed (NDEATH) and one for `config` started.
    pub(crate) async fn reloaded(
        current: Option<Self>,
        config: &Config,
        graph: &Graphs,
    ) -> Option<Self> {
        match current {
            Some(s) if s.serves(config) => {
                s.graph_changed(config, graph.clone()).await;
                Some(s)
            }
            Some(s) => {
                tracing::info!("[sparkplug] or [mqtt] changed: a new Sparkplug session");
                s.close(Duration::from_secs(2)).await;
                Self::start(config, graph.clone())
            }
            None => Self::start(config, graph.clone()),
        }
    }

    /// Publishes NDEATH and disconnects, waiting until both are written (at most `timeout`,
    /// but never less than [`CLOSE_MIN`]): the task and its event loop end before this
    /// returns, so a daemon exiting next cannot cut the connection between the two.
    pub(crate) async fn close(self, timeout: Duration) {
        let timeout = timeout.max(CLOSE_MIN);
        let (tx, rx) = oneshot::channel();
        let mut task = self.task;
        let closed = async {
            if self.control.send(Control::Close(tx)).await.is_ok() {
                let _ = rx.await;
            }
            let _ = (&mut task).await;
        };
        if tokio::time::timeout(timeout, closed).await.is_err() {
            tracing::warn!(
                timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                "sparkplug: the close did not finish in time; dropping the connection (the broker sends the will)"
            );
            // Aborting the task drops its event loop (the poller is owned by it): nothing runs on
            // after this returns.
            task.abort();
            let _ = task.await;
        }
    }
}

/// Reads node records of `edge` from `graph` into `values` (tagged with `generation`);
/// returns the reader tasks and seeds `edge` with each record's current value.
fn attach_graph(
    edge: &mut EdgeNode,
    graph: &Graphs,
    generation: u64,
    values: &mpsc::Sender<(u64, usize, Value)>,
) -> Vec<JoinHandle<()>> {
    let mut readers = Vec::new();
    for (idx, key, entry) in edge.node_records() {
        if let Some(Ok(Some(v))) = graph.get(&key).map(|h| (ops(entry).latest_json)(h, &key)) {
            edge.node_value(idx, &v);
        }
        let mut feed = match graph
            .handle(&key)
            .and_then(|h| (ops(entry).subscribe_json)(h, &key))
        {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(record = %key, "sparkplug: cannot read the record: {e}");
                continue;
            }
        };
        let tx = values.clone();
        readers.push(tokio::spawn(async move {
            while let Some(ev) = feed.next().await {
                if let TapEvent::Value(v) = ev {
                    if tx.send((generation, idx, v)).await.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    readers
}

/// A spawned task aborted when this is dropped (the poller dies with the session task, also
/// when that is aborted).
struct Poller(Option<JoinHandle<()>>);

impl Poller {
    /// Waits (at most `timeout`) for the event loop to end, draining what it reports so that
    /// it never waits on a full channel; `true` if it ended.
    async fn finish(&mut self, net: &mut mpsc::Receiver<Net>, timeout: Duration) -> bool {
        let Some(handle) = self.0.as_mut() else {
            return true;
        };
        let drained = async {
            loop {
                tokio::select! {
                    _ = &mut *handle => return,
                    ev = net.recv() => if ev.is_none() {
                        let _ = (&mut *handle).await;
                        return;
                    },
                }
            }
        };
        let ended = tokio::time::timeout(timeout, drained).await.is_ok();
        if ended {
            self.0 = None;
        }
        ended
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.abort();
        }
    }
}

#[allow(clippy::too_many_lines)] // The session's select loop: one match over its events.
async fn run(
    mqtt: MqttConfig,
    cfg: Arc<SparkplugConfig>,
    graph: Graphs,
    mut control: mpsc::Receiver<Control>,
) {
    let mut edge = EdgeNode::new(cfg.clone());
    open_held_disk(&mut edge, &cfg).await;
    let mut bdseq = BdSeq::load(cfg.bdseq_path.clone()).await;
    let (values_tx, mut values) = mpsc::channel::<(u64, usize, Value)>(1024);
    let mut generation = 0u64;
    let mut graph = graph;
    let mut readers = attach_graph(&mut edge, &graph, generation, &values_tx);
    let mut backoff = Backoff::new(mqtt.reconnect_min, mqtt.reconnect_max, jitter_seed());
    let client_id = format!("{}-sparkplug", mqtt.client_id);
    let mut shown = u64::MAX;
    let mut host = PrimaryHost::default();
    'connections: loop {
        let bd = bdseq.next().await;
        stats().set_bdseq(bd);
        let topics = edge.topics().clone();
        let options = match crate::mqtt::session::client_options(&mqtt, &client_id).await {
            Ok(mut o) => {
                o.set_clean_session(true)
                    .set_max_packet_size(MAX_PACKET, MAX_PACKET)
                    .set_last_will(LastWill::new(
                        topics.node(MessageType::NDeath),
                        payload::ndeath(bd),
                        QoS::AtLeastOnce,
                        false,
                    ));
                o
            }
            Err(e) => {
                tracing::error!("sparkplug: cannot connect: {e}");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        let (client, eventloop) = AsyncClient::new(options, CHANNEL);
        let (net_tx, mut net) = mpsc::channel::<Net>(256);
        let mut poller = Poller(Some(tokio::spawn(poll(eventloop, net_tx))));
        let ended = loop {
            if edge.table_version() != shown {
                shown = edge.table_version();
                table::publish(Some(edge.aliases()));
            }
            tokio::select! {
                ev = net.recv() => match ev {
                    Some(Net::Connected) => {
                        backoff.reset();
                        host.reconnected();
                        subscribe(&client, &edge);
                        match &edge.config().primary_host_id {
                            None => birth(&client, &mut edge, bd),
                            Some(h) => {
                                stats().set_host_online(false);
                                tracing::info!(bdseq = bd, host = %h, "sparkplug: connected; births wait for the primary host's STATE online");
                            }
                        }
                    }
                    Some(Net::Message(topic, bytes)) => {
                        if is_host_state(&edge, &topic) {
                            if on_host_state(&client, &mut edge, &mut host, bd, &bytes) {
                                close(&client, &edge, bd, &mut poller, &mut net).await;
                                break Ended::HostOffline;
                            }
                        } else if let Some(out) = on_message(&mut edge, &graph, &topic, &bytes) {
                            publish(&client, out);
                        }
                    }
                    Some(Net::Down(e)) => break Ended::Lost(e),
                    None => break Ended::Lost("event loop ended".to_string()),
                },
                Some((g, idx, v)) = values.recv() => {
                    if g == generation {
                        if let Some(out) = edge.node_value(idx, &v) {
                            publish(&client, vec![out]);
                        }
                    }
                }
                ctl = control.recv() => match ctl {
                    Some(Control::Graph(next, cfg)) => {
                        graph = next;
                        for r in readers.drain(..) { r.abort(); }
                        generation += 1;
                        edge.reconfigure(cfg);
                        readers = attach_graph(&mut edge, &graph, generation, &values_tx);
                        subscribe(&client, &edge);
                        if edge.is_born() {
                            publish(&client, edge.births(bd));
                        }
                    }
                    Some(Control::Close(done)) => {
                        close(&client, &edge, bd, &mut poller, &mut net).await;
                        for r in readers.drain(..) { r.abort(); }
                        close_held_disk(&mut edge).await;
                        let _ = done.send(());
                        break 'connections;
                    }
                    // The handle is gone without a close (the daemon is exiting): the will
                    // tells the host.
                    None => break 'connections,
                },
            }
        };
        drop(poller);
        edge.disconnected();
        table::publish(Some(edge.aliases()));
        stats().set_connected(false);
        // Unknown until the next connection's STATE.
        stats().set_host_online(false);
        let delay = match ended {
            Ended::Lost(down) => {
                let delay = backoff.next_delay();
                tracing::warn!(
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "sparkplug: connection lost: {down}"
                );
                delay
            }
            Ended::HostOffline => {
                tracing::info!(
                    retry_in_ms = u64::try_from(mqtt.reconnect_min.as_millis()).unwrap_or(u64::MAX),
                    "sparkplug: disconnected for the primary host being offline; connecting again to wait for it"
                );
                mqtt.reconnect_min
            }
        };
        tokio::time::sleep(delay).await;
    }
    stats().set_connected(false);
    table::publish(None);
}

/// With a primary host: opens the store-and-forward file and loads what it kept (values held
/// before a restart). A file that cannot be opened is logged; values are then held in memory
/// only.
async fn open_held_disk(edge: &mut EdgeNode, cfg: &SparkplugConfig) {
    if cfg.primary_host_id.is_none() {
        return;
    }
    let (path, max) = (cfg.held_path.clone(), cfg.store_forward_max_values);
    match tokio::task::spawn_blocking(move || HeldDisk::open(&path, max)).await {
        Ok(Ok((disk, loaded))) => edge.attach_disk(disk, loaded),
        Ok(Err(e)) => tracing::error!(
            "sparkplug: cannot open the store-and-forward file: {e}; held values are kept in memory only"
        ),
        Err(e) => tracing::error!("sparkplug: opening the store-and-forward file: {e}"),
    }
}

/// Lets the store-and-forward file's writer commit and end (a clean close).
async fn close_held_disk(edge: &mut EdgeNode) {
    if let Some(disk) = edge.take_disk() {
        let _ = tokio::task::spawn_blocking(move || disk.close()).await;
    }
}

/// NBIRTH and the DBIRTHs, then what was held meanwhile.
fn birth(client: &AsyncClient, edge: &mut EdgeNode, bd: u8) {
    publish(client, edge.births(bd));
    stats().set_connected(true);
    tracing::info!(bdseq = bd, topic = %edge.topics().node(MessageType::NBirth), "sparkplug: connected, NBIRTH sent");
}

/// Whether `topic` is the configured primary host's `STATE`.
fn is_host_state(edge: &EdgeNode, topic: &str) -> bool {
    edge.config()
        .primary_host_id
        .as_deref()
        .is_some_and(|h| topic == state_topic(h))
}

/// A `STATE` of the primary host: births when it says online (and not born yet); `true` when
/// it says offline while born (the caller sends NDEATH, disconnects and starts over). Older
/// and malformed ones are counted, logged and ignored.
fn on_host_state(
    client: &AsyncClient,
    edge: &mut EdgeNode,
    host: &mut PrimaryHost,
    bd: u8,
    bytes: &[u8],
) -> bool {
    let last = host.last_timestamp();
    match host.take(bytes) {
        Ok(Verdict::Online) => {
            stats().set_host_online(true);
            if !edge.is_born() {
                tracing::info!(held = edge.held(), "sparkplug: the primary host is online");
                birth(client, edge, bd);
            }
            false
        }
        Ok(Verdict::Offline) => {
            stats().set_host_online(false);
            if edge.is_born() {
                tracing::warn!("sparkplug: the primary host is offline: NDEATH, disconnecting; values are held until it is back");
                true
            } else {
                tracing::info!("sparkplug: the primary host is offline; waiting for it");
                false
            }
        }
        Ok(Verdict::Older(ts)) => {
            stats().host_state_ignored();
            tracing::info!(
                timestamp = ts,
                last = last.unwrap_or_default(),
                "sparkplug: primary host STATE older than the last one taken: ignored"
            );
            false
        }
        Err(e) => {
            stats().host_state_ignored();
            tracing::warn!("sparkplug: primary host STATE ignored: {e}");
            false
        }
    }
}

/// Drives rumqttc's event loop, forwarding what the session needs; ends at the first error
/// (the session makes a new connection with a new `bdSeq`).
///
/// After the DISCONNECT is written it goes on reading until the broker closes the connection:
/// closing it first, with bytes still unread on our side (the NDEATH's PUBACK), makes the
/// kernel answer with a TCP reset, and a broker that had not read the DISCONNECT yet then
/// discards it and sends the will — after our own NDEATH (the double NDEATH seen under load).
async fn poll(mut eventloop: rumqttc::EventLoop, net: mpsc::Sender<Net>) {
    let mut disconnecting = false;
    loop {
        let ev = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Net::Connected,
            Ok(Event::Incoming(Packet::Publish(p))) if !disconnecting => {
                Net::Message(p.topic, p.payload.to_vec())
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                disconnecting = true;
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                let why = if disconnecting {
                    "disconnected".to_string()
                } else {
                    e.to_string()
                };
                let _ = net.try_send(Net::Down(why));
                return;
            }
        };
        if net.send(ev).await.is_err() {
            return;
        }
    }
}

fn subscribe(client: &AsyncClient, edge: &EdgeNode) {
    let t = edge.topics();
    let mut filters = vec![
        (t.node(MessageType::NCmd), QoS::AtLeastOnce),
        (t.device(MessageType::DCmd, "+"), QoS::AtLeastOnce),
    ];
    let cfg = edge.config();
    if let Some(h) = &cfg.primary_host_id {
        filters.push((state_topic(h), QoS::AtLeastOnce));
    }
    if cfg.records.iter().any(|r| !r.device_links().is_empty()) {
        filters.push((aimdb_topic::status_topic("+"), QoS::AtMostOnce));
    }
    for r in &cfg.records {
        for l in r.device_links() {
            if !filters.iter().any(|(f, _)| *f == l.filter) {
                filters.push((l.filter.clone(), QoS::AtMostOnce));
            }
        }
    }
    for (f, qos) in filters {
        if let Err(e) = client.try_subscribe(&f, qos) {
            tracing::error!(filter = %f, "sparkplug: cannot subscribe: {e}");
        }
    }
}

fn publish(client: &AsyncClient, out: Vec<Outgoing>) {
    for o in out {
        if let Err(e) = client.try_publish(o.topic.as_str(), QoS::AtMostOnce, false, o.payload) {
            stats().publish_dropped();
            tracing::warn!(topic = %o.topic, "sparkplug: message dropped: {e}");
        }
    }
}

/// A message from the broker: a command to this edge node, or a node's status or reading.
fn on_message(
    edge: &mut EdgeNode,
    graph: &Graphs,
    topic: &str,
    bytes: &[u8],
) -> Option<Vec<Outgoing>> {
    match edge.topics().command(topic) {
        Some(Command::Node) => {
            return match payload::node_command(bytes, REBIRTH_ALIAS) {
                Ok(true) if !edge.is_born() => {
                    tracing::info!("sparkplug: NCMD Node Control/Rebirth while not born (waiting for the primary host): the births follow its STATE online");
                    None
                }
                Ok(true) => {
                    stats().rebirth_request();
                    tracing::info!("sparkplug: NCMD Node Control/Rebirth: sending births");
                    let bd = edge.bdseq();
                    Some(edge.births(bd))
                }
                Ok(false) => None,
                Err(e) => {
                    stats().command_rejected();
                    tracing::warn!(%topic, "sparkplug: NCMD refused: {e}");
                    None
                }
            };
        }
        Some(Command::Device(d)) => {
            if let Err(e) = device_command(edge, graph, d, bytes) {
                stats().command_rejected();
                tracing::warn!(%topic, device = d, "sparkplug: DCMD refused: {e}");
            }
            return None;
        }
        None => {}
    }
    match aimdb_topic::parse(topic)? {
        Topic::Status { node } => {
            let status = NodeStatus::from_payload(bytes)?;
            edge.device_status(node, status).map(|o| vec![o])
        }
        Topic::Record { node, .. } => match edge.device_message(node, topic, bytes) {
            Ok(o) => o.map(|o| vec![o]),
            Err(e) => {
                stats().device_payload_rejected();
                tracing::warn!(%topic, "sparkplug: node payload not decoded: {e}");
                None
            }
        },
        _ => None,
    }
}

/// Writes a DCMD into the device's command records (typed and validated, under the writer
/// rule, as `ctl set` does), in order; stops at the first write refused.
fn device_command(
    edge: &EdgeNode,
    graph: &Graphs,
    device: &str,
    bytes: &[u8],
) -> Result<(), payload::CommandError> {
    let writes = edge.device_command(device, bytes)?;
    for (key, value) in writes {
        let entry = edge
            .config()
            .records
            .iter()
            .find(|r| r.key == key)
            .map(|r| r.ty)
            .ok_or_else(|| payload::CommandError::Unknown(key.clone()))?;
        graph
            .handle(&key)
            .map_err(SetJsonError::from)
            .and_then(|h| (ops(entry).set_json)(h, &key, value))
            .map_err(|e| payload::CommandError::Invalid(key.clone(), e.to_string()))?;
        tracing::info!(record = %key, device, "sparkplug: DCMD written");
    }
    Ok(())
}

/// A clean close (spec 3.0, "Edge Node Session Termination"): NDEATH, then DISCONNECT right
/// after it (the broker then does not send the will), and the event loop is given the time to
/// write both before the connection is dropped.
///
/// Both are queued with the client's waiting calls (a queue full of data is waited on rather
/// than the NDEATH lost), while what the event loop reports is drained so that it never waits
/// on the session. Not born (no NBIRTH on this connection): DISCONNECT only, the host has no
/// birth to pair a death with. If the NDEATH cannot be queued, no DISCONNECT is sent: the
/// dropped connection makes the broker send the will, so the host still sees one death.
async fn close(
    client: &AsyncClient,
    edge: &EdgeNode,
    bd: u8,
    poller: &mut Poller,
    net: &mut mpsc::Receiver<Net>,
) {
    let deadline = tokio::time::Instant::now() + CLOSE_WRITE;
    if edge.is_born() {
        let topic = edge.topics().node(MessageType::NDeath);
        let queued = tokio::time::timeout_at(
            deadline,
            drain_while(
                net,
                client.publish(topic, QoS::AtLeastOnce, false, payload::ndeath(bd)),
            ),
        )
        .await;
        if !matches!(queued, Ok(Ok(()))) {
            tracing::warn!(
                bdseq = bd,
                "sparkplug: NDEATH could not be queued; dropping the connection so that the broker sends the will"
            );
            return;
        }
        stats().node_death();
    }
    let queued = tokio::time::timeout_at(deadline, drain_while(net, client.disconnect())).await;
    if !matches!(queued, Ok(Ok(()))) {
        tracing::warn!("sparkplug: DISCONNECT could not be queued; the broker sends the will");
        return;
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if poller.finish(net, left).await {
        if edge.is_born() {
            tracing::info!(bdseq = bd, "sparkplug: NDEATH published, disconnected");
        }
    } else {
        tracing::warn!(
            bdseq = bd,
            "sparkplug: NDEATH and DISCONNECT not written in time; the connection is dropped"
        );
    }
}

/// Awaits `fut` while discarding what the event loop reports (so that it never waits on a full
/// channel while `fut` waits on it).
async fn drain_while<F: std::future::Future>(net: &mut mpsc::Receiver<Net>, fut: F) -> F::Output {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            ev = net.recv() => if ev.is_none() {
                return fut.await;
            },
        }
    }
}

/// A seed for reconnect jitter that differs between daemons and between restarts.
fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    nanos ^ u64::from(std::process::id()).rotate_left(17)
}
