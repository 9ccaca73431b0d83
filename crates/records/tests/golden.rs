//! Golden wire vectors: the postcard bytes and JSON text of a fixed sample of every record type,
//! kept in `tests/golden/`.
//!
//! For every sample this asserts that encoding gives exactly the stored bytes/text and that
//! decoding the stored bytes/text gives the sample back. A change to a record type that would
//! break nodes or services already deployed (renamed or reordered field, changed field type,
//! reordered enum variant) therefore fails here.
//!
//! Files: `tests/golden/<TypeName>[.<case>].postcard` (bytes as space-separated lowercase hex)
//! and `tests/golden/<TypeName>[.<case>].json` (the compact JSON, newline-terminated).
//!
//! When a wire change is intended (e.g. a new enum variant appended, a new record type added),
//! regenerate the files and review the diff:
//!
//! ```sh
//! AIMDB_BLESS=1 cargo test -p aimdb-records --test golden
//! git diff crates/records/tests/golden
//! ```
//!
//! A new record type in `for_each_record_type!` does not compile here until it has a
//! [`Samples`] impl, so no type ships without golden vectors.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aimdb_records::types::*;
use aimdb_records::{for_each_record_type, id, Codec, RecordType};

const TS: u64 = 1_700_000_000_000;

/// Fixed sample values of a record type, each with a case name ("" for a single sample).
trait Samples: RecordType + PartialEq {
    fn samples() -> Vec<(&'static str, Self)>;
}

fn sid(s: &str) -> Id {
    id(s).expect("sample ids are short")
}

impl Samples for Temperature {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![(
            "",
            Temperature {
                sensor_id: sid("indoor-1"),
                celsius: 21.5,
                timestamp_ms: TS,
            },
        )]
    }
}

impl Samples for Humidity {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![(
            "",
            Humidity {
                sensor_id: sid("indoor-1"),
                percent: 45.25,
                timestamp_ms: TS,
            },
        )]
    }
}

impl Samples for Heartbeat {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![(
            "",
            Heartbeat {
                node_id: sid("node-7"),
                uptime_s: 3600,
                seq: 42,
            },
        )]
    }
}

impl Samples for TemperatureAlert {
    fn samples() -> Vec<(&'static str, Self)> {
        let alert = |level, celsius| TemperatureAlert {
            sensor_id: sid("indoor-1"),
            celsius,
            threshold: 35.0,
            level,
            timestamp_ms: TS,
        };
        vec![
            ("high", alert(AlertLevel::High, 36.5)),
            ("normal", alert(AlertLevel::Normal, 34.0)),
            (
                "low",
                TemperatureAlert {
                    threshold: 5.0,
                    ..alert(AlertLevel::Low, 4.5)
                },
            ),
        ]
    }
}

impl Samples for DewPoint {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![(
            "",
            DewPoint {
                sensor_id: sid("indoor-1"),
                celsius: 9.25,
                timestamp_ms: TS,
            },
        )]
    }
}

impl Samples for NodeCommand {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![
            (
                "set_sample_period",
                NodeCommand::SetSamplePeriod { ms: 5000 },
            ),
            ("set_led", NodeCommand::SetLed { on: true }),
            ("reboot", NodeCommand::Reboot),
            ("identify", NodeCommand::Identify),
        ]
    }
}

impl Samples for NodeStatus {
    fn samples() -> Vec<(&'static str, Self)> {
        vec![
            ("online", NodeStatus::Online),
            ("offline", NodeStatus::Offline),
        ]
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn blessing() -> bool {
    std::env::var_os("AIMDB_BLESS").is_some_and(|v| v == "1")
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s.push('\n');
    s
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    text.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).map_err(|e| format!("bad hex byte {h:?}: {e}")))
        .collect()
}

/// Golden file contents (as stored on disk) for one codec.
fn render(codec: Codec, encoded: &[u8]) -> String {
    match codec {
        Codec::Postcard => to_hex(encoded),
        Codec::Json => format!("{}\n", String::from_utf8_lossy(encoded)),
    }
}

/// The encoded bytes a golden file holds.
fn parse_golden(codec: Codec, text: &str) -> Result<Vec<u8>, String> {
    match codec {
        Codec::Postcard => from_hex(text),
        Codec::Json => Ok(text.trim_end_matches('\n').as_bytes().to_vec()),
    }
}

fn file_name<T: RecordType>(case: &str, codec: Codec) -> String {
    if case.is_empty() {
        format!("{}.{}", T::NAME, codec.as_str())
    } else {
        format!("{}.{case}.{}", T::NAME, codec.as_str())
    }
}

/// Checks (or, when blessing, writes) every golden file of `T`. Returns the file names it
/// covered and appends one message per mismatch to `failures`.
fn check_type<T: Samples>(failures: &mut Vec<String>) -> Vec<String> {
    let mut covered = Vec::new();
    for (case, value) in T::samples() {
        for &codec in Codec::ALL {
            let name = file_name::<T>(case, codec);
            let path = golden_dir().join(&name);
            covered.push(name.clone());
            let encoded = match codec.encode_to_vec(&value) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{name}: encoding {value:?} failed: {e}"));
                    continue;
                }
            };
            if blessing() {
                if let Err(e) = std::fs::write(&path, render(codec, &encoded)) {
                    failures.push(format!("{name}: cannot write {}: {e}", path.display()));
                }
                continue;
            }
            let golden = match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse_golden(codec, &text))
            {
                Ok(g) => g,
                Err(e) => {
                    failures.push(format!(
                        "{name}: cannot read golden file ({e}); run with AIMDB_BLESS=1 to create it"
                    ));
                    continue;
                }
            };
            if encoded != golden {
                failures.push(format!(
                    "{name}: encoding changed\n  golden: {}  now:    {}",
                    render(codec, &golden),
                    render(codec, &encoded)
                ));
            }
            match codec.decode::<T>(&golden) {
                Ok(decoded) if decoded == value => {}
                Ok(decoded) => failures.push(format!(
                    "{name}: golden decodes to {decoded:?}, expected {value:?}"
                )),
                Err(e) => failures.push(format!("{name}: golden no longer decodes: {e}")),
            }
        }
    }
    covered
}

#[test]
fn every_record_type_matches_its_golden_vectors() {
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    macro_rules! check_all {
        ($($t:ident),*) => {
            $( covered.extend(check_type::<$t>(&mut failures)); )*
        };
    }
    for_each_record_type!(check_all);

    // A golden file no sample produces is stale (a removed type or case): flag it too.
    if !blessing() {
        let dir = std::fs::read_dir(golden_dir()).map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        });
        for name in dir.unwrap_or_default() {
            if !covered.contains(&name) {
                failures.push(format!("{name}: no sample produces this golden file"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_record_type_name_has_golden_files() {
    if blessing() {
        return; // the other test is rewriting the files right now
    }
    for name in aimdb_records::RECORD_TYPE_NAMES {
        let dir = golden_dir();
        let has = |ext: &str| {
            std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok()).any(|e| {
                        let f = e.file_name().to_string_lossy().into_owned();
                        f.starts_with(&format!("{name}.")) && f.ends_with(ext)
                    })
                })
                .unwrap_or(false)
        };
        assert!(
            has(".postcard") && has(".json"),
            "{name}: missing golden files"
        );
    }
}
