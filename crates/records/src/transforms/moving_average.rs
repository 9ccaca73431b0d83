//! `moving_average`: the mean of the last `window` temperature readings.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::ParamError;
use crate::types::Temperature;

/// Parameters of [`MovingAverage`], as written in the config
/// (`transform = { kind = "moving_average", input = "...", window = 10 }`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MovingAverageParams {
    /// How many of the latest readings to average: `1..=MovingAverage::MAX_WINDOW`.
    pub window: usize,
}

/// A simple moving average over the last `window` finite samples.
///
/// Contract:
/// - Every finite sample emits the mean of the latest `min(seen, window)` finite samples, so
///   output starts with the first sample (a warm-up average over fewer samples) rather than
///   after `window` samples.
/// - NaN and infinite samples are dropped: they emit nothing and do not enter the window.
/// - Memory: one `Vec<f32>` of `window` slots allocated in [`MovingAverage::new`]; nothing is
///   allocated afterwards. Each sample costs O(`window`) additions (the sum is recomputed, so
///   float error never accumulates).
#[derive(Clone, Debug)]
pub struct MovingAverage {
    window: usize,
    samples: Vec<f32>,
    /// Where the next sample goes once `samples` is full.
    next: usize,
}

impl MovingAverage {
    /// The config `kind` of this transform.
    pub const KIND: &'static str = "moving_average";

    /// The largest window accepted: 4096 samples (16 KiB), to keep a config typo from
    /// exhausting an MCU's RAM.
    pub const MAX_WINDOW: usize = 4096;

    /// A moving average, or [`ParamError::WindowZero`] / [`ParamError::WindowTooLarge`].
    pub fn new(params: MovingAverageParams) -> Result<Self, ParamError> {
        let window = params.window;
        if window == 0 {
            return Err(ParamError::WindowZero);
        }
        if window > Self::MAX_WINDOW {
            return Err(ParamError::WindowTooLarge {
                window,
                max: Self::MAX_WINDOW,
            });
        }
        Ok(MovingAverage {
            window,
            samples: Vec::with_capacity(window),
            next: 0,
        })
    }

    /// The configured window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// How many samples the window holds now (`<= window`).
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample has been accepted yet.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Adds a sample and returns the new mean, or `None` (and no change) if `sample` is not
    /// finite.
    pub fn push(&mut self, sample: f32) -> Option<f32> {
        if !sample.is_finite() {
            return None;
        }
        if self.samples.len() < self.window {
            self.samples.push(sample);
        } else if let Some(slot) = self.samples.get_mut(self.next) {
            *slot = sample;
            self.next = (self.next + 1) % self.window;
        }
        let sum: f32 = self.samples.iter().sum();
        Some(sum / self.samples.len() as f32)
    }

    /// Feeds one reading; returns it with `celsius` replaced by the moving average (same
    /// `sensor_id` and `timestamp_ms`), or `None` for a NaN/infinite reading.
    pub fn apply(&mut self, reading: &Temperature) -> Option<Temperature> {
        let celsius = self.push(reading.celsius)?;
        Some(Temperature {
            sensor_id: reading.sensor_id.clone(),
            celsius,
            timestamp_ms: reading.timestamp_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avg(window: usize) -> MovingAverage {
        MovingAverage::new(MovingAverageParams { window }).unwrap()
    }

    #[test]
    fn warms_up_then_slides() {
        let mut m = avg(3);
        assert_eq!(m.push(3.0), Some(3.0));
        assert_eq!(m.push(6.0), Some(4.5));
        assert_eq!(m.push(9.0), Some(6.0));
        assert_eq!(m.push(12.0), Some(9.0));
        assert_eq!(m.push(0.0), Some(7.0));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn window_of_one_passes_samples_through() {
        let mut m = avg(1);
        for x in [1.0, -5.0, 2.5] {
            assert_eq!(m.push(x), Some(x));
        }
    }

    #[test]
    fn never_grows_past_its_window() {
        let mut m = avg(4);
        for i in 0..1000 {
            m.push(i as f32);
        }
        assert_eq!(m.len(), 4);
        assert_eq!(m.samples.capacity(), 4);
        assert_eq!(m.push(1000.0), Some((997.0 + 998.0 + 999.0 + 1000.0) / 4.0));
    }

    #[test]
    fn non_finite_samples_are_dropped() {
        let mut m = avg(2);
        assert_eq!(m.push(f32::NAN), None);
        assert!(m.is_empty());
        assert_eq!(m.push(2.0), Some(2.0));
        assert_eq!(m.push(f32::INFINITY), None);
        assert_eq!(m.push(4.0), Some(3.0));
    }

    #[test]
    fn apply_keeps_identity_and_time() {
        let mut m = avg(2);
        let t = |c, ts| Temperature {
            sensor_id: crate::id("s").unwrap(),
            celsius: c,
            timestamp_ms: ts,
        };
        m.apply(&t(10.0, 1));
        assert_eq!(m.apply(&t(20.0, 2)), Some(t(15.0, 2)));
        assert_eq!(m.apply(&t(f32::NAN, 3)), None);
    }

    #[test]
    fn rejects_bad_windows() {
        let new = |window| MovingAverage::new(MovingAverageParams { window });
        assert_eq!(new(0).unwrap_err(), ParamError::WindowZero);
        assert_eq!(
            new(MovingAverage::MAX_WINDOW + 1).unwrap_err(),
            ParamError::WindowTooLarge {
                window: MovingAverage::MAX_WINDOW + 1,
                max: MovingAverage::MAX_WINDOW
            }
        );
        assert!(new(MovingAverage::MAX_WINDOW).is_ok());
    }
}
