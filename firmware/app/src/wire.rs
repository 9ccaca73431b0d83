//! The node's wire codecs, `no_std` and heap-free: postcard into a caller's slice
//! (`postcard::to_slice`) and JSON with `serde-json-core`.
//!
//! They produce and accept exactly the bytes of the daemon's `aimdb_records::Codec` (postcard and
//! JSON): the wire-compatibility test (`firmware/host/tests/wire_compat.rs`) checks both
//! directions for every record type against the golden vectors in
//! `crates/records/tests/golden/`. Decoding is as strict as the daemon's: trailing bytes are an
//! error, and nothing panics on hostile input.

use core::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;
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
}
