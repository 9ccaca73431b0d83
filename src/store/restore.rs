//! Seeding a graph that is built but not yet running (through `AimDb::seed`, so also records a
//! source or transform writes): `restore = true` records get their newest
//! stored value, and every value already in a persisting record (restored, or carried over by a
//! reload) is remembered so its persist tap does not store it a second time.

use std::path::{Path, PathBuf};

use aimdb_core::AimDb;
use serde_json::Value;

use super::error::StoreError;
use super::persist::Persist;
use super::status::{StoreState, StoreStatus};
use super::{query, schema};
use crate::config::Config;
use crate::record_types;
use crate::Rt;

/// Seeds `dbs` (parts built from `config`, not started; records of parts that already run are
/// left alone). Never fails: problems are logged.
pub(super) async fn seed(
    path: Option<PathBuf>,
    persist: &Persist,
    status: &StoreStatus,
    config: &Config,
    dbs: &[&AimDb<Rt>],
) {
    persist.clear_seeded();
    let handles: Vec<_> = dbs.iter().map(|db| db.handle()).collect();
    let db_of = |key: &str| {
        (0..dbs.len())
            .find(|&i| handles[i].stats(key).is_some())
            .map(|i| (dbs[i], &handles[i]))
    };
    let latest = |key: &str, type_name: &str| {
        let (_, handle) = db_of(key)?;
        record_types::lookup(type_name).and_then(|t| (t.latest_json)(handle, key).ok().flatten())
    };
    let wanted: Vec<String> = config
        .records
        .iter()
        .filter(|r| r.restore && db_of(&r.key).is_some() && latest(&r.key, r.type_name).is_none())
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
                    if let Some((db, _)) = db_of(&key) {
                        restored += u64::from(restore_one(config, db, &key, &json));
                    }
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
        if let Some(v) = latest(&r.key, r.type_name) {
            persist.mark_seeded(&r.key, v);
        }
    }
}

fn restore_one(config: &Config, db: &AimDb<Rt>, key: &str, json: &str) -> bool {
    let Some(rec) = config.records.iter().find(|r| r.key == key) else {
        return false;
    };
    let Some(entry) = record_types::lookup(rec.type_name) else {
        return false;
    };
    let result = serde_json::from_str::<Value>(json)
        .map_err(|e| e.to_string())
        .and_then(|v| (entry.seed_json)(db, key, v).map_err(|e| e.to_string()));
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
