//! Record value types: what a record holds, in which units.
//!
//! Every type derives `Serialize, Deserialize, Clone, Debug, PartialEq` and implements
//! [`RecordType`](crate::RecordType). Field order, field types and enum variant order are the
//! postcard wire format: append new enum variants at the end, never reorder or retype fields
//! (the golden tests in `tests/golden.rs` fail on any such change).
//!
//! Identifiers are [`Id`] (`heapless::String<32>`), so values clone without touching the heap on
//! the MCU.

mod alert;
mod climate;
mod finite;
mod node;

pub use alert::{AlertLevel, TemperatureAlert};
pub use climate::{DewPoint, Humidity, Temperature};
pub use node::{Heartbeat, NodeCommand, NodeStatus};

/// Maximum length of an [`Id`] in bytes.
pub const ID_CAPACITY: usize = 32;

/// A sensor or node identifier: at most [`ID_CAPACITY`] bytes of UTF-8, stored inline.
///
/// On the wire it is a plain string (postcard: varint length + bytes; JSON: a string). Decoding
/// a longer string fails with a codec error rather than truncating.
pub type Id = heapless::String<ID_CAPACITY>;

/// An [`Id`] from a string slice, or [`IdTooLong`] if `s` exceeds [`ID_CAPACITY`] bytes.
///
/// ```
/// let id = aimdb_records::id("indoor-1").unwrap();
/// assert_eq!(id.as_str(), "indoor-1");
/// assert!(aimdb_records::id(&"x".repeat(33)).is_err());
/// ```
pub fn id(s: &str) -> Result<Id, IdTooLong> {
    Id::try_from(s).map_err(|_| IdTooLong { len: s.len() })
}

/// An identifier longer than [`ID_CAPACITY`] bytes was given to [`id`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdTooLong {
    /// Length in bytes of the rejected string.
    pub len: usize,
}

impl core::fmt::Display for IdTooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "identifier is {} bytes long; at most {ID_CAPACITY} are allowed",
            self.len
        )
    }
}

impl core::error::Error for IdTooLong {}
