//! Flow control, decided once the graph is known: which outbound links hold back the inbound
//! links upstream of them when their outbox is full (`outbox_full = "block"`), and whether the
//! MQTT session is persistent.
//!
//! A record *can wait* when every value it gets comes from a peer that holds what it has not
//! acknowledged: inbound links that are all QoS ≥ 1, or a transform whose inputs can all wait.
//! Sources, outside writers (API, sync) and QoS 0 links cannot be paused; an outbox fed by them
//! keeps the bounded-drop contract. Per `link_to`:
//!
//! | `outbox_full` | QoS ≥ 1 link, record can wait | otherwise |
//! |---|---|---|
//! | not set | `block` | `[mqtt] outbox_full` (default `drop_oldest`) |
//! | `"block"` | `block` | refused: nothing upstream could wait |
//! | `"drop_oldest"` / `"drop_newest"` | as set | as set |
//!
//! `[mqtt] clean_session` defaults to `false` (a persistent session, so the broker keeps and
//! redelivers what was not acknowledged) when any `link_from` has QoS ≥ 1.

use std::collections::HashMap;

use toml::Spanned;

use super::super::raw::RawRecord;
use super::super::{MqttConfig, OutboxFull, Problem, RecordConfig, Writer};
use crate::mqtt::config::RawMqtt;

/// Parses an `outbox_full` value.
pub(super) fn parse_outbox_full(
    v: &Spanned<String>,
    push: &mut impl FnMut(Problem),
) -> Option<OutboxFull> {
    match v.get_ref().as_str() {
        "block" => Some(OutboxFull::Block),
        "drop_oldest" => Some(OutboxFull::DropOldest),
        "drop_newest" => Some(OutboxFull::DropNewest),
        other => {
            push(
                Problem::at(
                    v.span(),
                    format!("outbox_full {other:?}: expected \"block\", \"drop_oldest\" or \"drop_newest\""),
                )
                .with_hint("block holds back the QoS ≥ 1 inbound links feeding the record; the drop policies discard at outbox_capacity"),
            );
            None
        }
    }
}

/// Whether each record can wait (see the module docs): `None` where it cannot be known because
/// the record or one of its inputs has mistakes of its own (nothing is reported for those).
fn can_wait(records: &[Option<&RecordConfig>]) -> Vec<Option<bool>> {
    let index: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((r.as_ref()?.key.as_str(), i)))
        .collect();
    let mut wait: Vec<Option<Option<bool>>> = vec![None; records.len()];
    // Depth-first over inputs; a cycle (reported by the graph pass) is unknown.
    fn visit(
        i: usize,
        records: &[Option<&RecordConfig>],
        index: &HashMap<&str, usize>,
        wait: &mut Vec<Option<Option<bool>>>,
    ) -> Option<bool> {
        if let Some(known) = wait[i] {
            return known;
        }
        wait[i] = Some(None); // in progress: a cycle reads as unknown
        let r = records[i]?;
        let w = match &r.writer {
            Some(Writer::Source(_)) => Some(false),
            Some(Writer::Transform(_)) => {
                let mut all = Some(true);
                for k in r.inputs() {
                    let input = index.get(k).and_then(|&j| visit(j, records, index, wait));
                    all = match (all, input) {
                        (Some(false), _) | (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    };
                }
                all
            }
            None => Some(!r.links_from.is_empty() && r.links_from.iter().all(|l| l.qos >= 1)),
        };
        wait[i] = Some(w);
        w
    }
    (0..records.len())
        .map(|i| visit(i, records, &index, &mut wait))
        .collect()
}

/// Resolves every `link_to`'s policy and the session's persistence; pushes what cannot hold.
///
/// `records[i]` is the checked record `raw[i]` (`None` if it has mistakes of its own).
pub(super) fn resolve(
    records: &mut [Option<RecordConfig>],
    raw: &[Spanned<RawRecord>],
    mqtt: Option<(&mut MqttConfig, &RawMqtt)>,
    push: &mut impl FnMut(Problem),
) {
    let Some((mqtt, raw_mqtt)) = mqtt else {
        return;
    };
    let wait = can_wait(&records.iter().map(Option::as_ref).collect::<Vec<_>>());
    for (i, rec) in records.iter_mut().enumerate() {
        let (Some(rec), Some(raw_rec)) = (rec.as_mut(), raw.get(i)) else {
            continue;
        };
        let (key, writer) = (rec.key.clone(), writer_desc(rec));
        for (j, link) in rec.links_to.iter_mut().enumerate() {
            let explicit = raw_rec
                .get_ref()
                .link_to
                .get(j)
                .and_then(|l| l.get_ref().outbox_full.as_ref());
            let durable = link.qos >= 1 && wait[i] == Some(true);
            link.outbox_full = match explicit {
                None if durable => OutboxFull::Block,
                None => mqtt.outbox_full,
                Some(v) => match parse_outbox_full(v, push) {
                    // Unknown (mistakes upstream, reported on their own): nothing to add.
                    Some(OutboxFull::Block) if wait[i].is_none() && link.qos >= 1 => {
                        OutboxFull::Block
                    }
                    Some(OutboxFull::Block) if !durable => {
                        let why = if link.qos == 0 {
                            "a QoS 0 link has no delivery to wait for".to_string()
                        } else {
                            format!("record {key:?} is written by {writer}, which cannot be paused")
                        };
                        push(
                            Problem::at(v.span(), format!("outbox_full = \"block\" cannot hold here: {why}"))
                                .in_record(&key)
                                .with_hint("block needs qos >= 1 and a record fed only by QoS >= 1 link_from (directly or through transforms); use \"drop_oldest\" or \"drop_newest\""),
                        );
                        mqtt.outbox_full
                    }
                    Some(p) => p,
                    None => mqtt.outbox_full,
                },
            };
        }
    }
    if raw_mqtt.clean_session.is_none() {
        let durable_in = records
            .iter()
            .flatten()
            .any(|r| r.links_from.iter().any(|l| l.qos >= 1));
        mqtt.clean_session = !durable_in;
    }
}

fn writer_desc(rec: &RecordConfig) -> &'static str {
    match (&rec.writer, rec.links_from.is_empty()) {
        (Some(Writer::Source(_)), _) => "a source",
        (Some(Writer::Transform(_)), _) => "a transform with an input that cannot wait",
        (None, false) => "a QoS 0 link_from",
        (None, true) => "outside writers (API, sync)",
    }
}
