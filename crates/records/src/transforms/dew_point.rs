//! `dew_point`: joins the latest temperature and humidity into a dew point (Magnus formula).

use serde::{Deserialize, Serialize};

use crate::types::{DewPoint, Humidity, Temperature};

/// Magnus coefficient `a` (dimensionless), Sonntag (1990), over liquid water.
pub const MAGNUS_A: f32 = 17.62;
/// Magnus coefficient `b` in °C, Sonntag (1990), over liquid water.
pub const MAGNUS_B_CELSIUS: f32 = 243.12;

/// The dew point in °C for air at `celsius` and `percent` relative humidity, by the Magnus
/// formula with [`MAGNUS_A`] and [`MAGNUS_B_CELSIUS`]:
///
/// `γ = ln(RH/100) + a·T/(b+T)`, `Td = b·γ/(a−γ)`.
///
/// Accurate to about ±0.35 °C for −45 °C ≤ T ≤ 60 °C. Humidity above 100 % (sensor overshoot)
/// is clamped to 100 %. Returns `None` if either input is NaN, the humidity is ≤ 0 % (no dew
/// point exists), or the result is not finite.
pub fn dew_point_celsius(celsius: f32, percent: f32) -> Option<f32> {
    if celsius.is_nan() || percent.is_nan() || percent <= 0.0 {
        return None;
    }
    let rh = percent.min(100.0) / 100.0;
    let gamma = libm::logf(rh) + MAGNUS_A * celsius / (MAGNUS_B_CELSIUS + celsius);
    let td = MAGNUS_B_CELSIUS * gamma / (MAGNUS_A - gamma);
    td.is_finite().then_some(td)
}

/// Parameters of [`DewPointJoin`], as written in the config
/// (`transform = { kind = "dew_point", temperature = "...", humidity = "...", max_skew_ms = 60000 }`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct DewPointParams {
    /// If set, emit only when the temperature and humidity timestamps are at most this many
    /// milliseconds apart, so a dead sensor's last value is not joined forever.
    #[serde(default)]
    pub max_skew_ms: Option<u64>,
}

/// Keeps the latest [`Temperature`] and [`Humidity`] and emits a [`DewPoint`] whenever either
/// changes and both are present.
///
/// Contract:
/// - Nothing is emitted until both inputs have been seen; then every input emits (unless the
///   skew limit or [`dew_point_celsius`] says no).
/// - The output carries the temperature's `sensor_id` and the newer of the two timestamps.
/// - An input whose value is NaN still replaces the stored one (the sensor is reporting garbage,
///   so the old value is no longer current) but emits nothing.
#[derive(Clone, Debug, Default)]
pub struct DewPointJoin {
    params: DewPointParams,
    temperature: Option<Temperature>,
    humidity: Option<Humidity>,
}

impl DewPointJoin {
    /// The config `kind` of this transform.
    pub const KIND: &'static str = "dew_point";

    /// A join with no inputs seen yet. Every parameter value is valid.
    pub fn new(params: DewPointParams) -> Self {
        DewPointJoin {
            params,
            temperature: None,
            humidity: None,
        }
    }

    /// Records a temperature reading; returns the new dew point if it can be computed.
    pub fn on_temperature(&mut self, reading: &Temperature) -> Option<DewPoint> {
        self.temperature = Some(reading.clone());
        self.compute()
    }

    /// Records a humidity reading; returns the new dew point if it can be computed.
    pub fn on_humidity(&mut self, reading: &Humidity) -> Option<DewPoint> {
        self.humidity = Some(reading.clone());
        self.compute()
    }

    fn compute(&self) -> Option<DewPoint> {
        let t = self.temperature.as_ref()?;
        let h = self.humidity.as_ref()?;
        if let Some(max) = self.params.max_skew_ms {
            if t.timestamp_ms.abs_diff(h.timestamp_ms) > max {
                return None;
            }
        }
        Some(DewPoint {
            sensor_id: t.sensor_id.clone(),
            celsius: dew_point_celsius(t.celsius, h.percent)?,
            timestamp_ms: t.timestamp_ms.max(h.timestamp_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(celsius: f32, ts: u64) -> Temperature {
        Temperature {
            sensor_id: crate::id("t").unwrap(),
            celsius,
            timestamp_ms: ts,
        }
    }

    fn hum(percent: f32, ts: u64) -> Humidity {
        Humidity {
            sensor_id: crate::id("h").unwrap(),
            percent,
            timestamp_ms: ts,
        }
    }

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn magnus_matches_reference_values() {
        // Reference dew points: the same formula in f64 (Python), rounded to 0.1 °C.
        for (t, rh, td) in [
            (20.0, 50.0, 9.3),
            (25.0, 60.0, 16.7),
            (0.0, 80.0, -3.0),
            (30.0, 90.0, 28.2),
            (-10.0, 70.0, -14.4),
        ] {
            let got = dew_point_celsius(t, rh).unwrap();
            assert!(close(got, td, 0.1), "T={t} RH={rh}: {got} vs {td}");
        }
    }

    #[test]
    fn saturated_air_has_dew_point_equal_to_temperature() {
        for t in [-20.0, 0.0, 15.0, 35.0] {
            let td = dew_point_celsius(t, 100.0).unwrap();
            assert!(close(td, t, 1e-3), "{t}: {td}");
            assert_eq!(dew_point_celsius(t, 104.0), dew_point_celsius(t, 100.0));
        }
    }

    #[test]
    fn no_dew_point_for_impossible_inputs() {
        assert_eq!(dew_point_celsius(20.0, 0.0), None);
        assert_eq!(dew_point_celsius(20.0, -3.0), None);
        assert_eq!(dew_point_celsius(f32::NAN, 50.0), None);
        assert_eq!(dew_point_celsius(20.0, f32::NAN), None);
        assert_eq!(dew_point_celsius(-MAGNUS_B_CELSIUS, 50.0), None);
    }

    #[test]
    fn emits_once_both_inputs_are_present() {
        let mut j = DewPointJoin::new(DewPointParams::default());
        assert_eq!(j.on_temperature(&temp(20.0, 100)), None);
        let d = j.on_humidity(&hum(50.0, 150)).unwrap();
        assert_eq!(d.sensor_id.as_str(), "t");
        assert_eq!(d.timestamp_ms, 150);
        assert!(close(d.celsius, 9.3, 0.1));
        let d = j.on_temperature(&temp(25.0, 200)).unwrap();
        assert_eq!(d.timestamp_ms, 200);
        assert!(d.celsius > 13.0);
    }

    #[test]
    fn skew_limit_suppresses_stale_joins() {
        let mut j = DewPointJoin::new(DewPointParams {
            max_skew_ms: Some(1_000),
        });
        j.on_humidity(&hum(50.0, 0));
        assert!(j.on_temperature(&temp(20.0, 1_000)).is_some());
        assert_eq!(j.on_temperature(&temp(20.0, 1_001)), None);
        assert!(j.on_humidity(&hum(50.0, 1_500)).is_some());
    }

    #[test]
    fn nan_input_replaces_the_old_value_and_emits_nothing() {
        let mut j = DewPointJoin::new(DewPointParams::default());
        j.on_humidity(&hum(50.0, 0));
        assert!(j.on_temperature(&temp(20.0, 0)).is_some());
        assert_eq!(j.on_temperature(&temp(f32::NAN, 1)), None);
        assert_eq!(j.on_humidity(&hum(55.0, 2)), None);
    }
}
