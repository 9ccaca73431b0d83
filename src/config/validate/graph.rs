//! Checks across records: duplicate keys, unknown inputs, input types, cycles. Returns the
//! records in topological order (inputs first).

use std::collections::{BTreeMap, BTreeSet};

use aimdb_core::graph::closest_match;

use super::super::{line_column, Problem};
use super::record::Checked;

/// Checks the graph over `records`; pushes problems; returns a topological order.
pub fn check(records: &[Checked], text: &str, problems: &mut Vec<Problem>) -> Vec<usize> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(&first) = index.get(r.key.as_str()) {
            let (line, _) = line_column(text, records[first].key_span.start);
            problems.push(
                Problem::at(
                    r.key_span.clone(),
                    format!("duplicate key (first defined on line {line})"),
                )
                .in_record(&r.key)
                .with_hint("every record needs its own key"),
            );
        } else {
            index.insert(&r.key, i);
        }
    }
    for r in records {
        for input in &r.inputs {
            match index.get(input.key.as_str()) {
                None => {
                    let mut p = Problem::at(
                        input.span.clone(),
                        format!("transform input {:?} is not a record", input.key),
                    )
                    .in_record(&r.key);
                    let keys = index.keys().copied().filter(|k| *k != r.key);
                    p.message = match closest_match(&input.key, keys) {
                        Some(s) => format!("{}; did you mean {s:?}?", p.message),
                        None => p.message,
                    };
                    problems.push(p);
                }
                Some(&i) => {
                    let found = &records[i].type_name;
                    if found != input.expected && crate::record_types::lookup(found).is_some() {
                        problems.push(
                            Problem::at(
                                input.span.clone(),
                                format!(
                                    "transform input {:?} carries {found}, but {} `{}` expects {}",
                                    input.key, input.kind, input.field, input.expected
                                ),
                            )
                            .in_record(&r.key),
                        );
                    }
                }
            }
        }
    }
    topo_order(records, &index, problems)
}

/// Kahn's algorithm over first occurrences; what is left over lies on or behind a cycle.
fn topo_order(
    records: &[Checked],
    index: &BTreeMap<&str, usize>,
    problems: &mut Vec<Problem>,
) -> Vec<usize> {
    let nodes: Vec<usize> = index.values().copied().collect();
    let inputs_of = |i: usize| -> Vec<usize> {
        records[i]
            .inputs
            .iter()
            .filter_map(|u| index.get(u.key.as_str()).copied())
            .collect()
    };
    let mut done: BTreeSet<usize> = BTreeSet::new();
    let mut order = Vec::new();
    loop {
        let ready: Vec<usize> = nodes
            .iter()
            .copied()
            .filter(|&i| !done.contains(&i) && inputs_of(i).iter().all(|j| done.contains(j)))
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done.insert(i);
            order.push(i);
        }
    }
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for &start in nodes.iter().filter(|i| !done.contains(i)) {
        // Walk inputs that are also left over until a record repeats: that is a cycle.
        let mut path = vec![start];
        let mut at = start;
        let cycle = loop {
            let Some(next) = inputs_of(at).into_iter().find(|j| !done.contains(j)) else {
                break None;
            };
            if let Some(pos) = path.iter().position(|&p| p == next) {
                break Some(path[pos..].to_vec());
            }
            path.push(next);
            at = next;
        };
        let Some(mut cycle) = cycle else { continue };
        cycle.reverse(); // data-flow order: input -> record
        let mut members = cycle.clone();
        members.sort_unstable();
        if !reported.insert(members) {
            continue;
        }
        let first = cycle[0];
        let names: Vec<String> = cycle
            .iter()
            .chain(std::iter::once(&first))
            .map(|&i| format!("{:?}", records[i].key))
            .collect();
        let second = cycle.get(1).copied().unwrap_or(first);
        let span = records[second]
            .inputs
            .iter()
            .find(|u| u.key == records[first].key)
            .map_or(records[second].key_span.clone(), |u| u.span.clone());
        problems.push(
            Problem::at(
                span,
                format!("records form a cycle: {}", names.join(" -> ")),
            )
            .in_record(&records[second].key)
            .with_hint("transforms must form a DAG; break the loop"),
        );
    }
    order
}
