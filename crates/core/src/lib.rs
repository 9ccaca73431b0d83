//! `aimdb-core`: the `no_std` (+`alloc`) engine of aimdb.
#![no_std]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod key;
pub use key::RecordKey;
