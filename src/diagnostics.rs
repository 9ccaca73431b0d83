//! Config mistakes as values: each [`Problem`] carries a byte span into the config text, and a
//! [`ConfigError`] resolves them to `FILE:LINE:COL` lines an operator can act on.

use std::fmt;
use std::ops::Range;

/// One mistake in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Byte range in the config text; `None` when the mistake has no place (a missing table).
    pub(crate) span: Option<Range<usize>>,
    /// The record the mistake belongs to, if any.
    pub(crate) record: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it, when there is something useful to say.
    pub(crate) hint: Option<String>,
}

impl Problem {
    /// A problem at `span`.
    pub(crate) fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span: Some(span),
            record: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with no place in the file.
    pub(crate) fn nowhere(message: impl Into<String>) -> Self {
        Self {
            span: None,
            record: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Attributes the problem to record `key`.
    pub(crate) fn in_record(mut self, key: &str) -> Self {
        self.record = Some(key.to_string());
        self
    }

    /// Adds a hint line.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A problem resolved to a line and column (both 1-based; column counts characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
    /// The problem.
    pub(crate) problem: Problem,
}

/// Why a config could not be loaded: every problem found, in file order.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the config: {reason}")]
    Read {
        /// The file.
        file: String,
        /// The OS error.
        reason: String,
    },
    /// The file was read and has mistakes.
    #[error("{}", render(file, problems))]
    Invalid {
        /// The file, as given by the operator.
        file: String,
        /// Every mistake found.
        problems: Vec<Located>,
    },
}

impl ConfigError {
    /// Resolves `problems` against `text` (the file's contents).
    pub(crate) fn invalid(file: &str, text: &str, problems: Vec<Problem>) -> Self {
        let lines = Lines::new(text);
        let mut located: Vec<Located> = problems
            .into_iter()
            .map(|mut p| {
                p.message = cut_long_values(&p.message);
                p.hint = p.hint.map(|h| cut_long_values(&h));
                let (line, column) = p
                    .span
                    .as_ref()
                    .map_or((1, 1), |s| lines.line_column(s.start));
                Located {
                    line,
                    column,
                    problem: p,
                }
            })
            .collect();
        located.sort_by_key(|l| (l.line, l.column));
        located.dedup();
        ConfigError::Invalid {
            file: file.to_string(),
            problems: located,
        }
    }
}

fn render(file: &str, problems: &[Located]) -> String {
    let mut out = String::new();
    for l in problems {
        out.push_str(&format!("{file}:{}:{}: ", l.line, l.column));
        if let Some(r) = &l.problem.record {
            out.push_str(&format!("record {r:?}: "));
        }
        out.push_str(&l.problem.message);
        out.push('\n');
        if let Some(h) = &l.problem.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    }
    let n = problems.len();
    out.push_str(&format!(
        "{file}: {n} problem{} found; nothing was started",
        if n == 1 { "" } else { "s" }
    ));
    out
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.problem.message)
    }
}

#[cfg(test)]
/// 1-based line and column of byte `offset` in `text` (clamped to the text). For many
/// offsets into one text, build a [`Lines`] once instead.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    Lines::new(text).line_column(offset)
}

/// Where each line of a text starts, so that resolving an offset costs a binary search and
/// the length of its line, not a scan of the text (a config with 20 000 mistakes).
pub(crate) struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// Indexes `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// 1-based line and column (in characters) of byte `offset` (clamped to the text).
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last line start at or before `offset`; `starts[0] == 0`, so there is one.
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }
}

/// For a serde "unknown field `x`, expected one of `a`, `b`" message: a "did you mean" hint
/// naming the expected field closest to `x`, if one is close.
pub(crate) fn unknown_field_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field")?;
    let field = rest.split('`').nth(1)?;
    let expected = rest.split("expected").nth(1)?.split('`').skip(1).step_by(2);
    closest(field, expected).map(|s| format!("did you mean `{s}`?"))
}

/// The candidate closest to `word`, if it is close enough to be a likely typo (a swap of two
/// neighbouring letters is one edit, case does not count): core's, which the graph's "did you
/// mean" uses too.
pub(crate) use aimdb_core::graph::closest;

/// The most characters of one quoted value (`"..."` or `` `...` ``) a message shows.
const MAX_QUOTED: usize = 64;
/// The most characters a message or hint shows in all.
const MAX_MESSAGE: usize = 1024;

/// `text` with every quoted value longer than [`MAX_QUOTED`] characters cut (its start kept,
/// then `…` and how long it was), and the whole cut at [`MAX_MESSAGE`] characters, so that a
/// 5 MB string in a config is not echoed whole into a message.
pub(crate) fn cut_long_values(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE + 64));
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '"' && c != '`' {
            out.push(c);
            i += 1;
            continue;
        }
        // Find the closing quote (`"` strings are Debug-escaped: skip `\x`).
        let mut j = i + 1;
        while j < chars.len() && chars[j] != c {
            j += if c == '"' && chars[j] == '\\' { 2 } else { 1 };
        }
        let end = j.min(chars.len());
        let inner = &chars[i + 1..end];
        out.push(c);
        if inner.len() > MAX_QUOTED {
            out.extend(&inner[..MAX_QUOTED - 16]);
            out.push('…');
            if j < chars.len() {
                out.push(c);
            }
            out.push_str(&format!(" ({} characters)", inner.len()));
        } else {
            out.extend(inner);
            if j < chars.len() {
                out.push(c);
            }
        }
        i = end + 1;
    }
    if out.chars().count() > MAX_MESSAGE {
        let cut: String = out.chars().take(MAX_MESSAGE).collect();
        return format!("{cut}… (cut)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, 9), (2, 3));
        assert_eq!(line_column(t, 999), (3, 1));
    }

    #[test]
    fn unknown_field_hint_names_the_closest_expected_field() {
        let msg = "unknown field `capacty`, expected one of `kind`, `capacity`";
        assert_eq!(
            unknown_field_hint(msg).as_deref(),
            Some("did you mean `capacity`?")
        );
        assert_eq!(
            unknown_field_hint("unknown field `zzz`, expected `kind`"),
            None
        );
        assert_eq!(unknown_field_hint("invalid type: string"), None);
    }

    #[test]
    fn long_quoted_values_are_cut_and_short_ones_kept() {
        let long = "x".repeat(5_000_000);
        let cut = cut_long_values(&format!("unknown type {long:?}; more"));
        assert!(cut.len() < 200, "{cut}");
        assert!(cut.starts_with("unknown type \"xxxx"), "{cut}");
        assert!(cut.ends_with("…\" (5000000 characters); more"), "{cut}");
        let short = "record \"a\\\"b\": unknown field `tpye`";
        assert_eq!(cut_long_values(short), short);
        let unclosed = format!("a `{long}");
        assert!(cut_long_values(&unclosed).len() < 200);
        let plain = "y".repeat(5000);
        assert!(cut_long_values(&plain).ends_with("… (cut)"));
    }
}
