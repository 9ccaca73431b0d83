//! SIGHUP (or a changed file with `--watch-config`): re-read and validate the config; on any
//! error keep the running graph and log why.
//!
//! On success the new graph is built first (so a graph the engine rejects never replaces a
//! running one), then the old graph is drained (bounded by the old `shutdown_timeout`: sources
//! stop, readers take what their buffers hold, outbound links put it into their outboxes), the
//! newest value of every `single_latest` record whose key, type and buffer are unchanged is
//! carried into the new graph, and the new graph starts. Ring and mailbox values no reader
//! took during the drain are not carried over.
//!
//! The MQTT session is kept when `[mqtt]`, `[node] id` and the credential/TLS files are
//! unchanged ([`crate::mqtt::Bridge::serves`]): no `offline`, no reconnect; subscriptions are
//! adjusted to the new links, outboxes of links with the same record and topic carry over, and
//! inbound messages that arrive during the swap wait unacknowledged for the new graph. Otherwise
//! the old session is closed after the old graph drained (outboxes sent within 3/4 of the old
//! `shutdown_timeout`, `offline`, DISCONNECT) and a new one starts. The history store keeps its writer (see `crate::store`): a store that was down
//! is opened again, retention settings apply at once. The admin endpoint keeps its address (a
//! changed `[admin] listen` takes effect at the next restart); its `token_file` (read again)
//! and `allowed_hosts` apply at once.

use std::path::Path;
use std::sync::Arc;

use aimdb_core::BufferCfg;

use super::notify;
use crate::admin::{AccessPolicy, AdminState, Phase};
use crate::config::{self, AdminConfig, Config};
use crate::engine::{self, RunningGraph};
use crate::mqtt::Bridge;
use crate::record_types;
use crate::store::Store;

/// What a reload replaces.
pub(super) struct Current<'a> {
    /// The running config.
    pub config: &'a mut Arc<Config>,
    /// The history store (kept, re-prepared for the new config).
    pub store: &'a mut Store,
    /// The MQTT bridge (kept, or replaced when `[mqtt]` changed).
    pub bridge: &'a mut Option<Arc<Bridge>>,
}

/// Reloads `path` (because of `cause`, for the log); returns the graph that runs afterwards
/// (the old one on error).
pub(super) async fn reload(
    path: &Path,
    cause: &str,
    graph: RunningGraph,
    cur: Current<'_>,
    state: &AdminState,
) -> RunningGraph {
    let Current {
        config: current,
        store,
        bridge,
    } = cur;
    notify::reloading();
    tracing::info!("{cause}: reloading {}", path.display());
    let next = match config::load(path).await {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            return keep(graph, state, "the new config is invalid");
        }
    };
    store.prepare(&next).await;
    let keep_session = match bridge {
        Some(b) => b.serves(&next).await,
        None => false,
    };
    let next_bridge = if keep_session {
        bridge.clone()
    } else {
        Bridge::for_daemon(&next).await
    };
    let db = match engine::build_for_daemon(&next, store.persist(), next_bridge.clone()) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!("{e}");
            return keep(graph, state, "the new graph could not be built");
        }
    };
    state.set_phase(Phase::Reloading);
    let old = graph.handle().clone();
    let started = tokio::time::Instant::now();
    let outcome = graph.drain(current.shutdown_timeout).await;
    tracing::info!(?outcome, "old graph drained");
    if !keep_session {
        if let Some(old) = bridge.take() {
            tracing::info!("[mqtt] changed: closing the MQTT session for a new one");
            old.close(super::mqtt_budget(current.shutdown_timeout, started))
                .await;
        }
        if let Some(b) = &next_bridge {
            b.spawn();
        }
        *bridge = next_bridge;
    }
    let mut carried = 0;
    for r in &next.records {
        let unchanged = current
            .records
            .iter()
            .any(|o| o.key == r.key && o.type_name == r.type_name && o.buffer == r.buffer);
        if unchanged && r.buffer == BufferCfg::SingleLatest {
            if let Some(t) = record_types::lookup(r.type_name) {
                carried += usize::from((t.carry_latest)(&old, &db, &r.key));
            }
        }
    }
    store.before_start(&next, &db).await;
    let running = RunningGraph::start(db);
    report_admin_listen(current.admin.as_ref(), next.admin.as_ref());
    // The endpoint stays on its address; a new token_file / allowed_hosts applies at once.
    if let (Some(bound), Some(admin)) = (state.bound(), &next.admin) {
        state.set_access(AccessPolicy::new(bound, admin));
    }
    super::log_warnings(&next);
    *current = Arc::new(next);
    state.publish(running.handle().clone(), current.clone());
    state.reloaded(true);
    state.set_phase(Phase::Ready);
    notify::notify("READY=1");
    tracing::info!(
        records = current.records.len(),
        carried,
        mqtt_session = if keep_session { "kept" } else { "new" },
        "reloaded: new graph running"
    );
    running
}

fn keep(graph: RunningGraph, state: &AdminState, why: &str) -> RunningGraph {
    tracing::warn!("reload rejected ({why}): the running graph is kept unchanged");
    state.reloaded(false);
    notify::notify("READY=1");
    graph
}

/// A changed `[admin] listen` (or an `[admin]` added or removed) applies at the next restart:
/// say so, so the operator does not look for the endpoint on the new address.
fn report_admin_listen(old: Option<&AdminConfig>, new: Option<&AdminConfig>) {
    let (old, new) = (old.map(|a| a.listen), new.map(|a| a.listen));
    if old != new {
        let show =
            |a: Option<std::net::SocketAddr>| a.map_or("none".to_string(), |a| a.to_string());
        tracing::warn!(
            running = %show(old),
            configured = %show(new),
            "[admin] listen changed: the endpoint stays where it is until the next restart (systemctl restart aimdbd)"
        );
    }
}
