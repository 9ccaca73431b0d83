//! What the admin endpoint reads: the daemon's phase and the running graph.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::access::AccessPolicy;
use crate::config::Config;
use crate::engine::Graphs;
use crate::mqtt::metrics::MqttMetrics;
use crate::store::StoreStatus;

/// The daemon's phase, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Validating and starting.
    Starting = 0,
    /// The graph runs.
    Ready = 1,
    /// Swapping in a reloaded graph.
    Reloading = 2,
    /// Shutting down.
    Draining = 3,
}

/// The graph being served.
#[derive(Clone)]
pub(crate) struct Live {
    /// The handles of its running parts.
    pub(crate) graphs: Graphs,
    /// Its config.
    pub(crate) config: Arc<Config>,
}

/// Shared between the daemon loop and the HTTP handlers. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AdminState {
    inner: Arc<Inner>,
}

struct Inner {
    phase: AtomicU8,
    live: RwLock<Option<Live>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    store: RwLock<Option<Arc<StoreStatus>>>,
    access: RwLock<Option<Arc<AccessPolicy>>>,
    /// The MQTT bridge's counters: one set for the process, handed to every bridge it opens.
    mqtt: Arc<MqttMetrics>,
    /// Bumped at every [`AdminState::publish`].
    published: tokio::sync::watch::Sender<u64>,
}

impl Default for AdminState {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminState {
    /// Starting, with no graph.
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                phase: AtomicU8::new(Phase::Starting as u8),
                live: RwLock::new(None),
                reloads_ok: AtomicU64::new(0),
                reloads_failed: AtomicU64::new(0),
                store: RwLock::new(None),
                access: RwLock::new(None),
                mqtt: Arc::default(),
                published: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// The process's MQTT metrics (see [`crate::mqtt::metrics`]): each bridge the daemon opens
    /// counts into them, and `/metrics` shows them.
    pub(crate) fn mqtt_metrics(&self) -> &Arc<MqttMetrics> {
        &self.inner.mqtt
    }

    /// Sets the phase.
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.inner.phase.store(phase as u8, Ordering::Release);
    }

    /// The phase.
    pub(crate) fn phase(&self) -> Phase {
        match self.inner.phase.load(Ordering::Acquire) {
            1 => Phase::Ready,
            2 => Phase::Reloading,
            3 => Phase::Draining,
            _ => Phase::Starting,
        }
    }

    /// Serves `graphs` (of `config`) from now on.
    pub(crate) fn publish(&self, graphs: Graphs, config: Arc<Config>) {
        *self.inner.live.write() = Some(Live { graphs, config });
        self.inner.published.send_modify(|n| *n += 1);
    }

    /// Changes at every [`AdminState::publish`] from now on (a reload applied).
    pub(crate) fn published(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.published.subscribe()
    }

    /// The graph being served, if any.
    pub(crate) fn live(&self) -> Option<Live> {
        self.inner.live.read().clone()
    }

    /// Counts a reload attempt.
    pub(crate) fn reloaded(&self, ok: bool) {
        let c = if ok {
            &self.inner.reloads_ok
        } else {
            &self.inner.reloads_failed
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// (successful, rejected) reloads so far.
    pub(crate) fn reloads(&self) -> (u64, u64) {
        (
            self.inner.reloads_ok.load(Ordering::Relaxed),
            self.inner.reloads_failed.load(Ordering::Relaxed),
        )
    }

    /// Reports the history store's condition from now on.
    pub(crate) fn set_store(&self, status: Arc<StoreStatus>) {
        *self.inner.store.write() = Some(status);
    }

    /// Applies `policy` to every request from now on (at start and after a reload).
    pub(crate) fn set_access(&self, policy: AccessPolicy) {
        *self.inner.access.write() = Some(Arc::new(policy));
    }

    /// The access rules in force; `None` before [`AdminState::set_access`] (every request is
    /// then refused).
    pub(crate) fn access(&self) -> Option<Arc<AccessPolicy>> {
        self.inner.access.read().clone()
    }

    /// The address the endpoint was bound to, if it serves.
    pub(crate) fn bound(&self) -> Option<std::net::SocketAddr> {
        self.access().map(|p| p.listen())
    }

    /// The history store's condition, if the daemon has a store.
    pub(crate) fn store(&self) -> Option<Arc<StoreStatus>> {
        self.inner.store.read().clone()
    }
}
