//! Built-in sources: async producers of a record.

pub(crate) mod heartbeat;
pub(crate) mod simulate;
