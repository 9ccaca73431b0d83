//! What a peer speaks: the retained announcement on `aimdb/<node>/schema`.
//!
//! Every node and every gateway publishes, retained and at each (re)connection, one line per
//! record type it reads or writes over MQTT, listing every version of that type it can decode
//! and encode, newest first, each with its short schema id:
//!
//! ```text
//! Temperature 1:5b1ea7e3
//! NodeCommand 2:0c9d1a44 1:7e0a61b2
//! ```
//!
//! The grammar: UTF-8 text; lines separated by `\n` (a trailing `\r` is ignored, empty lines are
//! skipped); a line is a type name (a record type's [`RecordType::NAME`]), then one to
//! [`MAX_VERSIONS`] entries `<version>:<schema>`, separated by single spaces, where `<version>`
//! is a decimal `1..=65535` and `<schema>` eight lowercase hex digits
//! ([`SchemaId::short`](crate::version::SchemaId::short)). Text, so that `mosquitto_sub -v -t
//! 'aimdb/+/schema'` shows an operator what each device speaks.
//!
//! A peer talks to another in the newest version both list with the same schema id
//! ([`negotiate`](crate::version::negotiate)); until it has seen an announcement, in its own
//! current version.

use core::fmt;

use crate::version::{versions, Versioned};
use crate::RecordType;

/// The most versions one line may list.
pub const MAX_VERSIONS: usize = 8;

/// The `(version, short schema id)` pairs a peer lists for one type, newest first.
pub type Spoken = heapless::Vec<(u16, u32), MAX_VERSIONS>;

/// Writes `T`'s line: its name and every version of its chain, newest first, then `\n`.
pub fn write_type<T: RecordType, W: fmt::Write>(out: &mut W) -> fmt::Result {
    out.write_str(T::NAME)?;
    let mut result = Ok(());
    versions::<T>(|v, id| {
        if result.is_ok() {
            result = write!(out, " {v}:{:08x}", id.short());
        }
    });
    result?;
    out.write_char('\n')
}

/// What `T` speaks, as an announcement would list it.
pub fn spoken<T: Versioned>() -> Spoken {
    let mut out = Spoken::new();
    versions::<T>(|v, id| {
        // A chain longer than MAX_VERSIONS is listed with its newest versions.
        let _ = out.push((v, id.short()));
    });
    out
}

/// One line of an announcement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The record type's name.
    pub type_name: &'a str,
    /// Its versions, as listed.
    pub versions: Spoken,
}

/// Why an announcement line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceError {
    /// The payload is not UTF-8.
    NotUtf8,
    /// Line `line` (1-based) is not `<TypeName> <version>:<schema> …`.
    BadLine {
        /// The 1-based line number.
        line: usize,
    },
    /// Line `line` lists more than [`MAX_VERSIONS`] versions.
    TooManyVersions {
        /// The 1-based line number.
        line: usize,
    },
}

impl fmt::Display for AnnounceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnnounceError::NotUtf8 => f.write_str("the announcement is not UTF-8"),
            AnnounceError::BadLine { line } => write!(
                f,
                "line {line} is not `<TypeName> <version>:<8 hex digits> ...`"
            ),
            AnnounceError::TooManyVersions { line } => {
                write!(f, "line {line} lists more than {MAX_VERSIONS} versions")
            }
        }
    }
}

impl core::error::Error for AnnounceError {}

/// The lines of an announcement payload, each parsed or refused. Never panics, whatever the
/// input; a payload that is not UTF-8 yields one `Err(NotUtf8)`.
pub fn entries(payload: &[u8]) -> impl Iterator<Item = Result<Entry<'_>, AnnounceError>> {
    let (text, bad) = match core::str::from_utf8(payload) {
        Ok(text) => (text, false),
        Err(_) => ("", true),
    };
    let lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty())
        .map(|(line, l)| parse_line(line, l));
    bad.then_some(Err(AnnounceError::NotUtf8))
        .into_iter()
        .chain(lines)
}

/// What the payload lists for `type_name`: `Ok(None)` if it does not list it.
pub fn find(payload: &[u8], type_name: &str) -> Result<Option<Spoken>, AnnounceError> {
    for entry in entries(payload) {
        let entry = entry?;
        if entry.type_name == type_name {
            return Ok(Some(entry.versions));
        }
    }
    Ok(None)
}

fn parse_line(line: usize, text: &str) -> Result<Entry<'_>, AnnounceError> {
    let bad = AnnounceError::BadLine { line };
    let mut words = text.split(' ');
    let type_name = words.next().filter(|n| is_type_name(n)).ok_or(bad)?;
    let mut versions = Spoken::new();
    for word in words {
        let (v, s) = word.split_once(':').ok_or(bad)?;
        let version = parse_version(v).ok_or(bad)?;
        let schema = parse_hex8(s).ok_or(bad)?;
        versions
            .push((version, schema))
            .map_err(|_| AnnounceError::TooManyVersions { line })?;
    }
    if versions.is_empty() {
        return Err(bad);
    }
    Ok(Entry {
        type_name,
        versions,
    })
}

fn is_type_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_version(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

fn parse_hex8(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NodeCommand, Temperature};
    use alloc::string::String;

    #[test]
    fn lines_round_trip() {
        let mut text = String::new();
        write_type::<Temperature, _>(&mut text).unwrap();
        write_type::<NodeCommand, _>(&mut text).unwrap();
        let t = Temperature::SCHEMA_ID.short();
        assert_eq!(
            text.lines().next().unwrap(),
            alloc::format!("Temperature 1:{t:08x}")
        );
        let parsed: alloc::vec::Vec<_> = entries(text.as_bytes()).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            find(text.as_bytes(), "Temperature").unwrap().unwrap(),
            spoken::<Temperature>()
        );
        assert_eq!(find(text.as_bytes(), "Humidity").unwrap(), None);
        assert_eq!(
            find(b"A 2:0000000a 1:ffffffff\r\n\n", "A")
                .unwrap()
                .unwrap()[..],
            [(2, 10), (1, u32::MAX)]
        );
    }

    #[test]
    fn hostile_lines_are_refused_without_panic() {
        for bad in [
            &b"Temperature"[..],
            b"Temperature 1",
            b"Temperature 0:00000000",
            b"Temperature 01:00000000",
            b"Temperature 70000:00000000",
            b"Temperature 1:0000000",
            b"Temperature 1:0000000G",
            b"Temperature 1:ABCDEF01",
            b"Temperature  1:00000000",
            b"Temp-erature 1:00000000",
            b" 1:00000000",
        ] {
            let r: alloc::vec::Vec<_> = entries(bad).collect();
            assert_eq!(r, [Err(AnnounceError::BadLine { line: 1 })], "{bad:?}");
        }
        assert_eq!(
            entries(&[0xff, 0xfe]).collect::<alloc::vec::Vec<_>>(),
            [Err(AnnounceError::NotUtf8)]
        );
        let many = "T 9:00000000 8:00000000 7:00000000 6:00000000 5:00000000 4:00000000 3:00000000 2:00000000 1:00000000";
        assert_eq!(
            find(many.as_bytes(), "T"),
            Err(AnnounceError::TooManyVersions { line: 1 })
        );
    }
}
