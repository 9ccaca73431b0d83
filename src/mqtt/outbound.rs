//! One task per outbound link: the record's encoded values into the link's outbox.
//!
//! The task waits for the record's next value, encodes it (the link's codec) and hands it to
//! the [`Publisher`], which never blocks. With `outbox_full = "block"` the task first waits for
//! room in the outbox, so a full outbox holds back the record — and, through the link's hold on
//! it (`aimdb_core::accept`), the QoS ≥ 1 inbound links upstream — instead of dropping; with the
//! drop policies a slow or absent broker never holds the record back (the outbox bound decides
//! what is dropped). A value that fails to encode is counted and skipped; if the task falls
//! behind a ring, the skipped count is logged. It ends when the record closes and every value it
//! held is in the outbox.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::link::FrameError;
use aimdb_core::OutboundLink;

use super::metrics::LinkMetrics;
use super::publisher::{Publisher, SlotRef};
use super::ratelimit::LogLimit;

/// Runs `link` into its slot of `publisher` until its record closes.
pub(crate) async fn run(
    mut link: OutboundLink,
    index: SlotRef,
    publisher: Arc<Publisher>,
    metrics: Arc<LinkMetrics>,
    block: bool,
) {
    let log = LogLimit::new(Duration::from_secs(10));
    let mut buf = Vec::new();
    loop {
        if block && !publisher.has_room(index) {
            metrics.outbox_waits.fetch_add(1, Ordering::Relaxed);
            publisher.wait_room(index).await;
        }
        match link.next_frame(&mut buf).await {
            Ok(()) => publisher.push(index, &buf, link.position()),
            Err(FrameError::Closed) => break,
            Err(FrameError::Lagged(n)) => {
                if let Some(suppressed) = log.allow() {
                    tracing::warn!(
                        record = %link.record, url = %link.url, skipped = n, suppressed,
                        "outbound MQTT link fell behind its record's ring; values skipped"
                    );
                }
            }
            Err(FrameError::Encode(e)) => {
                metrics.errors.fetch_add(1, Ordering::Relaxed);
                publisher.skip(index, link.position());
                if let Some(suppressed) = log.allow() {
                    tracing::warn!(
                        record = %link.record, url = %link.url, suppressed,
                        "value could not be encoded for MQTT: {e}"
                    );
                }
            }
        }
    }
    publisher.link_closed(index);
}
