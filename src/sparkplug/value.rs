//! Record values (as JSON) → Sparkplug metric values of a metric's datatype.

use serde_json::Value;

use super::catalog::MetricDef;
use super::proto::payload::metric::Value as MetricValue;
use super::proto::DataType;

/// The value of metric `def` in record value `value`; `None` when the field is absent or null
/// (sent as `is_null`), or does not fit the datatype.
pub(crate) fn metric_value(def: &MetricDef, value: &Value) -> Option<MetricValue> {
    let v = match def.field {
        Some(f) => value.get(f)?,
        None => value,
    };
    convert(def.datatype, v)
}

/// `v` as a metric value of `datatype`. Signed integers travel as their two's complement in
/// `int_value`/`long_value`, as the Sparkplug 3.0 spec (6.4.16) says.
pub(crate) fn convert(datatype: DataType, v: &Value) -> Option<MetricValue> {
    if v.is_null() {
        return None;
    }
    Some(match datatype {
        DataType::Boolean => MetricValue::BooleanValue(v.as_bool()?),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            let n = i32::try_from(v.as_i64()?).ok()?;
            MetricValue::IntValue(u32::from_ne_bytes(n.to_ne_bytes()))
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
            MetricValue::IntValue(u32::try_from(v.as_u64()?).ok()?)
        }
        DataType::Int64 => MetricValue::LongValue(u64::from_ne_bytes(v.as_i64()?.to_ne_bytes())),
        DataType::UInt64 | DataType::DateTime => MetricValue::LongValue(v.as_u64()?),
        #[allow(clippy::cast_possible_truncation)] // f64 → f32 rounds: the field was an f32.
        DataType::Float => MetricValue::FloatValue(v.as_f64()? as f32),
        DataType::Double => MetricValue::DoubleValue(v.as_f64()?),
        _ => MetricValue::StringValue(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_convert_and_misfits_are_null() {
        assert_eq!(
            convert(DataType::Float, &json!(21.5)),
            Some(MetricValue::FloatValue(21.5))
        );
        assert_eq!(
            convert(DataType::Int32, &json!(-1)),
            Some(MetricValue::IntValue(u32::MAX))
        );
        assert_eq!(convert(DataType::UInt8, &json!(-1)), None);
        assert_eq!(convert(DataType::Boolean, &json!("yes")), None);
        assert_eq!(
            convert(DataType::String, &json!({"set_led": {"on": true}})),
            Some(MetricValue::StringValue(
                r#"{"set_led":{"on":true}}"#.into()
            ))
        );
        assert_eq!(convert(DataType::String, &Value::Null), None);
    }
}
