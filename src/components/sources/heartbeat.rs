//! `heartbeat`: the gateway's own sign of life. Writes a `Heartbeat` (node id, uptime, sequence
//! number) every `period_ms`.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::TimeOps;
use aimdb_records::{id, Heartbeat};
use serde::Deserialize;

use crate::components::{
    registrar, AttachError, ComponentTable, Env, ParamDoc, SourceInstance, SourceKind,
};
use crate::diagnostics::Problem;

/// Registration.
pub(crate) static KIND: SourceKind = SourceKind {
    kind: "heartbeat",
    doc: "the gateway's own Heartbeat (node id, uptime, sequence number)",
    output_types: &["Heartbeat"],
    params: &[ParamDoc {
        name: "period_ms",
        ty: "integer",
        default: "5000",
        doc: "milliseconds between heartbeats (>= 1)",
    }],
    parse,
};

/// `source = { kind = "heartbeat", period_ms = 5000 }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatSource {
    #[serde(default = "default_period")]
    period_ms: u64,
}

fn default_period() -> u64 {
    5000
}

fn parse(t: &ComponentTable) -> Result<Arc<dyn SourceInstance>, Vec<Problem>> {
    let cfg: HeartbeatSource = t.params(&[]).map_err(|p| vec![p])?;
    if cfg.period_ms == 0 {
        return Err(vec![Problem::at(
            t.value_span("period_ms"),
            "`period_ms` must be at least 1",
        )]);
    }
    Ok(Arc::new(cfg))
}

impl SourceInstance for HeartbeatSource {
    fn describe(&self) -> String {
        format!("heartbeat(period_ms={})", self.period_ms)
    }

    fn attach(&self, reg: &mut dyn Any, env: &Env) -> Result<(), AttachError> {
        let node_id = id(&env.node_id)?;
        let period = Duration::from_millis(self.period_ms);
        registrar::<Heartbeat>(reg)?.source(move |ctx, p| async move {
            for seq in 0u32.. {
                p.produce(Heartbeat {
                    node_id: node_id.clone(),
                    uptime_s: u32::try_from(ctx.runtime().uptime().as_secs()).unwrap_or(u32::MAX),
                    seq,
                });
                ctx.time().sleep(period).await;
            }
        });
        Ok(())
    }
}
