//! Built-in sources: async producers of a record.

pub mod heartbeat;
pub mod simulate;
