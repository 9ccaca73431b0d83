//! Built-in transforms: engine wiring around the pure state machines of
//! `aimdb_records::transforms`.

pub(crate) mod dew_point;
pub(crate) mod moving_average;
pub(crate) mod threshold;
