//! `#[serde(with = "finite")]` for the `f32` readings of the record types: NaN and ±infinity are
//! refused both ways.
//!
//! JSON has no NaN or infinity (serde_json would write `null`, which then does not read back as
//! an `f32`, so a stored NaN broke `restore`), and no sensor reading is meaningfully one. So a
//! non-finite value is a decode error at the inbound edge (counted as `reason="decode"` there,
//! answered 400 by the admin API) and an encode error on the way out (counted per link, and as
//! `reason="encode"` by the history store), never a value that changes meaning on the way.
//! Finite values are encoded exactly as a plain `f32`; the wire format does not change.

use serde::{de, ser, Deserialize, Deserializer, Serializer};

/// Serializes a finite `f32`; refuses NaN and infinities.
pub(super) fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f32(*v)
    } else {
        Err(ser::Error::custom(NonFinite(*v)))
    }
}

/// Deserializes an `f32`; refuses NaN and infinities (also a JSON number too large for an
/// `f32`, such as `1e39`).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    let v = f32::deserialize(d)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(de::Error::custom(NonFinite(v)))
    }
}

struct NonFinite(f32);

impl core::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} is not a finite number (readings must be)", self.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Codec, Temperature};

    fn temp(celsius: f32) -> Temperature {
        Temperature {
            sensor_id: crate::id("s").unwrap(),
            celsius,
            timestamp_ms: 1,
        }
    }

    #[test]
    fn non_finite_readings_are_refused_both_ways_by_both_codecs() {
        for codec in [Codec::Postcard, Codec::Json] {
            for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                assert!(codec.encode_to_vec(&temp(v)).is_err(), "{codec:?} {v}");
            }
            let ok = codec.encode_to_vec(&temp(21.5)).unwrap();
            assert_eq!(codec.decode::<Temperature>(&ok).unwrap(), temp(21.5));
        }
        // A postcard frame carrying NaN, as a node could send it.
        let mut frame = Codec::Postcard.encode_to_vec(&temp(21.5)).unwrap();
        let at = frame
            .windows(4)
            .position(|w| w == 21.5f32.to_le_bytes())
            .unwrap();
        frame[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Codec::Postcard.decode::<Temperature>(&frame).is_err());
        let json = br#"{"sensor_id":"s","celsius":1e39,"timestamp_ms":1}"#;
        assert!(Codec::Json.decode::<Temperature>(json).is_err());
        let null = br#"{"sensor_id":"s","celsius":null,"timestamp_ms":1}"#;
        assert!(Codec::Json.decode::<Temperature>(null).is_err());
    }
}
