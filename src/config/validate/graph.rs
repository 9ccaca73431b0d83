//! Checks across records, by `aimdb_core::graph` (the one validator of the graph): duplicate
//! keys, unknown inputs, input types, cycles. Here its issues, which name records and inputs by
//! index, become problems at the key or input they are about. Returns the records in core's
//! topological order (inputs first).

use aimdb_core::graph::{self, GraphInput, GraphRecord, Issue};

use super::super::{Lines, Problem};
use super::record::Checked;

/// Checks the graph over `records`; pushes problems; returns a topological order.
pub(super) fn check(records: &[Checked], text: &str, problems: &mut Vec<Problem>) -> Vec<usize> {
    let described: Vec<GraphRecord<'_, &str>> = records
        .iter()
        .map(|r| GraphRecord {
            key: &r.key,
            // An unknown type was reported with the record; inputs reading it are not checked.
            ty: r.ty.map(|t| t.name),
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
                    u.key,
                    records[found].ty.map_or("?", |t| t.name),
                    u.kind,
                    u.field,
                    u.expected
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

#[cfg(test)]
mod tests {
    /// Every graph mistake at once; the text is what the daemon's own graph checks printed
    /// before they became core's.
    #[test]
    fn graph_issues_keep_their_messages_hints_and_places() {
        let text = "[node]\n\
id = \"gw-1\"\n\
\n\
[[record]]\n\
key = \"hum\"\n\
type = \"Humidity\"\n\
source = { kind = \"simulate\", period_ms = 100 }\n\
\n\
[[record]]\n\
key = \"temp\"\n\
type = \"Temperature\"\n\
source = { kind = \"simulate\", period_ms = 100 }\n\
\n\
[[record]]\n\
key = \"avg\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"hum\", window = 2 }\n\
\n\
[[record]]\n\
key = \"smooth\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"tmep\", window = 2 }\n\
\n\
[[record]]\n\
key = \"temp\"\n\
type = \"Temperature\"\n\
source = { kind = \"simulate\", period_ms = 100 }\n\
\n\
[[record]]\n\
key = \"c\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"b\", window = 2 }\n\
\n\
[[record]]\n\
key = \"b\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"a\", window = 2 }\n\
\n\
[[record]]\n\
key = \"a\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"c\", window = 2 }\n\
\n\
[[record]]\n\
key = \"q\"\n\
type = \"Temperature\"\n\
transform = { kind = \"moving_average\", input = \"q\", window = 2 }\n\
\n\
";
        let err = crate::config::parse("unit.toml", text, crate::engine::catalog())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unit.toml:17:48: record \"avg\": transform input \"hum\" carries Humidity, but moving_average `input` expects Temperature\n\
             unit.toml:22:48: record \"smooth\": transform input \"tmep\" is not a record; did you mean \"temp\"?\n\
             unit.toml:25:7: record \"temp\": duplicate key (first defined on line 10)\n\
             \x20 hint: every record needs its own key\n\
             unit.toml:32:48: record \"c\": records form a cycle: \"b\" -> \"c\" -> \"a\" -> \"b\"\n\
             \x20 hint: transforms must form a DAG; break the loop\n\
             unit.toml:47:48: record \"q\": records form a cycle: \"q\" -> \"q\"\n\
             \x20 hint: transforms must form a DAG; break the loop\n\
             unit.toml: 5 problems found; nothing was started"
        );
    }

    /// Core's order: inputs first, records with no order between them by key.
    #[test]
    fn the_order_is_inputs_first_then_by_key() {
        let record = |key: &str, input: Option<&str>| {
            match input {
            None => format!(
                "[[record]]\nkey = \"{key}\"\ntype = \"Temperature\"\nsource = {{ kind = \"simulate\", period_ms = 100 }}\n\n"
            ),
            Some(i) => format!(
                "[[record]]\nkey = \"{key}\"\ntype = \"Temperature\"\ntransform = {{ kind = \"moving_average\", input = \"{i}\", window = 2 }}\n\n"
            ),
        }
        };
        let text = format!(
            "[node]\nid = \"gw-1\"\n\n{}{}{}{}",
            record("zz", Some("mm")),
            record("mm", None),
            record("bb", Some("aa")),
            record("aa", None),
        );
        let cfg =
            crate::config::parse("order.toml", &text, crate::engine::catalog()).expect("valid");
        let keys: Vec<&str> = cfg
            .order
            .iter()
            .map(|&i| cfg.records[i].key.as_str())
            .collect();
        assert_eq!(keys, ["aa", "mm", "bb", "zz"]);
    }
}
