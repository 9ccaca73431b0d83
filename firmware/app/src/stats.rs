//! Counters of what the node did, readable while it runs (e.g. by tests or a diagnostics tap).

use core::sync::atomic::{AtomicU32, Ordering};

/// Counters, all monotonically increasing (wrapping at `u32::MAX`). 32-bit atomics, which every
/// Cortex-M3/M4 has.
#[derive(Debug, Default)]
pub struct NodeStats {
    /// Successful MQTT connections (CONNACK received).
    pub connects: AtomicU32,
    /// Failed connection attempts (TCP or MQTT).
    pub connect_failures: AtomicU32,
    /// Record values published.
    pub published: AtomicU32,
    /// Record values lost to ring overflow before they could be published.
    pub lagged: AtomicU32,
    /// Record values that could not be encoded (skipped).
    pub encode_errors: AtomicU32,
    /// Commands decoded into the `node.cmd` mailbox.
    pub commands_received: AtomicU32,
    /// Command payloads that failed to decode: garbage, truncated (counted and dropped).
    pub commands_malformed: AtomicU32,
    /// Well-formed command frames refused for their version (newer than this node knows) or
    /// schema id (not this node's for that version); counted and dropped, apart from
    /// `commands_malformed`.
    pub commands_refused: AtomicU32,
    /// Commands the command tap carried out.
    pub commands_applied: AtomicU32,
    /// Sensor reads that failed.
    pub sensor_errors: AtomicU32,
}

impl NodeStats {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU32) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU32) -> u32 {
        counter.load(Ordering::Relaxed)
    }
}
