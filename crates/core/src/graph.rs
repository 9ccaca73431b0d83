//! Graph validation: every mistake in the record graph, found in one pass, before anything runs.
//!
//! Checked: duplicate keys, missing or invalid buffers, more than one writer for a record, unknown
//! transform inputs (with a "did you mean"), input type mismatches, cycles, links without a codec,
//! links whose scheme no connector serves or whose URL the connector rejects. The result is either
//! a [`GraphPlan`] (records in topological order and the edges between them) or a [`GraphError`]
//! listing every [`GraphProblem`].

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
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
    /// Indices into the validated record list, inputs first.
    pub order: Vec<usize>,
    /// Every transform edge, ordered by the position of `to` in `order`.
    pub edges: Vec<Edge>,
}

/// Validates `records`. `check_link(url)` says whether a connector serves a link URL
/// (`Err(None)`: no connector; `Err(Some(reason))`: the connector rejects it).
pub fn validate(
    records: &[RecordInfo],
    check_link: &dyn Fn(&str) -> Result<(), Option<String>>,
) -> Result<GraphPlan, GraphError> {
    let mut problems = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if index.insert(&r.key, i).is_some() {
            problems.push(GraphProblem::DuplicateKey {
                key: r.key.as_ref().into(),
            });
        }
    }
    let mut inputs_of: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    for (i, r) in records.iter().enumerate() {
        check_record(r, check_link, &mut problems);
        for input in &r.inputs {
            match index.get(input.key.as_str()) {
                None => problems.push(GraphProblem::UnknownInput {
                    record: r.key.as_ref().into(),
                    input: input.key.clone(),
                    suggestion: closest_match(&input.key, index.keys().copied()).map(Into::into),
                }),
                Some(&j) if records[j].type_id != input.type_id => {
                    problems.push(GraphProblem::InputTypeMismatch {
                        record: r.key.as_ref().into(),
                        input: input.key.clone(),
                        expected: input.type_name,
                        found: records[j].type_name,
                    })
                }
                Some(&j) => inputs_of[i].push(j),
            }
        }
    }
    let order = topological_order(&inputs_of);
    if order.len() < records.len() {
        for path in cycles(records, &inputs_of, &order) {
            problems.push(GraphProblem::Cycle { path });
        }
    }
    if !problems.is_empty() {
        return Err(GraphError { problems });
    }
    let edges = order
        .iter()
        .flat_map(|&to| {
            inputs_of[to].iter().map(move |&from| Edge {
                from: records[from].key.as_ref().into(),
                to: records[to].key.as_ref().into(),
            })
        })
        .collect();
    Ok(GraphPlan { order, edges })
}

fn check_record(
    r: &RecordInfo,
    check_link: &dyn Fn(&str) -> Result<(), Option<String>>,
    problems: &mut Vec<GraphProblem>,
) {
    let key = || String::from(r.key.as_ref());
    match r.buffer {
        None => problems.push(GraphProblem::MissingBuffer { key: key() }),
        Some(b) => {
            if let Err(reason) = b.validate() {
                problems.push(GraphProblem::InvalidBuffer { key: key(), reason });
            }
        }
    }
    if r.writers.len() > 1 {
        problems.push(GraphProblem::MultipleWriters {
            key: key(),
            writers: r.writers.clone(),
        });
    }
    for url in &r.links_without_codec {
        problems.push(GraphProblem::MissingCodec {
            record: key(),
            url: url.clone(),
        });
    }
    for url in r.links_to.iter().chain(&r.links_from) {
        match check_link(url) {
            Ok(()) => {}
            Err(None) => problems.push(GraphProblem::NoConnector {
                record: key(),
                url: url.clone(),
            }),
            Err(Some(reason)) => problems.push(GraphProblem::BadLinkUrl {
                record: key(),
                url: url.clone(),
                reason,
            }),
        }
    }
}

/// Kahn's algorithm; records on or behind a cycle are left out.
fn topological_order(inputs_of: &[Vec<usize>]) -> Vec<usize> {
    let n = inputs_of.len();
    let mut pending: Vec<usize> = inputs_of.iter().map(Vec::len).collect();
    let mut readers_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (to, ins) in inputs_of.iter().enumerate() {
        for &from in ins {
            readers_of[from].push(to);
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let from = order[next];
        next += 1;
        for &to in &readers_of[from] {
            pending[to] -= 1;
            if pending[to] == 0 {
                order.push(to);
            }
        }
    }
    order
}

/// One path per distinct cycle among the records Kahn's algorithm could not order.
fn cycles(records: &[RecordInfo], inputs_of: &[Vec<usize>], ordered: &[usize]) -> Vec<Vec<String>> {
    let n = records.len();
    let mut done = vec![false; n];
    for &i in ordered {
        done[i] = true;
    }
    let mut found = Vec::new();
    for start in 0..n {
        if done[start] {
            continue;
        }
        // Walk backwards along unordered inputs until a record repeats: every unordered record
        // has at least one unordered input, so the walk always closes a loop.
        let mut walk = vec![start];
        let mut cur = start;
        let cycle_start = loop {
            // Inputs already `done` were ordered or belong to a cycle reported before.
            let Some(&prev) = inputs_of[cur].iter().find(|&&j| !done[j]) else {
                break None;
            };
            if let Some(pos) = walk.iter().position(|&w| w == prev) {
                break Some(pos);
            }
            walk.push(prev);
            cur = prev;
        };
        for &w in &walk {
            done[w] = true;
        }
        if let Some(pos) = cycle_start {
            // `walk` runs against the data flow; reverse it so the path reads input -> output.
            let mut path: Vec<String> = walk[pos..]
                .iter()
                .rev()
                .map(|&i| String::from(records[i].key.as_ref()))
                .collect();
            path.push(path[0].clone());
            found.push(path);
        }
    }
    found
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
    fn closest_match_only_suggests_near_words() {
        let keys = ["sensor.temp", "sensor.humidity"];
        assert_eq!(closest_match("sensor.tmp", keys), Some("sensor.temp"));
        assert_eq!(closest_match("alert", keys), None);
    }
}
