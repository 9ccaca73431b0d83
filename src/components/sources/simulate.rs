//! `simulate`: a synthetic sensor. Writes a `Temperature` or `Humidity` every `period_ms`,
//! following a slow sine between `min` and `max` with a little seeded noise, stamped with the
//! wall clock and the node id (or `sensor_id`). For trying the daemon without hardware.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Producer, RuntimeContext};
use aimdb_records::{id, Humidity, Id, Temperature};
use serde::Deserialize;

use crate::components::{
    registrar, AttachError, ComponentTable, Env, ParamDoc, SourceInstance, SourceKind,
};
use crate::diagnostics::Problem;
use crate::Rt;

/// Registration.
pub(crate) static KIND: SourceKind = SourceKind {
    kind: "simulate",
    doc: "synthetic sensor: a slow sine between min and max with seeded noise",
    output_types: &["Temperature", "Humidity"],
    params: &[
        ParamDoc {
            name: "period_ms",
            ty: "integer",
            default: "required",
            doc: "milliseconds between values (>= 1)",
        },
        ParamDoc {
            name: "min",
            ty: "float",
            default: "15.0 (Temperature) / 30.0 (Humidity)",
            doc: "lowest value",
        },
        ParamDoc {
            name: "max",
            ty: "float",
            default: "30.0 (Temperature) / 70.0 (Humidity)",
            doc: "highest value",
        },
        ParamDoc {
            name: "seed",
            ty: "integer",
            default: "1",
            doc: "noise seed; equal seeds give equal sequences",
        },
        ParamDoc {
            name: "sensor_id",
            ty: "string",
            default: "the node id",
            doc: "sensor_id stamped into values (<= 32 bytes)",
        },
    ],
    parse,
};

/// `source = { kind = "simulate", ... }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateConfig {
    period_ms: u64,
    min: Option<f32>,
    max: Option<f32>,
    seed: Option<u64>,
    sensor_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Simulate {
    cfg: SimulateConfig,
    sensor_id: Option<Id>,
}

fn parse(t: &ComponentTable) -> Result<Arc<dyn SourceInstance>, Vec<Problem>> {
    let cfg: SimulateConfig = t.params(&[]).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    if cfg.period_ms == 0 {
        problems.push(Problem::at(
            t.value_span("period_ms"),
            "`period_ms` must be at least 1",
        ));
    }
    for (name, v) in [("min", cfg.min), ("max", cfg.max)] {
        if v.is_some_and(|v| !v.is_finite()) {
            problems.push(Problem::at(
                t.value_span(name),
                format!("`{name}` must be a finite number"),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (cfg.min, cfg.max) {
        if lo >= hi {
            problems.push(Problem::at(
                t.value_span("max"),
                format!("`max` ({hi}) must be greater than `min` ({lo})"),
            ));
        }
    }
    let sensor_id = match cfg.sensor_id.as_deref().map(id).transpose() {
        Ok(s) => s,
        Err(e) => {
            problems.push(Problem::at(
                t.value_span("sensor_id"),
                format!("`sensor_id`: {e}"),
            ));
            None
        }
    };
    if problems.is_empty() {
        Ok(Arc::new(Simulate { cfg, sensor_id }))
    } else {
        Err(problems)
    }
}

/// A record type `simulate` can write.
trait Simulated: Clone + Send + Sync + 'static {
    const RANGE: (f32, f32);
    fn make(sensor_id: Id, value: f32, timestamp_ms: u64) -> Self;
}

impl Simulated for Temperature {
    const RANGE: (f32, f32) = (15.0, 30.0);
    fn make(sensor_id: Id, celsius: f32, timestamp_ms: u64) -> Self {
        Temperature {
            sensor_id,
            celsius,
            timestamp_ms,
        }
    }
}

impl Simulated for Humidity {
    const RANGE: (f32, f32) = (30.0, 70.0);
    fn make(sensor_id: Id, percent: f32, timestamp_ms: u64) -> Self {
        Humidity {
            sensor_id,
            percent,
            timestamp_ms,
        }
    }
}

impl SourceInstance for Simulate {
    fn describe(&self) -> String {
        format!("simulate(period_ms={})", self.cfg.period_ms)
    }

    fn attach(&self, reg: &mut dyn Any, env: &Env) -> Result<(), AttachError> {
        let sensor = match &self.sensor_id {
            Some(s) => s.clone(),
            None => id(&env.node_id)?,
        };
        if reg.is::<aimdb_core::RecordRegistrar<Temperature, Rt>>() {
            let this = self.clone();
            registrar::<Temperature>(reg)?
                .source(move |ctx, p| this.run::<Temperature>(ctx, p, sensor));
        } else {
            let this = self.clone();
            registrar::<Humidity>(reg)?.source(move |ctx, p| this.run::<Humidity>(ctx, p, sensor));
        }
        Ok(())
    }
}

impl Simulate {
    async fn run<T: Simulated>(self, ctx: RuntimeContext<Rt>, p: Producer<T, Rt>, sensor: Id) {
        let (lo, hi) = (
            self.cfg.min.unwrap_or(T::RANGE.0),
            self.cfg.max.unwrap_or(T::RANGE.1),
        );
        let mut noise = Noise(self.cfg.seed.unwrap_or(1).max(1));
        let period = Duration::from_millis(self.cfg.period_ms);
        for step in 0u64.. {
            let wave = 0.5 + 0.5 * ((step % 10_000) as f32 * 0.05).sin();
            let x = (wave + (noise.next_unit() - 0.5) * 0.1).clamp(0.0, 1.0);
            p.produce(T::make(
                sensor.clone(),
                lo + (hi - lo) * x,
                ctx.time().timestamp_ms(),
            ));
            ctx.time().sleep(period).await;
        }
    }
}

/// xorshift64: small, seeded, good enough for test noise.
struct Noise(u64);

impl Noise {
    fn next_unit(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}
