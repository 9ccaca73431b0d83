//! The well-known record keys, as `#[derive(RecordKey)]` enums.
//!
//! Use these instead of string literals wherever a well-known record is named, so that a typo is
//! a compile error. Each enum has `key()`, `from_key()`, `ALL` and `Display` (see
//! `aimdb-derive`) and implements [`aimdb_core::RecordKey`]. The key strings are part of the
//! MQTT topic scheme (`aimdb/<node>/<key>`): renaming one breaks deployed nodes.

use aimdb_derive::RecordKey;

/// Measurements published by nodes. Value types: [`Temperature`](crate::Temperature) for
/// `sensor.temp.*`, [`Humidity`](crate::Humidity) for `sensor.humidity.*`.
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[key_prefix = "sensor."]
pub enum SensorKey {
    /// `sensor.temp.indoor`: indoor air temperature.
    #[key = "temp.indoor"]
    TempIndoor,
    /// `sensor.temp.outdoor`: outdoor air temperature.
    #[key = "temp.outdoor"]
    TempOutdoor,
    /// `sensor.humidity.indoor`: indoor relative humidity.
    #[key = "humidity.indoor"]
    HumidityIndoor,
    /// `sensor.humidity.outdoor`: outdoor relative humidity.
    #[key = "humidity.outdoor"]
    HumidityOutdoor,
}

/// Node liveness and control records.
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[key_prefix = "node."]
pub enum NodeKey {
    /// `node.heartbeat`: [`Heartbeat`](crate::Heartbeat), published periodically by each node.
    Heartbeat,
    /// `node.cmd`: [`NodeCommand`](crate::NodeCommand), a mailbox record sent to a node on
    /// `aimdb/<node>/cmd/node.cmd`.
    #[key = "cmd"]
    Command,
    /// `node.status`: [`NodeStatus`](crate::NodeStatus), mirrored from `aimdb/<node>/status`.
    Status,
}

/// Alerts derived from measurements. Value type: [`TemperatureAlert`](crate::TemperatureAlert).
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[key_prefix = "alert."]
pub enum AlertKey {
    /// `alert.temp.indoor`: threshold alerts on `sensor.temp.indoor`.
    #[key = "temp.indoor"]
    TempIndoor,
    /// `alert.temp.outdoor`: threshold alerts on `sensor.temp.outdoor`.
    #[key = "temp.outdoor"]
    TempOutdoor,
}

/// Values computed from other records. Value type: [`DewPoint`](crate::DewPoint).
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[key_prefix = "derived."]
pub enum DerivedKey {
    /// `derived.dew_point.indoor`: from `sensor.temp.indoor` and `sensor.humidity.indoor`.
    #[key = "dew_point.indoor"]
    DewPointIndoor,
    /// `derived.dew_point.outdoor`: from `sensor.temp.outdoor` and `sensor.humidity.outdoor`.
    #[key = "dew_point.outdoor"]
    DewPointOutdoor,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_core::RecordKey as _;

    #[test]
    fn well_known_keys_are_spelled_as_documented() {
        assert_eq!(SensorKey::TempIndoor.as_key(), "sensor.temp.indoor");
        assert_eq!(SensorKey::HumidityOutdoor.key(), "sensor.humidity.outdoor");
        assert_eq!(NodeKey::Heartbeat.key(), "node.heartbeat");
        assert_eq!(NodeKey::Command.key(), "node.cmd");
        assert_eq!(NodeKey::Status.key(), "node.status");
        assert_eq!(AlertKey::TempOutdoor.key(), "alert.temp.outdoor");
        assert_eq!(DerivedKey::DewPointIndoor.key(), "derived.dew_point.indoor");
    }

    #[test]
    fn every_key_is_a_valid_topic_level() {
        let all = SensorKey::ALL
            .iter()
            .map(|k| k.key())
            .chain(NodeKey::ALL.iter().map(|k| k.key()))
            .chain(AlertKey::ALL.iter().map(|k| k.key()))
            .chain(DerivedKey::ALL.iter().map(|k| k.key()));
        for key in all {
            assert_eq!(crate::topic::validate_key(key), Ok(()), "{key}");
        }
    }
}
