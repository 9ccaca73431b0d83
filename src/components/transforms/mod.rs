//! Built-in transforms: engine wiring around the pure state machines of
//! `aimdb_records::transforms`.

pub mod dew_point;
pub mod moving_average;
pub mod threshold;
