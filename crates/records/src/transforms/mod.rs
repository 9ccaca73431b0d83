//! The built-in transforms as pure, engine-independent state machines.
//!
//! Each transform is a plain struct: construct it from its typed, validated parameters, then
//! feed it input values; it returns `Some(output)` when it has something to emit. No clocks, no
//! I/O, no allocation after construction, so the same code runs in the daemon's graph, in the
//! firmware and in unit tests. The engine adapter (in `aimdbd` / the firmware) wires inputs and
//! outputs to records.
//!
//! | kind | struct | input(s) | output |
//! |---|---|---|---|
//! | `threshold` | [`Threshold`] | [`Temperature`](crate::Temperature) | [`TemperatureAlert`](crate::TemperatureAlert) on level change |
//! | `moving_average` | [`MovingAverage`] | [`Temperature`](crate::Temperature) | [`Temperature`](crate::Temperature), smoothed |
//! | `dew_point` | [`DewPointJoin`] | [`Temperature`](crate::Temperature) + [`Humidity`](crate::Humidity) | [`DewPoint`](crate::DewPoint) |
//!
//! A transform sees every value of its input record(s) regardless of `sensor_id`: give it an
//! input record that carries one sensor.

mod dew_point;
mod moving_average;
mod threshold;

use core::fmt;

pub use dew_point::{dew_point_celsius, DewPointJoin, DewPointParams, MAGNUS_A, MAGNUS_B_CELSIUS};
pub use moving_average::{MovingAverage, MovingAverageParams};
pub use threshold::{Threshold, ThresholdParams};

/// The config `kind` of every built-in transform, for `aimdbd types`.
pub const TRANSFORM_KINDS: &[&str] = &[Threshold::KIND, MovingAverage::KIND, DewPointJoin::KIND];

/// Why transform parameters were rejected. `param` names the config field.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum ParamError {
    /// A float parameter is NaN or infinite.
    NotFinite {
        /// The parameter's config name.
        param: &'static str,
        /// The rejected value.
        value: f32,
    },
    /// A parameter that must be zero or positive is negative.
    Negative {
        /// The parameter's config name.
        param: &'static str,
        /// The rejected value.
        value: f32,
    },
    /// A threshold transform has neither `above` nor `below`.
    NoThreshold,
    /// `above` is not greater than `below`.
    ThresholdsInverted {
        /// The upper threshold given.
        above: f32,
        /// The lower threshold given.
        below: f32,
    },
    /// A moving average of zero samples was asked for.
    WindowZero,
    /// The moving-average window exceeds [`MovingAverage::MAX_WINDOW`].
    WindowTooLarge {
        /// The window given.
        window: usize,
        /// The largest window allowed.
        max: usize,
    },
}

impl ParamError {
    /// The config parameter the error is about (`None`: the parameters together, e.g. neither
    /// `above` nor `below`).
    pub fn param(&self) -> Option<&'static str> {
        match self {
            ParamError::NotFinite { param, .. } | ParamError::Negative { param, .. } => Some(param),
            ParamError::NoThreshold => None,
            ParamError::ThresholdsInverted { .. } => Some("above"),
            ParamError::WindowZero | ParamError::WindowTooLarge { .. } => Some("window"),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::NotFinite { param, value } => {
                write!(f, "`{param}` must be a finite number, got {value}")
            }
            ParamError::Negative { param, value } => {
                write!(f, "`{param}` must not be negative, got {value}")
            }
            ParamError::NoThreshold => f.write_str("give `above`, `below` or both"),
            ParamError::ThresholdsInverted { above, below } => write!(
                f,
                "`above` ({above}) must be greater than `below` ({below})"
            ),
            ParamError::WindowZero => f.write_str("`window` must be at least 1"),
            ParamError::WindowTooLarge { window, max } => {
                write!(f, "`window` is {window}; at most {max} samples are allowed")
            }
        }
    }
}

impl core::error::Error for ParamError {}

/// `Ok(value)` if finite, else [`ParamError::NotFinite`].
fn finite(param: &'static str, value: f32) -> Result<f32, ParamError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ParamError::NotFinite { param, value })
    }
}
