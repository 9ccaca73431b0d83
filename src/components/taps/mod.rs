//! Built-in taps: async readers of a record.

pub(crate) mod log;
