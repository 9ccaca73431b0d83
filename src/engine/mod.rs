//! Builds the `aimdb-core` graph of a validated config and runs it on Tokio.

mod parts;
pub(crate) mod restore;
mod running;
pub(crate) mod typed;

pub(crate) use parts::{partition, store_key, BuiltPart, Graphs, PartPlan, Parts};
pub use running::{DrainOutcome, RunningGraph};

use std::sync::Arc;

use aimdb_core::{AimDb, AimDbBuilder};

use crate::components::AttachError;
use crate::components::Env;
use crate::config::{Config, RecordConfig};
use crate::mqtt::MqttConnector;
use crate::store::Persist;
use crate::Rt;

pub use crate::catalog::Catalog;

/// The record types and components this engine runs: every type of `record_types::TYPES` (its
/// per-type operations, `typed.rs`, cover each) and the built-in sources, transforms and taps.
/// The config loader checks a config against it.
pub fn catalog() -> &'static Catalog {
    static CATALOG: Catalog = Catalog {
        types: &crate::record_types::TYPES,
        sources: crate::components::SOURCES,
        transforms: crate::components::TRANSFORMS,
        taps: crate::components::TAPS,
    };
    &CATALOG
}

/// Why a validated config could not become a graph (a bug or an engine limit, not a config
/// mistake: the config passed validation).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Not inside a Tokio runtime.
    #[error(transparent)]
    Runtime(#[from] aimdb_tokio::NoTokioRuntime),
    /// A component could not be attached to its record.
    #[error("could not set up the graph: record {record:?}: {error}")]
    Attach {
        /// The record.
        record: String,
        /// Why.
        #[source]
        error: AttachError,
    },
    /// The engine rejected the graph or could not start it.
    #[error(transparent)]
    Build(#[from] aimdb_core::BuildError),
}

/// Builds (but does not run) the graph of `config`, without history; its MQTT links (if any)
/// get a bridge of their own, which runs and closes with the graph.
pub fn build(config: &Config) -> Result<AimDb<Rt>, EngineError> {
    build_graph(config, None, MqttConnector::new(config))
}

fn build_graph(
    config: &Config,
    store: Option<&Persist>,
    mqtt: MqttConnector,
) -> Result<AimDb<Rt>, EngineError> {
    let records: Vec<&RecordConfig> = config.records.iter().collect();
    build_records(config, &records, store, mqtt)
}

/// Builds (but does not run) the graph of `records` (all of `config`'s, or one part's).
fn build_records(
    config: &Config,
    records: &[&RecordConfig],
    store: Option<&Persist>,
    mqtt: MqttConnector,
) -> Result<AimDb<Rt>, EngineError> {
    let mut builder = AimDbBuilder::new().runtime(Rt::new()?);
    builder.connector(mqtt);
    let env = Env {
        node_id: Arc::from(config.node_id.as_str()),
    };
    let mut problems = Vec::new();
    for rec in records {
        (typed::ops(rec.ty).configure)(&mut builder, rec, &env, store, &mut problems);
    }
    if let Some((record, error)) = problems.into_iter().next() {
        return Err(EngineError::Attach { record, error });
    }
    Ok(builder.build()?)
}
