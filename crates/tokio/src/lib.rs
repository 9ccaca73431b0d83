//! `aimdb-tokio`: runs the aimdb engine on Tokio.

pub mod concurrency;

// --- concurrency primitives (owned by the `concurrency` module) ---
pub use concurrency::{
    Actor, ActorGone, ActorHandle, BackgroundSink, PeriodicTask, PeriodicWorker, SinkDrain,
};
// --- end concurrency primitives ---
