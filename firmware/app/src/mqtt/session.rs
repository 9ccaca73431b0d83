//! One MQTT session at a time: connect with a will, subscribe, announce `online` and the schema
//! (what the node speaks), carry the graph's links, keep alive; on failure back off and
//! reconnect; on shutdown drain, announce `offline` and disconnect.
//!
//! Cancel-safety: the session is not meant to be cancelled; it ends by itself after the graph's
//! shutdown signal (it drains first), and marks the [`Bridge`] drained when it returns.

use alloc::string::String;
use core::num::NonZero;
use core::task::Poll;
use core::time::Duration;

use aimdb_core::lifecycle::ShutdownSignal;
use aimdb_core::link::FrameError;
use aimdb_core::{CodecError, LogLevel, Runtime};
use aimdb_records::topic::{schema_topic, status_topic};
use aimdb_records::NodeStatus;
use embassy_futures::select::{select, select4, Either, Either4};
use rust_mqtt::buffer::AllocBuffer;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, SubscriptionOptions, TopicReference,
    WillOptions,
};
use rust_mqtt::client::Client;
use rust_mqtt::config::KeepAlive;
use rust_mqtt::types::{MqttBinary, MqttString, QoS, TopicFilter, TopicName};
use rust_mqtt::Bytes;

use super::{Bridge, Links};
use crate::config::NodeConfig;
use crate::network::Network;
use crate::stats::NodeStats;
use aimdb_core::backoff::Backoff;

/// Largest MQTT packet the node accepts (commands are a few bytes).
const MAX_INCOMING_PACKET: u32 = 1024;
/// How long the broker may take to answer CONNECT, and to finish a packet it started.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// rust-mqtt's client as the node uses it: up to 4 subscriptions and 4 QoS 1 publications in
/// flight, 4 incoming QoS 1 publications, no user properties or topic aliases.
type NodeClient<'c, C> = Client<'c, 'c, C, AllocBuffer, 4, 4, 4, 1, 0, 0, 0>;

/// What the session needs from the node.
pub(crate) struct Session<'a, R: Runtime> {
    pub(crate) rt: &'a R,
    pub(crate) cfg: &'a NodeConfig,
    pub(crate) bridge: &'a Bridge<R>,
    pub(crate) shutdown: &'a ShutdownSignal<R::Mutex>,
    pub(crate) stats: &'a NodeStats,
    /// The retained payload of `aimdb/<node>/schema` (`aimdb_records::announce`).
    pub(crate) announcement: &'a str,
}

/// How one connection ended.
enum Ended {
    /// Shutdown: drained, `offline` sent (if possible), disconnected.
    Shutdown,
    /// The connection failed; reconnect after a backoff.
    Failed,
}

impl<R: Runtime> Session<'_, R> {
    fn log(&self, level: LogLevel, message: core::fmt::Arguments<'_>) {
        self.rt.log(level, "mqtt", message);
    }

    /// Runs sessions until the graph shuts down; see the module docs.
    pub(crate) async fn run<N: Network>(&self, net: &mut N) {
        let mut links = self.bridge.take_links().unwrap_or(Links {
            outbound: alloc::vec::Vec::new(),
            inbound: alloc::vec::Vec::new(),
        });
        let mut backoff = Backoff::new(
            Duration::from_millis(u64::from(self.cfg.reconnect_min_ms)),
            Duration::from_millis(u64::from(self.cfg.reconnect_max_ms)),
            u64::from(self.cfg.seed),
        );
        while !self.shutdown.is_raised() {
            let conn = match select(net.connect(), self.shutdown.wait()).await {
                Either::First(Ok(conn)) => conn,
                Either::First(Err(e)) => {
                    NodeStats::bump(&self.stats.connect_failures);
                    self.log(
                        LogLevel::Warn,
                        format_args!("cannot reach the broker: {e:?}"),
                    );
                    self.pause(&mut backoff).await;
                    continue;
                }
                Either::Second(()) => break,
            };
            let mut buffer = AllocBuffer;
            let mut client: NodeClient<'_, _> = Client::new(&mut buffer);
            match self
                .connected(&mut client, conn, &mut links, &mut backoff)
                .await
            {
                Ended::Shutdown => break,
                Ended::Failed => self.pause(&mut backoff).await,
            }
        }
        // Inbound links first, so that the command record closes and its tap ends.
        drop(links);
        self.bridge.set_drained();
    }

    /// Sleeps the next backoff delay, or until shutdown.
    async fn pause(&self, backoff: &mut Backoff) {
        let delay = backoff.next_delay();
        self.log(
            LogLevel::Info,
            format_args!("reconnecting in {} ms", delay.as_millis()),
        );
        select(self.rt.sleep(delay), self.shutdown.wait()).await;
    }

    /// Connects over `conn` and serves the links until the connection fails or the graph shuts
    /// down.
    async fn connected<C>(
        &self,
        client: &mut NodeClient<'_, C>,
        conn: C,
        links: &mut Links,
        backoff: &mut Backoff,
    ) -> Ended
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        let node = self.cfg.node_id.as_str();
        let status = status_topic(node);
        let client_id: String = ["aimdb-node-", node].concat();
        let (Ok(will_topic), Ok(offline), Ok(id)) = (
            MqttString::try_from(status.as_str()),
            MqttBinary::try_from(NodeStatus::Offline.as_payload()),
            MqttString::try_from(client_id.as_str()),
        ) else {
            self.log(LogLevel::Error, format_args!("node id does not fit MQTT"));
            return Ended::Failed;
        };
        let Some(will_topic) = TopicName::new(will_topic) else {
            return Ended::Failed;
        };
        let keep_alive = NonZero::new(self.cfg.keep_alive_s).unwrap_or(NonZero::<u16>::MIN);
        let options = ConnectOptions::new()
            .clean_start()
            .keep_alive(KeepAlive::Seconds(keep_alive))
            .maximum_packet_size(NonZero::new(MAX_INCOMING_PACKET).unwrap_or(NonZero::<u32>::MIN))
            .will(
                WillOptions::new(will_topic, offline)
                    .at_least_once()
                    .retain(),
            );
        let connect = client.connect(conn, &options, Some(id));
        match select(connect, self.rt.sleep(IO_TIMEOUT)).await {
            Either::First(Ok(_)) => {}
            Either::First(Err(e)) => {
                NodeStats::bump(&self.stats.connect_failures);
                self.log(LogLevel::Warn, format_args!("MQTT connect refused: {e:?}"));
                return Ended::Failed;
            }
            Either::Second(()) => {
                NodeStats::bump(&self.stats.connect_failures);
                self.log(LogLevel::Warn, format_args!("MQTT connect timed out"));
                return Ended::Failed;
            }
        }
        NodeStats::bump(&self.stats.connects);
        backoff.reset();
        self.log(LogLevel::Info, format_args!("connected as {client_id}"));

        for (_, topic) in &links.inbound {
            let Some(filter) = MqttString::try_from(topic.as_str())
                .ok()
                .and_then(TopicFilter::new)
            else {
                self.log(
                    LogLevel::Error,
                    format_args!("invalid command filter {topic}"),
                );
                continue;
            };
            let sub = SubscriptionOptions::new().at_least_once();
            if let Err(e) = client.subscribe(filter, &sub).await {
                self.log(LogLevel::Warn, format_args!("subscribe {topic}: {e:?}"));
                return Ended::Failed;
            }
        }
        if !self
            .publish_status(client, &status, NodeStatus::Online)
            .await
        {
            return Ended::Failed;
        }
        let schema = schema_topic(node);
        let announcement = self.announcement.as_bytes();
        if !self
            .publish_retained(client, &schema, announcement, "schema")
            .await
        {
            return Ended::Failed;
        }
        match self.serve(client, links).await {
            Ended::Failed => Ended::Failed,
            Ended::Shutdown => {
                self.drain(client, links).await;
                let _ = self
                    .publish_status(client, &status, NodeStatus::Offline)
                    .await;
                match select(
                    client.disconnect(&DisconnectOptions::new()),
                    self.rt.sleep(IO_TIMEOUT),
                )
                .await
                {
                    Either::First(Ok(_)) => self.log(LogLevel::Info, format_args!("disconnected")),
                    _ => self.log(LogLevel::Warn, format_args!("no clean disconnect")),
                }
                Ended::Shutdown
            }
        }
    }

    /// Publishes `status` retained with QoS 1 on `aimdb/<node>/status`.
    async fn publish_status<C>(
        &self,
        client: &mut NodeClient<'_, C>,
        topic: &str,
        status: NodeStatus,
    ) -> bool
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        self.publish_retained(client, topic, status.as_payload(), status.as_str())
            .await
    }

    /// Publishes `payload` retained with QoS 1 on `topic`; `false` (logged as `what`) if the
    /// connection failed.
    async fn publish_retained<C>(
        &self,
        client: &mut NodeClient<'_, C>,
        topic: &str,
        payload: &[u8],
        what: &str,
    ) -> bool
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        let Some(name) = MqttString::try_from(topic).ok().and_then(TopicName::new) else {
            return false;
        };
        let options = PublicationOptions::new(TopicReference::Name(name))
            .qos(QoS::AtLeastOnce)
            .retain();
        match client.publish(&options, Bytes::from(payload)).await {
            Ok(_) => true,
            Err(e) => {
                self.log(LogLevel::Warn, format_args!("publish {what}: {e:?}"));
                false
            }
        }
    }

    /// Carries frames both ways and keeps the connection alive, until it fails or shutdown.
    async fn serve<C>(&self, client: &mut NodeClient<'_, C>, links: &mut Links) -> Ended
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        let keep_alive = Duration::from_secs(u64::from(self.cfg.keep_alive_s.max(1)));
        let mut last_sent = self.rt.now();
        let mut ping_outstanding = false;
        let mut frame = alloc::vec::Vec::new();
        let mut next = 0usize;
        loop {
            let since = self.rt.duration_between(last_sent, self.rt.now());
            let ping_in = (keep_alive / 2).saturating_sub(since);
            let event = select4(
                client.poll_header(),
                next_frame(links, &mut frame, &mut next),
                self.rt.sleep(ping_in),
                self.shutdown.wait(),
            )
            .await;
            match event {
                Either4::First(Ok(header)) => {
                    let body = select(client.poll_body(header), self.rt.sleep(IO_TIMEOUT)).await;
                    match body {
                        Either::First(Ok(Event::Publish(p))) => {
                            let topic = p.topic.name().map(|t| {
                                let s: &MqttString<'_> = t.as_ref();
                                s.as_ref()
                            });
                            self.deliver(links, topic.unwrap_or(""), p.message.as_bytes());
                        }
                        Either::First(Ok(Event::Pingresp)) => ping_outstanding = false,
                        Either::First(Ok(_)) => {}
                        Either::First(Err(e)) => {
                            self.log(LogLevel::Warn, format_args!("connection lost: {e:?}"));
                            return Ended::Failed;
                        }
                        Either::Second(()) => {
                            self.log(LogLevel::Warn, format_args!("broker stalled mid-packet"));
                            return Ended::Failed;
                        }
                    }
                }
                Either4::First(Err(e)) => {
                    self.log(LogLevel::Warn, format_args!("connection lost: {e:?}"));
                    return Ended::Failed;
                }
                Either4::Second(outcome) => {
                    match self.forward(client, links, outcome, &frame).await {
                        Some(true) => last_sent = self.rt.now(),
                        Some(false) => {}
                        None => return Ended::Failed,
                    }
                }
                Either4::Third(()) => {
                    if ping_outstanding {
                        self.log(
                            LogLevel::Warn,
                            format_args!("no answer to ping: reconnecting"),
                        );
                        return Ended::Failed;
                    }
                    if let Err(e) = client.ping().await {
                        self.log(LogLevel::Warn, format_args!("ping: {e:?}"));
                        return Ended::Failed;
                    }
                    ping_outstanding = true;
                    last_sent = self.rt.now();
                }
                Either4::Fourth(()) => return Ended::Shutdown,
            }
        }
    }

    /// Acts on one outbound link's outcome: publishes a frame (`Some(true)`), counts a lag or an
    /// encode error, retires a closed link (`Some(false)`), or reports a broken connection
    /// (`None`).
    async fn forward<C>(
        &self,
        client: &mut NodeClient<'_, C>,
        links: &mut Links,
        (index, outcome): (usize, Result<(), FrameError>),
        frame: &[u8],
    ) -> Option<bool>
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        match outcome {
            Ok(()) => {
                let topic = links.outbound.get(index).map(|(_, t)| t.as_str())?;
                let name = MqttString::try_from(topic).ok().and_then(TopicName::new)?;
                let options = PublicationOptions::new(TopicReference::Name(name));
                match client.publish(&options, Bytes::from(frame)).await {
                    Ok(_) => {
                        NodeStats::bump(&self.stats.published);
                        Some(true)
                    }
                    Err(e) => {
                        self.log(LogLevel::Warn, format_args!("publish {topic}: {e:?}"));
                        None
                    }
                }
            }
            Err(FrameError::Lagged(n)) => {
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                self.stats
                    .lagged
                    .fetch_add(n, core::sync::atomic::Ordering::Relaxed);
                Some(false)
            }
            Err(FrameError::Encode(e)) => {
                NodeStats::bump(&self.stats.encode_errors);
                self.log(LogLevel::Warn, format_args!("encode: {e}"));
                Some(false)
            }
            Err(FrameError::Closed) => {
                if index < links.outbound.len() {
                    links.outbound.swap_remove(index);
                }
                Some(false)
            }
        }
    }

    /// Hands a received payload to every inbound link whose filter matches `topic`; a payload
    /// a link cannot decode is counted and dropped for that link (the others still get it): as
    /// refused when its version or schema is not this node's, else as malformed.
    fn deliver(&self, links: &Links, topic: &str, payload: &[u8]) {
        for link in super::matching(&links.inbound, topic) {
            let e = match link.push(payload) {
                Ok(()) => {
                    NodeStats::bump(&self.stats.commands_received);
                    continue;
                }
                Err(e) => e,
            };
            if let CodecError::Refused { .. } = e {
                NodeStats::bump(&self.stats.commands_refused);
                self.log(
                    LogLevel::Warn,
                    format_args!("dropped command on {topic}: {e}"),
                );
            } else {
                NodeStats::bump(&self.stats.commands_malformed);
                self.log(
                    LogLevel::Warn,
                    format_args!("dropped malformed payload on {topic}: {e}"),
                );
            }
        }
    }

    /// On shutdown: stops taking commands, then publishes what the records still hold until
    /// every outbound link has closed or the drain timeout passes.
    async fn drain<C>(&self, client: &mut NodeClient<'_, C>, links: &mut Links)
    where
        C: embedded_io_async::Read + embedded_io_async::Write,
    {
        links.inbound.clear();
        let deadline = Duration::from_millis(u64::from(self.cfg.drain_timeout_ms));
        let started = self.rt.now();
        let mut frame = alloc::vec::Vec::new();
        let mut next = 0usize;
        while !links.outbound.is_empty() {
            let left = deadline.saturating_sub(self.rt.duration_between(started, self.rt.now()));
            match select(
                next_frame(links, &mut frame, &mut next),
                self.rt.sleep(left),
            )
            .await
            {
                Either::First(outcome) => {
                    if self.forward(client, links, outcome, &frame).await.is_none() {
                        return;
                    }
                }
                Either::Second(()) => {
                    self.log(LogLevel::Warn, format_args!("drain timed out"));
                    return;
                }
            }
        }
    }
}

/// The next outcome of any outbound link, polled round-robin from `next` so that a busy record
/// cannot starve the others. Pending forever when there are no links. Cancel-safe.
async fn next_frame(
    links: &mut Links,
    frame: &mut alloc::vec::Vec<u8>,
    next: &mut usize,
) -> (usize, Result<(), FrameError>) {
    core::future::poll_fn(|cx| {
        let n = links.outbound.len();
        for k in 0..n {
            let i = (*next + k) % n;
            if let Poll::Ready(outcome) = links.outbound[i].0.poll_frame(cx, frame) {
                *next = (i + 1) % n;
                return Poll::Ready((i, outcome));
            }
        }
        Poll::Pending
    })
    .await
}
