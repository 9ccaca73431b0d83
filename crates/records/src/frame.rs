//! Versioned wire frames: which version of a type a payload is.
//!
//! **Postcard** payloads start with a 7-byte header:
//!
//! | bytes | field | value |
//! |---|---|---|
//! | 0 | marker | `0xA1` |
//! | 1–2 | version | `u16`, little-endian |
//! | 3–6 | schema | the version's [`SchemaId::short`](crate::version::SchemaId::short), `u32` little-endian |
//!
//! then the postcard encoding of the value at that version. A payload that does not start with
//! the marker is *unframed*: version 1 without a schema check, as sent by firmware from before
//! versioning (every original record type's postcard form starts with a string length of at
//! most 32 or an enum index below 4, never `0xA1`). Everything this build sends is framed.
//!
//! **JSON** objects carry their version in a field `"v"`; a value without it (or that is not an
//! object, like `"reboot"`) is version 1. Version 1 is written without `"v"`, so the JSON of an
//! unversioned type is unchanged.

use alloc::vec::Vec;

use serde_json::Value;

use crate::codec::{AppendVec, CodecError};
use crate::version::{decode_at, encode_at, DecodeAs, EncodeAs, VersionError, Versioned};

/// The first byte of a framed postcard payload.
pub const MARKER: u8 = 0xA1;
/// The length of a postcard frame header.
pub const HEADER_LEN: usize = 7;
/// The JSON field holding the version.
pub const JSON_VERSION_FIELD: &str = "v";

/// A postcard frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The payload's version.
    pub version: u16,
    /// The short schema id of that version on the sender's side.
    pub schema: u32,
}

impl Header {
    /// The header of `T`'s version `version`, if `T`'s chain has it.
    pub fn of<T: Versioned>(version: u16) -> Option<Self> {
        crate::version::schema_id_of::<T>(version).map(|id| Header {
            version,
            schema: id.short(),
        })
    }

    /// The 7 header bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let v = self.version.to_le_bytes();
        let s = self.schema.to_le_bytes();
        [MARKER, v[0], v[1], s[0], s[1], s[2], s[3]]
    }

    /// Splits a postcard payload into its header (`None` if unframed) and the value's bytes.
    /// A payload starting with the marker but shorter than a header is `Err(())`.
    #[allow(clippy::result_unit_err)]
    pub fn split(bytes: &[u8]) -> Result<(Option<Header>, &[u8]), ()> {
        match bytes {
            [MARKER, v0, v1, s0, s1, s2, s3, rest @ ..] => Ok((
                Some(Header {
                    version: u16::from_le_bytes([*v0, *v1]),
                    schema: u32::from_le_bytes([*s0, *s1, *s2, *s3]),
                }),
                rest,
            )),
            [MARKER, ..] => Err(()),
            _ => Ok((None, bytes)),
        }
    }
}

/// Why a versioned payload could not be read or written.
pub type FrameError = VersionError<CodecError>;

struct PostcardBytes<'a>(&'a [u8]);

impl DecodeAs for PostcardBytes<'_> {
    type Error = CodecError;
    fn decode<V: Versioned>(self) -> Result<V, CodecError> {
        crate::Codec::Postcard.decode(self.0)
    }
}

struct PostcardVec<'a>(&'a mut Vec<u8>);

impl EncodeAs for PostcardVec<'_> {
    type Error = CodecError;
    fn encode<V: Versioned>(&mut self, value: &V) -> Result<(), CodecError> {
        postcard::serialize_with_flavor(value, AppendVec(&mut *self.0))
            .map_err(CodecError::Postcard)
    }
}

/// The version and payload of a postcard frame: `(version, schema, value bytes)`.
fn postcard_parts(bytes: &[u8]) -> Result<(u16, Option<u32>, &[u8]), FrameError> {
    match Header::split(bytes) {
        Ok((Some(h), rest)) => Ok((h.version, Some(h.schema), rest)),
        Ok((None, rest)) => Ok((1, None, rest)),
        Err(()) => Err(VersionError::Codec(CodecError::TruncatedFrame {
            len: bytes.len(),
        })),
    }
}

/// The version a postcard payload says it is (1 if unframed), without decoding it.
pub fn postcard_version(bytes: &[u8]) -> Option<u16> {
    postcard_parts(bytes).ok().map(|(v, _, _)| v)
}

/// Decodes a framed (or unframed version 1) postcard payload into the current `T`.
pub fn decode_postcard<T: Versioned>(bytes: &[u8]) -> Result<T, FrameError> {
    let (version, schema, rest) = postcard_parts(bytes)?;
    decode_at::<T, _>(version, schema, PostcardBytes(rest))
}

/// Appends the frame of `value` at version `version` to `out`; on error `out` is unchanged.
pub fn encode_postcard<T: Versioned>(
    value: &T,
    version: u16,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let header = Header::of::<T>(version).ok_or(VersionError::Unknown {
        version,
        newest: T::VERSION,
    })?;
    let start = out.len();
    out.extend_from_slice(&header.to_bytes());
    let result = encode_at(value, version, &mut PostcardVec(&mut *out));
    if result.is_err() {
        out.truncate(start);
    }
    result
}

struct JsonValue(Value);

impl DecodeAs for JsonValue {
    type Error = CodecError;
    fn decode<V: Versioned>(self) -> Result<V, CodecError> {
        serde_json::from_value(self.0).map_err(CodecError::Json)
    }
}

struct JsonOut<'a>(&'a mut Vec<u8>);

impl EncodeAs for JsonOut<'_> {
    type Error = CodecError;
    fn encode<V: Versioned>(&mut self, value: &V) -> Result<(), CodecError> {
        crate::Codec::Json.encode(value, self.0)
    }
}

/// The version of a JSON value: its `"v"` field, else 1. `Err` if `"v"` is not a `u16`.
fn json_version(value: &mut Value) -> Result<u16, CodecError> {
    let Some(object) = value.as_object_mut() else {
        return Ok(1);
    };
    match object.remove(JSON_VERSION_FIELD) {
        None => Ok(1),
        Some(v) => v
            .as_u64()
            .and_then(|v| u16::try_from(v).ok())
            .ok_or(CodecError::BadVersionField),
    }
}

/// Whether `bytes` contain the text `"v"` (a `"v"` key, or a string `"v"`).
fn has_version_key(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'v', bytes).any(|i| {
        i.checked_sub(1).and_then(|j| bytes.get(j)) == Some(&b'"')
            && bytes.get(i + 1) == Some(&b'"')
    })
}

/// Decodes a JSON payload of any version this build knows into the current `T`.
///
/// A payload without the text `"v"` anywhere is version 1 and decodes straight into `T` (no
/// intermediate value); others are parsed once to read their version.
pub fn decode_json<T: Versioned>(bytes: &[u8]) -> Result<T, FrameError> {
    if T::VERSION == 1 && !has_version_key(bytes) {
        return crate::Codec::Json
            .decode(bytes)
            .map_err(VersionError::Codec);
    }
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| VersionError::Codec(CodecError::Json(e)))?;
    decode_json_value(&mut value)
}

/// [`decode_json`] for a parsed value (its `"v"` field, if any, is removed).
pub fn decode_json_value<T: Versioned>(value: &mut Value) -> Result<T, FrameError> {
    let version = json_version(value).map_err(VersionError::Codec)?;
    decode_at::<T, _>(version, None, JsonValue(core::mem::take(value)))
}

/// Appends the JSON of `value` at version `version` to `out`, with `"v"` first when the version
/// is above 1 and the value is an object (field order is kept); on error `out` is unchanged.
pub fn encode_json<T: Versioned>(
    value: &T,
    version: u16,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let start = out.len();
    encode_at(value, version, &mut JsonOut(&mut *out))?;
    if version > 1 && out.get(start) == Some(&b'{') {
        let empty = out.get(start + 1) == Some(&b'}');
        let field = alloc::format!(
            "\"{JSON_VERSION_FIELD}\":{version}{}",
            if empty { "" } else { "," }
        );
        out.splice(start + 1..start + 1, field.into_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Versioned;
    use crate::{id, NodeCommand, Temperature};

    fn sample() -> Temperature {
        Temperature {
            sensor_id: id("t1").unwrap(),
            celsius: 21.5,
            timestamp_ms: 1_000,
        }
    }

    #[test]
    fn postcard_frame_round_trips_and_unframed_is_version_1() {
        let mut out = alloc::vec![0xEE];
        encode_postcard(&sample(), 1, &mut out).unwrap();
        assert_eq!(out[0], 0xEE);
        let header = Header::of::<Temperature>(1).unwrap();
        assert_eq!(out[1..8], header.to_bytes());
        assert_eq!(decode_postcard::<Temperature>(&out[1..]).unwrap(), sample());
        let bare = crate::Codec::Postcard.encode_to_vec(&sample()).unwrap();
        assert_eq!(out[8..], bare[..]);
        assert_eq!(decode_postcard::<Temperature>(&bare).unwrap(), sample());
        assert_eq!(postcard_version(&out[1..]), Some(1));
    }

    #[test]
    fn unknown_versions_and_foreign_schemas_are_refused() {
        let bare = crate::Codec::Postcard.encode_to_vec(&sample()).unwrap();
        let mut v2 = Header {
            version: 2,
            schema: 0,
        }
        .to_bytes()
        .to_vec();
        v2.extend_from_slice(&bare);
        assert!(matches!(
            decode_postcard::<Temperature>(&v2),
            Err(VersionError::Unknown {
                version: 2,
                newest: 1
            })
        ));
        let mut wrong = Header {
            version: 1,
            schema: Temperature::SCHEMA_ID.short() ^ 1,
        }
        .to_bytes()
        .to_vec();
        wrong.extend_from_slice(&bare);
        assert!(matches!(
            decode_postcard::<Temperature>(&wrong),
            Err(VersionError::SchemaMismatch { version: 1, .. })
        ));
        assert!(decode_postcard::<Temperature>(&[MARKER, 1, 0]).is_err());
        let mut out = alloc::vec![1, 2];
        assert!(encode_postcard(&sample(), 3, &mut out).is_err());
        assert_eq!(out, [1, 2]);
    }

    #[test]
    fn json_version_field() {
        let text = br#"{"sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        assert_eq!(decode_json::<Temperature>(text).unwrap(), sample());
        let with_v = br#"{"v":1,"sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        assert_eq!(decode_json::<Temperature>(with_v).unwrap(), sample());
        let v9 = br#"{"v":9,"sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        assert!(matches!(
            decode_json::<Temperature>(v9),
            Err(VersionError::Unknown { version: 9, .. })
        ));
        let bad = br#"{"v":"x","sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        assert!(decode_json::<Temperature>(bad).is_err());
        assert_eq!(
            decode_json::<NodeCommand>(b"\"reboot\"").unwrap(),
            NodeCommand::Reboot
        );
        let mut out = Vec::new();
        encode_json(&sample(), 1, &mut out).unwrap();
        assert_eq!(out, text);
    }
}
