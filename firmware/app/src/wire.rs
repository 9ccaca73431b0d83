//! The node's wire codecs, `no_std` and heap-free: postcard into a caller's slice
//! (`postcard::to_slice`), versioned postcard frames on top of it, and JSON with
//! `serde-json-core`.
//!
//! They produce and accept exactly the bytes of the daemon's `aimdb_records::Codec` (postcard and
//! JSON) and `aimdb_records::frame` (frames): the wire-compatibility test
//! (`firmware/host/tests/wire_compat.rs`) checks both directions for every record type against
//! the golden vectors in `crates/records/tests/golden/`. Decoding is as strict as the daemon's:
//! trailing bytes are an error, and nothing panics on hostile input.
//!
//! A frame ([`to_postcard_frame`], [`from_postcard_frame`]) is the 7-byte header of
//! `aimdb_records::frame` (`0xA1`, version `u16` LE, short schema id `u32` LE) followed by the
//! postcard value at that version. A payload without the header is version 1 (what nodes and
//! gateways sent before versioning).

use core::fmt;

use aimdb_records::frame::{Header, HEADER_LEN};
use aimdb_records::version::{decode_at, encode_at, DecodeAs, EncodeAs, VersionError, Versioned};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value could not be encoded or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The output slice is too small.
    BufferFull,
    /// The bytes are not a valid encoding of the type (truncated, garbage, unknown variant, too
    /// long an id, ...).
    Invalid,
    /// A complete value was followed by this many unexpected bytes.
    TrailingBytes(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BufferFull => f.write_str("output buffer too small"),
            WireError::Invalid => f.write_str("invalid encoding"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the value"),
        }
    }
}

impl core::error::Error for WireError {}

/// Encodes `value` with postcard into `out`; the encoded prefix of `out`.
pub fn to_postcard<'a, T: Serialize + ?Sized>(
    value: &T,
    out: &'a mut [u8],
) -> Result<&'a mut [u8], WireError> {
    postcard::to_slice(value, out).map_err(|e| match e {
        postcard::Error::SerializeBufferFull => WireError::BufferFull,
        _ => WireError::Invalid,
    })
}

/// Decodes exactly one postcard `T` from `bytes`.
pub fn from_postcard<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(WireError::TrailingBytes(rest.len())),
        Err(_) => Err(WireError::Invalid),
    }
}

/// Encodes `value` as compact JSON into `out`; the number of bytes written.
pub fn to_json<T: Serialize + ?Sized>(value: &T, out: &mut [u8]) -> Result<usize, WireError> {
    serde_json_core::to_slice(value, out).map_err(|e| match e {
        serde_json_core::ser::Error::BufferFull => WireError::BufferFull,
        _ => WireError::Invalid,
    })
}

/// Decodes exactly one JSON `T` from `bytes` (surrounding whitespace allowed).
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    let (value, used) = serde_json_core::from_slice::<T>(bytes).map_err(|_| WireError::Invalid)?;
    let rest = bytes.get(used..).unwrap_or_default();
    match rest.iter().filter(|b| !b.is_ascii_whitespace()).count() {
        0 => Ok(value),
        n => Err(WireError::TrailingBytes(n)),
    }
}

/// Why a frame could not be read or written: its version is unknown here, its schema id is not
/// ours, the value has no form in that version, or the postcard inside failed
/// ([`VersionError::Codec`]; a truncated header is [`WireError::Invalid`]).
pub type FrameError = VersionError<WireError>;

/// Postcard bytes of one value, for [`decode_at`].
struct PostcardIn<'a>(&'a [u8]);

impl DecodeAs for PostcardIn<'_> {
    type Error = WireError;
    fn decode<V: Versioned>(self) -> Result<V, WireError> {
        from_postcard(self.0)
    }
}

/// A slice to encode one value into, for [`encode_at`]; `len` is the encoding's length.
struct PostcardOut<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl EncodeAs for PostcardOut<'_> {
    type Error = WireError;
    fn encode<V: Versioned>(&mut self, value: &V) -> Result<(), WireError> {
        self.len = to_postcard(value, self.out)?.len();
        Ok(())
    }
}

/// Writes the frame of `value` at version `version` of its chain into `out` (header, then the
/// value converted down to that version); the frame's length. The same bytes as
/// `aimdb_records::frame::encode_postcard`.
pub fn to_postcard_frame_at<T: Versioned>(
    value: &T,
    version: u16,
    out: &mut [u8],
) -> Result<usize, FrameError> {
    let header = Header::of::<T>(version).ok_or(VersionError::Unknown {
        version,
        newest: T::VERSION,
    })?;
    let (head, body) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(VersionError::Codec(WireError::BufferFull))?;
    head.copy_from_slice(&header.to_bytes());
    let mut body = PostcardOut { out: body, len: 0 };
    encode_at(value, version, &mut body)?;
    Ok(HEADER_LEN + body.len)
}

/// [`to_postcard_frame_at`] at `T`'s current version, which is what the node sends; the frame,
/// a prefix of `out`.
pub fn to_postcard_frame<'a, T: Versioned>(
    value: &T,
    out: &'a mut [u8],
) -> Result<&'a mut [u8], FrameError> {
    let len = to_postcard_frame_at(value, T::VERSION, out)?;
    out.get_mut(..len)
        .ok_or(VersionError::Codec(WireError::BufferFull))
}

/// Decodes a frame of any version of `T`'s chain (its schema id checked, the value converted
/// up to the current `T`), or an unframed payload as version 1.
pub fn from_postcard_frame<T: Versioned>(bytes: &[u8]) -> Result<T, FrameError> {
    let (version, schema, value) = match Header::split(bytes) {
        Ok((Some(h), value)) => (h.version, Some(h.schema), value),
        Ok((None, value)) => (1, None, value),
        Err(()) => return Err(VersionError::Codec(WireError::Invalid)),
    };
    decode_at::<T, _>(version, schema, PostcardIn(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_records::frame::MARKER;
    use aimdb_records::NodeCommand;

    #[test]
    fn postcard_round_trips_and_rejects_trailing_bytes() {
        let mut buf = [0u8; 16];
        let bytes = to_postcard(&NodeCommand::SetSamplePeriod { ms: 5000 }, &mut buf).unwrap();
        assert_eq!(bytes, &[0x00, 0x88, 0x27]);
        let cmd: NodeCommand = from_postcard(&[0x00, 0x88, 0x27]).unwrap();
        assert_eq!(cmd, NodeCommand::SetSamplePeriod { ms: 5000 });
        assert_eq!(
            from_postcard::<NodeCommand>(&[0x02, 0x00]),
            Err(WireError::TrailingBytes(1))
        );
        assert_eq!(
            from_postcard::<NodeCommand>(&[0x09]),
            Err(WireError::Invalid)
        );
        assert_eq!(from_postcard::<NodeCommand>(&[]), Err(WireError::Invalid));
        assert_eq!(
            to_postcard(&NodeCommand::SetSamplePeriod { ms: 5000 }, &mut [0u8; 2]),
            Err(WireError::BufferFull)
        );
    }

    #[test]
    fn frames_carry_version_and_schema() {
        let cmd = NodeCommand::SetSamplePeriod { ms: 5000 };
        let schema = NodeCommand::SCHEMA_ID.short().to_le_bytes();
        let mut buf = [0u8; 16];
        let frame = to_postcard_frame(&cmd, &mut buf).unwrap();
        assert_eq!(frame[..3], [MARKER, 1, 0]);
        assert_eq!(frame[3..7], schema);
        assert_eq!(frame[7..], [0x00, 0x88, 0x27]);
        let frame = frame.to_vec();
        assert_eq!(from_postcard_frame::<NodeCommand>(&frame).unwrap(), cmd);
        assert_eq!(
            from_postcard_frame::<NodeCommand>(&frame[7..]).unwrap(),
            cmd
        );

        let mut v2 = frame.clone();
        v2[1] = 2;
        assert!(matches!(
            from_postcard_frame::<NodeCommand>(&v2),
            Err(VersionError::Unknown {
                version: 2,
                newest: 1
            })
        ));
        let mut foreign = frame.clone();
        foreign[3] ^= 1;
        assert!(matches!(
            from_postcard_frame::<NodeCommand>(&foreign),
            Err(VersionError::SchemaMismatch { version: 1, .. })
        ));
        for cut in 1..HEADER_LEN {
            assert!(matches!(
                from_postcard_frame::<NodeCommand>(&frame[..cut]),
                Err(VersionError::Codec(WireError::Invalid))
            ));
        }
        assert!(matches!(
            to_postcard_frame(&cmd, &mut [0u8; 6]),
            Err(VersionError::Codec(WireError::BufferFull))
        ));
        assert!(matches!(
            to_postcard_frame(&cmd, &mut [0u8; 9]),
            Err(VersionError::Codec(WireError::BufferFull))
        ));
        assert!(matches!(
            to_postcard_frame_at(&cmd, 2, &mut buf),
            Err(VersionError::Unknown { version: 2, .. })
        ));
    }
}
