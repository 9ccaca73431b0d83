//! The sync API: the engine on its own thread, blocking thread-safe handles for everyone else.
//!
//! [`AttachExt::attach`] starts a dedicated thread with its own Tokio runtime, builds the graph
//! there and returns a [`SyncHandle`]. Producers and consumers taken from it are `Send + Sync`
//! and block the calling thread, never an async worker:
//!
//! - caller → engine: a bounded Tokio mpsc per record, drained by one task per record into the
//!   record's buffer, so a full channel on one record never stalls another;
//! - engine → caller: a bounded `crossbeam-channel` per consumer, fed by one task that stops
//!   reading the record while the channel is full (the record's buffer then applies its own
//!   contract, e.g. a ring reports the lag to this consumer in-stream as
//!   [`GetError::Lagged`]).
//!
//! [`SyncHandle::detach`] shuts the graph down and drains it: queued `set`s reach their records,
//! taps finish, and values already produced reach consumer channels that have room. Dropping the
//! handle without `detach` does the same in the background and returns within
//! [`AttachOptions::drop_timeout`]; it never hangs the process.
//!
//! Do not call the blocking methods from inside an async task: use the async API there.

mod consumer;
mod error;
mod handle;
mod producer;

pub use consumer::SyncConsumer;
pub use error::{AttachError, DetachError, GetError, SetError, TrySetError};
pub use handle::{AttachExt, AttachOptions, SyncHandle};
pub use producer::SyncProducer;
