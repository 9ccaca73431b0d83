//! [`PlaceholderMqtt`]: accepts `mqtt://` links without connecting anywhere.

use std::sync::Arc;

use aimdb_core::link::FrameError;
use aimdb_core::{BoxFuture, Connector, InboundLink, OutboundLink, RuntimeContext};
use parking_lot::Mutex;

use crate::Rt;

/// Serves scheme `mqtt` without a broker; see the module docs of [`crate::mqtt`].
#[derive(Debug, Default, Clone)]
pub struct PlaceholderMqtt;

impl Connector<Rt> for PlaceholderMqtt {
    fn scheme(&self) -> &str {
        "mqtt"
    }

    fn check_url(&self, url: &str) -> Result<(), String> {
        match url.strip_prefix("mqtt://") {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err("needs a topic after mqtt://".into()),
        }
    }

    fn start(
        &self,
        ctx: RuntimeContext<Rt>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, String> {
        tracing::warn!(
            outbound = outbound.len(),
            inbound = inbound.len(),
            "the MQTT bridge is not built yet: links are validated but not connected; \
             outbound values are dropped, nothing arrives inbound"
        );
        let mut tasks: Vec<BoxFuture> = Vec::new();
        let inbound = Arc::new(Mutex::new(Some(inbound)));
        tasks.push(Box::pin(async move {
            ctx.shutdown().wait().await;
            // Dropping inbound links lets their records close and drain.
            inbound.lock().take();
        }));
        for mut link in outbound {
            tasks.push(Box::pin(async move {
                let mut buf = Vec::new();
                let mut dropped = 0u64;
                loop {
                    match link.next_frame(&mut buf).await {
                        Ok(()) => dropped += 1,
                        Err(FrameError::Closed) => break,
                        Err(FrameError::Lagged(_)) => {}
                        Err(FrameError::Encode(e)) => {
                            tracing::warn!(record = %link.record, url = %link.url, "encode failed: {e}")
                        }
                    }
                }
                tracing::debug!(record = %link.record, url = %link.url, dropped, "mqtt placeholder link closed");
            }));
        }
        Ok(tasks)
    }
}
