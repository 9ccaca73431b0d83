//! `aimdb-tokio`: runs the aimdb engine on Tokio.
//!
//! - [`TokioAdapter`]: the runtime traits of `aimdb-core` on Tokio.
//! - [`concurrency`]: primitives for handing blocking work out of async code.

pub mod concurrency;
mod runtime;

pub use runtime::{NoTokioRuntime, ParkingLot, ParkingLotMutex, TokioAdapter};
