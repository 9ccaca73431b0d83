//! `aimdb-embassy`: aimdb's runtime traits on [Embassy](https://embassy.dev), `no_std`.
//!
//! - **Spawn**: each engine task is boxed once and run by a slot of a static Embassy task pool
//!   that *you* size with [`task_pool!`]. A full pool is an error ([`SpawnError::PoolFull`],
//!   surfacing as `BuildError::Spawn` from `AimDb::run`), never a panic.
//! - **Time**: `embassy-time` (`Instant`, `Timer`); wall-clock time only if you hand the adapter
//!   a clock ([`EmbassyAdapter::with_wall_clock`]).
//! - **Log**: the `log` facade (feature `log`) or `defmt` (feature `defmt`); with neither, log
//!   lines are discarded.
//! - **Mutex**: buffers lock with an `embassy-sync` critical-section mutex ([`CsMutexFamily`]),
//!   correct on single- and multi-core MCUs, in interrupts, and on the host.
//!
//! Buffer sizes are the user's: a ring's capacity is whatever `BufferCfg::SpmcRing { capacity }`
//! says, allocated once when the graph is built (the core needs `alloc`: give the MCU a global
//! allocator, e.g. `embedded-alloc`).
//!
//! ```ignore
//! aimdb_embassy::task_pool!(aimdb_tasks, 16);
//!
//! #[embassy_executor::main]
//! async fn main(spawner: embassy_executor::Spawner) {
//!     let rt = aimdb_embassy::EmbassyAdapter::new(spawner.make_send(), aimdb_tasks);
//!     let mut builder = aimdb_core::AimDbBuilder::new().runtime(rt);
//!     // builder.configure::<T>(key, |reg| { ... });
//!     builder.build().unwrap().run().await.unwrap();
//! }
//! ```
//!
//! The crate has no `unsafe` code of its own (the critical-section mutex is `Sync` through
//! `embassy-sync`, and the adapter holds only `Send + Sync` handles).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
extern crate alloc;

mod log;
mod mutex;
mod pool;
mod runtime;

pub use aimdb_core::SpawnError;
pub use mutex::{CsMutex, CsMutexFamily};
pub use pool::{BoxedTask, SpawnFn};
pub use runtime::EmbassyAdapter;

/// What [`task_pool!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use aimdb_core::SpawnError;
    pub use embassy_executor;
    pub use embassy_executor::SendSpawner;
}
