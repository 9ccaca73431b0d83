//! `aimdbd check --nodes`: the config's postcard links against what the nodes on the broker
//! announce (their retained `aimdb/<node>/schema`). A link whose record type has no version in
//! common with a node it addresses is a warning: its values would be dropped both ways.
//!
//! A link addresses the node of its `aimdb/<node>/...` topic or filter; a wildcard node level
//! (`aimdb/+/...`) addresses every node that announced. Nodes that announced nothing are not
//! judged (an old firmware, or a node that is off). Warnings never change the exit code.

use std::collections::BTreeMap;
use std::time::Duration;

use aimdb_records::announce;
use aimdb_records::topic::PREFIX;
use aimdb_records::Codec;

use crate::config::{Config, LinkCodec, LinkConfig, RecordConfig};
use crate::mqtt::announcements;
use crate::mqtt::schemas::{mismatch_hint, versions_text};

/// The warnings for `cfg`, reading the announcements for at most `wait`.
pub(super) fn warnings(cfg: &Config, wait: Duration) -> Vec<String> {
    let file = &cfg.file;
    let Some(mqtt) = &cfg.mqtt else {
        return vec![format!(
            "{file}: warning: --nodes: there is no [mqtt] section, so no node announcements to check against"
        )];
    };
    let found = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(announcements::retained(mqtt, wait)));
    match found {
        Ok(nodes) => judge(cfg, &nodes),
        Err(e) => vec![format!(
            "{file}: warning: --nodes: cannot read the node announcements: {e}; the version check was skipped"
        )],
    }
}

/// The node level of an `aimdb/<node>/...` topic or filter: `Some(None)` for a wildcard.
fn addressed(topic: &str) -> Option<Option<&str>> {
    let rest = topic.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let node = rest.split('/').next()?;
    Some(match node {
        "+" | "#" => None,
        n if n.contains('{') => return None,
        n => Some(n),
    })
}

fn judge(cfg: &Config, nodes: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for rec in &cfg.records {
        let links = rec
            .links_from
            .iter()
            .map(|l| ("link_from", l))
            .chain(rec.links_to.iter().map(|l| ("link_to", l)));
        for (dir, link) in links {
            if link.codec != LinkCodec::Wire(Codec::Postcard) {
                continue;
            }
            let targets: Vec<&String> = match addressed(&link.topic) {
                None => continue,
                Some(None) => nodes.keys().filter(|n| **n != cfg.node_id).collect(),
                Some(Some(n)) => nodes.keys().filter(|k| *k == n).collect(),
            };
            for node in targets {
                if let Some(w) = judge_link(cfg, rec, dir, link, node, &nodes[node]) {
                    out.push(w);
                }
            }
        }
    }
    out
}

fn judge_link(
    cfg: &Config,
    rec: &RecordConfig,
    dir: &str,
    link: &LinkConfig,
    node: &str,
    payload: &[u8],
) -> Option<String> {
    let entry = Some(rec.ty).filter(|e| e.version > 0)?;
    let (file, key, url, ty, ours) = (&cfg.file, &rec.key, &link.url, entry.name, entry.version);
    let spoken = match announce::find(payload, ty) {
        Err(e) => {
            return Some(format!(
                "{file}: warning: record {key:?}: node {node}'s schema announcement is malformed ({e}), so {dir} {url} cannot be checked"
            ))
        }
        Ok(None) => {
            return Some(format!(
                "{file}: warning: record {key:?}: {dir} {url} carries {ty}, but node {node} does not announce {ty}\n  hint: check the topic, or the node's firmware"
            ))
        }
        Ok(Some(s)) => s,
    };
    if (entry.negotiate)(Some(&spoken)).is_some() {
        return None;
    }
    Some(format!(
        "{file}: warning: record {key:?}: {dir} {url} carries {ty} v{ours}, but node {node} speaks {ty} {}: no version in common, so these values are dropped\n  hint: {}",
        versions_text(&spoken),
        mismatch_hint(&spoken, ours)
    ))
}
