//! [`ComponentTable`]: a component's config table (`source = { ... }`) with the text it came
//! from, so that each field's mistakes point at the field.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use crate::diagnostics::Problem;

/// A component table and where it sits in the config text.
pub(crate) struct ComponentTable<'a> {
    /// The table.
    pub(crate) table: &'a Table,
    /// Its span in `text`.
    pub(crate) span: Range<usize>,
    /// The whole config text.
    pub(crate) text: &'a str,
}

impl<'a> ComponentTable<'a> {
    /// The span of the value of `name` inside the table, or the table's span.
    pub(crate) fn value_span(&self, name: &str) -> Range<usize> {
        let Some(at) = self.find_key(name) else {
            return self.span.clone();
        };
        let rest = &self.text[at + name.len()..];
        let eq = rest.find('=').map_or(0, |i| i + 1);
        let ws = rest[eq..].len() - rest[eq..].trim_start().len();
        let start = at + name.len() + eq + ws;
        let len = rest[eq + ws..].find([',', '}', '\n']).unwrap_or(0).max(1);
        start..start + len
    }

    fn find_key(&self, name: &str) -> Option<usize> {
        let body = self.text.get(self.span.clone())?;
        let mut from = 0;
        while let Some(i) = body.get(from..)?.find(name) {
            let at = from + i;
            let before_ok = body[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
            let after_ok = body[at + name.len()..]
                .trim_start_matches([' ', '\t'])
                .starts_with('=');
            if before_ok && after_ok {
                return Some(self.span.start + at);
            }
            from = at + name.len();
        }
        None
    }

    /// A string field, if present.
    pub(crate) fn string(&self, name: &str) -> Result<Option<&'a str>, Problem> {
        match self.table.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(Problem::at(
                self.value_span(name),
                format!("`{name}` must be a string, not {}", other.type_str()),
            )),
        }
    }

    /// The table without `kind` and `skip`, deserialized into the component's typed params
    /// (which should `deny_unknown_fields`).
    pub(crate) fn params<T: DeserializeOwned>(&self, skip: &[&str]) -> Result<T, Problem> {
        let mut t = self.table.clone();
        t.remove("kind");
        for k in skip {
            t.remove(*k);
        }
        Value::Table(t).try_into::<T>().map_err(|e| {
            let message = e.message().trim().to_string();
            let field = message.split('`').nth(1).map(str::to_string);
            let span = field
                .as_deref()
                .and_then(|f| self.find_key(f).map(|at| at..at + f.len()))
                .unwrap_or_else(|| self.span.clone());
            let hint = crate::diagnostics::unknown_field_hint(&message);
            let p = Problem::at(span, message);
            match hint {
                Some(h) => p.with_hint(h),
                None => p,
            }
        })
    }
}
