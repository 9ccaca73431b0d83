//! `[node]`. The other sections are their subsystems': `crate::mqtt::config`,
//! `crate::store::config`, `crate::admin::config` (and `[sparkplug]` in `sparkplug.rs`).

use std::time::Duration;

use toml::Spanned;

use super::super::raw::RawNode;
use super::super::{parse_duration, Problem};

/// `[node]`: the id (required) and the drain timeout.
pub(super) fn node(
    raw: Option<&Spanned<RawNode>>,
    problems: &mut Vec<Problem>,
) -> (String, Option<Duration>) {
    let Some(raw) = raw else {
        problems.push(
            Problem::nowhere("missing [node] table")
                .with_hint("add `[node]` with `id = \"gw-1\"` (used in client ids and topics)"),
        );
        return (String::new(), None);
    };
    let raw = raw.get_ref();
    let id = raw.id.get_ref();
    // The documented limit (32 bytes, an `Id` of the values the sources write) is checked
    // before the topic rules, whose own limit (MQTT's 65 535 bytes) is far beyond it.
    if id.len() > aimdb_records::types::ID_CAPACITY {
        problems.push(
            Problem::at(
                raw.id.span(),
                format!(
                    "[node] id {id:?} is {} bytes long; at most {} are allowed",
                    id.len(),
                    aimdb_records::types::ID_CAPACITY
                ),
            )
            .with_hint("a short name of this gateway, e.g. \"gw-1\" (it is the sensor_id/node_id of the values it writes)"),
        );
    } else if let Err(e) = aimdb_records::topic::validate_segment(id) {
        let p = Problem::at(raw.id.span(), format!("[node] id {id:?}: {e}"));
        problems.push(match e {
            aimdb_records::topic::TopicError::ContainsControl { .. } => {
                p.with_hint(super::links::CONTROL_HINT)
            }
            _ => p,
        });
    }
    let timeout = raw.shutdown_timeout.as_ref().and_then(|t| {
        parse_duration(t.get_ref())
            .map_err(|e| {
                problems.push(Problem::at(
                    t.span(),
                    format!("[node] shutdown_timeout: {e}"),
                ))
            })
            .ok()
    });
    (id.clone(), timeout)
}
