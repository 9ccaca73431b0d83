//! [`Bridge`]: the MQTT side of the daemon — one broker session, its outboxes ([`Publisher`])
//! and its inbound [`Router`] — which outlives the graphs it serves.
//!
//! The daemon runs its graph as independent parts (`crate::engine`): each part binds its links
//! when it starts ([`Bridge::attach`]) and lets them go when it drains ([`Bridge::detach`],
//! then [`Bridge::retire`]); a reload swaps only the parts that changed, between
//! [`Bridge::begin_swap`] and [`Bridge::end_swap`]. The daemon keeps one bridge across reloads while `[mqtt]` and
//! `[node] id` stay the same ([`Bridge::serves`]): the connection, the subscriptions, the
//! outboxes (memory or disk) and the unacknowledged inbound messages carry over, so a reload
//! neither says `offline` nor reconnects, and no message the broker handed over is lost or
//! acknowledged before the graph that took it accepted it. Only a changed `[mqtt]` (or node id)
//! closes the bridge ([`Bridge::close`]: outboxes drained within the budget, `offline`,
//! DISCONNECT) and opens a new one.
//!
//! `aimdbd check` and in-process users build graphs without a daemon: their connector makes a
//! bridge of its own, which runs and closes with that one graph.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aimdb_records::topic;
use parking_lot::Mutex;
use rumqttc::QoS;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::inbound::{Route, Router};
use super::metrics::MqttMetrics;
use super::outbox::DiskOutbox;
use super::publisher::{OutLink, Publisher, SlotRef};
use super::session::{close_when_drained, Session};
use crate::config::{Config, MqttConfig, Outbox};
use aimdb_core::InboundLink;

/// One broker session and what it carries; see the module docs.
pub(crate) struct Bridge {
    cfg: Arc<MqttConfig>,
    node_id: String,
    publisher: Arc<Publisher>,
    router: Arc<Router>,
    abandon: Arc<Notify>,
    ended: Arc<Notify>,
    /// Serialises attachments; true once the disk outbox (if configured) was opened.
    attached: tokio::sync::Mutex<bool>,
    /// The parts attached now, with the owner of their outbound slots (`None`: no outbound
    /// link).
    parts: Mutex<HashMap<u64, Option<u64>>>,
    /// Notified at each attachment.
    part_attached: Notify,
    /// The session task, when the bridge runs on its own ([`Bridge::spawn`]).
    task: Mutex<Option<JoinHandle<()>>>,
    /// What the credential and TLS files held when the bridge was made (see
    /// [`Bridge::serves`]); 0 when not read.
    secrets: u64,
    /// The counters it counts into (the daemon's, which outlive bridges, or its own).
    metrics: Arc<MqttMetrics>,
}

/// What a graph brings to [`Bridge::attach`].
pub(crate) struct Links {
    /// Its outbound links.
    pub(crate) outbound: Vec<OutLink>,
    /// Its inbound links and their routes (`routes[i]` is the route of `inbound[i]`).
    pub(crate) routes: Vec<Route>,
    /// See `routes`.
    pub(crate) inbound: Vec<InboundLink>,
    /// The filters its inbound links need, with their QoS.
    pub(crate) filters: Vec<(String, QoS)>,
}

impl Bridge {
    /// The bridge for `config`, if it has `[mqtt]`, counting into metrics of its own. Nothing
    /// connects until it runs.
    pub(crate) fn new(config: &Config) -> Option<Arc<Self>> {
        Self::with_secrets(config, 0, Arc::default())
    }

    fn with_secrets(config: &Config, secrets: u64, metrics: Arc<MqttMetrics>) -> Option<Arc<Self>> {
        let mqtt = config.mqtt.as_ref()?;
        Some(Arc::new(Self {
            publisher: Arc::new(Publisher::new(
                mqtt.outbox_capacity,
                mqtt.outbox_max_bytes,
                mqtt.max_packet_size,
                metrics.clone(),
            )),
            router: Arc::new(Router::new(
                mqtt.max_packet_size,
                !mqtt.clean_session,
                &config.node_id,
                metrics.clone(),
            )),
            cfg: Arc::new(mqtt.clone()),
            node_id: config.node_id.clone(),
            abandon: Arc::new(Notify::new()),
            ended: Arc::new(Notify::new()),
            attached: tokio::sync::Mutex::new(false),
            parts: Mutex::new(HashMap::new()),
            part_attached: Notify::new(),
            task: Mutex::new(None),
            secrets,
            metrics,
        }))
    }

    /// The daemon's bridge for `config`, counting into the daemon's `metrics`: like
    /// [`Bridge::new`], and it remembers what its credential and TLS files hold, so that a
    /// reload after they changed makes a new session.
    pub(crate) async fn for_daemon(
        config: &Config,
        metrics: &Arc<MqttMetrics>,
    ) -> Option<Arc<Self>> {
        let secrets = secrets(config.mqtt.as_ref()?).await;
        Self::with_secrets(config, secrets, metrics.clone())
    }

    /// The counters this bridge counts into.
    pub(crate) fn metrics(&self) -> &Arc<MqttMetrics> {
        &self.metrics
    }

    /// Whether this bridge can serve `config` as it is — same `[mqtt]`, same node id, and its
    /// `password_file`, `ca_file`, `cert_file` and `key_file` hold what they held — so a reload
    /// to `config` keeps the session.
    pub(crate) async fn serves(&self, config: &Config) -> bool {
        match &config.mqtt {
            Some(m) if *m == *self.cfg && config.node_id == self.node_id => {
                secrets(m).await == self.secrets
            }
            _ => false,
        }
    }

    /// The session: connects, reconnects, and ends once closed.
    pub(crate) fn session(&self) -> impl Future<Output = ()> + Send + 'static {
        Session {
            cfg: self.cfg.clone(),
            node_id: self.node_id.clone(),
            publisher: self.publisher.clone(),
            router: self.router.clone(),
            abandon: self.abandon.clone(),
            ended: self.ended.clone(),
            metrics: self.metrics.clone(),
        }
        .run()
    }

    /// Runs the session on its own Tokio task (the daemon's bridge, which outlives graphs).
    pub(crate) fn spawn(&self) {
        *self.task.lock() = Some(tokio::spawn(self.session()));
    }

    /// Binds the links of part `part` of a starting graph (see [`Publisher::attach`] and
    /// [`Router::attach`]); returns the slot of each outbound link, in order. With `route`,
    /// inbound messages are routed at once; otherwise they wait for [`Bridge::end_swap`]. The
    /// first attachment opens the disk outbox if one is configured (on failure values are
    /// kept in memory only, as logged).
    pub(crate) async fn attach(&self, part: u64, links: Links, route: bool) -> Vec<SlotRef> {
        let mut attached = self.attached.lock().await;
        if !*attached {
            *attached = true;
            if self.cfg.outbox == Outbox::Disk {
                match DiskOutbox::open(
                    self.cfg.outbox_path.clone(),
                    self.cfg.outbox_max_file_bytes,
                    self.metrics.clone(),
                    self.publisher.room(),
                )
                .await
                {
                    Ok(Ok(disk)) => {
                        self.metrics.set_outbox_file(
                            self.cfg.outbox_path.clone(),
                            self.cfg.outbox_max_file_bytes,
                        );
                        self.publisher.set_disk(disk)
                    }
                    Ok(Err(e)) => tracing::error!("{e}; outbound values are kept in memory only"),
                    Err(_) => tracing::error!(
                        "the disk outbox thread ended; values are kept in memory only"
                    ),
                }
            }
        }
        let registered = self.publisher.register_new(&links.outbound).await;
        let slots = self.publisher.attach(links.outbound, registered);
        if let Some(settle) =
            self.router
                .attach(part, links.routes, links.inbound, links.filters, route)
        {
            tokio::spawn(settle);
        }
        // An attachment with no outbound link still names its owner (slots are numbered by
        // attachment), so `retire` of a part without outbound links is a no-op.
        let owner = slots.first().map(|s| s.owner);
        self.parts.lock().insert(part, owner);
        drop(attached);
        self.part_attached.notify_waiters();
        slots
    }

    /// Part `part` is draining: its inbound links are let go (with [`Bridge::begin_swap`]
    /// first, their messages wait for the part that replaces it); its outbound links finish
    /// into their outboxes on their own.
    pub(crate) fn detach(&self, part: u64) {
        self.router.detach(part);
    }

    /// Part `part` drained (or its drain timed out): its outboxes stop being fed and send what
    /// they hold (see [`Publisher::retire`]).
    pub(crate) fn retire(&self, part: u64) {
        if let Some(Some(owner)) = self.parts.lock().remove(&part) {
            self.publisher.retire(owner);
        }
    }

    /// A reload swaps parts of the graph: inbound messages wait from now on, unacknowledged,
    /// until [`Bridge::end_swap`].
    pub(crate) fn begin_swap(&self) {
        self.router.begin_swap();
    }

    /// Every part is bound: subscriptions follow the parts' links and waiting messages are
    /// routed (see [`Router::end_swap`]).
    pub(crate) fn end_swap(&self) {
        self.router.end_swap();
    }

    /// Waits (at most `timeout`) until each of `parts` has attached — the graph tasks that
    /// attach run once the parts start; returns whether all did.
    pub(crate) async fn attached(&self, parts: &[u64], timeout: Duration) -> bool {
        let all = async {
            loop {
                let notified = self.part_attached.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if parts.iter().all(|p| self.parts.lock().contains_key(p)) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, all).await.is_ok()
    }

    /// The publisher (for the outbound link tasks).
    pub(crate) fn publisher(&self) -> &Arc<Publisher> {
        &self.publisher
    }

    /// Ends the session: stops taking inbound messages, sends what the outboxes hold until
    /// acknowledged (at most `budget`), publishes `offline`, disconnects, and waits for the
    /// session to end (the disk outbox committed and closed). Call once the last graph drained.
    /// Logs each outbox's counters; returns the values left in memory outboxes (lost: with
    /// `outbox = "disk"` they are kept for the next start, and 0 is returned).
    pub(crate) async fn close(&self, budget: Duration) -> usize {
        let status = topic::status_topic(&self.node_id);
        close_when_drained(
            &self.publisher,
            &self.router,
            &status,
            budget,
            &self.abandon,
            &self.ended,
        )
        .await;
        let task = self.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
        self.publisher.log_stats();
        let held = self.publisher.held();
        match self.cfg.outbox {
            Outbox::Memory if held > 0 => {
                tracing::error!(
                    values = held,
                    "MQTT shutdown: values still in memory outboxes were not delivered and are lost (outbox = \"disk\" keeps them for the next start)"
                );
                held
            }
            _ => 0,
        }
    }
}

/// A hash of what the files with secrets hold (a file that cannot be read hashes as such).
async fn secrets(cfg: &MqttConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for file in [
        &cfg.password_file,
        &cfg.ca_file,
        &cfg.cert_file,
        &cfg.key_file,
    ] {
        match file {
            Some(path) => match tokio::fs::read(path).await {
                Ok(bytes) => bytes.hash(&mut h),
                Err(e) => e.kind().hash(&mut h),
            },
            None => 0u8.hash(&mut h),
        }
    }
    // Never 0, which means "not read".
    h.finish() | 1
}
