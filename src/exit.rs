//! Process exit codes (see docs/OPERATIONS.md).

/// Clean exit, including a drained shutdown after SIGINT/SIGTERM.
pub(crate) const OK: u8 = 0;
/// Runtime failure: the graph could not start, the admin port could not be bound, ...
pub(crate) const RUNTIME: u8 = 1;
/// A shutdown that could not drain: the drain timed out with tasks still running, or values
/// were left in memory outboxes (lost; the log says which and how many). `EX_TEMPFAIL`.
pub(crate) const UNDRAINED: u8 = 75;
/// Config error (`EX_CONFIG` from sysexits.h).
pub(crate) const CONFIG: u8 = 78;
/// A second SIGINT/SIGTERM while draining: exit at once (128 + SIGINT, as shells report it).
pub(crate) const SECOND_SIGNAL: i32 = 130;
