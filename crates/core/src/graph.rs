//! Graph validation: every mistake in the record graph, found in one pass, before anything runs.
//! The one validator of the graph: the builder runs it on the records configured, and the
//! daemon on a config before it builds anything.
//!
//! Checked across records ([`check_graph`], on a [`GraphRecord`] description that needs no
//! runtime): duplicate keys, unknown transform inputs (with a "did you mean"), input type
//! mismatches, cycles; it also gives the topological order. Checked per record
//! ([`check_record`]): missing or invalid buffers, more than one writer, links without a codec,
//! links whose scheme no connector serves or whose URL the connector rejects. Each [`Issue`]
//! names records, inputs and links by index, so that a caller can place it (a config file maps
//! them to lines); [`validate`] runs both and gives either a [`GraphPlan`] (records in
//! topological order and the edges between them) or a [`GraphError`] listing every
//! [`GraphProblem`] (an issue with keys).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::any::TypeId;
use core::fmt;

use crate::record::{RecordInfo, WriterKind};

/// One mistake in the record graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphProblem {
    /// Two records share a key.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A record has no buffer.
    MissingBuffer {
        /// The record.
        key: String,
    },
    /// A record's buffer configuration is invalid.
    InvalidBuffer {
        /// The record.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A record has more than one writer.
    MultipleWriters {
        /// The record.
        key: String,
        /// Its writers.
        writers: Vec<WriterKind>,
    },
    /// A transform reads a record that does not exist.
    UnknownInput {
        /// The transform's record.
        record: String,
        /// The missing input key.
        input: String,
        /// The closest existing key, if one is close.
        suggestion: Option<String>,
    },
    /// A transform expects another type than its input record carries.
    InputTypeMismatch {
        /// The transform's record.
        record: String,
        /// The input key.
        input: String,
        /// The type the transform expects.
        expected: &'static str,
        /// The type the input record carries.
        found: &'static str,
    },
    /// Records feed each other in a circle.
    Cycle {
        /// The records on the cycle, first repeated at the end.
        path: Vec<String>,
    },
    /// A link has neither its own codec nor its record's.
    MissingCodec {
        /// The record.
        record: String,
        /// The link URL.
        url: String,
    },
    /// A link URL has no scheme or no connector serves its scheme.
    NoConnector {
        /// The record.
        record: String,
        /// The link URL.
        url: String,
    },
    /// The connector rejected a link URL.
    BadLinkUrl {
        /// The record.
        record: String,
        /// The link URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for GraphProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphProblem::DuplicateKey { key } => write!(f, "record {key:?} is configured twice"),
            GraphProblem::MissingBuffer { key } => write!(f, "record {key:?} has no buffer"),
            GraphProblem::InvalidBuffer { key, reason } => write!(f, "record {key:?}: {reason}"),
            GraphProblem::MultipleWriters { key, writers } => {
                write!(f, "record {key:?} has {} writers (", writers.len())?;
                for (i, w) in writers.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{w}")?;
                }
                f.write_str("); a record has exactly one source, transform or set of inbound links")
            }
            GraphProblem::UnknownInput {
                record,
                input,
                suggestion,
            } => {
                write!(f, "record {record:?}: transform input {input:?} is not a record")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean {s:?}?"),
                    None => Ok(()),
                }
            }
            GraphProblem::InputTypeMismatch {
                record,
                input,
                expected,
                found,
            } => write!(
                f,
                "record {record:?}: transform input {input:?} carries {found}, but the transform expects {expected}"
            ),
            GraphProblem::Cycle { path } => {
                f.write_str("records form a cycle: ")?;
                for (i, k) in path.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" -> ")?;
                    }
                    write!(f, "{k:?}")?;
                }
                Ok(())
            }
            GraphProblem::MissingCodec { record, url } => {
                write!(f, "record {record:?}: link {url:?} has no codec")
            }
            GraphProblem::NoConnector { record, url } => {
                write!(f, "record {record:?}: no connector serves link {url:?}")
            }
            GraphProblem::BadLinkUrl {
                record,
                url,
                reason,
            } => write!(f, "record {record:?}: link {url:?}: {reason}"),
        }
    }
}

/// Every problem found in a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// The problems, in record order.
    pub problems: Vec<GraphProblem>,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{n} problem{} in the record graph:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl core::error::Error for GraphError {}

/// A data-flow edge: `from` is an input of `to`'s transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The input record.
    pub from: String,
    /// The record computed from it.
    pub to: String,
}

/// A valid graph: records in topological order (inputs before the records computed from them)
/// and its edges in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphPlan {
    /// Indices into the validated record list, inputs first (records with no order between them
    /// by key).
    pub order: Vec<usize>,
    /// Every transform edge, ordered by the position of `to` in `order`.
    pub edges: Vec<Edge>,
}

/// What a connector says of a link URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    /// A connector serves it.
    Served,
    /// The URL has no scheme, or no connector serves its scheme.
    NoConnector,
    /// The connector of its scheme rejects it, for this reason.
    Rejected(String),
}

/// One record as the cross-record checks see it: its key, value type and transform inputs.
/// `T` identifies a type (`TypeId` for the builder; a type name for a config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphRecord<'a, T> {
    /// The record's key.
    pub key: &'a str,
    /// Its value type; `None` when unknown (the caller reported that): inputs reading it are
    /// not type-checked.
    pub ty: Option<T>,
    /// The inputs of its transforms, in order.
    pub inputs: Vec<GraphInput<'a, T>>,
}

/// A transform input: the key it reads and the type it expects there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphInput<'a, T> {
    /// The input record's key.
    pub key: &'a str,
    /// The type the transform expects.
    pub ty: T,
}

/// One mistake in the record graph, by position: `record` indexes the records validated,
/// `input` that record's inputs, `link` its links. [`GraphProblem`] is the same with keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// Record `record` has the key of the earlier record `first`.
    DuplicateKey {
        /// The later record.
        record: usize,
        /// The first record with that key.
        first: usize,
    },
    /// Record `record` has no buffer.
    MissingBuffer {
        /// The record.
        record: usize,
    },
    /// Record `record`'s buffer configuration is invalid.
    InvalidBuffer {
        /// The record.
        record: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Record `record` has more than one writer.
    MultipleWriters {
        /// The record.
        record: usize,
    },
    /// Input `input` of record `record` names no record.
    UnknownInput {
        /// The transform's record.
        record: usize,
        /// The input.
        input: usize,
        /// The record whose key is closest to the one named, if one is close (and the
        /// [`SUGGESTION_BUDGET`] was not spent).
        suggestion: Option<usize>,
    },
    /// Input `input` of record `record` reads record `found`, which carries another type.
    InputTypeMismatch {
        /// The transform's record.
        record: usize,
        /// The input.
        input: usize,
        /// The record it reads.
        found: usize,
    },
    /// Records feed each other in a circle.
    Cycle {
        /// The records on the cycle in data-flow order (each an input of the next, the last an
        /// input of the first), without repeating the first.
        path: Vec<usize>,
        /// Where the cycle is reported: the input of `path[1]` (`path[0]` for a record reading
        /// itself) that reads `path[0]`.
        input: usize,
    },
    /// Link `link` (an index into `links_without_codec`) has neither its own codec nor its
    /// record's.
    MissingCodec {
        /// The record.
        record: usize,
        /// The link.
        link: usize,
    },
    /// Link `link` (an index into `links_to` then `links_from`) is not served as it is.
    Link {
        /// The record.
        record: usize,
        /// The link.
        link: usize,
        /// What the connectors said (never [`LinkCheck::Served`]).
        check: LinkCheck,
    },
}

/// The cross-record checks of a graph: its issues and an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphCheck {
    /// Duplicate keys (in record order), then unknown inputs and type mismatches (by record and
    /// input), then cycles.
    pub issues: Vec<Issue>,
    /// The first record of each key in topological order: inputs before the records computed
    /// from them, records with no order between them by key. Records on or behind a cycle are
    /// left out.
    pub order: Vec<usize>,
}

/// Most keys compared (an edit distance each) for all "did you mean" hints of one check
/// together; past it, unknown inputs are reported without one.
pub const SUGGESTION_BUDGET: usize = 100_000;

/// The checks across records: duplicate keys, unknown inputs (with a "did you mean"), input
/// types, cycles; and the topological order. The first record of a key is the one inputs read.
///
/// Linear in the records and their inputs (but for the "did you mean" of unknown inputs, which
/// looks only at keys of about the same length, within [`SUGGESTION_BUDGET`] in all), so that a
/// graph of tens of thousands of records checks in well under a second.
pub fn check_graph<T: PartialEq>(records: &[GraphRecord<'_, T>]) -> GraphCheck {
    let mut issues = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(&first) = index.get(r.key) {
            issues.push(Issue::DuplicateKey { record: i, first });
        } else {
            index.insert(r.key, i);
        }
    }
    // Keys by length in characters: a suggestion is at most 3 edits away, so only keys within 3
    // characters of the unknown one's length can be it.
    let mut by_len: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for k in index.keys() {
        by_len.entry(k.chars().count()).or_default().push(k);
    }
    let mut budget = SUGGESTION_BUDGET;
    for (i, r) in records.iter().enumerate() {
        for (j, input) in r.inputs.iter().enumerate() {
            match index.get(input.key) {
                None => {
                    let len = input.key.chars().count();
                    let near = by_len.range(len.saturating_sub(3)..=len + 3);
                    let count: usize = near.clone().map(|(_, ks)| ks.len()).sum();
                    let mut suggestion = None;
                    if count <= budget {
                        budget -= count;
                        let keys = near
                            .flat_map(|(_, ks)| ks.iter().copied())
                            .filter(|k| *k != r.key);
                        suggestion = closest(input.key, keys).and_then(|s| index.get(s).copied());
                    }
                    issues.push(Issue::UnknownInput {
                        record: i,
                        input: j,
                        suggestion,
                    });
                }
                Some(&found) => {
                    if records[found].ty.as_ref().is_some_and(|t| *t != input.ty) {
                        issues.push(Issue::InputTypeMismatch {
                            record: i,
                            input: j,
                            found,
                        });
                    }
                }
            }
        }
    }
    let nodes: Vec<usize> = index.values().copied().collect();
    let inputs_of = resolved_inputs(records, &index);
    let order = topological_order(&nodes, &inputs_of);
    cycles(records, &nodes, &inputs_of, &order, &mut issues);
    GraphCheck { issues, order }
}

/// The inputs of each first record of a key, as indices of the records they name (unknown ones
/// left out); empty for later records of a key.
fn resolved_inputs<T>(
    records: &[GraphRecord<'_, T>],
    index: &BTreeMap<&str, usize>,
) -> Vec<Vec<usize>> {
    let mut inputs_of = vec![Vec::new(); records.len()];
    for &i in index.values() {
        inputs_of[i] = records[i]
            .inputs
            .iter()
            .filter_map(|u| index.get(u.key).copied())
            .collect();
    }
    inputs_of
}

/// Kahn's algorithm over `nodes` (in key order); what is left over lies on or behind a cycle.
fn topological_order(nodes: &[usize], inputs_of: &[Vec<usize>]) -> Vec<usize> {
    let n = inputs_of.len();
    let mut waiting: Vec<usize> = inputs_of.iter().map(Vec::len).collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in nodes {
        for &j in &inputs_of[i] {
            readers[j].push(i);
        }
    }
    let mut order: Vec<usize> = nodes.iter().copied().filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while let Some(&i) = order.get(next) {
        next += 1;
        for &r in &readers[i] {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                order.push(r);
            }
        }
    }
    order
}

/// One [`Issue::Cycle`] per distinct cycle among the nodes the order left out.
fn cycles<T>(
    records: &[GraphRecord<'_, T>],
    nodes: &[usize],
    inputs_of: &[Vec<usize>],
    ordered: &[usize],
    issues: &mut Vec<Issue>,
) {
    let n = inputs_of.len();
    let mut done = vec![false; n];
    for &i in ordered {
        done[i] = true;
    }
    // Every record walked by an earlier search: a walk that reaches one finds no new cycle.
    let mut seen = vec![false; n];
    // Where a record is on the current walk.
    let mut on_path = vec![usize::MAX; n];
    for &start in nodes.iter().filter(|&&i| !done[i]) {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        // Walk inputs that are also left over until a record repeats: that is a cycle.
        let mut path = vec![start];
        on_path[start] = 0;
        let mut at = start;
        let cycle = loop {
            let Some(next) = inputs_of[at].iter().copied().find(|&j| !done[j]) else {
                break None;
            };
            if on_path[next] != usize::MAX {
                break Some(on_path[next]);
            }
            if seen[next] {
                break None;
            }
            seen[next] = true;
            on_path[next] = path.len();
            path.push(next);
            at = next;
        };
        for &w in &path {
            on_path[w] = usize::MAX;
        }
        let Some(pos) = cycle else { continue };
        let mut path = path.split_off(pos);
        path.reverse(); // data-flow order: input -> record
        let (first, second) = (path[0], path.get(1).copied().unwrap_or(path[0]));
        let input = records[second]
            .inputs
            .iter()
            .position(|u| u.key == records[first].key)
            .unwrap_or(0);
        issues.push(Issue::Cycle { path, input });
    }
}

/// The checks of one record on its own: its buffer, its writers, its links (`check_link` asks
/// the connectors).
pub fn check_record(
    record: usize,
    r: &RecordInfo,
    check_link: &dyn Fn(&str) -> LinkCheck,
    issues: &mut Vec<Issue>,
) {
    match r.buffer {
        None => issues.push(Issue::MissingBuffer { record }),
        Some(b) => {
            if let Err(reason) = b.validate() {
                issues.push(Issue::InvalidBuffer { record, reason });
            }
        }
    }
    if r.writers.len() > 1 {
        issues.push(Issue::MultipleWriters { record });
    }
    for link in 0..r.links_without_codec.len() {
        issues.push(Issue::MissingCodec { record, link });
    }
    for (link, url) in r.links_to.iter().chain(&r.links_from).enumerate() {
        match check_link(url) {
            LinkCheck::Served => {}
            check => issues.push(Issue::Link {
                record,
                link,
                check,
            }),
        }
    }
}

/// Validates `records`: [`check_record`] on each, and [`check_graph`] across them.
/// `check_link(url)` says whether a connector serves a link URL.
pub fn validate(
    records: &[RecordInfo],
    check_link: &dyn Fn(&str) -> LinkCheck,
) -> Result<GraphPlan, GraphError> {
    let described: Vec<GraphRecord<'_, TypeId>> = records
        .iter()
        .map(|r| GraphRecord {
            key: &r.key,
            ty: Some(r.type_id),
            inputs: r
                .inputs
                .iter()
                .map(|u| GraphInput {
                    key: &u.key,
                    ty: u.type_id,
                })
                .collect(),
        })
        .collect();
    let GraphCheck { issues, order } = check_graph(&described);
    // Problems in record order: duplicate keys, then each record's own and its inputs', then
    // cycles.
    let mut graph = issues.into_iter().peekable();
    let mut all = Vec::new();
    while let Some(i) = graph.next_if(|i| matches!(i, Issue::DuplicateKey { .. })) {
        all.push(i);
    }
    for (n, r) in records.iter().enumerate() {
        check_record(n, r, check_link, &mut all);
        while let Some(i) = graph.next_if(|i| {
            matches!(i, Issue::UnknownInput { record, .. } | Issue::InputTypeMismatch { record, .. } if *record == n)
        }) {
            all.push(i);
        }
    }
    all.extend(graph);
    if !all.is_empty() {
        return Err(GraphError {
            problems: all.iter().map(|i| i.problem(records)).collect(),
        });
    }
    let edges = order
        .iter()
        .flat_map(|&to| {
            let to_key = &records[to].key;
            records[to].inputs.iter().map(move |u| Edge {
                from: u.key.clone(),
                to: String::from(to_key.as_ref()),
            })
        })
        .collect();
    Ok(GraphPlan { order, edges })
}

impl Issue {
    /// The issue with keys (and type names) for positions, from the records validated.
    pub fn problem(&self, records: &[RecordInfo]) -> GraphProblem {
        let key = |i: usize| String::from(records[i].key.as_ref());
        let url = |i: usize, link: usize| {
            let r = &records[i];
            r.links_to
                .iter()
                .chain(&r.links_from)
                .nth(link)
                .cloned()
                .unwrap_or_default()
        };
        match self {
            Issue::DuplicateKey { record, .. } => GraphProblem::DuplicateKey { key: key(*record) },
            Issue::MissingBuffer { record } => GraphProblem::MissingBuffer { key: key(*record) },
            Issue::InvalidBuffer { record, reason } => GraphProblem::InvalidBuffer {
                key: key(*record),
                reason,
            },
            Issue::MultipleWriters { record } => GraphProblem::MultipleWriters {
                key: key(*record),
                writers: records[*record].writers.clone(),
            },
            Issue::UnknownInput {
                record,
                input,
                suggestion,
            } => GraphProblem::UnknownInput {
                record: key(*record),
                input: records[*record].inputs[*input].key.clone(),
                suggestion: suggestion.map(key),
            },
            Issue::InputTypeMismatch {
                record,
                input,
                found,
            } => {
                let u = &records[*record].inputs[*input];
                GraphProblem::InputTypeMismatch {
                    record: key(*record),
                    input: u.key.clone(),
                    expected: u.type_name,
                    found: records[*found].type_name,
                }
            }
            Issue::Cycle { path, .. } => GraphProblem::Cycle {
                path: path.iter().chain(path.first()).map(|&i| key(i)).collect(),
            },
            Issue::MissingCodec { record, link } => GraphProblem::MissingCodec {
                record: key(*record),
                url: records[*record].links_without_codec[*link].clone(),
            },
            Issue::Link {
                record,
                link,
                check,
            } => match check {
                LinkCheck::Rejected(reason) => GraphProblem::BadLinkUrl {
                    record: key(*record),
                    url: url(*record, *link),
                    reason: reason.clone(),
                },
                LinkCheck::NoConnector | LinkCheck::Served => GraphProblem::NoConnector {
                    record: key(*record),
                    url: url(*record, *link),
                },
            },
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo: at most a third
/// of the word's length in edits (at least 1, never more than 3), where swapping two
/// neighbouring letters is one edit (`tpye` → `type`) and case does not count (`Type` →
/// `type`); the first of equally close ones. Candidates whose length differs by more than that
/// are not compared, so a very long word costs its length, not its length times every
/// candidate's.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let limit = (w.len() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let n = c.chars().count();
        if n.abs_diff(w.len()) > limit {
            continue;
        }
        let cl: Vec<char> = c.chars().flat_map(char::to_lowercase).collect();
        let d = transposition_distance(&w, &cl);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance where an insertion, a deletion, a substitution or a swap of two neighbouring
/// characters is one edit (optimal string alignment).
fn transposition_distance(a: &[char], b: &[char]) -> usize {
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            row[j] = d;
        }
        core::mem::swap(&mut before, &mut prev);
        core::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo:
/// at most a third of the word's length in edits, and never more than 3.
pub fn closest_match<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diag
            } else {
                1 + diag.min(above).min(row[j])
            };
            diag = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("sensor.tmp", "sensor.temp"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_counts_a_swap_as_one_edit_and_ignores_case() {
        let fields = ["key", "type", "buffer", "source", "transform"];
        assert_eq!(closest("tpye", fields), Some("type"));
        assert_eq!(closest("Type", fields), Some("type"));
        assert_eq!(closest("sorce", fields), Some("source"));
        assert_eq!(closest("trasnform", fields), Some("transform"));
        assert_eq!(closest("colour", fields), None);
        assert_eq!(closest(&"x".repeat(5_000_000), fields), None);
        assert_eq!(transposition_distance(&['a', 'b'], &['b', 'a']), 1);
        assert_eq!(transposition_distance(&[], &['a', 'b', 'c']), 3);
    }

    fn rec<'a>(key: &'a str, ty: Option<u8>, inputs: &[(&'a str, u8)]) -> GraphRecord<'a, u8> {
        GraphRecord {
            key,
            ty,
            inputs: inputs
                .iter()
                .map(|&(key, ty)| GraphInput { key, ty })
                .collect(),
        }
    }

    #[test]
    fn check_graph_names_records_and_inputs_by_index() {
        let records = [
            rec("sensor.temp", Some(1), &[]),
            rec("alert", Some(1), &[("sensor.tmp", 1), ("sensor.temp", 2)]),
            rec("sensor.temp", Some(2), &[]),
            rec("loose", None, &[]),
            rec("reads.loose", Some(1), &[("loose", 1)]),
        ];
        let c = check_graph(&records);
        assert_eq!(
            c.issues,
            [
                Issue::DuplicateKey {
                    record: 2,
                    first: 0
                },
                Issue::UnknownInput {
                    record: 1,
                    input: 0,
                    suggestion: Some(0)
                },
                Issue::InputTypeMismatch {
                    record: 1,
                    input: 1,
                    found: 0
                },
            ]
        );
        // First records of each key, inputs first; those with no order between them by key.
        assert_eq!(c.order, [3, 0, 4, 1]);
    }

    #[test]
    fn cycles_are_reported_once_each_in_data_flow_order() {
        let records = [
            rec("a", Some(0), &[("c", 0)]),
            rec("b", Some(0), &[("a", 0)]),
            rec("c", Some(0), &[("x", 0), ("b", 0)]),
            rec("d", Some(0), &[("d", 0)]),
            rec("e", Some(0), &[("a", 0)]),
        ];
        let c = check_graph(&records);
        assert_eq!(
            c.issues[1..],
            [
                // b -> c -> a -> b, reported at c's input "b".
                Issue::Cycle {
                    path: vec![1, 2, 0],
                    input: 1
                },
                Issue::Cycle {
                    path: vec![3],
                    input: 0
                },
            ]
        );
        assert!(c.order.is_empty());
    }

    #[test]
    fn suggestions_stop_at_the_budget() {
        let keys: Vec<String> = (0..1000).map(|i| alloc::format!("r{i:03}")).collect();
        let mut records: Vec<_> = keys.iter().map(|k| rec(k, Some(0), &[])).collect();
        let wrong: Vec<String> = (0..200).map(|i| alloc::format!("r{i:03}x")).collect();
        for w in &wrong {
            records.push(rec("t", Some(0), &[]));
            let last = records.len() - 1;
            records[last].inputs.push(GraphInput { key: w, ty: 0 });
        }
        let c = check_graph(&records);
        let suggested = c
            .issues
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    Issue::UnknownInput {
                        suggestion: Some(_),
                        ..
                    }
                )
            })
            .count();
        // Each unknown input looks at the 1000 keys within 3 characters of its length.
        assert_eq!(suggested, SUGGESTION_BUDGET / 1000);
    }

    #[test]
    fn closest_match_only_suggests_near_words() {
        let keys = ["sensor.temp", "sensor.humidity"];
        assert_eq!(closest_match("sensor.tmp", keys), Some("sensor.temp"));
        assert_eq!(closest_match("alert", keys), None);
    }
}
