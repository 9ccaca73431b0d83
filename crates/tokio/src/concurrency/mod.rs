//! Concurrency primitives for async code that must hand work to blocking I/O, run on a clock, or
//! own state without locks.
//!
//! | primitive | use it for | blocking code runs on |
//! |---|---|---|
//! | [`BackgroundSink`] + [`SinkDrain`] | many tasks produce items that a blocking consumer (SQLite, a file) writes in batches | the sink's own thread |
//! | [`PeriodicWorker`] + [`PeriodicTask`] / [`BlockingPeriodicTask`] | work on a fixed interval (retention sweeps, metrics, heartbeats) | the blocking pool, if spawned with `spawn_blocking` |
//! | [`ActorHandle`] + [`Actor`] | state owned by one task, changed and queried by messages | nowhere: `handle` must not block |
//!
//! Each module states its contract first: what waits, what is dropped when full, and which
//! methods are cancel-safe. The rule behind all three: an `async fn` never blocks its worker
//! thread; `tests/no_blocking_in_async.rs` at the workspace root enforces it. See
//! `docs/CONCURRENCY.md`.

pub mod actor;
pub mod background_sink;
pub mod periodic_worker;

pub use actor::{
    Actor, ActorError, ActorGone, ActorHandle, ActorJoin, AskError, Reply, TrySendError,
};
pub use background_sink::{
    BackgroundSink, Backoff, DrainFailure, DroppedStats, OverflowPolicy, PushError, Pushed,
    RetryPolicy, SinkConfig, SinkDrain, SinkError, SinkStats,
};
pub use periodic_worker::{
    BlockingPeriodicTask, MissedTicks, PeriodicConfig, PeriodicError, PeriodicStats, PeriodicTask,
    PeriodicWorker, Tick,
};

/// The message of a caught panic (`panic!` with a literal or a formatted string).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}
