//! Checks across records, by `aimdb_core::graph` (the one validator of the graph): duplicate
//! keys, unknown inputs, input types, cycles. Here its issues, which name records and inputs by
//! index, become problems at the key or input they are about. Returns the records in core's
//! topological order (inputs first).

use aimdb_core::graph::{self, GraphInput, GraphRecord, Issue};

use super::super::{Lines, Problem};
use super::record::Checked;
use crate::record_types;

/// Checks the graph over `records`; pushes problems; returns a topological order.
pub(super) fn check(records: &[Checked], text: &str, problems: &mut Vec<Problem>) -> Vec<usize> {
    let described: Vec<GraphRecord<'_, &str>> = records
        .iter()
        .map(|r| GraphRecord {
            key: &r.key,
            // An unknown type was reported with the record; inputs reading it are not checked.
            ty: record_types::lookup(&r.type_name).map(|_| r.type_name.as_str()),
            inputs: r
                .inputs
                .iter()
                .map(|u| GraphInput {
                    key: &u.key,
                    ty: u.expected,
                })
                .collect(),
        })
        .collect();
    let checked = graph::check_graph(&described);
    let lines = Lines::new(text);
    for issue in &checked.issues {
        if let Some(p) = problem(records, &lines, issue) {
            problems.push(p);
        }
    }
    checked.order
}

/// `issue` as a problem at its place in the config (`None` for the per-record issues, which
/// `check_graph` does not report).
fn problem(records: &[Checked], lines: &Lines<'_>, issue: &Issue) -> Option<Problem> {
    Some(match *issue {
        Issue::DuplicateKey { record, first } => {
            let r = &records[record];
            let (line, _) = lines.line_column(records[first].key_span.start);
            Problem::at(
                r.key_span.clone(),
                format!("duplicate key (first defined on line {line})"),
            )
            .in_record(&r.key)
            .with_hint("every record needs its own key")
        }
        Issue::UnknownInput {
            record,
            input,
            suggestion,
        } => {
            let (r, u) = (&records[record], &records[record].inputs[input]);
            let mut message = format!("transform input {:?} is not a record", u.key);
            if let Some(s) = suggestion {
                message = format!("{message}; did you mean {:?}?", records[s].key);
            }
            Problem::at(u.span.clone(), message).in_record(&r.key)
        }
        Issue::InputTypeMismatch {
            record,
            input,
            found,
        } => {
            let (r, u) = (&records[record], &records[record].inputs[input]);
            Problem::at(
                u.span.clone(),
                format!(
                    "transform input {:?} carries {}, but {} `{}` expects {}",
                    u.key, records[found].type_name, u.kind, u.field, u.expected
                ),
            )
            .in_record(&r.key)
        }
        Issue::Cycle { ref path, input } => {
            let names: Vec<String> = path
                .iter()
                .chain(path.first())
                .map(|&i| format!("{:?}", records[i].key))
                .collect();
            let second = &records[path.get(1).copied().unwrap_or(path[0])];
            let span = second
                .inputs
                .get(input)
                .map_or(second.key_span.clone(), |u| u.span.clone());
            Problem::at(
                span,
                format!("records form a cycle: {}", names.join(" -> ")),
            )
            .in_record(&second.key)
            .with_hint("transforms must form a DAG; break the loop")
        }
        Issue::MissingBuffer { .. }
        | Issue::InvalidBuffer { .. }
        | Issue::MultipleWriters { .. }
        | Issue::MissingCodec { .. }
        | Issue::Link { .. } => return None,
    })
}
