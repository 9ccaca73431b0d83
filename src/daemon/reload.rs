//! SIGHUP (or a changed file with `--watch-config`): re-read and validate the config; on any
//! error keep the running graph and log why.
//!
//! The graph runs as independent parts (`crate::engine::Parts`: records connected through
//! transforms). On success only the parts that changed are rebuilt: a part whose records'
//! configuration is unchanged keeps running, untouched — its buffers (rings and mailboxes
//! included), transform state, source schedules, outbox slots and inbound obligations carry
//! over — as long as the MQTT session is kept and the history store's availability is the
//! same (otherwise every part is rebuilt). The changed parts are built first (so a graph the
//! engine rejects never replaces a running one), then the old ones drained (bounded by the old
//! `shutdown_timeout`: sources stop, readers take what their buffers hold, outbound links put
//! it into their outboxes), the newest value of every `single_latest` record whose key, type
//! and buffer are unchanged is carried into its new part, and the new parts start. Ring and
//! mailbox values of a *rebuilt* part that no reader took during the drain are not carried.
//!
//! The MQTT session is kept when `[mqtt]`, `[node] id` and the credential/TLS files are
//! unchanged ([`crate::mqtt::Bridge::serves`]): no `offline`, no reconnect; inbound messages
//! that arrive during the swap wait unacknowledged and are then routed (to kept and new parts
//! alike), subscriptions follow the links, outboxes of links with the same record and topic
//! carry over. Otherwise the old session is closed after the old graph drained (outboxes sent
//! within 3/4 of the old `shutdown_timeout`, `offline`, DISCONNECT) and a new one starts. The
//! history store keeps its writer (see `crate::store`): a store that was down is opened
//! again, retention settings apply at once. The admin endpoint keeps its address (a changed
//! `[admin] listen` takes effect at the next restart); its `token_file` (read again) and
//! `allowed_hosts` apply at once.

use std::path::Path;
use std::sync::Arc;

use aimdb_core::BufferCfg;

use super::{graph, notify};
use crate::admin::{AccessPolicy, AdminState, Phase};
use crate::config::{self, AdminConfig, Config};
use crate::engine::typed::ops;
use crate::engine::{self, PartPlan, Parts};
use crate::mqtt::Bridge;
use crate::store::Store;

/// What a reload replaces.
pub(super) struct Current<'a> {
    /// The running config.
    pub(crate) config: &'a mut Arc<Config>,
    /// The history store (kept, re-prepared for the new config).
    pub(crate) store: &'a mut Store,
    /// The MQTT bridge (kept, or replaced when `[mqtt]` changed).
    pub(crate) bridge: &'a mut Option<Arc<Bridge>>,
}

/// Reloads `path` (because of `cause`, for the log) into `parts` (left as they are on error).
#[allow(clippy::too_many_lines)] // The reload sequence, step by step in order (docs/ARCHITECTURE.md "Parts and partial reload").
pub(super) async fn reload(
    path: &Path,
    cause: &str,
    parts: &mut Parts,
    cur: Current<'_>,
    state: &AdminState,
) {
    let Current {
        config: current,
        store,
        bridge,
    } = cur;
    notify::reloading();
    tracing::info!("{cause}: reloading {}", path.display());
    let next = match config::load(path, crate::engine::catalog()).await {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            return keep(state, "the new config is invalid");
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
        Bridge::for_daemon(&next, state.mqtt_metrics()).await
    };
    // Running parts stay when nothing they depend on changed (see the module docs): the
    // session they are bound to (or no MQTT before and after) and the store's availability.
    let same_mqtt = keep_session || (bridge.is_none() && next.mqtt.is_none());
    let reuse = same_mqtt && parts.built_with_store() == Some(engine::store_key(store.persist()));
    let (kept, fresh): (Vec<PartPlan>, Vec<PartPlan>) = engine::partition(&next)
        .into_iter()
        .partition(|p| reuse && parts.has(p));
    let built = match graph::build(parts, &next, fresh, store.persist(), next_bridge.as_ref()) {
        Ok(built) => built,
        Err(e) => {
            tracing::error!("{e}");
            // Links the rejected graph registered are not reported.
            retain_link_metrics(state.mqtt_metrics(), current);
            return keep(state, "the new graph could not be built");
        }
    };
    state.set_phase(Phase::Reloading);
    let swap = keep_session.then(|| bridge.clone()).flatten();
    if let Some(b) = &swap {
        b.begin_swap();
    }
    let mut retired = parts.take_all_but(&kept);
    let started = tokio::time::Instant::now();
    if !retired.is_empty() {
        let outcome = retired.drain(current.shutdown_timeout).await;
        tracing::info!(
            ?outcome,
            parts = retired.ids().len(),
            "changed parts drained"
        );
    }
    if let Some(b) = &swap {
        for id in retired.ids() {
            b.retire(id);
        }
    }
    if !keep_session {
        if let Some(old) = bridge.take() {
            tracing::info!("[mqtt] changed: closing the MQTT session for a new one");
            old.close(super::budget::mqtt_budget(
                current.shutdown_timeout,
                started,
            ))
            .await;
        }
        if let Some(b) = &next_bridge {
            b.spawn();
        }
        *bridge = next_bridge;
    }
    let mut carried = 0;
    for part in &built {
        for &i in &part.plan.records {
            let r = &next.records[i];
            let unchanged = current
                .records
                .iter()
                .any(|o| o.key == r.key && o.ty == r.ty && o.buffer == r.buffer);
            if !unchanged || r.buffer != BufferCfg::SingleLatest {
                continue;
            }
            if let Some(old) = retired.handle_of(&r.key) {
                carried += usize::from((ops(r.ty).carry_latest)(old, &part.db, &r.key));
            }
        }
    }
    engine::restore::restore(store, &next, &graph::dbs(&built)).await;
    let rebuilt = built.len();
    graph::start(parts, built, bridge.as_deref()).await;
    drop(retired);
    report_admin_listen(current.admin.as_ref(), next.admin.as_ref());
    // The endpoint stays on its address; a new token_file / allowed_hosts applies at once.
    if let (Some(bound), Some(admin)) = (state.bound(), &next.admin) {
        state.set_access(AccessPolicy::new(bound, admin));
    }
    super::logs::log_warnings(&next);
    *current = Arc::new(next);
    retain_link_metrics(state.mqtt_metrics(), current);
    state.publish(parts.graphs(current), current.clone());
    state.reloaded(true);
    state.set_phase(Phase::Ready);
    notify::notify("READY=1");
    tracing::info!(
        records = current.records.len(),
        kept = kept.len(),
        rebuilt,
        carried,
        mqtt_session = if keep_session { "kept" } else { "new" },
        "reloaded: new graph running"
    );
}

/// Reports only the MQTT links `config` has (links of a removed record or a changed topic are
/// no longer shown in `/metrics`).
fn retain_link_metrics(metrics: &crate::mqtt::metrics::MqttMetrics, config: &Config) {
    use crate::mqtt::metrics::Direction;
    metrics.retain_links(|dir, record, topic| {
        config.records.iter().any(|r| {
            r.key == record
                && match dir {
                    Direction::In => &r.links_from,
                    Direction::Out => &r.links_to,
                }
                .iter()
                .any(|l| l.topic == topic)
        })
    });
}

fn keep(state: &AdminState, why: &str) {
    tracing::warn!("reload rejected ({why}): the running graph is kept unchanged");
    state.reloaded(false);
    notify::notify("READY=1");
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
