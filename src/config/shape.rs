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

use super::raw::{RawAdmin, RawConfig, RawMqtt, RawNode, RawRecord, RawStore};
use super::{closest, field_names, Problem};

/// Top-level keys, in the order the docs list them.
const SECTIONS: &[&str] = &["node", "mqtt", "store", "admin", "record"];

/// Bounds the set-aside-and-retry loop of one table (a table has far fewer keys in practice).
const MAX_RETRIES: usize = 64;

/// Shapes `text` into a [`RawConfig`]; every mistake found is pushed to `problems`. `None` when
/// the text is not valid TOML (its syntax errors are all reported; shape is not checked then,
/// because a recovered document would report mistakes that are not in the file).
pub fn shape(text: &str, problems: &mut Vec<Problem>) -> Option<RawConfig> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        problems.extend(errors.iter().map(toml_problem));
        return None;
    }
    let mut raw = RawConfig::default();
    for (key, value) in doc.into_inner() {
        let name: &str = key.get_ref();
        match name {
            "node" => raw.node = table::<RawNode>(value, problems),
            "mqtt" => raw.mqtt = table::<RawMqtt>(value, problems),
            "store" => raw.store = table::<RawStore>(value, problems),
            "admin" => raw.admin = table::<RawAdmin>(value, problems),
            "record" => raw.record = records(value, problems),
            other => problems.push(unknown_key(other, key.span(), SECTIONS).0),
        }
    }
    Some(raw)
}

/// `[[record]]`: each entry shaped on its own.
fn records(value: Spanned<DeValue<'_>>, problems: &mut Vec<Problem>) -> Vec<Spanned<RawRecord>> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(entries) => entries
            .into_iter()
            .filter_map(|entry| table::<RawRecord>(entry, problems))
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
/// required key is missing or wrong.
fn table<T: DeserializeOwned>(
    value: Spanned<DeValue<'_>>,
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
        problems.push(toml_problem(&e));
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

/// A TOML or serde error as a [`Problem`] at its span.
pub fn toml_problem(e: &toml::de::Error) -> Problem {
    let message = e
        .message()
        .trim()
        .replace('\n', "; ")
        .replace("expected i64", "expected an integer");
    let span = e.span().unwrap_or(0..0);
    let hint = super::diagnostic::unknown_field_hint(&message);
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
