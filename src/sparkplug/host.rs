//! The primary host application's `STATE` (spec 3.0, 5.x and 6.4.x): retained JSON
//! `{"online": bool, "timestamp": ms}` on `spBv1.0/STATE/<host_id>`, published by the host
//! (QoS 1, retained; `online = false` as its will and on a clean stop).
//!
//! An edge node configured with a primary host publishes its births only after a `STATE`
//! saying online on the current connection, and on one saying offline it publishes NDEATH,
//! disconnects and starts over. A `STATE` whose timestamp is older than the last one taken is
//! ignored. An equal one is taken: the retained copy the broker delivers again after a
//! reconnect has the same timestamp, and a host's will carries the timestamp of its birth.

use super::topic::NAMESPACE;

/// The `STATE` topic of host `host_id`.
pub(crate) fn state_topic(host_id: &str) -> String {
    format!("{NAMESPACE}/STATE/{host_id}")
}

/// What a `STATE` message means for the edge node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The host is online (taken).
    Online,
    /// The host is offline (taken).
    Offline,
    /// Older than a `STATE` already taken: ignored. Carries that message's timestamp.
    Older(u64),
}

/// Why a `STATE` payload was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum StateError {
    /// Not JSON, or not an object with a boolean `online` and a whole-number `timestamp`.
    #[error("STATE payload is not {{\"online\": bool, \"timestamp\": ms}}: {0}")]
    Malformed(String),
}

/// The primary host as this edge node last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrimaryHost {
    /// The timestamp of the newest `STATE` taken (kept across connections).
    last: Option<u64>,
    /// Whether that `STATE` said online *on the current connection*.
    online: bool,
}

impl PrimaryHost {
    #[cfg(test)]
    /// Whether the host is online by a `STATE` taken on the current connection.
    pub(crate) fn is_online(&self) -> bool {
        self.online
    }

    /// A new connection: the host must be seen online on it again (its retained `STATE`
    /// arrives right after the subscription); the last timestamp is kept.
    pub(crate) fn reconnected(&mut self) {
        self.online = false;
    }

    /// Takes a `STATE` payload.
    pub(crate) fn take(&mut self, payload: &[u8]) -> Result<Verdict, StateError> {
        #[derive(serde::Deserialize)]
        struct State {
            online: bool,
            timestamp: u64,
        }
        let s: State =
            serde_json::from_slice(payload).map_err(|e| StateError::Malformed(e.to_string()))?;
        if self.last.is_some_and(|last| s.timestamp < last) {
            return Ok(Verdict::Older(s.timestamp));
        }
        self.last = Some(s.timestamp);
        self.online = s.online;
        Ok(if s.online {
            Verdict::Online
        } else {
            Verdict::Offline
        })
    }

    /// The timestamp of the newest `STATE` taken.
    pub(crate) fn last_timestamp(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_or_equal_states_are_taken_older_ones_ignored() {
        let mut h = PrimaryHost::default();
        assert!(!h.is_online());
        assert_eq!(
            h.take(br#"{"online":true,"timestamp":100}"#),
            Ok(Verdict::Online)
        );
        assert!(h.is_online());
        // An older offline (a stale retained copy, a delayed will): ignored.
        assert_eq!(
            h.take(br#"{"online":false,"timestamp":99}"#),
            Ok(Verdict::Older(99))
        );
        assert!(h.is_online());
        // The same retained message again after a reconnect: taken.
        h.reconnected();
        assert!(!h.is_online());
        assert_eq!(
            h.take(br#"{"timestamp":100,"online":true}"#),
            Ok(Verdict::Online)
        );
        // The host's will carries its birth's timestamp: equal, taken.
        assert_eq!(
            h.take(br#"{"online":false,"timestamp":100}"#),
            Ok(Verdict::Offline)
        );
        assert!(!h.is_online());
        assert_eq!(
            h.take(br#"{"online":true,"timestamp":101}"#),
            Ok(Verdict::Online)
        );
        assert_eq!(h.last_timestamp(), Some(101));
    }

    #[test]
    fn malformed_states_are_refused() {
        let mut h = PrimaryHost::default();
        for bad in [
            &b"ONLINE"[..],
            br#"{"online":"yes","timestamp":1}"#,
            br#"{"online":true}"#,
            br#"{"online":true,"timestamp":-1}"#,
        ] {
            assert!(h.take(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(h.last_timestamp(), None);
        assert_eq!(state_topic("scada"), "spBv1.0/STATE/scada");
    }
}
