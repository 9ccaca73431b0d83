//! `aimdb-core`: the `no_std` (+`alloc`) engine of aimdb.
//!
//! A **record** is a key plus a Rust type. Its values flow through a typed [`buffer`], written by
//! exactly one source, transform or set of inbound links, and read by any number of taps and
//! outbound links. [`AimDbBuilder`] collects records, [`graph`] validates them as one DAG (every
//! mistake in one report), and [`AimDb::run`] runs them on any [`Runtime`].
//!
//! Modules are layered, each using only those above it:
//! `key → sync → waiters → lifecycle → runtime → accept → buffer → producer/consumer → link → transform →
//! record → graph → builder → db`; [`backoff`] stands alone (reconnect delays for connectors).
#![no_std]
#![warn(missing_docs)]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod accept;
pub mod backoff;
pub mod buffer;
mod builder;
mod consumer;
mod db;
pub mod error;
pub mod graph;
pub mod key;
pub mod lifecycle;
pub mod link;
#[cfg(all(test, loom))]
mod loom_tests;
mod producer;
pub mod record;
pub mod runtime;
pub mod sync;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod transform;
mod waiters;

pub use accept::{Acceptor, ProgressWatch};
pub use buffer::{BufferCfg, ReadAhead, RecordStats, RecvError, TryRecvError};
pub use builder::AimDbBuilder;
pub use consumer::Consumer;
pub use db::{AimDb, DbHandle};
pub use error::{AccessError, BuildError, StartError};
pub use graph::{Edge, GraphError, GraphProblem};
pub use key::RecordKey;
pub use link::{
    Acceptance, BoxError, BoxFuture, CodecError, Connector, Decoder, Encoder, InboundLink,
    LinkOptions, OutboundLink, TopicDecoder,
};
pub use producer::Producer;
pub use record::{RecordInfo, RecordRegistrar, WriterKind};
pub use runtime::{LogLevel, Logger, Runtime, RuntimeContext, Spawn, SpawnError, TimeOps};
pub use sync::{BlockingMutex, MutexFamily};
