//! Climate measurements: temperature, relative humidity and the derived dew point.

use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

use super::Id;

/// One air-temperature reading.
///
/// JSON: `{"sensor_id":"indoor-1","celsius":21.5,"timestamp_ms":1700000000000}`.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
pub struct Temperature {
    /// The sensor that measured it, unique within its node.
    pub sensor_id: Id,
    /// Temperature in degrees Celsius.
    #[serde(with = "super::finite")]
    pub celsius: f32,
    /// When it was measured, in milliseconds since the Unix epoch (UTC), or since boot on a node
    /// without wall-clock time.
    pub timestamp_ms: u64,
}

/// One relative-humidity reading.
///
/// JSON: `{"sensor_id":"indoor-1","percent":45.0,"timestamp_ms":1700000000000}`.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
pub struct Humidity {
    /// The sensor that measured it, unique within its node.
    pub sensor_id: Id,
    /// Relative humidity in percent, nominally `0.0..=100.0`.
    #[serde(with = "super::finite")]
    pub percent: f32,
    /// When it was measured, in milliseconds since the Unix epoch (UTC), or since boot.
    pub timestamp_ms: u64,
}

/// The dew point computed from a temperature and a humidity reading (see
/// [`DewPointJoin`](crate::transforms::DewPointJoin)).
///
/// JSON: `{"sensor_id":"indoor-1","celsius":9.3,"timestamp_ms":1700000000000}`.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
pub struct DewPoint {
    /// The temperature sensor the dew point was computed for.
    pub sensor_id: Id,
    /// Dew point in degrees Celsius.
    #[serde(with = "super::finite")]
    pub celsius: f32,
    /// The newer of the two input timestamps, in milliseconds since the Unix epoch or boot.
    pub timestamp_ms: u64,
}
