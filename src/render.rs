//! The record graph of a config as text (for people), DOT (for Graphviz) or JSON (for tools).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::config::{Config, RecordConfig, Writer};

fn writer(r: &RecordConfig) -> String {
    match &r.writer {
        Some(Writer::Source(s)) => format!("source {}", s.instance.describe()),
        Some(Writer::Transform(t)) => {
            let inputs: Vec<&str> = t.inputs.iter().map(|(_, k)| k.as_str()).collect();
            format!(
                "transform {} <- {}",
                t.instance.describe(),
                inputs.join(", ")
            )
        }
        None if !r.links_from.is_empty() => "link_from".into(),
        None => "external (admin `set` / sync API)".into(),
    }
}

fn ordered(cfg: &Config) -> impl Iterator<Item = &RecordConfig> {
    cfg.order.iter().filter_map(|&i| cfg.records.get(i))
}

/// Human-readable graph, records in data-flow order.
pub(crate) fn text(cfg: &Config) -> String {
    let edges: usize = cfg.records.iter().map(|r| r.inputs().len()).sum();
    let mut out = format!(
        "{}: node {:?}, {} records, {} edges\n",
        cfg.file,
        cfg.node_id,
        cfg.records.len(),
        edges
    );
    for r in ordered(cfg) {
        let _ = writeln!(out, "  {} : {} [{}]", r.key, r.ty.name, r.buffer);
        let _ = writeln!(out, "      writer: {}", writer(r));
        for t in &r.taps {
            let _ = writeln!(out, "      tap: {}", t.instance.describe());
        }
        for l in &r.links_from {
            let _ = writeln!(
                out,
                "      link_from: {} ({}, qos {})",
                l.url, l.codec, l.qos
            );
        }
        for l in &r.links_to {
            let _ = writeln!(
                out,
                "      link_to: {} ({}, qos {}{})",
                l.url,
                l.codec,
                l.qos,
                if l.retain { ", retained" } else { "" }
            );
        }
        if r.persist {
            let _ = writeln!(out, "      persist: yes");
        }
    }
    out
}

/// Graphviz DOT.
pub(crate) fn dot(cfg: &Config) -> String {
    let mut out = String::from("digraph aimdbd {\n  rankdir=LR;\n  node [shape=box];\n");
    for r in ordered(cfg) {
        let buffer = r.buffer.to_string();
        let _ = writeln!(
            out,
            "  {} [label={}];",
            dot_str(&[&r.key]),
            dot_str(&[&r.key, r.ty.name, &buffer])
        );
        for input in r.inputs() {
            let kind = match &r.writer {
                Some(Writer::Transform(t)) => t.kind,
                _ => "",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                dot_str(&[input]),
                dot_str(&[&r.key]),
                dot_str(&[kind])
            );
        }
        for l in &r.links_from {
            let _ = writeln!(
                out,
                "  {url} [shape=ellipse];\n  {url} -> {};",
                dot_str(&[&r.key]),
                url = dot_str(&[&l.url])
            );
        }
        for l in &r.links_to {
            let _ = writeln!(
                out,
                "  {url} [shape=ellipse];\n  {} -> {url};",
                dot_str(&[&r.key]),
                url = dot_str(&[&l.url])
            );
        }
    }
    out.push_str("}\n");
    out
}

/// One record as JSON.
pub(crate) fn record_json(r: &RecordConfig) -> Value {
    let (kind, component) = match &r.writer {
        Some(Writer::Source(s)) => (s.kind, Some(s.instance.describe())),
        Some(Writer::Transform(t)) => (t.kind, Some(t.instance.describe())),
        None => ("", None),
    };
    json!({
        "key": r.key,
        "type": r.ty.name,
        "buffer": r.buffer.to_string(),
        "writer": r.writer_kind().as_str(),
        "writer_kind": (!kind.is_empty()).then_some(kind),
        "writer_detail": component,
        "inputs": r.inputs(),
        "taps": r.taps.iter().map(|t| t.instance.describe()).collect::<Vec<_>>(),
        "links_to": r.links_to,
        "links_from": r.links_from,
        "persist": r.persist,
    })
}

/// The graph as JSON: records in data-flow order and edges.
pub(crate) fn json(cfg: &Config) -> Value {
    let records: Vec<Value> = ordered(cfg).map(record_json).collect();
    let edges: Vec<Value> = ordered(cfg)
        .flat_map(|r| {
            r.inputs()
                .into_iter()
                .map(move |i| json!({ "from": i, "to": r.key }))
        })
        .collect();
    json!({ "node": cfg.node_id, "records": records, "edges": edges })
}

/// A DOT string literal of `lines`, one label line each (`\n` in DOT), with quotes and
/// backslashes escaped and control characters dropped.
fn dot_str(lines: &[&str]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\\n");
        }
        for c in line.chars().filter(|c| !c.is_control()) {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}
