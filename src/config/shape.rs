//! The first pass: TOML text → [`RawConfig`], collecting every syntax and shape mistake.
//!
//! `toml::from_str` stops at the first error. Here the document is parsed with error recovery
//! (every syntax error is reported), then each top-level table and each `[[record]]` is shaped on
//! its own, so a mistake in one does not hide mistakes in another. Within a table, unknown keys
//! are all reported (with a "did you mean") before serde runs; a value of the wrong type is
//! reported and its key set aside, and the table is shaped again, so every wrong value in the
//! table is found. A mistake inside a nested inline table (a link, a buffer) sets that whole
//! entry aside; further mistakes inside that same entry show up once the first is fixed.

use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::ranges;
use super::raw::{RawConfig, RawNode, RawRecord};
use super::{closest, field_names, Problem};
use crate::admin::config::RawAdmin;
use crate::mqtt::config::RawMqtt;
use crate::sparkplug::config::RawSparkplug;
use crate::store::config::RawStore;

/// Top-level keys, in the order the docs list them.
const SECTIONS: &[&str] = &["node", "mqtt", "store", "admin", "sparkplug", "record"];

/// Bounds the set-aside-and-retry loop of one table (a table has far fewer keys in practice).
const MAX_RETRIES: usize = 64;

/// Shapes `text` into a [`RawConfig`]; every mistake found is pushed to `problems`. `None` when
/// the text is not valid TOML (its syntax errors are all reported; shape is not checked then,
/// because a recovered document would report mistakes that are not in the file).
pub(super) fn shape(text: &str, problems: &mut Vec<Problem>) -> Option<RawConfig> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        problems.extend(syntax_problems(text, doc.get_ref(), &errors));
        return None;
    }
    let mut raw = RawConfig::default();
    for (key, value) in doc.into_inner() {
        let name: &str = key.get_ref();
        match name {
            "node" => raw.node = table::<RawNode>(value, "node", text, problems),
            "mqtt" => raw.mqtt = table::<RawMqtt>(value, "mqtt", text, problems),
            "store" => raw.store = table::<RawStore>(value, "store", text, problems),
            "admin" => raw.admin = table::<RawAdmin>(value, "admin", text, problems),
            "sparkplug" => {
                raw.sparkplug = table::<RawSparkplug>(value, "sparkplug", text, problems)
            }
            "record" => raw.record = records(value, text, problems),
            other => problems.push(unknown_key(other, key.span(), SECTIONS).0),
        }
    }
    Some(raw)
}

/// `[[record]]`: each entry shaped on its own.
fn records(
    value: Spanned<DeValue<'_>>,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Spanned<RawRecord>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(entries) => entries
            .into_iter()
            .filter_map(|entry| table::<RawRecord>(entry, "record", text, problems))
            .collect(),
        _ => {
            problems.push(
                Problem::at(span, "`record` must be an array of tables")
                    .with_hint("write each record as a `[[record]]` table"),
            );
            Vec::new()
        }
    }
}

/// Shapes one table into `T`, reporting every unknown key and every wrong value; `None` if a
/// required key is missing or wrong. `section` names the table in messages (`mqtt`,
/// `record`, ...).
fn table<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
    section: &str,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<Spanned<T>> {
    let span = value.span();
    let DeValue::Table(given) = value.into_inner() else {
        problems.push(Problem::at(span, "expected a table"));
        return None;
    };
    let fields = field_names::<T>();
    let mut entries = DeTable::new();
    // Fields that an unknown key was reported as a likely misspelling of (`tpye` → `type`).
    let mut suggested: Vec<&str> = Vec::new();
    for (k, v) in given {
        if fields.contains(&k.get_ref().as_ref()) {
            entries.insert(k, v);
        } else {
            let (p, s) = unknown_key(k.get_ref(), k.span(), fields);
            problems.push(p);
            suggested.extend(s);
        }
    }
    let mut set_aside: Vec<String> = Vec::new();
    for _ in 0..MAX_RETRIES {
        let e = match deserialize::<T>(span.clone(), DeValue::Table(entries.clone())) {
            Ok(v) => return Some(Spanned::new(span, v)),
            Err(e) => e,
        };
        if missing_field(e.message())
            .is_some_and(|f| set_aside.iter().any(|s| s == f) || suggested.contains(&f))
        {
            // Reported already: as a wrong value of that field, or as a misspelled key whose
            // "did you mean" names it.
            return None;
        }
        problems.push(field_problem(&e, section, &entries, text));
        let at = e.span().unwrap_or(0..0);
        let culprit = entries
            .iter()
            .find(|(k, v)| contains(&k.span(), &at) || contains(&v.span(), &at))
            .map(|(k, _)| k.get_ref().to_string());
        match culprit {
            Some(name) => {
                entries = entries
                    .into_iter()
                    .filter(|(k, _)| k.get_ref().as_ref() != name.as_str())
                    .collect();
                set_aside.push(name);
            }
            None => return None,
        }
    }
    None
}

fn deserialize<T: DeserializeOwned>(
    span: Range<usize>,
    value: DeValue<'_>,
) -> Result<T, toml::de::Error> {
    T::deserialize(Spanned::new(span, value).into_deserializer())
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// `Some("key")` for serde's "missing field `key`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// An unknown key, with a "did you mean" (and the field it names) when one is close, else the
/// list of the table's fields.
fn unknown_key(
    name: &str,
    span: Range<usize>,
    expected: &'static [&'static str],
) -> (Problem, Option<&'static str>) {
    let p = Problem::at(span, format!("unknown field `{name}`"));
    match closest(name, expected.iter().copied()) {
        Some(s) => (p.with_hint(format!("did you mean `{s}`?")), Some(s)),
        None => (
            p.with_hint(format!("expected one of: {}", expected.join(", "))),
            None,
        ),
    }
}

/// A serde error inside table `section` (whose keys are `entries`), made specific where the
/// value it is about is found: an integer too large for TOML names its field and the range the
/// field takes; a number given to a duration field gets the hint to write it with a unit.
fn field_problem(e: &toml::de::Error, section: &str, entries: &DeTable<'_>, text: &str) -> Problem {
    let p = toml_problem(e);
    let Some(at) = e.span() else {
        return p;
    };
    let mut path = Vec::new();
    let Some(leaf) = value_at(entries, &at, &mut path) else {
        return p;
    };
    let dotted = path.join(".");
    let place = format!("{section}.{dotted}");
    let shown = if section == "record" {
        dotted.clone()
    } else {
        format!("[{section}] {dotted}")
    };
    let written = text.get(leaf.span()).unwrap_or_default();
    if let Some(n) = leaf.get_ref().as_integer() {
        if i64::from_str_radix(n.as_str(), n.radix()).is_err() {
            let hint = match ranges::integer_range(&place) {
                Some((min, max)) => format!("{shown} is a whole number from {min} to {max}"),
                None => format!(
                    "TOML integers are whole numbers from {} to {}",
                    i64::MIN,
                    i64::MAX
                ),
            };
            return Problem::at(leaf.span(), format!("{shown} = {written} is out of range"))
                .with_hint(hint);
        }
    }
    let unit = ranges::duration_unit(&place);
    if let (Some(unit), true) = (
        unit,
        leaf.get_ref().is_integer() || leaf.get_ref().is_float(),
    ) {
        let field = path.last().map_or("", String::as_str);
        let example = match leaf.get_ref().as_integer() {
            Some(_) => format!("{field} = \"{written}{unit}\""),
            None => format!("{field} = \"1500ms\""),
        };
        return p.with_hint(format!(
            "write {example}: a duration is a string, a whole number and a unit (ms, s, m, h, d, w)"
        ));
    }
    p
}

/// The value in `table` (at any depth) whose span is the innermost around `at`; its keys are
/// pushed to `path` (array entries add none: `link_to.qos`).
fn value_at<'t, 'i>(
    table: &'t DeTable<'i>,
    at: &Range<usize>,
    path: &mut Vec<String>,
) -> Option<&'t Spanned<DeValue<'i>>> {
    let (k, v) = table
        .iter()
        .find(|(k, v)| contains(&k.span(), at) || contains(&v.span(), at))?;
    path.push(k.get_ref().to_string());
    Some(innermost(v, at, path))
}

fn innermost<'t, 'i>(
    v: &'t Spanned<DeValue<'i>>,
    at: &Range<usize>,
    path: &mut Vec<String>,
) -> &'t Spanned<DeValue<'i>> {
    match v.get_ref() {
        DeValue::Table(t) => value_at(t, at, path).unwrap_or(v),
        DeValue::Array(a) => a
            .iter()
            .find(|e| contains(&e.span(), at))
            .map_or(v, |e| innermost(e, at, path)),
        _ => v,
    }
}

/// Most duplicate keys whose first definition is looked for, and most extra parses of the text
/// spent on it: each look costs a walk of the document, a scan of the text and a parse, so a
/// file with thousands of duplicates reports the rest without the line instead of taking
/// quadratic time.
const MAX_REPARSES: usize = 8;
/// The TOML parser's nesting limit (`toml`'s own, not configurable).
const NESTING_LIMIT: usize = NESTING_LIMIT_U32 as usize;
/// [`NESTING_LIMIT`] as the parser's guard takes it.
const NESTING_LIMIT_U32: u32 = 80;

/// The syntax errors of `text` as problems; `doc` is what the parser recovered. Made specific
/// where the parser's message is bare: a duplicate key names the key and the line where it was
/// first defined; a dotted key too long to parse (which the parser reports without a place) is
/// found in the text.
fn syntax_problems(text: &str, doc: &DeTable<'_>, errors: &[toml::de::Error]) -> Vec<Problem> {
    let mut reparses = MAX_REPARSES;
    let mut long_keys: Option<std::vec::IntoIter<usize>> = None;
    let lines = super::Lines::new(text);
    errors
        .iter()
        .map(|e| match (e.message().trim(), e.span()) {
            ("duplicate key", Some(span)) => duplicate_key(text, doc, span, &lines, &mut reparses),
            ("recursion limit", _) => {
                let at = long_keys
                    .get_or_insert_with(|| long_dotted_keys(text).into_iter())
                    .next();
                Problem::at(
                    at.map_or(0..0, |a| a..a),
                    format!("a dotted key or table header of more than {NESTING_LIMIT} parts"),
                )
                .with_hint("the TOML parser stops at 80 levels and a config needs two or three: look for a key joined to others by dots by mistake")
            }
            (m, _) if m.starts_with("cannot recurse further") => {
                let mut p = toml_problem(e);
                p.message = format!(
                    "arrays and inline tables nested more than {NESTING_LIMIT} levels deep"
                );
                p.with_hint("the TOML parser nests at most 80 levels; look for brackets that were opened and not closed")
            }
            _ => toml_problem(e),
        })
        .collect()
}

/// "duplicate key `K` (first defined on line N)" for the key at `span`. The first definition is
/// the nearest earlier key of that name whose renaming makes this error go away (tried on a
/// copy of the text: only the parser knows which table a key is in).
fn duplicate_key(
    text: &str,
    doc: &DeTable<'_>,
    span: Range<usize>,
    lines: &super::Lines<'_>,
    reparses: &mut usize,
) -> Problem {
    let written = text.get(span.clone()).unwrap_or_default().trim();
    let hint = "a key is set once per table and a [table] is written once; records are `[[record]]`, one per record";
    if *reparses == 0 {
        return Problem::at(span, format!("duplicate key `{written}`")).with_hint(hint);
    }
    // Every look spends from the budget, even one that finds no candidate to parse.
    *reparses -= 1;
    let name = unquote(written);
    let mut earlier = Vec::new();
    keys_named(doc, name, span.start, &mut earlier);
    // The parser's recovered document keeps the last of two `[table]` headers: look in the
    // text too.
    earlier.extend(written_keys(text, written, span.start));
    earlier.sort_by_key(|s| std::cmp::Reverse(s.start));
    earlier.dedup();
    let mut first = None;
    for (i, candidate) in earlier.into_iter().enumerate() {
        // The look's own unit pays for the first parse; further candidates spend more.
        if i > 0 {
            if *reparses == 0 {
                break;
            }
            *reparses -= 1;
        }
        // The parser reports a duplicate where it reads it: the text after the duplicate's line
        // does not matter, so only the part before is parsed again.
        let end = text[span.end.min(text.len())..]
            .find('\n')
            .map_or(text.len(), |i| span.end + i);
        let mut renamed = text[..end].to_string();
        renamed.replace_range(candidate.clone(), &"_".repeat(candidate.len()));
        let (_, errors) = DeTable::parse_recoverable(&renamed);
        let still = errors
            .iter()
            .any(|e| e.message().trim() == "duplicate key" && e.span() == Some(span.clone()));
        if !still {
            first = Some(candidate);
            break;
        }
    }
    let message = match first {
        Some(f) => format!(
            "duplicate key `{written}` (first defined on line {})",
            lines.line_column(f.start).0
        ),
        None => format!("duplicate key `{written}`"),
    };
    Problem::at(span, message).with_hint(hint)
}

/// `"a b"` → `a b`, `'a'` → `a`, `a` → `a` (escapes are not decoded: a key only needs them
/// rarely, and then no earlier definition is found and the line is left out).
fn unquote(key: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = key.strip_prefix(q).and_then(|k| k.strip_suffix(q)) {
            return inner;
        }
    }
    key
}

/// Where `written` occurs before `before` in the place of a key: after the start of a line,
/// `[`, `{`, `,` or `.`, and before `=`, `.` or `]` (spaces between).
fn written_keys(text: &str, written: &str, before: usize) -> Vec<Range<usize>> {
    if written.is_empty() {
        return Vec::new();
    }
    let head = &text[..before.min(text.len())];
    head.match_indices(written)
        .filter(|(at, _)| {
            let prev = head[..*at]
                .trim_end_matches([' ', '\t'])
                .chars()
                .next_back();
            let next = text[at + written.len()..]
                .trim_start_matches([' ', '\t'])
                .chars()
                .next();
            matches!(prev, None | Some('\n' | '[' | '{' | ',' | '.'))
                && matches!(next, Some('=' | '.' | ']'))
        })
        .map(|(at, _)| at..at + written.len())
        .collect()
}

/// The spans of every key called `name` in `table` (at any depth) that start before `before`.
fn keys_named(table: &DeTable<'_>, name: &str, before: usize, out: &mut Vec<Range<usize>>) {
    for (k, v) in table.iter() {
        if k.get_ref() == name && k.span().start < before && !k.span().is_empty() {
            out.push(k.span());
        }
        values_keys(v.get_ref(), name, before, out);
    }
}

fn values_keys(v: &DeValue<'_>, name: &str, before: usize, out: &mut Vec<Range<usize>>) {
    match v {
        DeValue::Table(t) => keys_named(t, name, before, out),
        DeValue::Array(a) => a
            .iter()
            .for_each(|e| values_keys(e.get_ref(), name, before, out)),
        _ => {}
    }
}

/// Where each dotted key (or table header) of more than [`NESTING_LIMIT`] parts starts, in file
/// order, read from the events of the parser `toml` itself uses, so that keys are told from
/// strings and comments exactly. Only run to place an error the parser gives no place.
fn long_dotted_keys(text: &str) -> Vec<usize> {
    use toml_parser::parser::{parse_document, Event, EventKind, RecursionGuard};
    let tokens = toml_parser::Source::new(text).lex().into_vec();
    let mut events: Vec<Event> = Vec::new();
    // The same depth guard as `toml`'s: nesting past it is skipped, not followed.
    parse_document(
        &tokens,
        &mut RecursionGuard::new(&mut events, NESTING_LIMIT_U32),
        &mut (),
    );
    let mut found = Vec::new();
    // The key being read: where it starts, its parts so far, whether a `.` came last.
    let mut run: Option<(usize, usize, bool)> = None;
    for e in &events {
        run = match (e.kind(), run) {
            (EventKind::SimpleKey, Some((start, parts, true))) => Some((start, parts + 1, false)),
            (EventKind::SimpleKey, _) => Some((e.span().start(), 1, false)),
            (EventKind::KeySep, Some((start, parts, _))) => Some((start, parts, true)),
            (EventKind::Whitespace, r) => r,
            (_, Some((start, parts, _))) if parts > NESTING_LIMIT => {
                found.push(start);
                None
            }
            _ => None,
        };
    }
    if let Some((start, _, _)) = run.filter(|r| r.1 > NESTING_LIMIT) {
        found.push(start);
    }
    found
}

/// A TOML or serde error as a [`Problem`] at its span.
pub(super) fn toml_problem(e: &toml::de::Error) -> Problem {
    let message = e
        .message()
        .trim()
        .replace('\n', "; ")
        .replace("expected i64", "expected an integer");
    let span = e.span().unwrap_or(0..0);
    let hint = crate::diagnostics::unknown_field_hint(&message);
    let p = Problem::at(span, message);
    match hint {
        Some(h) => p.with_hint(h),
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        shape(text, &mut problems);
        problems.into_iter().map(|p| p.message).collect()
    }

    fn hints(text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        shape(text, &mut problems);
        problems.into_iter().filter_map(|p| p.hint).collect()
    }

    #[test]
    fn a_misspelled_required_key_is_one_mistake_with_a_did_you_mean() {
        let text = "[node]\nid = \"n\"\n[[record]]\nkey = \"a\"\ntpye = \"json\"\n";
        assert_eq!(messages(text), ["unknown field `tpye`"]);
        assert_eq!(hints(text), ["did you mean `type`?"]);
        let text = "[node]\nid = \"n\"\n[[record]]\nkey = \"a\"\ncolour = \"json\"\n";
        let m = messages(text);
        assert!(
            m.iter().any(|m| m.contains("missing field `type`")),
            "{m:?}"
        );
    }

    #[test]
    fn a_duplicate_key_names_itself_and_the_line_of_its_first_definition() {
        let text = "[node]\nid = \"a\"\n[[record]]\nkey = \"r\"\nid = 1\nkey = \"s\"\n[node]\n";
        let m = messages(text);
        assert!(
            m.contains(&"duplicate key `key` (first defined on line 4)".to_string()),
            "{m:?}"
        );
        assert!(
            m.contains(&"duplicate key `node` (first defined on line 1)".to_string()),
            "{m:?}"
        );
        // The nearest earlier `k` is in an inline table: not the one.
        let text = "[t]\nk = 1\nx = { k = 2 }\nk = 3\n";
        assert_eq!(
            messages(text),
            ["duplicate key `k` (first defined on line 2)"]
        );
        let text = "a = { \"b c\" = 1, \"b c\" = 2 }\n";
        assert_eq!(
            messages(text),
            ["duplicate key `\"b c\"` (first defined on line 1)"]
        );
    }

    #[test]
    fn a_dotted_key_too_long_to_parse_is_placed() {
        let long = vec!["x"; 90].join(".");
        for text in [
            format!("[node]\nid = \"a\" # a.b.c\n{long} = 1\n"),
            format!("[node]\nid = \"a\"\n[{long}]\n"),
            format!(
                "[node]\nid = \"a\"\n{}. \"q.q\" = 1\n",
                vec!["x"; 85].join(" . ")
            ),
            // A quoted part with an escaped quote; dotted text in strings before the key.
            format!("[node]\nid = \"a\"\n\"a\\\"b\".{long} = 1\n"),
            format!("[node]\nid = \"{long}\"\n{long} = 1\n"),
            format!("[node]\nid = \"a\"\ndesc = \"\"\"\n{long}\n\"\"\"\n{long} = 1\n"),
        ] {
            let mut problems = Vec::new();
            shape(&text, &mut problems);
            let p = problems
                .iter()
                .find(|p| p.message.contains("more than 80 parts"))
                .unwrap_or_else(|| panic!("{problems:?}"));
            let at = p.span.clone().expect("span").start;
            // The last line, at its first part (after a header's `[`).
            let last = text.lines().last().unwrap_or_default();
            let column = 1 + last.len() - last.trim_start_matches('[').len();
            let want = (text.lines().count(), column);
            assert_eq!(super::super::line_column(&text, at), want, "{text}");
        }
        assert!(long_dotted_keys(&vec!["x"; 80].join(".")).is_empty());
        assert_eq!(long_dotted_keys(&vec!["x"; 81].join(".")), [0]);
    }

    #[test]
    fn field_names_follow_serde_renames() {
        let f = field_names::<RawRecord>();
        assert!(f.contains(&"type") && f.contains(&"key") && !f.contains(&"type_name"));
    }

    #[test]
    fn every_syntax_error_is_reported() {
        let m = messages("[node]\nid = \"a\nx = = 1\n[[record]\n");
        assert!(m.len() >= 2, "{m:?}");
    }

    #[test]
    fn unknown_keys_and_wrong_values_in_several_tables_are_all_reported() {
        let text = r#"
colour = 1
[node]
id = "n"
idd = "x"
[admin]
listen = 5
[[record]]
key = "a"
type = "json"
persit = true
[[record]]
key = 7
type = "json"
persist = "yes"
"#;
        let m = messages(text);
        for want in [
            "unknown field `colour`",
            "unknown field `idd`",
            "unknown field `persit`",
            "invalid type: integer `5`",
            "invalid type: integer `7`",
            "invalid type: string \"yes\"",
        ] {
            assert!(m.iter().any(|x| x.contains(want)), "{want} in {m:?}");
        }
        assert!(!m.iter().any(|x| x.contains("missing field")), "{m:?}");
    }
}
