//! The node's settings: identity, sampling, alert threshold, MQTT timing, buffer sizes.

use core::fmt;

use aimdb_records::topic::{validate_segment, TopicError};
use aimdb_records::transforms::{ParamError, Threshold, ThresholdParams};
use aimdb_records::{id, Id};

/// Shortest sample period a command can set; shorter requests are raised to it.
pub const MIN_SAMPLE_PERIOD_MS: u32 = 10;
/// Longest sample period a command can set (one day); longer requests are lowered to it.
pub const MAX_SAMPLE_PERIOD_MS: u32 = 86_400_000;

/// Everything the node app needs to know besides its hardware. Build with [`NodeConfig::new`]
/// and adjust fields; [`run_node`](crate::run_node) validates it.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node id: one MQTT topic level (`aimdb/<node>/...`), at most 32 bytes.
    pub node_id: Id,
    /// `sensor_id` of the readings this node publishes.
    pub sensor_id: Id,
    /// Initial sensor sample period; `NodeCommand::SetSamplePeriod` changes it at run time.
    pub sample_period_ms: u32,
    /// Heartbeat period.
    pub heartbeat_period_ms: u32,
    /// The local threshold transform (`alert.temp.indoor`).
    pub alert: ThresholdParams,
    /// Capacity of the sensor records' rings: how many readings are kept for MQTT while the
    /// broker is away (older ones are dropped and counted as lag).
    pub ring_capacity: usize,
    /// MQTT keep-alive, seconds (the broker publishes the will after 1.5 times this without a
    /// packet from the node).
    pub keep_alive_s: u16,
    /// First reconnect delay; doubles per failed attempt up to `reconnect_max_ms`, with jitter.
    pub reconnect_min_ms: u32,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u32,
    /// On shutdown, how long to keep publishing what the records still hold before `offline`.
    pub drain_timeout_ms: u32,
    /// Seed of the reconnect jitter (take it from a hardware RNG so that nodes rebooted by one
    /// power cut do not reconnect in lockstep).
    pub seed: u32,
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// The node id is not a valid topic level.
    NodeId(TopicError),
    /// An id is longer than 32 bytes.
    IdTooLong,
    /// The threshold parameters are invalid.
    Alert(ParamError),
    /// A field is out of range; the message says which and why.
    Range(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NodeId(e) => write!(f, "node id: {e}"),
            ConfigError::IdTooLong => f.write_str("ids are at most 32 bytes"),
            ConfigError::Alert(e) => write!(f, "alert threshold: {e}"),
            ConfigError::Range(what) => f.write_str(what),
        }
    }
}

impl core::error::Error for ConfigError {}

impl NodeConfig {
    /// Defaults for node `node_id`: sample every 2 s, heartbeat every 10 s, alert above 35 °C
    /// (0.5 °C hysteresis), rings of 16, keep-alive 15 s, reconnect 0.5–30 s, drain 2 s.
    pub fn new(node_id: &str) -> Result<Self, ConfigError> {
        validate_segment(node_id).map_err(ConfigError::NodeId)?;
        let node = id(node_id).map_err(|_| ConfigError::IdTooLong)?;
        Ok(Self {
            sensor_id: node.clone(),
            node_id: node,
            sample_period_ms: 2_000,
            heartbeat_period_ms: 10_000,
            alert: ThresholdParams {
                above: Some(35.0),
                below: None,
                hysteresis: 0.5,
            },
            ring_capacity: 16,
            keep_alive_s: 15,
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
            drain_timeout_ms: 2_000,
            seed: 0x9e37_79b9,
        })
    }

    /// Checks every field; the first problem found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_segment(&self.node_id).map_err(ConfigError::NodeId)?;
        Threshold::new(self.alert).map_err(ConfigError::Alert)?;
        let checks: [(bool, &'static str); 6] = [
            (
                (MIN_SAMPLE_PERIOD_MS..=MAX_SAMPLE_PERIOD_MS).contains(&self.sample_period_ms),
                "sample_period_ms must be 10 ms .. 1 day",
            ),
            (
                self.heartbeat_period_ms >= 100,
                "heartbeat_period_ms must be at least 100",
            ),
            (self.ring_capacity >= 1, "ring_capacity must be at least 1"),
            (self.keep_alive_s >= 1, "keep_alive_s must be at least 1"),
            (
                self.reconnect_min_ms >= 1,
                "reconnect_min_ms must be at least 1",
            ),
            (
                self.reconnect_max_ms >= self.reconnect_min_ms,
                "reconnect_max_ms must be at least reconnect_min_ms",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(ConfigError::Range(what)),
            None => Ok(()),
        }
    }
}

/// Clamps a commanded sample period to [`MIN_SAMPLE_PERIOD_MS`]..=[`MAX_SAMPLE_PERIOD_MS`].
pub fn clamp_sample_period(ms: u32) -> u32 {
    ms.clamp(MIN_SAMPLE_PERIOD_MS, MAX_SAMPLE_PERIOD_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let mut c = NodeConfig::new("node-1").unwrap();
        assert_eq!(c.validate(), Ok(()));
        c.ring_capacity = 0;
        assert_eq!(
            c.validate(),
            Err(ConfigError::Range("ring_capacity must be at least 1"))
        );
        assert!(matches!(
            NodeConfig::new("a/b"),
            Err(ConfigError::NodeId(_))
        ));
        assert_eq!(clamp_sample_period(0), MIN_SAMPLE_PERIOD_MS);
    }
}
