//! Building and starting the daemon's graph as parts (see `crate::engine::Parts`), at start and
//! on reload.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::AimDb;

use crate::config::Config;
use crate::engine::{BuiltPart, EngineError, PartPlan, Parts};
use crate::mqtt::Bridge;
use crate::store::Persist;
use crate::Rt;

/// How long started parts get to bind their MQTT links before inbound messages are routed
/// anyway (a part whose graph failed to start never binds; its failure is logged).
const ATTACH_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds every part of `plans` (all or none).
pub(super) fn build(
    parts: &mut Parts,
    config: &Config,
    plans: Vec<PartPlan>,
    store: Option<&Persist>,
    bridge: Option<&Arc<Bridge>>,
) -> Result<Vec<BuiltPart>, EngineError> {
    plans
        .into_iter()
        .map(|plan| parts.build(config, plan, store, bridge.cloned()))
        .collect()
}

/// The graphs of `built`.
pub(super) fn dbs(built: &[BuiltPart]) -> Vec<&AimDb<Rt>> {
    built.iter().map(|b| &b.db).collect()
}

/// Starts `built`; with a bridge, waits until their links are bound and then routes inbound
/// messages again (they waited since the swap began, or since the session started).
pub(super) async fn start(parts: &mut Parts, built: Vec<BuiltPart>, bridge: Option<&Bridge>) {
    let ids: Vec<u64> = built.iter().map(|b| b.id).collect();
    for b in built {
        parts.start(b);
    }
    if let Some(bridge) = bridge {
        if !bridge.attached(&ids, ATTACH_TIMEOUT).await {
            tracing::error!(
                timeout = ?ATTACH_TIMEOUT,
                "a part of the graph did not bind its MQTT links in time; routing inbound messages anyway"
            );
        }
        bridge.end_swap();
    }
}
