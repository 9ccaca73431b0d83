//! Outboxes: where each outbound link's values wait until the broker acknowledged them.
//!
//! Every link has an [`OutboxQueue`] in memory (bounded by `[mqtt] outbox_capacity`, with
//! `outbox_full` choosing what is dropped at the bound). With `outbox = "disk"` a
//! [`DiskOutbox`] keeps a copy of every queue in SQLite, so values accepted while the broker was
//! away survive a restart of the daemon and are delivered, in order, after it.

mod disk;
mod queue;

#[cfg(test)]
pub(crate) use disk::QUEUE as DISK_QUEUE;
pub(crate) use disk::{DiskOutbox, Registered};
pub(crate) use queue::{OutboxQueue, Pushed};
