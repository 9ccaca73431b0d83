//! What history gives a graph that is built but not yet running: the newest stored value of
//! each record the engine asks for (`restore = true` records it holds empty), which the engine
//! seeds (`engine::restore`); and, once seeded, which values are already in persisting records
//! (restored, or carried over by a reload), so that their persist taps do not store them a
//! second time. The store knows no record types: values travel as JSON.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::StoreError;
use super::persist::Persist;
use super::status::{StoreState, StoreStatus};
use super::{query, schema};

/// The newest stored value of each of `keys` that has one, parsed from JSON. Nothing when the
/// store is down; never fails: problems are logged.
pub(super) async fn latest(
    path: Option<PathBuf>,
    status: &StoreStatus,
    keys: Vec<String>,
) -> Vec<(String, Value)> {
    let Some(path) = path.filter(|_| !keys.is_empty() && status.state() != StoreState::Down) else {
        return Vec::new();
    };
    let found = tokio::task::spawn_blocking(move || read_latest(&path, &keys)).await;
    let rows = match found {
        Ok(Ok(rows)) => rows,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot restore values from history");
            return Vec::new();
        }
        Err(e) => {
            tracing::error!("restoring values from history: {e}");
            return Vec::new();
        }
    };
    rows.into_iter()
        .filter_map(|(key, json)| match serde_json::from_str::<Value>(&json) {
            Ok(v) => Some((key, v)),
            Err(e) => {
                tracing::warn!(record = %key, "stored value not restored (not JSON): {e}");
                None
            }
        })
        .collect()
}

/// Remembers `values`, those now in persisting records before they start, as not to be stored
/// again (forgetting earlier ones); `restored` of them came from history (counted, logged).
pub(super) fn seeded(
    persist: &Persist,
    status: &StoreStatus,
    restored: u64,
    values: Vec<(String, Value)>,
) {
    persist.clear_seeded();
    for (key, v) in values {
        persist.mark_seeded(&key, v);
    }
    status.restored(restored);
    if restored > 0 {
        tracing::info!(records = restored, "restored newest values from history");
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
