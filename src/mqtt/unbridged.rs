//! Links without a broker (no `[mqtt]` table): outbound values are drained and counted so rings
//! never back up; inbound links are held until shutdown, then dropped so their records close.

use std::sync::Arc;

use aimdb_core::link::FrameError;
use aimdb_core::{BoxFuture, InboundLink, OutboundLink, RuntimeContext};
use parking_lot::Mutex;

use crate::Rt;

/// The tasks of the unbridged mode.
pub(crate) fn start(
    ctx: RuntimeContext<Rt>,
    outbound: Vec<OutboundLink>,
    inbound: Vec<InboundLink>,
) -> Vec<BoxFuture> {
    if outbound.is_empty() && inbound.is_empty() {
        return Vec::new();
    }
    tracing::info!(
        outbound = outbound.len(),
        inbound = inbound.len(),
        "no [mqtt] table: MQTT links are not connected; outbound values are dropped"
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
            tracing::debug!(record = %link.record, url = %link.url, dropped, "unbridged MQTT link closed");
        }));
    }
    tasks
}
