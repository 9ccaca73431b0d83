//! `aimdb-tokio`: runs the aimdb engine on Tokio.
//!
//! - [`TokioAdapter`]: the runtime traits of `aimdb-core` on Tokio.
//! - [`sync_api`]: the engine on its own thread, with blocking producers and consumers.
//! - [`concurrency`]: primitives for handing blocking work out of async code.

pub mod concurrency;
mod runtime;
mod short_lock;
pub mod sync_api;

pub use concurrency::{
    Actor, ActorGone, ActorHandle, BackgroundSink, PeriodicTask, PeriodicWorker, SinkDrain,
};
pub use runtime::{NoTokioRuntime, TokioAdapter};
pub use short_lock::{ShortLock, ShortLocks};
pub use sync_api::{AttachExt, SyncConsumer, SyncHandle, SyncProducer};
