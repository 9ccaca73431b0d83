//! `threshold`: `TemperatureAlert`s from a `Temperature` record, on level change, with
//! hysteresis (`aimdb_records::transforms::Threshold`).

use std::any::Any;
use std::sync::Arc;

use aimdb_records::transforms::{Threshold, ThresholdParams};
use aimdb_records::{Temperature, TemperatureAlert};

use crate::components::{
    registrar, AttachError, ComponentTable, InputDoc, ParamDoc, TransformInstance, TransformKind,
};
use crate::diagnostics::Problem;

/// Registration.
pub(crate) static KIND: TransformKind = TransformKind {
    kind: Threshold::KIND,
    doc: "alert when a temperature leaves [below, above]; emits on level change",
    output_type: "TemperatureAlert",
    inputs: &[InputDoc {
        field: "input",
        ty: "Temperature",
    }],
    params: &[
        ParamDoc {
            name: "above",
            ty: "float",
            default: "none",
            doc: "°C; readings above are `high`",
        },
        ParamDoc {
            name: "below",
            ty: "float",
            default: "none",
            doc: "°C; readings below are `low` (give above, below or both)",
        },
        ParamDoc {
            name: "hysteresis",
            ty: "float",
            default: "0.0",
            doc: "°C to cross back before the level returns to `normal`",
        },
    ],
    parse,
};

#[derive(Debug)]
struct ThresholdTransform(ThresholdParams);

fn parse(t: &ComponentTable) -> Result<Arc<dyn TransformInstance>, Vec<Problem>> {
    // The parameters as `aimdb-records` defines them (unknown fields refused there).
    let params: ThresholdParams = t.params(&["input"]).map_err(|p| vec![p])?;
    Threshold::new(params).map_err(|e| {
        // Neither threshold given: placed where `above` would be (the table, as it is absent).
        let field = e.param().unwrap_or("above");
        vec![Problem::at(t.value_span(field), format!("threshold: {e}"))]
    })?;
    Ok(Arc::new(ThresholdTransform(params)))
}

impl TransformInstance for ThresholdTransform {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.0.above {
            parts.push(format!("above={a}"));
        }
        if let Some(b) = self.0.below {
            parts.push(format!("below={b}"));
        }
        if self.0.hysteresis != 0.0 {
            parts.push(format!("hysteresis={}", self.0.hysteresis));
        }
        format!("threshold({})", parts.join(", "))
    }

    fn attach(&self, reg: &mut dyn Any, inputs: &[String]) -> Result<(), AttachError> {
        let mut state = Threshold::new(self.0)?;
        let input = inputs.first().ok_or(AttachError::Inputs {
            kind: "threshold",
            needs: "an input",
        })?;
        registrar::<TemperatureAlert>(reg)?
            .transform::<Temperature, _>(input.as_str(), |t| t.filter_map(move |v| state.apply(v)));
        Ok(())
    }
}
