//! Meaning checks over the raw config. Every function pushes problems and goes on.

mod graph;
mod links;
mod record;
mod sections;
mod store;

use std::time::Duration;

use super::raw::RawConfig;
use super::{Config, Problem};

/// Validates `text` (from `file`) into a [`Config`], or every problem found.
pub fn validate(file: &str, text: &str) -> Result<Config, Vec<Problem>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| vec![toml_problem(&e)])?;
    let mut problems = Vec::new();
    let (node_id, shutdown_timeout) = sections::node(raw.node.as_ref(), &mut problems);
    let mqtt = raw
        .mqtt
        .as_ref()
        .and_then(|m| sections::mqtt(m, &node_id, &mut problems));
    let store = raw
        .store
        .as_ref()
        .and_then(|s| store::section(s, file, &mut problems));
    let admin = raw
        .admin
        .as_ref()
        .and_then(|a| sections::admin(a, &mut problems));
    let checked: Vec<_> = raw
        .record
        .iter()
        .map(|rec| record::record(rec, text, store.is_some(), &mut problems))
        .collect();
    let order = graph::check(&checked, text, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Config {
        file: file.to_string(),
        node_id,
        shutdown_timeout: shutdown_timeout.unwrap_or(Duration::from_secs(10)),
        mqtt,
        store,
        admin,
        records: checked.into_iter().filter_map(|c| c.config).collect(),
        order,
    })
}

fn toml_problem(e: &toml::de::Error) -> Problem {
    let message = e.message().trim().replace('\n', "; ");
    let span = e.span().unwrap_or(0..0);
    let hint = super::diagnostic::unknown_field_hint(&message);
    let p = Problem::at(span, message);
    match hint {
        Some(h) => p.with_hint(h),
        None => p,
    }
}
