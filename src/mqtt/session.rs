//! [`Session`]: the one broker connection of a [`super::Bridge`] (kept across reloads that do
//! not change `[mqtt]`).
//!
//! - One rumqttc client with the configured, stable client id; keep-alive; last will
//!   `aimdb/<node>/status` = `offline` (retained, QoS 1); after every CONNACK: subscribe to every
//!   inbound filter (and `aimdb/+/schema`), publish `online` and this gateway's schema
//!   announcement on `aimdb/<node>/schema` (both retained, QoS 1), send what the outboxes hold.
//! - The event loop runs on this task alone and is polled continuously; nothing else ever waits
//!   on rumqttc (publishing is `try_publish` from [`Publisher`]), so publishing cannot deadlock it.
//! - A failed or lost connection is retried after a [`Backoff`] delay (exponential, jittered;
//!   logged with the attempt number and the delay). Refused credentials are an error line that
//!   says so, and retried the same way (the password file may be fixed meanwhile).
//! - Shutdown ([`close_when_drained`]): inbound links are dropped, outbound links drain
//!   into their outboxes, QoS ≥ 1 values are sent until acknowledged (bounded by 3/4 of
//!   `[node] shutdown_timeout`), then `offline` is published (retained) and the client
//!   disconnects; the disk outbox is committed and closed last.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_records::topic;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, LastWill, MqttOptions,
    Outgoing, Packet, PubRel, QoS, Request, StateError, SubscribeReasonCode, TlsConfiguration,
    Transport,
};
use tokio::sync::Notify;

use super::inbound::Router;
use super::metrics::{BadInput, MqttMetrics};
use super::publisher::Publisher;
use super::schemas::own_announcement;
use super::tls;
use crate::mqtt::config::MqttConfig;
use aimdb_core::backoff::Backoff;

/// Requests the client may queue for the event loop; the publisher stops handing over values
/// when it is full.
const CHANNEL: usize = 1024;
/// QoS ≥ 1 publishes in flight (sent, not yet acknowledged).
const INFLIGHT: u16 = 256;
/// The largest packet MQTT can express. Inbound packets up to it are read whole and, above
/// `max_packet_size`, dropped by the router (counted, and acknowledged): refusing to read one
/// would drop the connection, and a persistent session's broker would send the same message
/// again on every reconnect — one oversized message would stop all inbound for good.
const MQTT_MAX_PACKET: usize = 268_435_455;
/// A connection that lasted this long resets the reconnect backoff; one lost sooner (a session
/// taken over by another client with the same id, a broker refusing us after CONNACK) does not,
/// so two daemons fighting over one client id back off instead of reconnecting in a storm.
const STABLE: Duration = Duration::from_secs(3);
/// How long a resumed session waits for the broker to complete the [`Release`] sweep before
/// sending anyway (a broker that ignores a PUBREL for an id it does not hold).
const RELEASE_WAIT: Duration = Duration::from_secs(10);

/// The QoS 2 releases sent when the broker resumes our session, before anything else.
///
/// rumqttc forgets a connection's QoS 2 state when it drops (and the publisher sends every
/// unacknowledged value again, with fresh packet ids), but a broker that kept the session still
/// holds each QoS 2 message whose PUBLISH it received and whose PUBREL it has not: its packet id
/// stays in use. A fresh publish that happens to get such an id is taken as a resend of the old
/// one ("Reused message ID") — acknowledged and never delivered. So on every resumed session
/// the session first releases every id rumqttc can use (1..=[`INFLIGHT`]; a PUBREL for an id the
/// broker does not hold is answered with PUBCOMP all the same), and hands the connection to the
/// publisher only once all are complete. A value the broker had received is then delivered
/// once more by the resend: QoS 2 out is at-least-once across reconnects (docs/MQTT.md).
struct Release {
    /// Ids released and not yet completed.
    open: Vec<bool>,
    left: usize,
    deadline: tokio::time::Instant,
}

impl Release {
    /// Queues a PUBREL for every id, ahead of any request: rumqttc sends the event loop's public
    /// `pending` queue first on a connection, and its client has no call that sends a PUBREL.
    fn start(el: &mut EventLoop) -> Self {
        el.pending
            .extend((1..=INFLIGHT).map(|id| Request::PubRel(PubRel::new(id))));
        Self {
            open: vec![true; usize::from(INFLIGHT) + 1],
            left: usize::from(INFLIGHT),
            deadline: tokio::time::Instant::now() + RELEASE_WAIT,
        }
    }

    /// Takes a PUBCOMP; true when it completed the sweep.
    fn completed(&mut self, id: u16) -> bool {
        if let Some(open) = self.open.get_mut(usize::from(id)).filter(|o| **o) {
            *open = false;
            self.left -= 1;
        }
        self.left == 0
    }
}

/// What the session needs.
pub(crate) struct Session {
    /// `[mqtt]`.
    pub(crate) cfg: Arc<MqttConfig>,
    /// `[node] id`.
    pub(crate) node_id: String,
    /// Outbound side.
    pub(crate) publisher: Arc<Publisher>,
    /// Inbound side.
    pub(crate) router: Arc<Router>,
    /// Raised to end the session at once (the shutdown task does, after `offline`).
    pub(crate) abandon: Arc<Notify>,
    /// Notified when the session has ended.
    pub(crate) ended: Arc<Notify>,
    /// The bridge's counters.
    pub(crate) metrics: Arc<MqttMetrics>,
}

impl Session {
    /// Runs the session until abandoned or cleanly disconnected.
    pub(crate) async fn run(self) {
        let status = topic::status_topic(&self.node_id);
        let mut backoff = Backoff::new(
            self.cfg.reconnect_min,
            self.cfg.reconnect_max,
            jitter_seed(),
        );
        let options = loop {
            match self.options(&status).await {
                Ok(o) => break Some(o),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::error!(
                        retry_in_ms = millis(delay),
                        "MQTT session cannot start: {e}"
                    );
                    if !self.sleep_or_abandon(delay).await {
                        break None;
                    }
                }
            }
        };
        if let Some(options) = options {
            let schema = (topic::schema_topic(&self.node_id), own_announcement());
            let births: [(&str, &[u8]); 2] = [
                (&status, topic::STATUS_ONLINE.as_bytes()),
                (&schema.0, schema.1.as_bytes()),
            ];
            self.event_loop(&options, &births, backoff).await;
        }
        self.metrics.connected.store(0, Ordering::Relaxed);
        if let Some(disk) = self.publisher.take_disk() {
            disk.close().await;
        }
        tracing::info!(held = self.publisher.held(), "MQTT session closed");
        self.ended.notify_one();
    }

    async fn options(&self, status: &str) -> Result<MqttOptions, String> {
        let cfg = &self.cfg;
        let mut o = client_options(cfg, &cfg.client_id).await?;
        o.set_clean_session(cfg.clean_session)
            .set_max_packet_size(MQTT_MAX_PACKET, cfg.max_packet_size)
            .set_inflight(INFLIGHT)
            // Inbound QoS ≥ 1 messages are acknowledged by the router once accepted downstream.
            .set_manual_acks(true)
            .set_last_will(LastWill::new(
                status,
                topic::STATUS_OFFLINE,
                QoS::AtLeastOnce,
                true,
            ));
        Ok(o)
    }

    /// A new client and event loop for `options`, the client handed to the router and the
    /// publisher: for the first connection, and again after each lost one (see
    /// [`Session::event_loop`]).
    fn new_client(&self, options: &MqttOptions) -> EventLoop {
        let (client, mut eventloop) = AsyncClient::new(options.clone(), CHANNEL);
        // Small packets (PUBACKs, QoS ≥ 1 publishes waiting for them) must not wait for
        // Nagle's algorithm: with delayed ACKs that adds tens of ms per round trip.
        let mut net = eventloop.network_options();
        net.set_tcp_nodelay(true);
        eventloop.set_network_options(net);
        self.router.set_client(client.clone());
        self.publisher.set_client(client);
        eventloop
    }

    /// Drives connections until abandoned or cleanly disconnected.
    ///
    /// After a connection error the event loop is dropped and a new client and event loop are
    /// made ([`Session::new_client`]): rumqttc would otherwise replay on its own what the lost
    /// connection had not finished (its unacknowledged publishes and releases, and the requests
    /// still in the client's channel), while the publisher sends every unacknowledged value
    /// again with fresh packet ids and the router waits for the broker to redeliver what it did
    /// not acknowledge. rumqttc's public API has no call that forgets that state on a kept event
    /// loop: `EventLoop::clean` moves it into `pending` rather than dropping it, and only the
    /// public fields (`pending`, `state.events`, `state.collision`) could be cleared by hand.
    #[allow(clippy::too_many_lines)] // Rumqttc's event loop: one match over its events.
    async fn event_loop(
        &self,
        options: &MqttOptions,
        births: &[(&str, &[u8])],
        mut backoff: Backoff,
    ) {
        let m = &self.metrics;
        let mut el = self.new_client(options);
        // When the current connection was accepted, and how many in a row were lost soon after.
        let mut connected_at: Option<Instant> = None;
        let mut quick_losses = 0u32;
        // A resumed session's QoS 2 release sweep, while it runs (see `Release`).
        let mut release: Option<Release> = None;
        loop {
            // Acknowledgements as values are accepted downstream come from the router's
            // per-graph settle tasks; this task only drives the connection.
            let deadline = release.as_ref().map(|r| r.deadline);
            let event = tokio::select! {
                biased;
                _ = self.abandon.notified() => return,
                () = sleep_until_some(deadline) => {
                    if let Some(r) = release.take() {
                        tracing::warn!(
                            broker = %self.cfg.url,
                            open = r.left,
                            "the broker did not complete the QoS 2 releases of the resumed session in time; sending anyway"
                        );
                        self.publisher
                            .connected(&self.router.filters(), births);
                    }
                    continue;
                }
                e = el.poll() => e,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    m.connects.fetch_add(1, Ordering::Relaxed);
                    m.connected.store(1, Ordering::Relaxed);
                    tracing::info!(
                        broker = %self.cfg.url,
                        client_id = %self.cfg.client_id,
                        session_present = ack.session_present,
                        after_attempts = backoff.attempts(),
                        "connected to the MQTT broker"
                    );
                    // The backoff resets only once a connection has lasted (see `STABLE`).
                    connected_at = Some(Instant::now());
                    if ack.session_present {
                        release = Some(Release::start(&mut el));
                    } else {
                        self.publisher.connected(&self.router.filters(), births);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    m.received_bytes
                        .fetch_add(p.size() as u64, Ordering::Relaxed);
                    self.router.receive(p)
                }
                Ok(Event::Incoming(Packet::PubAck(a))) => self.publisher.acked(a.pkid),
                Ok(Event::Incoming(Packet::PubComp(c))) => match &mut release {
                    Some(r) => {
                        if r.completed(c.pkid) {
                            release = None;
                            self.publisher.connected(&self.router.filters(), births);
                        }
                    }
                    None => self.publisher.acked(c.pkid),
                },
                Ok(Event::Incoming(Packet::SubAck(s))) => {
                    if s.return_codes.contains(&SubscribeReasonCode::Failure) {
                        tracing::error!(
                            filters = ?self.router.filters().iter().map(|f| f.0.clone()).collect::<Vec<_>>(),
                            "the broker refused a subscription (check its ACLs)"
                        );
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    self.publisher.written(pkid);
                    // The client's queue has room again.
                    self.router.retry_acks();
                }
                Ok(Event::Outgoing(Outgoing::PubAck(_) | Outgoing::PubRec(_))) => {
                    self.router.retry_acks()
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    if self.publisher.closing() {
                        tracing::info!("disconnected from the MQTT broker");
                        return;
                    }
                }
                // Any event may mean room in the client's queue for a due acknowledgement.
                Ok(_) => self.router.retry_acks(),
                Err(e) => {
                    release = None;
                    self.publisher.disconnected();
                    self.router.disconnected();
                    // Nothing of the lost connection is replayed (see above).
                    el = self.new_client(options);
                    m.connected.store(0, Ordering::Relaxed);
                    m.connection_errors.fetch_add(1, Ordering::Relaxed);
                    if self.publisher.closing() {
                        return;
                    }
                    match connected_at.take().map(|at| at.elapsed()) {
                        Some(lasted) if lasted >= STABLE => {
                            quick_losses = 0;
                            backoff.reset();
                        }
                        Some(_) => {
                            quick_losses += 1;
                            if quick_losses >= 2 && quick_losses.is_power_of_two() {
                                tracing::warn!(
                                    broker = %self.cfg.url,
                                    client_id = %self.cfg.client_id,
                                    losses = quick_losses,
                                    "the broker keeps closing the connection right after accepting it: another client may be using client id {:?} (each connect takes the session over from the other); give each daemon its own [mqtt] client_id (default aimdbd-<node id>) or [node] id",
                                    self.cfg.client_id
                                );
                            }
                        }
                        None => {}
                    }
                    let delay = backoff.next_delay();
                    m.reconnect_delay_ms.store(millis(delay), Ordering::Relaxed);
                    self.log_failure(&e, backoff.attempts(), delay);
                    if !self.sleep_or_abandon(delay).await {
                        return;
                    }
                }
            }
        }
    }

    fn log_failure(&self, e: &ConnectionError, attempt: u32, delay: Duration) {
        let retry_in_ms = millis(delay);
        let broker = &self.cfg.url;
        match e {
            ConnectionError::ConnectionRefused(
                code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
            ) => tracing::error!(
                %broker, attempt, retry_in_ms,
                "the broker refused the credentials ({code:?}): check [mqtt] username and password_file"
            ),
            ConnectionError::MqttState(StateError::Deserialization(
                rumqttc::Error::PayloadSizeLimitExceeded(n),
            )) => {
                self.metrics.bad_input(BadInput::Oversized);
                tracing::warn!(
                    %broker, attempt, retry_in_ms, bytes = n,
                    "received a packet larger than MQTT allows ({MQTT_MAX_PACKET} bytes); reconnecting"
                );
            }
            ConnectionError::Tls(e) => tracing::error!(
                %broker, attempt, retry_in_ms,
                "TLS with the broker failed: {e}; check [mqtt] ca_file, cert_file and key_file; reconnecting"
            ),
            e => tracing::warn!(
                %broker, attempt, retry_in_ms,
                "MQTT broker unreachable or connection lost: {e}; reconnecting"
            ),
        }
    }

    /// Sleeps `d`; false if abandoned meanwhile.
    async fn sleep_or_abandon(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.abandon.notified() => false,
        }
    }
}

/// The shutdown side of a session: drops inbound links, waits until the outboxes are drained
/// (or `budget` passed), says `offline`, and lets the session end.
pub(crate) async fn close_when_drained(
    publisher: &Publisher,
    router: &Router,
    status: &str,
    budget: Duration,
    abandon: &Notify,
    ended: &Notify,
) {
    router.close();
    let deadline = tokio::time::Instant::now() + budget;
    while !publisher.drained() {
        tokio::select! {
            _ = publisher.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(
                    held = publisher.held(),
                    "MQTT shutdown: values not acknowledged in time stay in the outbox"
                );
                break;
            }
        }
    }
    if publisher.close((status, topic::STATUS_OFFLINE)) {
        // The session ends when the DISCONNECT is written; give it a moment.
        let grace = Duration::from_secs(2).min(budget / 4 + Duration::from_millis(100));
        tokio::select! {
            _ = ended.notified() => return,
            _ = tokio::time::sleep(grace) => {}
        }
    }
    abandon.notify_one();
}

/// Sleeps until `deadline`, or forever without one.
/// The options every connection to `cfg`'s broker shares: `client_id`, keep-alive, credentials
/// (the password file is read now), TLS.
pub(crate) async fn client_options(
    cfg: &MqttConfig,
    client_id: &str,
) -> Result<MqttOptions, String> {
    let mut o = MqttOptions::new(client_id.to_string(), cfg.host.clone(), cfg.port);
    o.set_keep_alive(Duration::from_secs(u64::from(cfg.keep_alive_s)));
    if let Some(user) = &cfg.username {
        let password = match &cfg.password_file {
            Some(p) => tokio::fs::read_to_string(p)
                .await
                .map_err(|e| format!("cannot read password_file {}: {e}", p.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            None => String::new(),
        };
        o.set_credentials(user.clone(), password);
    }
    if cfg.tls {
        let tls = tls::client_config(cfg).await.map_err(|e| e.to_string())?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    Ok(o)
}

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A seed for reconnect jitter that differs between daemons and between restarts.
fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

/// `d` in whole milliseconds (a delay: saturates, never truncates).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
