//! [`HistoryRow`]: one value on its way from a persist tap, through the bounded queue, to the
//! history writer; it holds its record position and its share of the queue's bytes until it is
//! dropped.

use std::sync::Arc;

/// A record value that is turned into JSON on the writer thread, so that encoding costs the
/// graph's Tokio workers nothing.
pub(crate) trait ToJson: Send {
    /// Appends the value's JSON form to `out`: its current version, with `"v"` above version 1,
    /// so that a later build reads it back whatever its own version
    /// (docs/TOPICS.md, "Versioned frames").
    fn encode(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl<T: crate::record_types::JsonForm + Send> ToJson for T {
    fn encode(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.to_json(out)
    }
}

/// One value on its way to the `history` table.
pub struct HistoryRow {
    /// Record key.
    pub(crate) key: Arc<str>,
    /// The record's type name (kept in the `records` table).
    pub(crate) type_name: &'static str,
    /// When the daemon received the value, in ms since the Unix epoch.
    pub(crate) ts_ms: i64,
    /// `[node] id` of the daemon.
    pub(crate) node: Arc<str>,
    /// The record's writer (`source:simulate`, `transform:threshold`, `link_from`, `admin`).
    pub(crate) source: Arc<str>,
    /// The value, written as JSON.
    pub(crate) value: Box<dyn ToJson>,
    /// Accepts the value's record position when the row is dropped: after its batch is
    /// committed (or given up, counted as lost), never while it may still be retried.
    #[allow(dead_code)] // Held for its `Drop`.
    pub(crate) settle: Option<AcceptOnDrop>,
    /// The value's share of `[store] queue_max_bytes`, given back when the row is dropped.
    #[allow(dead_code)] // Held for its `Drop`.
    pub(crate) bytes: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A `persist = true` record's hold, accepting `pos` on drop (see [`HistoryRow::settle`]).
pub(crate) struct AcceptOnDrop {
    /// The persist tap's hold on its record.
    pub(crate) acceptor: aimdb_core::Acceptor,
    /// The row's record position.
    pub(crate) pos: u64,
}

impl Drop for AcceptOnDrop {
    fn drop(&mut self) {
        self.acceptor.accept(self.pos);
    }
}

impl std::fmt::Debug for HistoryRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryRow")
            .field("key", &self.key)
            .field("ts_ms", &self.ts_ms)
            .finish_non_exhaustive()
    }
}
