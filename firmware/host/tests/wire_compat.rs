//! Wire compatibility between the two sides of an MQTT link: what the node encodes with its
//! `no_std` codecs (`aimdb_node::wire`: postcard into a slice, serde-json-core) the daemon
//! decodes with `aimdb_records::Codec`, and the other way round, for every record type, checked
//! against the golden vectors in `crates/records/tests/golden/` (the same files the records
//! crate's own golden test pins). A change to a type that breaks the wire on either side fails
//! here.

use std::path::{Path, PathBuf};

use aimdb_node::wire;
use aimdb_records::types::*;
use aimdb_records::{for_each_record_type, Codec, RecordType};

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
