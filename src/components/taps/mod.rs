//! Built-in taps: async readers of a record.

pub mod log;
