//! The sync API: the engine on its own thread, blocking thread-safe handles for everyone else.
//!
//! [`AttachExt::attach`] starts a dedicated thread with its own Tokio runtime, builds the graph
//! there and returns a [`SyncHandle`]. Producers and consumers taken from it are `Send + Sync`
//! and reach the record's buffer directly from the calling thread; no engine task sits between
//! a sync caller and a record:
//!
//! - [`SyncProducer::set`] produces into the record (a short lock, never blocks, never waits
//!   for readers), under the writer rule: only records with no writer in the graph take it;
//! - [`SyncConsumer::get`] reads the record's buffer as an async consumer would, with the same
//!   contract per buffer kind (ring: every value, lag as a count; `single_latest`: the newest;
//!   mailbox: the newest, consumed once). When nothing is ready it spins briefly, then parks
//!   the thread on a waker registered with the buffer; `get_with_timeout` parks with a timeout.
//!   Neither allocates.
//!
//! [`SyncHandle::detach`] shuts the graph down and drains it within
//! [`AttachOptions::detach_timeout`]: sync producers let go of their records, taps finish, and
//! sync consumers read what their records still hold, then `Closed`. Dropping the handle
//! without `detach` does the same within [`AttachOptions::drop_timeout`]; it never hangs the
//! process.
//!
//! Do not call the blocking methods from inside an async task: use the async API there.

mod consumer;
mod error;
mod handle;
mod producer;
mod wait;

pub use consumer::SyncConsumer;
pub use error::{AttachError, DetachError, GetError, SetError};
pub use handle::{AttachExt, AttachOptions, SyncHandle};
pub use producer::SyncProducer;
