//! Node liveness and control: heartbeats, commands and the online/offline status.

use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

use super::Id;

/// A periodic sign of life from a node.
///
/// JSON: `{"node_id":"node-7","uptime_s":3600,"seq":42}`.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
pub struct Heartbeat {
    /// The node sending it.
    pub node_id: Id,
    /// Seconds since the node booted.
    pub uptime_s: u32,
    /// Heartbeat counter since boot, starting at 0 and wrapping at `u32::MAX`; a gap shows lost
    /// heartbeats, a drop to a small value a reboot.
    pub seq: u32,
}

/// An instruction to a node, carried by a mailbox record on `aimdb/<node>/cmd/<key>`: the
/// latest command wins and is consumed once.
///
/// JSON: `{"set_sample_period":{"ms":5000}}`, `{"set_led":{"on":true}}`, `"reboot"`,
/// `"identify"`. Postcard: variant index then fields, so new commands may only be appended.
#[derive(Serialize, Deserialize, Schema, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum NodeCommand {
    /// Sample the node's sensors every `ms` milliseconds.
    SetSamplePeriod {
        /// The new sampling period in milliseconds.
        ms: u32,
    },
    /// Switch the node's status LED on or off.
    SetLed {
        /// `true` for on.
        on: bool,
    },
    /// Restart the node (after publishing `offline` if it can).
    Reboot,
    /// Blink the status LED so a person can find the node.
    Identify,
}

/// Whether a node is connected, as announced on `aimdb/<node>/status` (retained).
///
/// On the status topic the payload is the plain text `online` (birth message) or `offline` (last
/// will and clean shutdown), not a codec encoding: see [`NodeStatus::as_payload`] and
/// [`NodeStatus::from_payload`]. Inside the record graph the type encodes like any other record
/// (JSON `"online"`, postcard variant index).
#[derive(Serialize, Deserialize, Schema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// The node is connected.
    Online,
    /// The node disconnected, cleanly or not.
    Offline,
}

impl NodeStatus {
    /// The status-topic payload: `"online"` or `"offline"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Online => crate::topic::STATUS_ONLINE,
            NodeStatus::Offline => crate::topic::STATUS_OFFLINE,
        }
    }

    /// The status-topic payload as bytes, ready to publish.
    pub const fn as_payload(self) -> &'static [u8] {
        self.as_str().as_bytes()
    }

    /// Parses a status-topic payload: `online` or `offline`, exact and case-sensitive, ignoring
    /// surrounding ASCII whitespace (so `echo online | mosquitto_pub -l` works). Anything else is
    /// `None`.
    pub fn from_payload(payload: &[u8]) -> Option<Self> {
        match payload.trim_ascii() {
            b"online" => Some(NodeStatus::Online),
            b"offline" => Some(NodeStatus::Offline),
            _ => None,
        }
    }
}

impl core::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_payload_round_trips() {
        for s in [NodeStatus::Online, NodeStatus::Offline] {
            assert_eq!(NodeStatus::from_payload(s.as_payload()), Some(s));
        }
        assert_eq!(
            NodeStatus::from_payload(b" online\n"),
            Some(NodeStatus::Online)
        );
    }

    #[test]
    fn status_payload_rejects_anything_else() {
        for bad in [
            &b""[..],
            b"Online",
            b"\"online\"",
            b"on line",
            b"offline!",
            &[0xff, 0xfe],
        ] {
            assert_eq!(NodeStatus::from_payload(bad), None, "{bad:?}");
        }
    }
}
