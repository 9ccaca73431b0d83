//! The daemon's graph as independent **parts**, so that a reload rebuilds only what changed.
//!
//! A part is a weakly connected component of the record graph over transform inputs: records
//! that feed each other (through any chain of transforms, either way) are in one part, and
//! nothing else connects records (links, taps and the store are per record). Each part is its
//! own `aimdb-core` graph ([`AimDb`]) with its own tasks; parts share the MQTT [`Bridge`]
//! (one binding each) and the history store.
//!
//! A part is identified across reloads by its **fingerprint**: the full configuration of its
//! records (the `Debug` form of each, in config order) and the node id. A reload that keeps the
//! MQTT session and the store's availability keeps every part whose fingerprint is unchanged —
//! running, untouched: its buffers, transform state, source schedules, outboxes and inbound
//! obligations carry over — and drains and rebuilds only the others (see `crate::daemon`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aimdb_core::{AccessError, AimDb, DbHandle, RecordStats};

use super::{build_records, DrainOutcome, EngineError, RunningGraph};
use crate::config::{Config, RecordConfig};
use crate::mqtt::{Bridge, MqttConnector};
use crate::store::Persist;
use crate::Rt;

/// One part of a config: its records (indices into `config.records`, in config order) and
/// its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartPlan {
    /// Indices of its records in the config.
    pub(crate) records: Vec<usize>,
    /// What must be equal for a running part to be kept (see the module docs).
    pub(crate) fingerprint: String,
}

/// Splits `config`'s records into parts (ordered by their first record). Linear in the
/// records and their inputs.
pub(crate) fn partition(config: &Config) -> Vec<PartPlan> {
    let n = config.records.len();
    let index: HashMap<&str, usize> = config
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, r) in config.records.iter().enumerate() {
        for input in r.inputs() {
            if let Some(&j) = index.get(input) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut parts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        parts.entry(r).or_default().push(i);
    }
    let mut plans: Vec<PartPlan> = parts
        .into_values()
        .map(|records| {
            let mut fingerprint = format!("node={:?}\n", config.node_id);
            for &i in &records {
                fingerprint.push_str(&format!("{:?}\n", config.records[i]));
            }
            PartPlan {
                records,
                fingerprint,
            }
        })
        .collect();
    plans.sort_by_key(|p| p.records[0]);
    plans
}

/// A part built from a config, not running yet.
pub(crate) struct BuiltPart {
    /// Its number (unique for the daemon's life).
    pub(crate) id: u64,
    /// Its plan.
    pub(crate) plan: PartPlan,
    /// Its graph.
    pub(crate) db: AimDb<Rt>,
    /// How it was built with the history store (see [`store_key`]).
    store: StoreKey,
}

/// How a part was built with the history store: without one (`None`), with its taps counting
/// values as lost (`Some(false)`: the store was down) or writing (`Some(true)`). A reload keeps
/// parts only while this is unchanged.
pub(crate) type StoreKey = Option<bool>;

/// The [`StoreKey`] of parts built with `store`.
pub(crate) fn store_key(store: Option<&Persist>) -> StoreKey {
    store.map(Persist::is_writing)
}

/// A running part.
struct Part {
    id: u64,
    plan: PartPlan,
    graph: RunningGraph,
}

/// The daemon's running parts.
#[derive(Default)]
pub(crate) struct Parts {
    parts: Vec<Part>,
    next_id: u64,
    /// How the running parts were built with the history store (the same for all).
    store: Option<StoreKey>,
}

impl Parts {
    /// No part yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Builds (but does not run) part `plan` of `config`: `persist = true` records get a reader
    /// that feeds `store`; MQTT links bind to `bridge` as part [`BuiltPart::id`].
    pub(crate) fn build(
        &mut self,
        config: &Config,
        plan: PartPlan,
        store: Option<&Persist>,
        bridge: Option<Arc<Bridge>>,
    ) -> Result<BuiltPart, EngineError> {
        self.next_id += 1;
        let id = self.next_id;
        let records: Vec<&RecordConfig> =
            plan.records.iter().map(|&i| &config.records[i]).collect();
        let db = build_records(
            config,
            &records,
            store,
            MqttConnector::shared(config, bridge, id),
        )?;
        Ok(BuiltPart {
            id,
            plan,
            db,
            store: store_key(store),
        })
    }

    /// How the running parts were built with the history store (`None` before the first).
    pub(crate) fn built_with_store(&self) -> Option<StoreKey> {
        self.store
    }

    /// Whether a running part has `plan`'s fingerprint (a reload may keep it).
    pub(crate) fn has(&self, plan: &PartPlan) -> bool {
        self.parts
            .iter()
            .any(|p| p.plan.fingerprint == plan.fingerprint)
    }

    /// Takes out every running part whose fingerprint is not among `keep`'s (to be drained);
    /// the kept ones go on running.
    pub(crate) fn take_all_but(&mut self, keep: &[PartPlan]) -> Retired {
        let (kept, gone): (Vec<Part>, Vec<Part>) = std::mem::take(&mut self.parts)
            .into_iter()
            .partition(|p| keep.iter().any(|k| k.fingerprint == p.plan.fingerprint));
        // A kept part's record indices follow the new config.
        self.parts = kept
            .into_iter()
            .map(|mut p| {
                if let Some(k) = keep.iter().find(|k| k.fingerprint == p.plan.fingerprint) {
                    p.plan.records.clone_from(&k.records);
                }
                p
            })
            .collect();
        Retired { parts: gone }
    }

    /// Takes out every part (shutdown).
    pub(crate) fn take_all(&mut self) -> Retired {
        Retired {
            parts: std::mem::take(&mut self.parts),
        }
    }

    /// Starts `part` on the current Tokio runtime.
    pub(crate) fn start(&mut self, part: BuiltPart) {
        // A reload keeps parts only when the store's availability is unchanged, so every
        // running part was built the same way.
        self.store = Some(part.store);
        self.parts.push(Part {
            id: part.id,
            plan: part.plan,
            graph: RunningGraph::start(part.db),
        });
    }

    /// Number of running parts.
    pub(crate) fn len(&self) -> usize {
        self.parts.len()
    }

    /// The handles of the running parts, by record key (a snapshot: publish it again after
    /// the parts change).
    pub(crate) fn graphs(&self, config: &Config) -> Graphs {
        let mut by_key = HashMap::new();
        for (i, p) in self.parts.iter().enumerate() {
            for &r in &p.plan.records {
                if let Some(rec) = config.records.get(r) {
                    by_key.insert(rec.key.clone(), i);
                }
            }
        }
        Graphs(Arc::new(GraphsInner {
            handles: self
                .parts
                .iter()
                .map(|p| p.graph.handle().clone())
                .collect(),
            by_key,
        }))
    }
}

/// Parts taken out of the running set, to be drained.
pub(crate) struct Retired {
    parts: Vec<Part>,
}

impl Retired {
    /// Their numbers.
    pub(crate) fn ids(&self) -> Vec<u64> {
        self.parts.iter().map(|p| p.id).collect()
    }

    /// The handle of the retired part holding record `key`, if one does.
    pub(crate) fn handle_of(&self, key: &str) -> Option<&DbHandle<Rt>> {
        self.parts
            .iter()
            .map(|p| p.graph.handle())
            .find(|h| h.stats(key).is_some())
    }

    /// Whether there is none.
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Drains them all at once (see [`RunningGraph::drain`]), within `timeout` in all; the
    /// outcome is the worst of theirs (a failure, else a timeout with every live task
    /// counted, else drained). The handles stay readable afterwards ([`Retired::handle_of`]).
    pub(crate) async fn drain(&mut self, timeout: std::time::Duration) -> DrainOutcome {
        let deadline = tokio::time::Instant::now() + timeout;
        for p in &mut self.parts {
            p.graph.stop();
        }
        let mut live = 0;
        let mut timed_out = false;
        let mut failed = None;
        for p in &mut self.parts {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match p.graph.wait(left).await {
                DrainOutcome::Failed(e) => failed = failed.or(Some(e)),
                DrainOutcome::TimedOut { live_tasks } => {
                    timed_out = true;
                    live += live_tasks;
                }
                DrainOutcome::Drained => {}
            }
        }
        match failed {
            Some(e) => DrainOutcome::Failed(e),
            None if timed_out => DrainOutcome::TimedOut { live_tasks: live },
            None => DrainOutcome::Drained,
        }
    }
}

/// The handles of the running parts, by record key. Cheap to clone (a snapshot).
#[derive(Clone)]
pub(crate) struct Graphs(Arc<GraphsInner>);

struct GraphsInner {
    handles: Vec<DbHandle<Rt>>,
    by_key: HashMap<String, usize>,
}

impl Graphs {
    /// The handle of the part holding record `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&DbHandle<Rt>> {
        self.0.by_key.get(key).map(|&i| &self.0.handles[i])
    }

    /// The handle of the part holding record `key`, as the record accessors want it.
    pub(crate) fn handle(&self, key: &str) -> Result<&DbHandle<Rt>, AccessError> {
        self.get(key).ok_or_else(|| AccessError::UnknownKey {
            key: key.to_string(),
            suggestion: None,
        })
    }

    /// Record `key`'s counters.
    pub(crate) fn stats(&self, key: &str) -> Option<RecordStats> {
        self.get(key)?.stats(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(c_period: u32) -> Config {
        let text = format!(
            "[node]\nid = \"gw-1\"\n\n\
             [[record]]\nkey = \"a\"\ntype = \"Temperature\"\nsource = {{ kind = \"simulate\", period_ms = 100 }}\n\n\
             [[record]]\nkey = \"c\"\ntype = \"Temperature\"\nsource = {{ kind = \"simulate\", period_ms = {c_period} }}\n\n\
             [[record]]\nkey = \"b\"\ntype = \"Temperature\"\ntransform = {{ kind = \"moving_average\", input = \"a\", window = 2 }}\n\n\
             [[record]]\nkey = \"d\"\ntype = \"Temperature\"\ntransform = {{ kind = \"moving_average\", input = \"b\", window = 2 }}\n"
        );
        crate::config::parse("parts.toml", &text, crate::engine::catalog())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parts_are_the_records_connected_through_transforms() {
        let plans = partition(&config(100));
        let records: Vec<_> = plans.iter().map(|p| p.records.clone()).collect();
        assert_eq!(
            records,
            vec![vec![0, 2, 3], vec![1]],
            "a, b, d together; c alone"
        );
    }

    #[test]
    fn a_changed_record_changes_only_its_parts_fingerprint() {
        let (before, after) = (partition(&config(100)), partition(&config(200)));
        assert_eq!(before[0], after[0], "a's part is unchanged");
        assert_ne!(before[1].fingerprint, after[1].fingerprint, "c changed");
    }
}
