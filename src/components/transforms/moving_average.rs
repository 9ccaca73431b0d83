//! `moving_average`: a `Temperature` record smoothed over the last `window` readings
//! (`aimdb_records::transforms::MovingAverage`).

use std::any::Any;
use std::sync::Arc;

use aimdb_records::transforms::{MovingAverage, MovingAverageParams};
use aimdb_records::Temperature;

use crate::components::{
    registrar, AttachError, ComponentTable, InputDoc, ParamDoc, TransformInstance, TransformKind,
};
use crate::diagnostics::Problem;

/// Registration.
pub(crate) static KIND: TransformKind = TransformKind {
    kind: MovingAverage::KIND,
    doc: "mean of the last `window` readings of a temperature",
    output_type: "Temperature",
    inputs: &[InputDoc {
        field: "input",
        ty: "Temperature",
    }],
    params: &[ParamDoc {
        name: "window",
        ty: "integer",
        default: "required",
        doc: "readings to average, 1..=4096",
    }],
    parse,
};

#[derive(Debug)]
struct MovingAverageTransform(MovingAverageParams);

fn parse(t: &ComponentTable) -> Result<Arc<dyn TransformInstance>, Vec<Problem>> {
    // The parameters as `aimdb-records` defines them (unknown fields refused there).
    let params: MovingAverageParams = t.params(&["input"]).map_err(|p| vec![p])?;
    MovingAverage::new(params).map_err(|e| {
        vec![Problem::at(
            t.value_span("window"),
            format!("moving_average: {e}"),
        )]
    })?;
    Ok(Arc::new(MovingAverageTransform(params)))
}

impl TransformInstance for MovingAverageTransform {
    fn describe(&self) -> String {
        format!("moving_average(window={})", self.0.window)
    }

    fn attach(&self, reg: &mut dyn Any, inputs: &[String]) -> Result<(), AttachError> {
        let mut state = MovingAverage::new(self.0)?;
        let input = inputs.first().ok_or(AttachError::Inputs {
            kind: "moving_average",
            needs: "an input",
        })?;
        registrar::<Temperature>(reg)?
            .transform::<Temperature, _>(input.as_str(), |t| t.filter_map(move |v| state.apply(v)));
        Ok(())
    }
}
