//! Wire codecs: postcard for MCU links, JSON for services and people.
//!
//! Contract:
//! - [`Codec::encode`] appends the encoding to the caller's buffer, so one buffer can be reused
//!   for every message; on error the buffer is left exactly as it was.
//! - [`Codec::decode`] accepts exactly one value: trailing bytes after a postcard value and
//!   trailing non-whitespace after a JSON value are errors.
//! - Decoding never panics, whatever the input (truncated, garbage, huge). Failures are
//!   [`CodecError`] values the caller counts and drops.
//! - JSON cannot represent NaN or infinities: serde_json encodes them as `null`, which then
//!   fails to decode into an `f32`. Postcard carries them unchanged.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A wire encoding for record values.
///
/// In config files and URLs it is spelled `"postcard"` or `"json"` (see [`Codec::as_str`],
/// [`FromStr`], and the serde form, which is the same lowercase string).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// [postcard](https://postcard.jamesmunns.com/wire-format): compact, schema-less binary;
    /// what nodes publish. Field order is the format.
    Postcard,
    /// JSON text (UTF-8) with serde's field names; for services, dashboards and people.
    Json,
}

impl Codec {
    /// Every codec.
    pub const ALL: &'static [Codec] = &[Codec::Postcard, Codec::Json];

    /// The config spelling: `"postcard"` or `"json"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Codec::Postcard => "postcard",
            Codec::Json => "json",
        }
    }

    /// Appends the encoding of `value` to `out`. On error `out` keeps its previous contents.
    pub fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let start = out.len();
        let result = match self {
            Codec::Postcard => postcard::serialize_with_flavor(value, AppendVec(&mut *out))
                .map_err(CodecError::Postcard),
            Codec::Json => encode_json(value, out),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// The encoding of `value` in a new `Vec`. Prefer [`Codec::encode`] with a reused buffer on
    /// hot paths.
    pub fn encode_to_vec<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode(value, &mut out)?;
        Ok(out)
    }

    /// Decodes exactly one `T` from `bytes`. Never panics; see the module doc for what is
    /// rejected.
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Codec::Postcard => {
                let (value, rest) =
                    postcard::take_from_bytes::<T>(bytes).map_err(CodecError::Postcard)?;
                if rest.is_empty() {
                    Ok(value)
                } else {
                    Err(CodecError::TrailingBytes { count: rest.len() })
                }
            }
            Codec::Json => serde_json::from_slice(bytes).map_err(CodecError::Json),
        }
    }
}

#[cfg(feature = "std")]
fn encode_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    serde_json::to_writer(out, value).map_err(CodecError::Json)
}

#[cfg(not(feature = "std"))]
fn encode_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
    // Without std, serde_json has no writer API: encode into a temporary and append.
    let bytes = serde_json::to_vec(value).map_err(CodecError::Json)?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// A postcard output flavor that appends to a borrowed `Vec`.
pub(crate) struct AppendVec<'a>(pub(crate) &'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendVec<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Codec {
    type Err = UnknownCodec;

    /// Parses `"postcard"` or `"json"` (exact, lowercase).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCodec(s.into()))
    }
}

/// A codec name that is neither `"postcard"` nor `"json"`; holds the rejected name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCodec(pub String);

impl fmt::Display for UnknownCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown codec {:?}; expected \"postcard\" or \"json\"",
            self.0
        )
    }
}

impl core::error::Error for UnknownCodec {}

/// Why a value could not be encoded or decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// postcard rejected the bytes (truncated, invalid varint, string too long for an
    /// [`Id`](crate::Id), unknown enum variant, …) or the value.
    Postcard(postcard::Error),
    /// serde_json rejected the text (syntax, missing or mistyped field, …) or the value.
    Json(serde_json::Error),
    /// A complete postcard value was followed by `count` more bytes.
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A postcard payload starts with the frame marker but is shorter than a frame header
    /// ([`frame`](crate::frame)).
    TruncatedFrame {
        /// The payload's length.
        len: usize,
    },
    /// A JSON object's `"v"` field is not a version number (an integer `0..=65535`).
    BadVersionField,
}

impl CodecError {
    /// The codec that failed.
    pub fn codec(&self) -> Codec {
        match self {
            CodecError::Postcard(_)
            | CodecError::TrailingBytes { .. }
            | CodecError::TruncatedFrame { .. } => Codec::Postcard,
            CodecError::Json(_) | CodecError::BadVersionField => Codec::Json,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Postcard(e) => write!(f, "postcard: {e}"),
            CodecError::Json(e) => write!(f, "json: {e}"),
            CodecError::TrailingBytes { count } => {
                write!(f, "postcard: {count} trailing bytes after the value")
            }
            CodecError::TruncatedFrame { len } => {
                write!(
                    f,
                    "postcard: a {len}-byte payload is too short for its frame header"
                )
            }
            CodecError::BadVersionField => {
                f.write_str("json: the \"v\" field is not a version number")
            }
        }
    }
}

impl core::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CodecError::Postcard(e) => Some(e),
            CodecError::Json(e) => Some(e),
            CodecError::TrailingBytes { .. }
            | CodecError::TruncatedFrame { .. }
            | CodecError::BadVersionField => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{id, Temperature};

    fn sample() -> Temperature {
        Temperature {
            sensor_id: id("t1").unwrap(),
            celsius: 21.5,
            timestamp_ms: 1_000,
        }
    }

    #[test]
    fn codec_names_round_trip() {
        for c in Codec::ALL {
            assert_eq!(c.as_str().parse::<Codec>(), Ok(*c));
            assert_eq!(alloc::format!("{c}"), c.as_str());
        }
        let err = "JSON".parse::<Codec>().unwrap_err();
        assert_eq!(err, UnknownCodec("JSON".into()));
        assert!(alloc::format!("{err}").contains("\"JSON\""));
    }

    #[test]
    fn encode_appends_and_round_trips() {
        for c in Codec::ALL {
            let mut buf = alloc::vec![0xAA];
            c.encode(&sample(), &mut buf).unwrap();
            assert_eq!(buf[0], 0xAA, "{c}: prefix kept");
            let decoded: Temperature = c.decode(&buf[1..]).unwrap();
            assert_eq!(decoded, sample());
            assert_eq!(c.encode_to_vec(&sample()).unwrap(), buf[1..]);
        }
    }

    #[test]
    fn failed_encode_leaves_buffer_untouched() {
        // A map with non-string keys cannot be JSON.
        let mut map = alloc::collections::BTreeMap::new();
        map.insert(alloc::vec![1u8], 1u8);
        let mut buf = alloc::vec![1, 2, 3];
        let err = Codec::Json.encode(&map, &mut buf).unwrap_err();
        assert_eq!(err.codec(), Codec::Json);
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn postcard_rejects_trailing_bytes() {
        let mut buf = Codec::Postcard.encode_to_vec(&sample()).unwrap();
        buf.push(0);
        match Codec::Postcard.decode::<Temperature>(&buf) {
            Err(CodecError::TrailingBytes { count: 1 }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_rejects_trailing_garbage_but_not_whitespace() {
        let text = br#"{"sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        let mut padded = text.to_vec();
        padded.extend_from_slice(b" \n");
        assert_eq!(
            Codec::Json.decode::<Temperature>(&padded).unwrap(),
            sample()
        );
        padded.extend_from_slice(b"x");
        assert!(Codec::Json.decode::<Temperature>(&padded).is_err());
    }

    #[test]
    fn codec_deserializes_from_config_spelling() {
        let c: Codec = serde_json::from_str("\"postcard\"").unwrap();
        assert_eq!(c, Codec::Postcard);
        assert!(serde_json::from_str::<Codec>("\"cbor\"").is_err());
    }
}
