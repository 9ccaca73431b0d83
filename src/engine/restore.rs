//! Seeding parts that are built but not yet started: `restore = true` records they hold empty
//! get their newest stored value, which the store returns ([`Store::restore`]) and the engine
//! applies; then the store is told which values persisting records already hold (restored, or
//! carried over by a reload), so that they are not stored twice.

use aimdb_core::AimDb;

use super::typed::Unstarted;
use crate::config::Config;
use crate::store::Store;
use crate::Rt;

/// Seeds the parts `dbs` of the graph of `config` from `store`. Never fails: a stored value
/// that no longer fits its record (its type changed) is logged and skipped.
pub(crate) async fn restore(store: &Store, config: &Config, dbs: &[&AimDb<Rt>]) {
    let graph = Unstarted::new(dbs);
    let wanted: Vec<String> = config
        .records
        .iter()
        .filter(|r| r.restore && graph.holds(r) && graph.latest(r).is_none())
        .map(|r| r.key.clone())
        .collect();
    let mut restored = 0;
    for (key, value) in store.restore(config, wanted).await {
        let Some(rec) = config.records.iter().find(|r| r.key == key) else {
            continue;
        };
        match graph.seed(rec, value) {
            Ok(()) => restored += 1,
            Err(e) => {
                tracing::warn!(record = %key, "stored value not restored (type changed?): {e}");
            }
        }
    }
    let held = config
        .records
        .iter()
        .filter(|r| r.persist)
        .filter_map(|r| graph.latest(r).map(|v| (r.key.clone(), v)))
        .collect();
    store.seeded(restored, held);
}
