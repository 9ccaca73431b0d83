//! The whole-number fields of a config and the values each accepts: one table that the checks
//! use and that messages quote (an integer too large for TOML is reported with its field and
//! this range, not as a bare overflow), and the fields that take a duration.

// `[mqtt]`'s ranges are the MQTT subsystem's own (`crate::mqtt::config`).
use crate::mqtt::config::{
    KEEP_ALIVE_S, MAX_PACKET_SIZE, OUTBOX_CAPACITY, OUTBOX_MAX_BYTES, OUTBOX_MAX_FILE_BYTES,
};
// So are `[store]`'s (`crate::store::config`).
use crate::store::config::{MAX_ROWS, QUEUE, QUEUE_MAX_BYTES};
// And `[admin]`'s (`crate::admin::config`).
use crate::admin::config::MAX_CONNECTIONS;
// And `[sparkplug]`'s (`crate::sparkplug::config`).
use crate::sparkplug::config::STORE_FORWARD_MAX_VALUES;

/// A record's `buffer = { kind = "spmc_ring", capacity = N }`.
pub(super) const RING_CAPACITY: (i64, i64) = (1, 1 << 20);
/// A link's `qos`.
pub(super) const QOS: (i64, i64) = (0, 2);

/// Every whole-number field by its place (`table.field`; `record` for a `[[record]]`).
const INTEGER_FIELDS: &[(&str, (i64, i64))] = &[
    ("mqtt.keep_alive_s", KEEP_ALIVE_S),
    ("mqtt.outbox_capacity", OUTBOX_CAPACITY),
    ("mqtt.outbox_max_bytes", OUTBOX_MAX_BYTES),
    ("mqtt.outbox_max_file_bytes", OUTBOX_MAX_FILE_BYTES),
    ("mqtt.max_packet_size", MAX_PACKET_SIZE),
    ("store.max_rows", MAX_ROWS),
    ("store.queue_capacity", QUEUE),
    ("store.queue_max_bytes", QUEUE_MAX_BYTES),
    ("store.batch_size", QUEUE),
    ("admin.max_connections", MAX_CONNECTIONS),
    (
        "sparkplug.store_forward_max_values",
        STORE_FORWARD_MAX_VALUES,
    ),
    ("record.max_rows", MAX_ROWS),
    ("record.buffer.capacity", RING_CAPACITY),
    ("record.link_to.qos", QOS),
    ("record.link_from.qos", QOS),
];

/// The fields that take a duration (`"10s"`), by their place, with the unit a bare number
/// there most likely means (for the hint).
const DURATION_FIELDS: &[(&str, &str)] = &[
    ("node.shutdown_timeout", "s"),
    ("mqtt.reconnect_min", "ms"),
    ("mqtt.reconnect_max", "s"),
    ("store.retention", "d"),
    ("store.sweep_interval", "m"),
    ("store.batch_delay", "ms"),
    ("admin.idle_timeout", "s"),
    ("record.retention", "d"),
];

/// The values the whole-number field at `place` accepts, if it is one.
pub(super) fn integer_range(place: &str) -> Option<(i64, i64)> {
    INTEGER_FIELDS
        .iter()
        .find(|(p, _)| *p == place)
        .map(|(_, r)| *r)
}

/// If the field at `place` takes a duration: the unit a bare number there most likely means.
pub(super) fn duration_unit(place: &str) -> Option<&'static str> {
    DURATION_FIELDS
        .iter()
        .find(|(p, _)| *p == place)
        .map(|(_, u)| *u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::config::RawAdmin;
    use crate::config::field_names;
    use crate::config::raw::{RawBuffer, RawLink, RawNode, RawRecord};
    use crate::mqtt::config::RawMqtt;
    use crate::sparkplug::config::RawSparkplug;
    use crate::store::config::RawStore;

    /// Every place named in the tables is a field of its table (no entry outlives a rename).
    #[test]
    fn every_place_is_a_field() {
        let fields = |table: &str| -> &'static [&'static str] {
            match table {
                "node" => field_names::<RawNode>(),
                "mqtt" => field_names::<RawMqtt>(),
                "store" => field_names::<RawStore>(),
                "admin" => field_names::<RawAdmin>(),
                "sparkplug" => field_names::<RawSparkplug>(),
                "record" => field_names::<RawRecord>(),
                "record.buffer" => field_names::<RawBuffer>(),
                "record.link_to" | "record.link_from" => field_names::<RawLink>(),
                other => panic!("unknown table {other}"),
            }
        };
        let places = INTEGER_FIELDS
            .iter()
            .map(|(p, _)| *p)
            .chain(DURATION_FIELDS.iter().map(|(p, _)| *p));
        for place in places {
            let (table, field) = place.rsplit_once('.').expect("table.field");
            assert!(fields(table).contains(&field), "{place}");
        }
        assert_eq!(integer_range("mqtt.keep_alive_s"), Some((0, 65_535)));
        assert_eq!(duration_unit("node.shutdown_timeout"), Some("s"));
        assert_eq!(duration_unit("node.id"), None);
    }
}
