//! The metrics of each Sparkplug record: names, datatypes and where in a value they are,
//! derived from the record type's compile-time schema (never configured by hand).
//!
//! - A struct becomes one metric per field, `<metric>/<field>` (`sensor.temp/celsius`).
//! - Anything else (an enum such as `NodeStatus`, a `json` record) is one metric `<metric>`.
//! - Scalars map to their Sparkplug datatype (`f32` → Float, `u64` → UInt64, `bool` →
//!   Boolean, strings → String, `Option<T>` → T with `is_null` for `None`); an enum of unit
//!   variants is a String (`"high"`); any other shape is a String holding its JSON.

use postcard_schema::schema::{DataModelType, DataModelVariant, NamedType};

use super::proto::DataType;
use crate::record_types::TypeEntry;

/// One metric of a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricDef {
    /// Its Sparkplug name.
    pub(crate) name: String,
    /// Its datatype.
    pub(crate) datatype: DataType,
    /// The struct field it reads (`None`: the whole value).
    pub(crate) field: Option<&'static str>,
    /// The engineering unit the field's name tells (`celsius` → `°C`), if any.
    pub(crate) unit: Option<&'static str>,
}

/// The metrics of a value of type `entry`, named after `metric`.
pub(crate) fn metrics_of(entry: &TypeEntry, metric: &str) -> Vec<MetricDef> {
    let Some(schema) = (entry.schema)() else {
        return vec![whole(metric, DataType::String)];
    };
    match schema.ty {
        DataModelType::Struct(fields) => fields
            .iter()
            .map(|f| MetricDef {
                name: format!("{metric}/{}", f.name),
                datatype: datatype(f.ty),
                field: Some(f.name),
                unit: unit(f.name),
            })
            .collect(),
        _ => vec![whole(metric, datatype(schema))],
    }
}

/// The one metric of a command record: a String holding the command's JSON (`"identify"`,
/// `{"set_led":{"on":true}}`), whatever the type's shape, so a DCMD writes a whole value.
pub(crate) fn command_metric(metric: &str) -> MetricDef {
    whole(metric, DataType::String)
}

fn whole(metric: &str, datatype: DataType) -> MetricDef {
    MetricDef {
        name: metric.to_string(),
        datatype,
        field: None,
        unit: None,
    }
}

/// The Sparkplug datatype of a schema type.
pub(crate) fn datatype(ty: &NamedType) -> DataType {
    match ty.ty {
        DataModelType::Bool => DataType::Boolean,
        DataModelType::I8 => DataType::Int8,
        DataModelType::I16 => DataType::Int16,
        DataModelType::I32 => DataType::Int32,
        DataModelType::I64 | DataModelType::Isize => DataType::Int64,
        DataModelType::U8 => DataType::UInt8,
        DataModelType::U16 => DataType::UInt16,
        DataModelType::U32 => DataType::UInt32,
        DataModelType::U64 | DataModelType::Usize => DataType::UInt64,
        DataModelType::F32 => DataType::Float,
        DataModelType::F64 => DataType::Double,
        DataModelType::Option(inner) | DataModelType::NewtypeStruct(inner) => datatype(inner),
        // Unit-variant enums are their variant's name; every other shape is its JSON text.
        DataModelType::Enum(variants)
            if variants
                .iter()
                .all(|v| matches!(v.ty, DataModelVariant::UnitVariant)) =>
        {
            DataType::String
        }
        _ => DataType::String,
    }
}

/// The engineering unit a field's name states, by this codebase's naming habit (`celsius`,
/// `percent`, `*_ms`, `*_s`).
fn unit(field: &str) -> Option<&'static str> {
    match field {
        "celsius" | "threshold" => Some("°C"),
        "percent" => Some("%"),
        f if f.ends_with("_ms") => Some("ms"),
        f if f.ends_with("_s") => Some("s"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record_types::lookup;

    #[test]
    fn struct_fields_become_typed_metrics() {
        let t = lookup("Temperature").unwrap();
        let m = metrics_of(t, "sensor.temp");
        let got: Vec<_> = m.iter().map(|m| (m.name.as_str(), m.datatype)).collect();
        assert_eq!(
            got,
            [
                ("sensor.temp/sensor_id", DataType::String),
                ("sensor.temp/celsius", DataType::Float),
                ("sensor.temp/timestamp_ms", DataType::UInt64),
            ]
        );
        assert_eq!(m[1].unit, Some("°C"));
    }

    #[test]
    fn enums_and_json_are_one_string_metric() {
        let alert = metrics_of(lookup("TemperatureAlert").unwrap(), "a");
        assert_eq!(alert[3].name, "a/level");
        assert_eq!(alert[3].datatype, DataType::String);
        let status = metrics_of(lookup("NodeStatus").unwrap(), "s");
        assert_eq!(status, [whole("s", DataType::String)]);
        let hb = metrics_of(lookup("Heartbeat").unwrap(), "hb");
        assert_eq!(hb[1].datatype, DataType::UInt32);
        assert_eq!(
            metrics_of(lookup("json").unwrap(), "j"),
            [whole("j", DataType::String)]
        );
    }
}
