//! Version chains at work, with the v2 fixture of `fixtures/v2.rs` beside the current (v1)
//! types: frames and JSON of each version, both directions of every conversion, negotiation,
//! and the golden frame vectors of docs/TOPICS.md.

use aimdb_records::announce;
use aimdb_records::frame::{self, Header};
use aimdb_records::version::{negotiate, VersionError, Versioned};
use aimdb_records::{id, NodeCommand, Temperature};

#[path = "fixtures/v2.rs"]
mod v2;

fn v1_reading() -> Temperature {
    Temperature {
        sensor_id: id("indoor-1").unwrap(),
        celsius: 21.5,
        timestamp_ms: 1_700_000_000_000,
    }
}

fn v2_reading() -> v2::Temperature {
    v2::Temperature {
        sensor_id: id("indoor-1").unwrap(),
        celsius: 21.5,
        timestamp_ms: 1_700_000_000_000,
        accuracy: 0.25,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn golden_frames_of_each_version() {
    let mut out = Vec::new();
    frame::encode_postcard(&v1_reading(), 1, &mut out).unwrap();
    assert_eq!(
        hex(&out),
        "a1 01 00 c0 43 97 fd 08 69 6e 64 6f 6f 72 2d 31 00 00 ac 41 80 d0 95 ff bc 31"
    );
    out.clear();
    frame::encode_postcard(&v2_reading(), 2, &mut out).unwrap();
    assert_eq!(
        hex(&out),
        format!(
            "a1 02 00 {} 08 69 6e 64 6f 6f 72 2d 31 00 00 ac 41 80 d0 95 ff bc 31 00 00 80 3e",
            hex(&v2::Temperature::SCHEMA_ID.short().to_le_bytes())
        )
    );
    assert_eq!(
        Header::of::<v2::Temperature>(1).unwrap().schema,
        Temperature::SCHEMA_ID.short()
    );
}

#[test]
fn a_v2_reader_decodes_v1_and_v2_and_unframed() {
    let mut v1 = Vec::new();
    frame::encode_postcard(&v1_reading(), 1, &mut v1).unwrap();
    let up = frame::decode_postcard::<v2::Temperature>(&v1).unwrap();
    assert_eq!(up.accuracy, v2::V1_ACCURACY);
    assert_eq!(up.celsius, 21.5);

    let bare = aimdb_records::Codec::Postcard
        .encode_to_vec(&v1_reading())
        .unwrap();
    assert_eq!(
        frame::decode_postcard::<v2::Temperature>(&bare).unwrap(),
        up
    );

    let mut v2 = Vec::new();
    frame::encode_postcard(&v2_reading(), 2, &mut v2).unwrap();
    assert_eq!(
        frame::decode_postcard::<v2::Temperature>(&v2).unwrap(),
        v2_reading()
    );
}

#[test]
fn a_v1_reader_refuses_v2_and_a_v2_writer_speaks_v1() {
    let mut v2 = Vec::new();
    frame::encode_postcard(&v2_reading(), 2, &mut v2).unwrap();
    assert!(matches!(
        frame::decode_postcard::<Temperature>(&v2),
        Err(VersionError::Unknown {
            version: 2,
            newest: 1
        })
    ));
    let mut down = Vec::new();
    frame::encode_postcard(&v2_reading(), 1, &mut down).unwrap();
    assert_eq!(
        frame::decode_postcard::<Temperature>(&down).unwrap(),
        v1_reading()
    );
}

#[test]
fn commands_go_down_when_they_can_and_are_refused_when_they_cannot() {
    let mut out = Vec::new();
    frame::encode_postcard(&v2::NodeCommand::SetLed { on: true }, 1, &mut out).unwrap();
    assert_eq!(
        frame::decode_postcard::<NodeCommand>(&out).unwrap(),
        NodeCommand::SetLed { on: true }
    );
    let mut out = vec![9];
    let err = frame::encode_postcard(
        &v2::NodeCommand::SetAlertAbove { celsius: 30.0 },
        1,
        &mut out,
    )
    .unwrap_err();
    assert!(matches!(err, VersionError::Unrepresentable(_)), "{err}");
    assert_eq!(out, [9], "nothing written");

    // A v1 command read by a v2 node.
    let mut v1 = Vec::new();
    frame::encode_postcard(&NodeCommand::Reboot, 1, &mut v1).unwrap();
    assert_eq!(
        frame::decode_postcard::<v2::NodeCommand>(&v1).unwrap(),
        v2::NodeCommand::Reboot
    );
}

#[test]
fn json_carries_v_above_version_1() {
    let mut out = Vec::new();
    frame::encode_json(&v2_reading(), 2, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["v"], 2);
    assert_eq!(
        frame::decode_json::<v2::Temperature>(text.as_bytes()).unwrap(),
        v2_reading()
    );
    assert!(matches!(
        frame::decode_json::<Temperature>(text.as_bytes()),
        Err(VersionError::Unknown { version: 2, .. })
    ));
    let mut v1 = Vec::new();
    frame::encode_json(&v2_reading(), 1, &mut v1).unwrap();
    assert_eq!(
        std::str::from_utf8(&v1).unwrap(),
        r#"{"sensor_id":"indoor-1","celsius":21.5,"timestamp_ms":1700000000000}"#
    );
    assert_eq!(
        frame::decode_json::<v2::Temperature>(&v1).unwrap().accuracy,
        v2::V1_ACCURACY
    );
}

#[test]
fn announcements_negotiate_the_newest_shared_version() {
    let mut node = String::new();
    announce::write_type::<v2::Temperature, _>(&mut node).unwrap();
    assert_eq!(
        node,
        format!(
            "Temperature 2:{:08x} 1:{:08x}\n",
            v2::Temperature::SCHEMA_ID.short(),
            Temperature::SCHEMA_ID.short()
        )
    );
    let node_speaks = announce::find(node.as_bytes(), "Temperature")
        .unwrap()
        .unwrap();
    // A v1 gateway and a v2 node meet at 1; two v2 peers at 2.
    assert_eq!(negotiate::<Temperature>(Some(&node_speaks)), Some(1));
    assert_eq!(negotiate::<v2::Temperature>(Some(&node_speaks)), Some(2));
    let mut gateway = String::new();
    announce::write_type::<Temperature, _>(&mut gateway).unwrap();
    let gateway_speaks = announce::find(gateway.as_bytes(), "Temperature")
        .unwrap()
        .unwrap();
    assert_eq!(negotiate::<v2::Temperature>(Some(&gateway_speaks)), Some(1));
}
