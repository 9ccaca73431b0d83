//! `dew_point`: a join of a `Temperature` and a `Humidity` record into a `DewPoint`
//! (`aimdb_records::transforms::DewPointJoin`).

use std::any::Any;
use std::sync::Arc;

use aimdb_records::transforms::{DewPointJoin, DewPointParams};
use aimdb_records::{DewPoint, Humidity, Temperature};

use crate::components::{
    registrar, AttachError, ComponentTable, InputDoc, ParamDoc, TransformInstance, TransformKind,
};
use crate::diagnostics::Problem;

/// Registration.
pub(crate) static KIND: TransformKind = TransformKind {
    kind: DewPointJoin::KIND,
    doc: "dew point from the latest temperature and humidity",
    output_type: "DewPoint",
    inputs: &[
        InputDoc {
            field: "temperature",
            ty: "Temperature",
        },
        InputDoc {
            field: "humidity",
            ty: "Humidity",
        },
    ],
    params: &[ParamDoc {
        name: "max_skew_ms",
        ty: "integer",
        default: "none",
        doc: "emit only when the two readings are at most this far apart",
    }],
    parse,
};

#[derive(Debug)]
struct DewPointTransform(DewPointParams);

fn parse(t: &ComponentTable) -> Result<Arc<dyn TransformInstance>, Vec<Problem>> {
    // The parameters as `aimdb-records` defines them (unknown fields refused there).
    let params: DewPointParams = t
        .params(&["temperature", "humidity"])
        .map_err(|p| vec![p])?;
    Ok(Arc::new(DewPointTransform(params)))
}

impl TransformInstance for DewPointTransform {
    fn describe(&self) -> String {
        match self.0.max_skew_ms {
            Some(ms) => format!("dew_point(max_skew_ms={ms})"),
            None => "dew_point()".into(),
        }
    }

    fn attach(&self, reg: &mut dyn Any, inputs: &[String]) -> Result<(), AttachError> {
        let [temperature, humidity] = inputs else {
            return Err(AttachError::Inputs {
                kind: "dew_point",
                needs: "a temperature and a humidity input",
            });
        };
        registrar::<DewPoint>(reg)?.join(DewPointJoin::new(self.0), |j| {
            j.on::<Temperature>(temperature.as_str(), |s, v| s.on_temperature(v))
                .on::<Humidity>(humidity.as_str(), |s, v| s.on_humidity(v))
        });
        Ok(())
    }
}
