//! Alerts derived from measurements.

use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

use super::Id;

/// Which side of its thresholds a measurement is on.
///
/// JSON: `"normal"`, `"high"`, `"low"`. Postcard: the variant index (`0`, `1`, `2`), so new
/// levels may only be appended.
#[derive(Serialize, Deserialize, Schema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    /// Within the thresholds (or back within them, past the hysteresis band).
    Normal,
    /// Above the upper threshold.
    High,
    /// Below the lower threshold.
    Low,
}

/// A temperature crossed a threshold, or came back within its thresholds.
///
/// Produced by [`Threshold`](crate::transforms::Threshold) when the level changes.
///
/// JSON: `{"sensor_id":"indoor-1","celsius":36.5,"threshold":35.0,"level":"high",
/// "timestamp_ms":1700000000000}`.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
pub struct TemperatureAlert {
    /// The sensor whose reading caused the alert.
    pub sensor_id: Id,
    /// The reading that caused the alert, in degrees Celsius.
    #[serde(with = "super::finite")]
    pub celsius: f32,
    /// The threshold in degrees Celsius the level refers to: the upper one for `High`, the lower
    /// one for `Low`, and for `Normal` the one just recovered from (initially the upper one if
    /// configured, else the lower one).
    #[serde(with = "super::finite")]
    pub threshold: f32,
    /// The new level.
    pub level: AlertLevel,
    /// Timestamp of the reading, in milliseconds since the Unix epoch or boot.
    pub timestamp_ms: u64,
}
