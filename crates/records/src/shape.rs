//! A type's structure as text, and what changed between two of them: the readable side of a
//! [`SchemaId`](crate::version::SchemaId).
//!
//! [`lines`] renders a schema as one line per field, variant and element, each with its path,
//! position and data-model type:
//!
//! ```text
//! Temperature: struct
//! Temperature.sensor_id #0: string
//! Temperature.celsius #1: f32
//! Temperature.timestamp_ms #2: u64
//! ```
//!
//! The golden schema files in `crates/records/tests/golden/schema/` are such lines, one file per
//! version; [`diff`] says which field changed when a type no longer matches the golden file of
//! its version.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use postcard_schema::schema::{DataModelType, DataModelVariant, NamedType, NamedValue};

/// The lines of `schema`, rooted at `name` (see the module doc).
pub fn lines(name: &str, schema: &NamedType) -> Vec<String> {
    let mut out = Vec::new();
    ty(&mut out, name, None, schema.ty);
    out
}

fn line(out: &mut Vec<String>, path: &str, pos: Option<usize>, what: &str) {
    out.push(match pos {
        Some(i) => format!("{path} #{i}: {what}"),
        None => format!("{path}: {what}"),
    });
}

fn fields(out: &mut Vec<String>, path: &str, values: &[&NamedValue]) {
    for (i, v) in values.iter().enumerate() {
        ty(out, &format!("{path}.{}", v.name), Some(i), v.ty.ty);
    }
}

fn elements(out: &mut Vec<String>, path: &str, items: &[&NamedType]) {
    for (i, t) in items.iter().enumerate() {
        ty(out, &format!("{path}.{i}"), None, t.ty);
    }
}

fn ty(out: &mut Vec<String>, path: &str, pos: Option<usize>, t: &DataModelType) {
    let prim = match t {
        DataModelType::Bool => "bool",
        DataModelType::I8 => "i8",
        DataModelType::U8 => "u8",
        DataModelType::I16 => "i16",
        DataModelType::I32 => "i32",
        DataModelType::I64 => "i64",
        DataModelType::I128 => "i128",
        DataModelType::U16 => "u16",
        DataModelType::U32 => "u32",
        DataModelType::U64 => "u64",
        DataModelType::U128 => "u128",
        DataModelType::Usize => "usize",
        DataModelType::Isize => "isize",
        DataModelType::F32 => "f32",
        DataModelType::F64 => "f64",
        DataModelType::Char => "char",
        DataModelType::String => "string",
        DataModelType::ByteArray => "bytes",
        DataModelType::Unit => "unit",
        DataModelType::UnitStruct => "unit struct",
        DataModelType::Schema => "schema",
        DataModelType::Option(inner) => {
            line(out, path, pos, "option");
            return ty(out, &format!("{path}?"), None, inner.ty);
        }
        DataModelType::NewtypeStruct(inner) => {
            line(out, path, pos, "newtype");
            return ty(out, &format!("{path}.0"), None, inner.ty);
        }
        DataModelType::Seq(inner) => {
            line(out, path, pos, "seq");
            return ty(out, &format!("{path}[]"), None, inner.ty);
        }
        DataModelType::Tuple(items) | DataModelType::TupleStruct(items) => {
            line(out, path, pos, &format!("tuple of {}", items.len()));
            return elements(out, path, items);
        }
        DataModelType::Map { key, val } => {
            line(out, path, pos, "map");
            ty(out, &format!("{path}{{key}}"), None, key.ty);
            return ty(out, &format!("{path}{{value}}"), None, val.ty);
        }
        DataModelType::Struct(values) => {
            line(out, path, pos, "struct");
            return fields(out, path, values);
        }
        DataModelType::Enum(variants) => {
            line(out, path, pos, "enum");
            for (i, v) in variants.iter().enumerate() {
                let vpath = format!("{path}::{}", v.name);
                match v.ty {
                    DataModelVariant::UnitVariant => line(out, &vpath, Some(i), "unit variant"),
                    DataModelVariant::NewtypeVariant(inner) => {
                        line(out, &vpath, Some(i), "newtype variant");
                        ty(out, &format!("{vpath}.0"), None, inner.ty);
                    }
                    DataModelVariant::TupleVariant(items) => {
                        line(out, &vpath, Some(i), "tuple variant");
                        elements(out, &vpath, items);
                    }
                    DataModelVariant::StructVariant(values) => {
                        line(out, &vpath, Some(i), "struct variant");
                        fields(out, &vpath, values);
                    }
                }
            }
            return;
        }
    };
    line(out, path, pos, prim);
}

/// Splits a line into its path and the rest (`#pos: type`).
fn split(l: &str) -> (&str, &str) {
    match l.find(" #").or_else(|| l.find(": ")) {
        Some(at) => (&l[..at], l[at..].trim_start_matches(':').trim()),
        None => (l, ""),
    }
}

/// What changed from `old` to `new` (both from [`lines`]), one sentence per change, in the
/// order of `old` then `new`: removed, changed or moved, and added paths. Empty if equal.
pub fn diff(old: &[String], new: &[String]) -> Vec<String> {
    let before: BTreeMap<&str, &str> = old.iter().map(|l| split(l)).collect();
    let after: BTreeMap<&str, &str> = new.iter().map(|l| split(l)).collect();
    let mut out = Vec::new();
    for l in old {
        let (path, was) = split(l);
        match after.get(path) {
            None => out.push(format!("`{path}` was removed (it was {was})")),
            Some(now) if now != &was => out.push(format!("`{path}` changed from {was} to {now}")),
            Some(_) => {}
        }
    }
    for l in new {
        let (path, now) = split(l);
        if !before.contains_key(path) {
            out.push(format!("`{path}` was added ({now})"));
        }
    }
    out
}

/// `lines` joined with newlines, newline-terminated: the golden file's text.
pub fn text(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The golden file's lines from its text (blank lines and `//` comments skipped).
pub fn parse(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(ToString::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeCommand, Temperature};
    use postcard_schema::Schema;

    #[test]
    fn temperature_lines() {
        assert_eq!(
            lines("Temperature", Temperature::SCHEMA),
            [
                "Temperature: struct",
                "Temperature.sensor_id #0: string",
                "Temperature.celsius #1: f32",
                "Temperature.timestamp_ms #2: u64",
            ]
        );
        let cmd = lines("NodeCommand", NodeCommand::SCHEMA);
        assert_eq!(cmd[1], "NodeCommand::SetSamplePeriod #0: struct variant");
        assert_eq!(cmd[2], "NodeCommand::SetSamplePeriod.ms #0: u32");
    }

    #[test]
    fn diff_names_the_field() {
        let old = parse("A: struct\nA.x #0: f32\nA.y #1: u8\n");
        let new = parse("A: struct\nA.x #0: f64\nA.z #1: u8\n");
        assert_eq!(
            diff(&old, &new),
            [
                "`A.x` changed from #0: f32 to #0: f64",
                "`A.y` was removed (it was #1: u8)",
                "`A.z` was added (#1: u8)",
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }
}
