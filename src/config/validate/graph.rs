//! Checks across records: duplicate keys, unknown inputs, input types, cycles. Returns the
//! records in topological order (inputs first).
//!
//! Linear in the records and their inputs (but for the "did you mean" of unknown inputs, which
//! looks only at keys of about the same length, within [`SUGGESTION_BUDGET`] in all), so
//! that a generated config of tens of thousands of records checks in well under a second.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::{closest, Lines, Problem};
use super::record::Checked;

/// Most keys compared (an edit distance each) for all "did you mean" hints of one check
/// together; past it, unknown inputs are reported without one.
const SUGGESTION_BUDGET: usize = 100_000;

/// Checks the graph over `records`; pushes problems; returns a topological order.
pub(super) fn check(records: &[Checked], text: &str, problems: &mut Vec<Problem>) -> Vec<usize> {
    let lines = Lines::new(text);
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(&first) = index.get(r.key.as_str()) {
            let (line, _) = lines.line_column(records[first].key_span.start);
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
    // Keys by length in characters: a suggestion is at most 3 edits away, so only keys within 3
    // characters of the unknown one's length can be it.
    let mut by_len: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for k in index.keys() {
        by_len.entry(k.chars().count()).or_default().push(k);
    }
    let mut budget = SUGGESTION_BUDGET;
    for r in records {
        for input in &r.inputs {
            match index.get(input.key.as_str()) {
                None => {
                    let mut p = Problem::at(
                        input.span.clone(),
                        format!("transform input {:?} is not a record", input.key),
                    )
                    .in_record(&r.key);
                    let len = input.key.chars().count();
                    let near = by_len.range(len.saturating_sub(3)..=len + 3);
                    let count: usize = near.clone().map(|(_, ks)| ks.len()).sum();
                    if count <= budget {
                        budget -= count;
                        let keys = near
                            .flat_map(|(_, ks)| ks.iter().copied())
                            .filter(|k| *k != r.key);
                        if let Some(s) = closest(&input.key, keys) {
                            p.message = format!("{}; did you mean {s:?}?", p.message);
                        }
                    }
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
    let inputs: HashMap<usize, Vec<usize>> = nodes
        .iter()
        .map(|&i| {
            let ins = records[i]
                .inputs
                .iter()
                .filter_map(|u| index.get(u.key.as_str()).copied())
                .collect();
            (i, ins)
        })
        .collect();
    let inputs_of = |i: usize| inputs.get(&i).map_or(&[][..], Vec::as_slice);
    let mut waiting: HashMap<usize, usize> = HashMap::new();
    let mut readers: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in &nodes {
        waiting.insert(i, inputs_of(i).len());
        for &j in inputs_of(i) {
            readers.entry(j).or_default().push(i);
        }
    }
    let mut ready: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|i| waiting.get(i) == Some(&0))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    let mut next = 0;
    while let Some(&i) = ready.get(next) {
        next += 1;
        order.push(i);
        for &r in readers.get(&i).map_or(&[][..], Vec::as_slice) {
            if let Some(w) = waiting.get_mut(&r) {
                *w -= 1;
                if *w == 0 {
                    ready.push(r);
                }
            }
        }
    }
    let done: BTreeSet<usize> = order.iter().copied().collect();
    // Every record walked by an earlier search: a walk that reaches one finds no new cycle.
    let mut seen: BTreeSet<usize> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<usize>> = BTreeSet::new();
    for &start in nodes.iter().filter(|i| !done.contains(i)) {
        // Walk inputs that are also left over until a record repeats: that is a cycle.
        let mut path = vec![start];
        let mut on_path: HashMap<usize, usize> = HashMap::from([(start, 0)]);
        let mut at = start;
        if !seen.insert(start) {
            continue;
        }
        let cycle = loop {
            let Some(next) = inputs_of(at).iter().copied().find(|j| !done.contains(j)) else {
                break None;
            };
            if let Some(&pos) = on_path.get(&next) {
                break Some(path[pos..].to_vec());
            }
            if !seen.insert(next) {
                break None;
            }
            on_path.insert(next, path.len());
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
