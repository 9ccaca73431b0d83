//! The hardware the app needs, as traits, and simulated drivers for nodes without sensors.
//!
//! Drivers move into the engine's tasks (a source owns its sensor, the command tap owns the LED),
//! so they are `Send + 'static` and their futures `Send`. A driver that fails returns
//! [`SensorError`]: the source counts it (`NodeStats::sensor_errors`), logs it and tries again at
//! the next sample; it never stops the node.

use core::future::Future;

/// Why a reading could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorError {
    /// The sensor is not ready (warming up, conversion pending).
    NotReady,
    /// The bus (I2C, SPI, 1-Wire) failed.
    Bus,
}

/// An air-temperature sensor.
pub trait TemperatureSensor: Send + 'static {
    /// Takes one reading in °C.
    fn read_celsius(&mut self) -> impl Future<Output = Result<f32, SensorError>> + Send;
}

/// A relative-humidity sensor.
pub trait HumiditySensor: Send + 'static {
    /// Takes one reading in percent (0–100).
    fn read_percent(&mut self) -> impl Future<Output = Result<f32, SensorError>> + Send;
}

/// The node's status LED.
pub trait StatusLed: Send + 'static {
    /// Switches it on or off. Must not block.
    fn set(&mut self, on: bool);
}

/// A temperature that swings as a sine around `base` by `swing` °C, one full period every
/// `period_samples` readings. Deterministic, so tests can predict alerts.
#[derive(Debug, Clone)]
pub struct SimulatedTemperature {
    /// Centre of the swing, °C.
    pub base: f32,
    /// Amplitude, °C (0 for a constant reading).
    pub swing: f32,
    /// Readings per full period.
    pub period_samples: u32,
    step: u32,
}

impl SimulatedTemperature {
    /// Swings around `base` by `swing` over 60 readings.
    pub fn new(base: f32, swing: f32) -> Self {
        Self {
            base,
            swing,
            period_samples: 60,
            step: 0,
        }
    }

    fn next(&mut self) -> f32 {
        let phase = self.step as f32 / self.period_samples.max(1) as f32;
        self.step = (self.step + 1) % self.period_samples.max(1);
        self.base + self.swing * libm::sinf(phase * 2.0 * core::f32::consts::PI)
    }
}

impl TemperatureSensor for SimulatedTemperature {
    fn read_celsius(&mut self) -> impl Future<Output = Result<f32, SensorError>> + Send {
        let v = self.next();
        async move { Ok(v) }
    }
}

/// A humidity that swings between 40 and 60 %, deterministic.
#[derive(Debug, Clone, Default)]
pub struct SimulatedHumidity {
    step: u32,
}

impl HumiditySensor for SimulatedHumidity {
    fn read_percent(&mut self) -> impl Future<Output = Result<f32, SensorError>> + Send {
        self.step = (self.step + 1) % 40;
        let v = 40.0 + (self.step as f32 - 20.0).abs();
        async move { Ok(v) }
    }
}

/// A status LED that is not there (commands to it are still counted as applied).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLed;

impl StatusLed for NoLed {
    fn set(&mut self, _on: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_temperature_swings_around_its_base() {
        let mut t = SimulatedTemperature::new(20.0, 5.0);
        let v: [f32; 60] = core::array::from_fn(|_| t.next());
        assert!((v[0] - 20.0).abs() < 1e-4);
        assert!((v[15] - 25.0).abs() < 1e-3);
        assert!((v[45] - 15.0).abs() < 1e-3);
        assert!((t.next() - 20.0).abs() < 1e-4, "periodic");
    }
}
