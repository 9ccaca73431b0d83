//! Sparkplug B payloads an edge node sends (births, data, deaths) and reads (NCMD).

use prost::Message as _;

use super::catalog::MetricDef;
use super::proto::payload::metric::Value as MetricValue;
use super::proto::payload::{property_value, Metric, PropertySet, PropertyValue};
use super::proto::{DataType, Payload};

/// The node metric a host writes `true` to for a rebirth.
pub(crate) const REBIRTH: &str = "Node Control/Rebirth";
/// The birth/death sequence metric of NBIRTH and NDEATH.
pub(crate) const BDSEQ: &str = "bdSeq";

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A metric as a birth certificate carries it: name, alias, datatype, the current value (or
/// `is_null` when there is none yet) and the unit as the `engUnit` property.
pub(crate) fn birth_metric(
    def: &MetricDef,
    alias: u64,
    value: Option<MetricValue>,
    ts: u64,
) -> Metric {
    Metric {
        name: Some(def.name.clone()),
        alias: Some(alias),
        timestamp: Some(ts),
        datatype: Some(def.datatype as u32),
        is_null: value.is_none().then_some(true),
        properties: def.unit.map(|u| PropertySet {
            keys: vec!["engUnit".to_string()],
            values: vec![PropertyValue {
                r#type: Some(DataType::String as u32),
                is_null: None,
                value: Some(property_value::Value::StringValue(u.to_string())),
            }],
        }),
        value,
        ..Metric::default()
    }
}

/// A changed metric in NDATA/DDATA: by alias only, no name, no datatype (spec 3.0: the birth
/// gave them).
pub(crate) fn data_metric(alias: u64, value: Option<MetricValue>, ts: u64) -> Metric {
    Metric {
        alias: Some(alias),
        timestamp: Some(ts),
        is_null: value.is_none().then_some(true),
        value,
        ..Metric::default()
    }
}

/// The `bdSeq` metric (Int64).
pub(crate) fn bdseq_metric(bdseq: u8, ts: u64) -> Metric {
    Metric {
        name: Some(BDSEQ.to_string()),
        timestamp: Some(ts),
        datatype: Some(DataType::Int64 as u32),
        value: Some(MetricValue::LongValue(u64::from(bdseq))),
        ..Metric::default()
    }
}

/// The `Node Control/Rebirth` metric of NBIRTH (Boolean, `false`).
pub(crate) fn rebirth_metric(alias: u64, ts: u64) -> Metric {
    Metric {
        name: Some(REBIRTH.to_string()),
        alias: Some(alias),
        timestamp: Some(ts),
        datatype: Some(DataType::Boolean as u32),
        value: Some(MetricValue::BooleanValue(false)),
        ..Metric::default()
    }
}

/// An encoded payload with `metrics`, `seq` (none for NDEATH) and the time `ts`.
pub(crate) fn encode(metrics: Vec<Metric>, seq: Option<u8>, ts: u64) -> Vec<u8> {
    Payload {
        timestamp: Some(ts),
        metrics,
        seq: seq.map(u64::from),
        uuid: None,
        body: None,
    }
    .encode_to_vec()
}

/// The NDEATH payload: `bdSeq` only, no `seq`.
pub(crate) fn ndeath(bdseq: u8) -> Vec<u8> {
    let ts = now_ms();
    encode(vec![bdseq_metric(bdseq, ts)], None, ts)
}

/// Why an NCMD was not acted on.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum CommandError {
    /// Not a Sparkplug B payload.
    #[error("not a Sparkplug B payload: {0}")]
    Decode(String),
    /// A metric this edge node does not take as a command.
    #[error("metric {0:?} is not a command of this edge node")]
    Unknown(String),
    /// A command metric whose value is not a String (the command's JSON).
    #[error("metric {0:?} wants a String value (the command as JSON)")]
    NotText(String),
    /// The value is not a valid command for its record.
    #[error("record {0:?}: {1}")]
    Invalid(String, String),
    /// `Node Control/Rebirth` with a value other than Boolean `true`.
    #[error("Node Control/Rebirth wants a Boolean true")]
    BadRebirth,
}

/// What an NCMD asks: whether a rebirth, or why it was refused. A payload with several
/// metrics is refused whole if any is not understood.
pub(crate) fn node_command(bytes: &[u8], rebirth_alias: u64) -> Result<bool, CommandError> {
    let p = Payload::decode(bytes).map_err(|e| CommandError::Decode(e.to_string()))?;
    let mut rebirth = false;
    for m in &p.metrics {
        let named = m.name.as_deref() == Some(REBIRTH);
        let aliased = m.name.is_none() && m.alias == Some(rebirth_alias);
        if !(named || aliased) {
            let shown = m
                .name
                .clone()
                .or_else(|| m.alias.map(|a| format!("alias {a}")))
                .unwrap_or_default();
            return Err(CommandError::Unknown(shown));
        }
        match m.value {
            Some(MetricValue::BooleanValue(true)) => rebirth = true,
            Some(MetricValue::BooleanValue(false)) => {}
            _ => return Err(CommandError::BadRebirth),
        }
    }
    Ok(rebirth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ncmd(metrics: Vec<Metric>) -> Vec<u8> {
        encode(metrics, None, 1)
    }

    #[test]
    fn rebirth_by_name_or_alias_and_refusals() {
        let by_name = Metric {
            name: Some(REBIRTH.into()),
            value: Some(MetricValue::BooleanValue(true)),
            ..Metric::default()
        };
        assert_eq!(node_command(&ncmd(vec![by_name]), 1), Ok(true));
        let by_alias = data_metric(1, Some(MetricValue::BooleanValue(true)), 1);
        assert_eq!(node_command(&ncmd(vec![by_alias]), 1), Ok(true));
        let wrong = data_metric(1, Some(MetricValue::IntValue(1)), 1);
        assert_eq!(
            node_command(&ncmd(vec![wrong]), 1),
            Err(CommandError::BadRebirth)
        );
        let other = data_metric(9, Some(MetricValue::BooleanValue(true)), 1);
        assert!(matches!(
            node_command(&ncmd(vec![other]), 1),
            Err(CommandError::Unknown(_))
        ));
        assert!(matches!(
            node_command(b"\xff\xff\xff", 1),
            Err(CommandError::Decode(_))
        ));
    }

    #[test]
    fn ndeath_has_bdseq_and_no_seq() {
        let p = Payload::decode(ndeath(7).as_slice()).unwrap();
        assert_eq!(p.seq, None);
        assert_eq!(p.metrics[0].name.as_deref(), Some(BDSEQ));
        assert_eq!(p.metrics[0].value, Some(MetricValue::LongValue(7)));
    }
}
