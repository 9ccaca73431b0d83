//! Decoding whatever arrives on a topic never panics: garbage, truncations, bit flips and huge
//! buffers all come back as `Err(CodecError)` (or, by chance, a valid value), for every record
//! type and every codec.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use aimdb_records::types::*;
use aimdb_records::{for_each_record_type, id, Codec, RecordType};

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Decodes `bytes` as every record type with every codec; only a panic fails.
fn decode_everything(bytes: &[u8]) {
    macro_rules! decode_all {
        ($($t:ident),*) => {
            $(
                for codec in Codec::ALL {
                    let _ = codec.decode::<$t>(bytes);
                }
            )*
        };
    }
    for_each_record_type!(decode_all);
}

/// Every strict prefix of `value`'s encoding fails to decode as `T` (and panics nothing).
fn assert_truncations_rejected<T: RecordType>(value: &T) {
    for codec in Codec::ALL {
        let full = codec.encode_to_vec(value).expect("samples encode");
        for cut in 0..full.len() {
            decode_everything(&full[..cut]);
            assert!(
                codec.decode::<T>(&full[..cut]).is_err(),
                "{codec}: {} of {} bytes of {value:?} decoded",
                cut,
                full.len()
            );
        }
    }
}

/// Valid encodings of values of several types, to mutate.
fn valid_encodings() -> Vec<Vec<u8>> {
    let (t, alert, cmd) = samples();
    let mut out = Vec::new();
    for codec in Codec::ALL {
        out.push(codec.encode_to_vec(&t).expect("encodes"));
        out.push(codec.encode_to_vec(&alert).expect("encodes"));
        out.push(codec.encode_to_vec(&cmd).expect("encodes"));
    }
    out
}

fn samples() -> (Temperature, TemperatureAlert, NodeCommand) {
    let sid = id("sensor-with-a-long-name-000001").expect("short enough");
    let t = Temperature {
        sensor_id: sid.clone(),
        celsius: -12.75,
        timestamp_ms: u64::MAX,
    };
    let alert = TemperatureAlert {
        sensor_id: sid,
        celsius: 40.0,
        threshold: 35.0,
        level: AlertLevel::High,
        timestamp_ms: 1,
    };
    (t, alert, NodeCommand::SetSamplePeriod { ms: u32::MAX })
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for len in 0..512 {
        decode_everything(&rng.bytes(len));
    }
}

#[test]
fn every_truncation_of_a_valid_encoding_is_rejected() {
    let (t, alert, cmd) = samples();
    assert_truncations_rejected(&t);
    assert_truncations_rejected(&alert);
    assert_truncations_rejected(&cmd);
    assert_truncations_rejected(&NodeCommand::Reboot);
    assert_truncations_rejected(&NodeStatus::Offline);
    assert_truncations_rejected(&Heartbeat {
        node_id: id("n").expect("short"),
        uptime_s: u32::MAX,
        seq: 300,
    });
}

#[test]
fn bit_flips_of_valid_encodings_never_panic() {
    for full in valid_encodings() {
        for i in 0..full.len() {
            for bit in 0..8 {
                let mut flipped = full.clone();
                flipped[i] ^= 1 << bit;
                decode_everything(&flipped);
            }
        }
    }
}

#[test]
fn one_mebibyte_buffers_are_rejected_without_panicking() {
    const MIB: usize = 1 << 20;
    let mut rng = Rng(42);
    for buf in [
        vec![0u8; MIB],
        vec![0xFF; MIB],
        vec![b'['; MIB],
        vec![b'{'; MIB],
        vec![b'"'; MIB],
        rng.bytes(MIB),
    ] {
        decode_everything(&buf);
    }
    // A valid value followed by a mebibyte of padding is not silently accepted.
    let mut padded = Codec::Postcard
        .encode_to_vec(&NodeStatus::Online)
        .expect("encodes");
    padded.resize(MIB, 0);
    assert!(Codec::Postcard.decode::<NodeStatus>(&padded).is_err());
}

#[test]
fn oversized_ids_are_rejected_not_truncated() {
    let long = "x".repeat(33);
    let json = format!(r#"{{"sensor_id":"{long}","celsius":1.0,"timestamp_ms":0}}"#);
    assert!(Codec::Json.decode::<Temperature>(json.as_bytes()).is_err());

    // postcard: length prefix 33, then 33 bytes, then the rest of a Temperature.
    let mut bytes = vec![33u8];
    bytes.extend_from_slice(long.as_bytes());
    bytes.extend_from_slice(&[0, 0, 0x80, 0x3f, 0]);
    assert!(Codec::Postcard.decode::<Temperature>(&bytes).is_err());
}

#[test]
fn unknown_enum_variants_are_rejected() {
    assert!(Codec::Postcard.decode::<NodeCommand>(&[0x7f]).is_err());
    assert!(Codec::Postcard.decode::<NodeStatus>(&[2]).is_err());
    assert!(Codec::Json
        .decode::<NodeCommand>(b"\"self_destruct\"")
        .is_err());
    assert!(Codec::Json.decode::<AlertLevel>(b"\"High\"").is_err());
}

#[test]
fn names_cover_every_decoded_type() {
    // Keeps this file honest: decode_everything goes through the same list as the registry.
    let mut n = 0;
    macro_rules! count {
        ($($t:ident),*) => { $( let _ = <$t as RecordType>::NAME; n += 1; )* };
    }
    for_each_record_type!(count);
    assert_eq!(n, aimdb_records::RECORD_TYPE_NAMES.len());
}
