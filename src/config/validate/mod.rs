//! Meaning checks over the raw config. Every function pushes problems and goes on.

mod flow;
mod graph;
mod links;
mod node;
mod record;
mod sparkplug;
mod state;
mod store;

use std::time::Duration;

use super::shape;
use super::{cut_long_values, Config, Lines, Problem};
use crate::catalog::Catalog;

/// Checks of the machine at this moment that only `aimdbd check` makes, on top of the file's
/// own. The daemon does not: on a reload it would find its own admin port taken, and at start
/// the bind itself reports the error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Probes {
    /// Try to listen on `[admin] listen` (and let go at once): a port already taken, an
    /// address that is not this machine's or a port this user may not bind is a warning.
    pub(crate) admin_listen: bool,
}

/// Validates `text` (from `file`) into a [`Config`], or every problem found.
pub(super) fn validate(
    file: &str,
    text: &str,
    catalog: &Catalog,
    probes: Probes,
) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let raw = shape::shape(text, &mut problems).ok_or_else(|| problems.clone())?;
    let (node_id, shutdown_timeout) = node::node(raw.node.as_ref(), &mut problems);
    let mut mqtt = raw
        .mqtt
        .as_ref()
        .and_then(|m| crate::mqtt::config::validate(m, &node_id, file, &mut problems));
    let store = raw
        .store
        .as_ref()
        .and_then(|s| crate::store::config::validate(s, file, &mut problems));
    let admin = raw
        .admin
        .as_ref()
        .and_then(|a| crate::admin::config::validate(a, file, &mut problems, &mut warnings));
    let checked: Vec<_> = raw
        .record
        .iter()
        .map(|rec| {
            let have_store = store.is_some();
            record::record(rec, &node_id, text, catalog, have_store, &mut problems)
        })
        .collect();
    let order = graph::check(&checked, text, &mut problems);
    let mut records: Vec<_> = checked.into_iter().map(|c| c.config).collect();
    let raw_mqtt = raw.mqtt.as_ref().map(|m| m.get_ref());
    flow::resolve(
        &mut records,
        &raw.record,
        mqtt.as_mut().zip(raw_mqtt),
        &mut |p| problems.push(p),
    );
    let sparkplug = sparkplug::section(
        &sparkplug::Inputs {
            raw: raw.sparkplug.as_ref(),
            raw_records: &raw.record,
            records: &records,
            node_id: &node_id,
            file,
            have_mqtt: raw.mqtt.is_some(),
        },
        &mut problems,
        &mut warnings,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    state::directories(
        raw.store.as_ref(),
        store.as_ref(),
        raw.mqtt.as_ref(),
        mqtt.as_ref(),
        &mut |w| warnings.push(w),
    );
    if let (true, Some(raw), Some(a)) = (probes.admin_listen, &raw.admin, &admin) {
        crate::admin::config::probe_listen(raw.get_ref(), a, &mut warnings);
    }
    if raw.mqtt.is_none() {
        links::unbridged(&raw.record, &mut |w| warnings.push(w));
    }
    warnings.sort_by_key(|w| w.span.as_ref().map_or(0, |s| s.start));
    let records: Vec<_> = records.into_iter().flatten().collect();
    Ok(Config {
        file: file.to_string(),
        node_id,
        shutdown_timeout: shutdown_timeout.unwrap_or(Duration::from_secs(10)),
        mqtt,
        store,
        admin,
        sparkplug,
        records,
        order,
        warnings: {
            let lines = Lines::new(text);
            warnings.iter().map(|w| warning(file, &lines, w)).collect()
        },
    })
}

/// `FILE:LINE:COL: warning: [record "KEY": ]MESSAGE` (and a `  hint:` line).
fn warning(file: &str, lines: &Lines<'_>, w: &Problem) -> String {
    let (line, column) = w
        .span
        .as_ref()
        .map_or((1, 1), |s| lines.line_column(s.start));
    let record = w
        .record
        .as_ref()
        .map(|r| format!("record {r:?}: "))
        .unwrap_or_default();
    let mut out = format!(
        "{file}:{line}:{column}: warning: {record}{}",
        cut_long_values(&w.message)
    );
    if let Some(h) = &w.hint {
        out.push_str(&format!("\n  hint: {}", cut_long_values(h)));
    }
    out
}
