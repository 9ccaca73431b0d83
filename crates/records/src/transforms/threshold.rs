//! `threshold`: temperature alerts with hysteresis, emitted on level change only.

use serde::{Deserialize, Serialize};

use super::{finite, ParamError};
use crate::types::{AlertLevel, Temperature, TemperatureAlert};

/// Parameters of [`Threshold`], as written in the config
/// (`transform = { kind = "threshold", input = "...", above = 35.0, hysteresis = 0.5 }`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ThresholdParams {
    /// Readings strictly above this (°C) are [`AlertLevel::High`].
    #[serde(default)]
    pub above: Option<f32>,
    /// Readings strictly below this (°C) are [`AlertLevel::Low`].
    #[serde(default)]
    pub below: Option<f32>,
    /// Dead band (°C, ≥ 0, default 0) to cross back before leaving `High` or `Low`: a `High`
    /// level holds while the reading is ≥ `above - hysteresis`, a `Low` level while it is
    /// ≤ `below + hysteresis`. Stops a reading hovering at the threshold from flapping.
    #[serde(default)]
    pub hysteresis: f32,
}

/// Classifies temperatures against upper/lower thresholds and emits a [`TemperatureAlert`]
/// when the level changes.
///
/// Contract:
/// - The first reading always emits, establishing the level (possibly `Normal`), so a
///   `single_latest` alert record reflects the current state from the first reading on.
/// - Afterwards an alert is emitted only when the level changes (`Normal` → `High`,
///   `High` → `Normal`, `High` → `Low`, …); readings that keep the level emit nothing.
/// - NaN readings are ignored: they emit nothing and do not change the level.
#[derive(Clone, Debug)]
pub struct Threshold {
    params: ThresholdParams,
    /// The threshold reported with an initial `Normal`: `above` if set, else `below`.
    default_threshold: f32,
    level: Option<AlertLevel>,
}

impl Threshold {
    /// The config `kind` of this transform.
    pub const KIND: &'static str = "threshold";

    /// A threshold transform, or the first problem with `params`: a NaN or infinite value,
    /// a negative hysteresis, neither `above` nor `below`, or `above <= below`.
    pub fn new(params: ThresholdParams) -> Result<Self, ParamError> {
        let above = params.above.map(|v| finite("above", v)).transpose()?;
        let below = params.below.map(|v| finite("below", v)).transpose()?;
        let hysteresis = finite("hysteresis", params.hysteresis)?;
        if hysteresis < 0.0 {
            return Err(ParamError::Negative {
                param: "hysteresis",
                value: hysteresis,
            });
        }
        let default_threshold = match (above, below) {
            (Some(above), Some(below)) if above <= below => {
                return Err(ParamError::ThresholdsInverted { above, below })
            }
            (Some(t), _) | (None, Some(t)) => t,
            (None, None) => return Err(ParamError::NoThreshold),
        };
        Ok(Threshold {
            params,
            default_threshold,
            level: None,
        })
    }

    /// The validated parameters.
    pub fn params(&self) -> &ThresholdParams {
        &self.params
    }

    /// The current level, `None` before the first (non-NaN) reading.
    pub fn level(&self) -> Option<AlertLevel> {
        self.level
    }

    /// Feeds one reading; returns an alert if the level changed (or on the first reading).
    pub fn apply(&mut self, reading: &Temperature) -> Option<TemperatureAlert> {
        let c = reading.celsius;
        if c.is_nan() {
            return None;
        }
        let new = self.classify(c);
        let previous = self.level.replace(new);
        if previous == Some(new) {
            return None;
        }
        let threshold = match (new, previous) {
            (AlertLevel::High, _) | (AlertLevel::Normal, Some(AlertLevel::High)) => {
                self.params.above
            }
            (AlertLevel::Low, _) | (AlertLevel::Normal, Some(AlertLevel::Low)) => self.params.below,
            (AlertLevel::Normal, _) => None,
        }
        .unwrap_or(self.default_threshold);
        Some(TemperatureAlert {
            sensor_id: reading.sensor_id.clone(),
            celsius: c,
            threshold,
            level: new,
            timestamp_ms: reading.timestamp_ms,
        })
    }

    fn classify(&self, c: f32) -> AlertLevel {
        let ThresholdParams {
            above,
            below,
            hysteresis,
        } = self.params;
        match (above, below) {
            (Some(a), _) if c > a => AlertLevel::High,
            (_, Some(b)) if c < b => AlertLevel::Low,
            (Some(a), _) if self.level == Some(AlertLevel::High) && c >= a - hysteresis => {
                AlertLevel::High
            }
            (_, Some(b)) if self.level == Some(AlertLevel::Low) && c <= b + hysteresis => {
                AlertLevel::Low
            }
            _ => AlertLevel::Normal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn reading(celsius: f32) -> Temperature {
        Temperature {
            sensor_id: crate::id("t1").unwrap(),
            celsius,
            timestamp_ms: 7,
        }
    }

    fn run(t: &mut Threshold, readings: &[f32]) -> Vec<(AlertLevel, f32)> {
        readings
            .iter()
            .filter_map(|&c| t.apply(&reading(c)))
            .map(|a| (a.level, a.threshold))
            .collect()
    }

    fn params(above: Option<f32>, below: Option<f32>, hysteresis: f32) -> ThresholdParams {
        ThresholdParams {
            above,
            below,
            hysteresis,
        }
    }

    #[test]
    fn first_reading_establishes_the_level() {
        let mut t = Threshold::new(params(Some(35.0), None, 0.0)).unwrap();
        assert_eq!(t.level(), None);
        let a = t.apply(&reading(20.0)).unwrap();
        assert_eq!((a.level, a.threshold), (AlertLevel::Normal, 35.0));
        assert_eq!(a.sensor_id.as_str(), "t1");
        assert_eq!(a.timestamp_ms, 7);
        assert_eq!(t.level(), Some(AlertLevel::Normal));
    }

    #[test]
    fn emits_on_level_change_only() {
        let mut t = Threshold::new(params(Some(35.0), Some(5.0), 0.0)).unwrap();
        let alerts = run(&mut t, &[20.0, 21.0, 36.0, 37.0, 35.0, 34.0, 4.0, 3.0, 6.0]);
        assert_eq!(
            alerts,
            [
                (AlertLevel::Normal, 35.0),
                (AlertLevel::High, 35.0),
                // 35.0 is not above 35.0: back to normal.
                (AlertLevel::Normal, 35.0),
                (AlertLevel::Low, 5.0),
                (AlertLevel::Normal, 5.0),
            ]
        );
    }

    #[test]
    fn hysteresis_holds_the_level_inside_the_dead_band() {
        let mut t = Threshold::new(params(Some(30.0), Some(10.0), 1.0)).unwrap();
        let alerts = run(
            &mut t,
            &[31.0, 30.0, 29.5, 29.0, 28.9, 30.5, 9.0, 10.5, 11.0, 11.1],
        );
        assert_eq!(
            alerts,
            [
                (AlertLevel::High, 30.0),
                (AlertLevel::Normal, 30.0),
                (AlertLevel::High, 30.0),
                (AlertLevel::Low, 10.0),
                (AlertLevel::Normal, 10.0),
            ]
        );
    }

    #[test]
    fn can_jump_from_high_to_low() {
        let mut t = Threshold::new(params(Some(30.0), Some(10.0), 5.0)).unwrap();
        assert_eq!(
            run(&mut t, &[31.0, 0.0]),
            [(AlertLevel::High, 30.0), (AlertLevel::Low, 10.0)]
        );
    }

    #[test]
    fn below_only_reports_below_as_threshold() {
        let mut t = Threshold::new(params(None, Some(0.0), 0.0)).unwrap();
        assert_eq!(
            run(&mut t, &[5.0, -1.0, 100.0]),
            [
                (AlertLevel::Normal, 0.0),
                (AlertLevel::Low, 0.0),
                (AlertLevel::Normal, 0.0)
            ]
        );
    }

    #[test]
    fn nan_readings_are_ignored() {
        let mut t = Threshold::new(params(Some(30.0), None, 0.0)).unwrap();
        assert_eq!(run(&mut t, &[f32::NAN]), []);
        assert_eq!(t.level(), None);
        assert_eq!(
            run(&mut t, &[31.0, f32::NAN, 31.0]),
            [(AlertLevel::High, 30.0)]
        );
        assert_eq!(t.level(), Some(AlertLevel::High));
    }

    #[test]
    fn infinite_readings_classify_like_extremes() {
        let mut t = Threshold::new(params(Some(30.0), Some(0.0), 0.0)).unwrap();
        assert_eq!(
            run(&mut t, &[f32::INFINITY, f32::NEG_INFINITY]),
            [(AlertLevel::High, 30.0), (AlertLevel::Low, 0.0)]
        );
    }

    #[test]
    fn rejects_bad_params() {
        assert_eq!(
            Threshold::new(params(None, None, 0.0)).unwrap_err(),
            ParamError::NoThreshold
        );
        assert_eq!(
            Threshold::new(params(Some(5.0), Some(5.0), 0.0)).unwrap_err(),
            ParamError::ThresholdsInverted {
                above: 5.0,
                below: 5.0
            }
        );
        assert!(matches!(
            Threshold::new(params(Some(f32::NAN), None, 0.0)),
            Err(ParamError::NotFinite { param: "above", .. })
        ));
        assert!(matches!(
            Threshold::new(params(None, Some(f32::INFINITY), 0.0)),
            Err(ParamError::NotFinite { param: "below", .. })
        ));
        assert!(matches!(
            Threshold::new(params(Some(1.0), None, f32::NAN)),
            Err(ParamError::NotFinite {
                param: "hysteresis",
                ..
            })
        ));
        assert_eq!(
            Threshold::new(params(Some(1.0), None, -0.5)).unwrap_err(),
            ParamError::Negative {
                param: "hysteresis",
                value: -0.5
            }
        );
    }

    #[test]
    fn params_deserialize_with_defaults() {
        let p: ThresholdParams = serde_json::from_str(r#"{"above":35.0}"#).unwrap();
        assert_eq!(p, params(Some(35.0), None, 0.0));
    }
}
