//! `aimdb-tokio`: runs the aimdb engine on Tokio.

pub mod concurrency;
