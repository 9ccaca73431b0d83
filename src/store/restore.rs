//! Seeding a graph that is built but not yet running (through `AimDb::seed`, so also records a
//! source or transform writes): `restore = true` records get their newest
//! stored value, and every value already in a persisting record (restored, or carried over by a
//! reload) is remembered so its persist tap does not store it a second time.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::StoreError;
use super::persist::Persist;
use super::status::{StoreState, StoreStatus};
use super::{query, schema};
use crate::config::{Config, RecordConfig};

/// A graph that is built but not yet running, as history sees it: records by their config,
/// values as JSON. The engine implements it (`engine::typed::Unstarted`), so that this module
/// needs no record types.
pub(crate) trait SeedTarget {
    /// Whether `rec` is one of this graph's records (those of parts that already run are not).
    fn holds(&self, rec: &RecordConfig) -> bool;
    /// The newest value in `rec`, as JSON (`None`: none, or `rec` is not held).
    fn latest(&self, rec: &RecordConfig) -> Option<Value>;
    /// Seeds `rec` with `value`; why not (not a value of its type, not held).
    fn seed(&self, rec: &RecordConfig, value: Value) -> Result<(), String>;
}

/// Seeds `graph` (parts built from `config`, not started). Never fails: problems are logged.
pub(super) async fn seed(
    path: Option<PathBuf>,
    persist: &Persist,
    status: &StoreStatus,
    config: &Config,
    graph: &dyn SeedTarget,
) {
    persist.clear_seeded();
    let wanted: Vec<String> = config
        .records
        .iter()
        .filter(|r| r.restore && graph.holds(r) && graph.latest(r).is_none())
        .map(|r| r.key.clone())
        .collect();
    if let (false, Some(path)) = (
        wanted.is_empty(),
        path.filter(|_| status.state() != StoreState::Down),
    ) {
        let found = tokio::task::spawn_blocking(move || read_latest(&path, &wanted)).await;
        match found {
            Ok(Ok(values)) => {
                let mut restored = 0;
                for (key, json) in values {
                    restored += u64::from(restore_one(config, graph, &key, &json));
                }
                status.restored(restored);
                if restored > 0 {
                    tracing::info!(records = restored, "restored newest values from history");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot restore values from history"),
            Err(e) => tracing::error!("restoring values from history: {e}"),
        }
    }
    for r in config.records.iter().filter(|r| r.persist) {
        if let Some(v) = graph.latest(r) {
            persist.mark_seeded(&r.key, v);
        }
    }
}

fn restore_one(config: &Config, graph: &dyn SeedTarget, key: &str, json: &str) -> bool {
    let Some(rec) = config.records.iter().find(|r| r.key == key) else {
        return false;
    };
    let result = serde_json::from_str::<Value>(json)
        .map_err(|e| e.to_string())
        .and_then(|v| graph.seed(rec, v));
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(record = %key, "stored value not restored (type changed?): {e}");
            false
        }
    }
}

/// Blocking: the newest stored value of each key that has one.
fn read_latest(path: &Path, keys: &[String]) -> Result<Vec<(String, String)>, StoreError> {
    let conn = schema::open_reader(path)?;
    let mut out = Vec::new();
    for key in keys {
        if let Some(json) = query::latest(&conn, path, key)? {
            out.push((key.clone(), json));
        }
    }
    Ok(out)
}
