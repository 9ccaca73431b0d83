//! The gate against accidental breaks: every version of every record type must match its golden
//! schema file, `tests/golden-schema/<Type>.v<N>.txt`.
//!
//! Changing a type's shape (a field renamed, retyped, moved, added or removed; a variant added or
//! reordered) without bumping its `VERSION` fails here, naming the field that changed. The fix
//! is a new version: keep the old definition, implement `Versioned` for the new one with `up` and
//! `down`, and bless the new version's file (docs/TOPICS.md, "Evolving a type"):
//!
//! ```sh
//! AIMDB_BLESS=1 cargo test -p aimdb-records --test schema_gate
//! git diff crates/records/tests/golden-schema
//! ```
//!
//! Blessing only ever creates files for versions that have none: an existing version's file is
//! the contract with every device already deployed, and is never rewritten.
//!
//! Each file's first line also pins the version's schema id. If the lines match but the id does
//! not, the hash itself changed (a `postcard-schema` upgrade, say), and every deployed peer would
//! refuse this build's frames.

use std::path::{Path, PathBuf};

use aimdb_records::types::*;
use aimdb_records::version::Versioned;
use aimdb_records::{for_each_record_type, shape, RecordType};

#[path = "fixtures/v2.rs"]
mod v2;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden-schema")
}

fn blessing() -> bool {
    std::env::var_os("AIMDB_BLESS").is_some_and(|v| v == "1")
}

fn header(name: &str, version: u16, id: aimdb_records::SchemaId) -> String {
    format!("// {name} v{version}, schema id {id}")
}

/// Checks version `V` of the type called `name` against the golden `text` of that version.
fn check_version<V: Versioned>(name: &str, text: &str) -> Result<(), String> {
    let now = shape::lines(name, V::SCHEMA);
    let golden = shape::parse(text);
    let changes = shape::diff(&golden, &now);
    if !changes.is_empty() {
        return Err(format!(
            "{name} v{v} changed shape without a version bump:\n  - {}\n  If this is intended, \
             make it version {next}: keep the v{v} definition, implement `Versioned` with \
             VERSION = {next}, Previous = the v{v} type, `up` and `down`, then run \
             `AIMDB_BLESS=1 cargo test -p aimdb-records --test schema_gate` (docs/TOPICS.md, \
             \"Evolving a type\").",
            changes.join("\n  - "),
            v = V::VERSION,
            next = V::VERSION + 1,
        ));
    }
    let pinned = header(name, V::VERSION, V::SCHEMA_ID);
    if text.lines().next() != Some(pinned.as_str()) {
        return Err(format!(
            "{name} v{}: the shape matches but the schema id does not: the file says {:?}, this \
             build computes {pinned:?}. The schema hash changed (a postcard-schema upgrade?); \
             deployed peers would refuse every frame of this build.",
            V::VERSION,
            text.lines().next().unwrap_or("")
        ));
    }
    Ok(())
}

/// Checks (or blesses, where missing) the golden file of every version of `T`'s chain.
fn check_chain<T: RecordType>(failures: &mut Vec<String>) {
    fn walk<V: Versioned>(name: &str, failures: &mut Vec<String>) {
        if V::VERSION == 0 {
            return;
        }
        let file = golden_dir().join(format!("{name}.v{}.txt", V::VERSION));
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                if let Err(e) = check_version::<V>(name, &text) {
                    failures.push(e);
                }
            }
            Err(_) if blessing() => {
                let mut text = header(name, V::VERSION, V::SCHEMA_ID);
                text.push('\n');
                text.push_str(&shape::text(&shape::lines(name, V::SCHEMA)));
                if let Err(e) = std::fs::write(&file, text) {
                    failures.push(format!("cannot write {}: {e}", file.display()));
                }
            }
            Err(e) => failures.push(format!(
                "{name} v{}: no golden schema {} ({e}); a new version's file is created by \
                 `AIMDB_BLESS=1 cargo test -p aimdb-records --test schema_gate`",
                V::VERSION,
                file.display()
            )),
        }
        walk::<V::Previous>(name, failures);
    }
    walk::<T>(T::NAME, failures);
}

#[test]
fn every_version_of_every_record_type_matches_its_golden_schema() {
    let mut failures = Vec::new();
    macro_rules! check_all {
        ($($t:ident),*) => { $( check_chain::<$t>(&mut failures); )* };
    }
    for_each_record_type!(check_all);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn golden(name: &str, version: u16) -> String {
    let file = golden_dir().join(format!("{name}.v{version}.txt"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[allow(unreachable_pub)]
mod changed {
    //! Types that changed shape but kept `VERSION = 1`: what the gate exists to catch.
    use aimdb_records::Id;
    use postcard_schema::Schema;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Schema, Clone, Debug)]
    pub struct Retyped {
        pub sensor_id: Id,
        pub celsius: f64,
        pub timestamp_ms: u64,
    }

    #[derive(Serialize, Deserialize, Schema, Clone, Debug)]
    pub struct Reordered {
        pub sensor_id: Id,
        pub timestamp_ms: u64,
        pub celsius: f32,
    }

    aimdb_records::first_version!(Retyped, Reordered);
}

#[test]
fn the_gate_names_the_field_that_changed() {
    let v1 = golden("Temperature", 1);
    let err = check_version::<changed::Retyped>("Temperature", &v1).unwrap_err();
    assert!(
        err.contains("Temperature v1 changed shape without a version bump")
            && err.contains("`Temperature.celsius` changed from #1: f32 to #1: f64")
            && err.contains("make it version 2"),
        "{err}"
    );

    let err = check_version::<changed::Reordered>("Temperature", &v1).unwrap_err();
    assert!(
        err.contains("`Temperature.celsius` changed from #1: f32 to #2: f32")
            && err.contains("`Temperature.timestamp_ms` changed from #2: u64 to #1: u64"),
        "{err}"
    );

    // The v2 fixture declared as version 1 (an appended field, no bump) is caught too; declared
    // as version 2, it passes against a v2 file.
    #[derive(serde::Serialize, serde::Deserialize, postcard_schema::Schema, Clone, Debug)]
    struct Appended {
        sensor_id: Id,
        celsius: f32,
        timestamp_ms: u64,
        accuracy: f32,
    }
    aimdb_records::first_version!(Appended);
    let err = check_version::<Appended>("Temperature", &v1).unwrap_err();
    assert!(
        err.contains("`Temperature.accuracy` was added (#3: f32)"),
        "{err}"
    );
    let mut v2_text = header("Temperature", 2, v2::Temperature::SCHEMA_ID);
    v2_text.push('\n');
    v2_text.push_str(&shape::text(&shape::lines(
        "Temperature",
        <v2::Temperature as postcard_schema::Schema>::SCHEMA,
    )));
    check_version::<v2::Temperature>("Temperature", &v2_text).unwrap();

    // A matching shape with another id: the hash changed under us.
    let forged = v1.replacen("schema id ", "schema id 0", 1);
    let err = check_version::<Temperature>("Temperature", &forged).unwrap_err();
    assert!(
        err.contains("the shape matches but the schema id does not"),
        "{err}"
    );
}

#[test]
fn a_new_enum_variant_is_a_shape_change() {
    let v1 = golden("NodeCommand", 1);
    let err = check_version::<v2::NodeCommand>("NodeCommand", &v1).unwrap_err();
    assert!(
        err.contains("`NodeCommand::SetAlertAbove` was added (#4: struct variant)"),
        "{err}"
    );
}
