//! Wire compatibility between the two sides of an MQTT link: what the node encodes with its
//! `no_std` codecs (`aimdb_node::wire`: postcard into a slice, serde-json-core) the daemon
//! decodes with `aimdb_records::Codec`, and the other way round, for every record type, checked
//! against the golden vectors in `crates/records/tests/golden/` (the same files the records
//! crate's own golden test pins). A change to a type that breaks the wire on either side fails
//! here.
//!
//! Versioned frames too: the node's slice-based frames are byte for byte the daemon's
//! (`aimdb_records::frame`), each side decodes the other's, the node still takes unframed
//! (legacy version 1) payloads, and refuses a newer version, a foreign schema id and a truncated
//! header without panicking.

use std::path::{Path, PathBuf};

use aimdb_node::wire::{self, WireError};
use aimdb_records::frame::{self, Header, HEADER_LEN, MARKER};
use aimdb_records::types::*;
use aimdb_records::version::{VersionError, Versioned};
use aimdb_records::{for_each_record_type, Codec, RecordType};

#[path = "../../../crates/records/tests/fixtures/v2.rs"]
mod v2;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/records/tests/golden")
}

/// Every golden case of `T`: (file stem, postcard bytes, JSON text).
fn cases<T: RecordType>() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut stems: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("golden dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".postcard").map(String::from))
        .filter(|stem| stem == T::NAME || stem.starts_with(&format!("{}.", T::NAME)))
        .collect();
    stems.sort();
    stems
        .into_iter()
        .map(|stem| {
            let hex = std::fs::read_to_string(golden_dir().join(format!("{stem}.postcard")))
                .expect("postcard golden file");
            let postcard = hex
                .split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
                .collect();
            let json = std::fs::read_to_string(golden_dir().join(format!("{stem}.json")))
                .expect("json golden file")
                .trim_end_matches('\n')
                .as_bytes()
                .to_vec();
            (stem, postcard, json)
        })
        .collect()
}

/// Both directions, both codecs, for every golden case of `T`.
fn check<T: RecordType + PartialEq>(failures: &mut Vec<String>) {
    let cases = cases::<T>();
    if cases.is_empty() {
        failures.push(format!("{}: no golden vectors", T::NAME));
    }
    for (stem, postcard, json) in cases {
        let mut fail = |what: &str| failures.push(format!("{stem}: {what}"));
        let Ok(daemon) = Codec::Postcard.decode::<T>(&postcard) else {
            fail("daemon cannot decode the golden postcard");
            continue;
        };

        // Node decodes what the daemon (and the golden file) encodes.
        match wire::from_postcard::<T>(&postcard) {
            Ok(v) if v == daemon => {}
            other => fail(&format!("node decodes golden postcard as {other:?}")),
        }
        match wire::from_json::<T>(&json) {
            Ok(v) if v == daemon => {}
            other => fail(&format!("node decodes golden JSON as {other:?}")),
        }

        // Node encodes exactly the golden bytes, and the daemon decodes them.
        let mut buf = [0u8; 256];
        match wire::to_postcard(&daemon, &mut buf) {
            Ok(bytes) if *bytes == *postcard => {}
            other => fail(&format!("node postcard differs: {other:?}")),
        }
        let mut buf = [0u8; 512];
        match wire::to_json(&daemon, &mut buf) {
            Ok(n) => {
                if buf[..n] != json[..] {
                    fail(&format!(
                        "node JSON differs: {} vs golden {}",
                        String::from_utf8_lossy(&buf[..n]),
                        String::from_utf8_lossy(&json)
                    ));
                }
                match Codec::Json.decode::<T>(&buf[..n]) {
                    Ok(v) if v == daemon => {}
                    other => fail(&format!("daemon decodes node JSON as {other:?}")),
                }
            }
            Err(e) => fail(&format!("node cannot encode JSON: {e}")),
        }
        match Codec::Json.encode_to_vec(&daemon) {
            Ok(bytes) if bytes == json => {}
            other => fail(&format!("daemon JSON differs from golden: {other:?}")),
        }
        check_frames(&daemon, &postcard, &mut fail);
    }
}

/// The node's frame of `value` is the daemon's, both decode it, and the node decodes the
/// unframed golden bytes as version 1.
fn check_frames<T: RecordType + PartialEq>(value: &T, golden: &[u8], fail: &mut impl FnMut(&str)) {
    let mut daemon = Vec::new();
    if let Err(e) = frame::encode_postcard(value, T::VERSION, &mut daemon) {
        return fail(&format!("daemon cannot frame: {e}"));
    }
    let mut buf = [0u8; 256];
    let node = match wire::to_postcard_frame(value, &mut buf) {
        Ok(bytes) => bytes.to_vec(),
        Err(e) => return fail(&format!("node cannot frame: {e}")),
    };
    if node != daemon {
        fail(&format!(
            "node frame {node:02x?} != daemon frame {daemon:02x?}"
        ));
    }
    let header = Header {
        version: T::VERSION,
        schema: T::SCHEMA_ID.short(),
    };
    if node.get(..HEADER_LEN) != Some(&header.to_bytes()[..]) {
        fail(&format!(
            "node frame header {node:02x?}, expected {header:?}"
        ));
    }
    if node.get(HEADER_LEN..) != Some(golden) {
        fail("node frame body is not the golden postcard");
    }
    match frame::decode_postcard::<T>(&node) {
        Ok(v) if v == *value => {}
        other => fail(&format!("daemon decodes node frame as {other:?}")),
    }
    match wire::from_postcard_frame::<T>(&daemon) {
        Ok(v) if v == *value => {}
        other => fail(&format!("node decodes daemon frame as {other:?}")),
    }
    match wire::from_postcard_frame::<T>(golden) {
        Ok(v) if v == *value => {}
        other => fail(&format!("node decodes unframed golden as {other:?}")),
    }
}

#[test]
fn every_record_type_crosses_the_wire_both_ways() {
    let mut failures = Vec::new();
    macro_rules! check_all {
        ($($t:ident),*) => { $( check::<$t>(&mut failures); )* };
    }
    for_each_record_type!(check_all);
    assert!(
        failures.is_empty(),
        "wire mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn node_rejects_what_the_daemon_rejects() {
    // Trailing bytes, truncation, unknown variants, over-long ids: errors, never panics.
    let golden = cases::<Temperature>();
    let (_, postcard, json) = &golden[0];
    let mut long = postcard.clone();
    long.push(0);
    assert!(wire::from_postcard::<Temperature>(&long).is_err());
    assert!(Codec::Postcard.decode::<Temperature>(&long).is_err());
    for cut in 0..postcard.len() {
        assert!(
            wire::from_postcard::<Temperature>(&postcard[..cut]).is_err(),
            "cut {cut}"
        );
    }
    assert!(wire::from_postcard::<NodeCommand>(&[0x09]).is_err());
    let mut json_tail = json.clone();
    json_tail.extend_from_slice(b" x");
    assert!(wire::from_json::<Temperature>(&json_tail).is_err());
    assert!(wire::from_json::<Temperature>(b"{\"sensor_id\":\"0123456789012345678901234567890123\",\"celsius\":1.0,\"timestamp_ms\":1}").is_err());
}

/// A `T` frame's bytes with another header: `version` and `schema` instead of ours.
fn reframed<T: RecordType>(value: &T, version: u16, schema: u32) -> Vec<u8> {
    let mut bytes = Header { version, schema }.to_bytes().to_vec();
    let mut buf = [0u8; 256];
    bytes.extend_from_slice(wire::to_postcard(value, &mut buf).expect("encodes"));
    bytes
}

#[test]
fn node_refuses_unknown_versions_foreign_schemas_and_truncated_headers() {
    let (_, golden, _) = &cases::<Temperature>()[0];
    let reading: Temperature = Codec::Postcard.decode(golden).unwrap();
    let ours = Temperature::SCHEMA_ID.short();

    // A v2 gateway's frame (the v2 fixture, accuracy appended): unknown here, as on the daemon.
    let newer = v2::Temperature::up(reading.clone());
    let mut v2_frame = Vec::new();
    frame::encode_postcard(&newer, 2, &mut v2_frame).unwrap();
    assert!(matches!(
        wire::from_postcard_frame::<Temperature>(&v2_frame),
        Err(VersionError::Unknown {
            version: 2,
            newest: 1
        })
    ));
    assert!(matches!(
        frame::decode_postcard::<Temperature>(&v2_frame),
        Err(VersionError::Unknown { version: 2, .. })
    ));
    // The same v2 gateway speaking version 1 is understood.
    let mut spoken_down = Vec::new();
    frame::encode_postcard(&newer, 1, &mut spoken_down).unwrap();
    assert_eq!(
        wire::from_postcard_frame::<Temperature>(&spoken_down).unwrap(),
        reading
    );

    for version in [0, 2, 3, u16::MAX] {
        assert!(
            matches!(
                wire::from_postcard_frame::<Temperature>(&reframed(&reading, version, ours)),
                Err(VersionError::Unknown { .. })
            ),
            "version {version}"
        );
    }
    for schema in [ours ^ 1, 0, u32::MAX, NodeCommand::SCHEMA_ID.short()] {
        assert!(
            matches!(
                wire::from_postcard_frame::<Temperature>(&reframed(&reading, 1, schema)),
                Err(VersionError::SchemaMismatch { version: 1, .. })
            ),
            "schema {schema:08x}"
        );
    }
    let good = reframed(&reading, 1, ours);
    for cut in 1..HEADER_LEN {
        assert!(
            matches!(
                wire::from_postcard_frame::<Temperature>(&good[..cut]),
                Err(VersionError::Codec(WireError::Invalid))
            ),
            "header cut at {cut}"
        );
    }
    for cut in HEADER_LEN..good.len() {
        assert!(
            wire::from_postcard_frame::<Temperature>(&good[..cut]).is_err(),
            "body cut at {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(wire::from_postcard_frame::<Temperature>(&trailing).is_err());
    // A frame too large for the output slice is an error, not a panic.
    assert!(matches!(
        wire::to_postcard_frame(&reading, &mut [0u8; HEADER_LEN + 2]),
        Err(VersionError::Codec(WireError::BufferFull))
    ));
    assert!(wire::to_postcard_frame(&reading, &mut [0u8; 3]).is_err());

    // Whatever follows the marker: an error or a value, never a panic.
    let mut bytes = vec![MARKER];
    for b in 0..=255u8 {
        bytes.truncate(1);
        bytes.extend(std::iter::repeat_n(b, 12));
        let _ = wire::from_postcard_frame::<Temperature>(&bytes);
        let _ = wire::from_postcard_frame::<NodeCommand>(&bytes);
        let _ = wire::from_postcard_frame::<TemperatureAlert>(&bytes);
    }
}
