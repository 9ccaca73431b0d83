//! The record-type registry: every type of `aimdb-records` (listed once, by
//! `for_each_record_type!`) plus `"json"` (an untyped `serde_json::Value`, for bridging plain
//! JSON services). Each entry holds what is known of its type without running a graph: its
//! name, versions and schema, its fields, how its wire payloads read as JSON. Config validation
//! resolves `type = "..."` to an entry here; what a running graph does with a type (add a
//! record, read and write its values as JSON) is `engine::typed`, in the same order.
//!
//! A leaf: of the daemon's modules it uses only `fields`.

use std::fmt::Debug;

use aimdb_records::frame::{self, FrameError};
use aimdb_records::types::*;
use aimdb_records::version::{negotiate, VersionError};
use aimdb_records::{announce, for_each_record_type, Codec, RecordType};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// [`TypeEntry::negotiate`]: a peer's `(version, short schema id)` pairs (`None`: it announced
/// nothing) → the version to speak with it (`None`: none in common).
pub(crate) type Negotiate = fn(Option<&[(u16, u32)]>) -> Option<u16>;

/// One record type the daemon knows.
pub(crate) struct TypeEntry {
    /// Its config name (`type = "..."`).
    pub(crate) name: &'static str,
    /// Whether links of this type may use the postcard codec.
    pub(crate) postcard: bool,
    /// Its current version (`0` for `json`, which is not versioned).
    pub(crate) version: u16,
    /// The version to speak with a peer that announced these `(version, short schema id)`
    /// pairs (`None`: announced nothing); `None` if they share none.
    pub(crate) negotiate: Negotiate,
    /// Appends its line of a schema announcement (nothing for `json`).
    pub(crate) announce: fn(&mut String),
    /// The Rust type's name.
    pub(crate) rust_name: fn() -> &'static str,
    /// The fields of its values (empty for `json`, whose objects may have any).
    pub(crate) fields: fn() -> &'static [&'static str],
    /// The compile-time schema of its values (`None` for `json`): the datatypes of its
    /// Sparkplug metrics.
    pub(crate) schema: fn() -> Option<&'static postcard_schema::schema::NamedType>,
    /// Decodes a wire payload of any version this build knows into the JSON of its value
    /// (the Sparkplug session reads node records from its own subscription).
    pub(crate) decode_json: fn(Codec, &[u8]) -> Result<Value, String>,
    /// Its place in [`TYPES`]: the runtime's table of per-type operations
    /// (`engine::typed`) is in the same order.
    pub(crate) index: usize,
}

/// A value's size in memory, as counted against `[store] queue_max_bytes`: its own size, plus
/// what it owns on the heap where that can be large (JSON values). Record types of
/// `aimdb-records` are fixed-size (`heapless`), so the default is exact for them.
pub trait Weigh {
    /// Bytes this value holds.
    fn weight(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

impl Weigh for Value {
    fn weight(&self) -> usize {
        // Per entry: the value itself, plus a map node's key and bookkeeping (an estimate).
        const MAP_ENTRY: usize = 32;
        std::mem::size_of::<Value>()
            + match self {
                Value::String(s) => s.capacity(),
                Value::Array(a) => a.iter().map(Weigh::weight).sum(),
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| k.capacity() + MAP_ENTRY + v.weight())
                    .sum(),
                _ => 0,
            }
    }
}

/// What a record value must be.
pub(crate) trait Storable:
    Serialize + DeserializeOwned + Weigh + Wire + Clone + Send + Sync + Debug + 'static
{
}
impl<T: Serialize + DeserializeOwned + Weigh + Wire + Clone + Send + Sync + Debug + 'static>
    Storable for T
{
}

/// Why a payload was not decoded.
pub(crate) enum WireError {
    /// Its version is unknown here (or its schema id differs): counted per record and version.
    Version {
        /// The payload's version.
        version: u16,
        /// What was wrong.
        detail: String,
    },
    /// It is not a valid encoding.
    Codec(String),
}

/// How values of a type travel over a wire codec: versioned frames for the record types
/// (`aimdb_records::frame`), the plain codec for `json`.
pub(crate) trait Wire: JsonForm {
    /// The type's config name (`type = "..."`).
    const TYPE_NAME: &'static str;
    /// The type's current version, `0` when not versioned.
    const VERSION: u16;
    /// See [`TypeEntry::negotiate`].
    fn negotiate(peer: Option<&[(u16, u32)]>) -> Option<u16>;
    /// See [`TypeEntry::announce`].
    fn announce(out: &mut String);
    /// Appends `self` at `version` with `codec`; on error `out` is unchanged.
    fn encode_at(&self, codec: Codec, version: u16, out: &mut Vec<u8>) -> Result<(), String>;
    /// Decodes a payload of any version this build knows.
    fn decode_any(codec: Codec, bytes: &[u8]) -> Result<Self, WireError>;
    /// See [`TypeEntry::schema`].
    fn schema() -> Option<&'static postcard_schema::schema::NamedType>;
}

/// How a value is written to and read from JSON outside a wire link: history rows, the admin
/// API. The defaults are plain serde; the record types read any version they know (`"v"`,
/// absent = 1) and write `"v"` above version 1, so values stored or scripted against an older
/// build still read after an upgrade.
pub trait JsonForm: Serialize + DeserializeOwned {
    /// A JSON value of any version this build knows.
    fn from_json(value: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }
    /// Appends the JSON of the current version.
    fn to_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(out, self)
    }
}

fn json_error(e: FrameError) -> serde_json::Error {
    match e {
        VersionError::Codec(aimdb_records::CodecError::Json(e)) => e,
        other => <serde_json::Error as serde::de::Error>::custom(other),
    }
}

fn wire_error(e: FrameError) -> WireError {
    match e {
        VersionError::Unknown { version, .. } | VersionError::SchemaMismatch { version, .. } => {
            WireError::Version {
                version,
                detail: e.to_string(),
            }
        }
        VersionError::Codec(c) => WireError::Codec(c.to_string()),
        VersionError::Unrepresentable(u) => WireError::Codec(u.to_string()),
    }
}

macro_rules! versioned_wire {
    ($($t:ident),*) => {
        $(
            impl Weigh for $t {}
            impl Wire for $t {
                const TYPE_NAME: &'static str = <$t as RecordType>::NAME;
                const VERSION: u16 = <$t as aimdb_records::Versioned>::VERSION;
                fn negotiate(peer: Option<&[(u16, u32)]>) -> Option<u16> {
                    negotiate::<$t>(peer)
                }
                fn announce(out: &mut String) {
                    let _ = announce::write_type::<$t, _>(out);
                }
                fn encode_at(&self, codec: Codec, version: u16, out: &mut Vec<u8>) -> Result<(), String> {
                    match codec {
                        Codec::Postcard => frame::encode_postcard(self, version, out),
                        Codec::Json => frame::encode_json(self, version, out),
                    }
                    .map_err(|e| e.to_string())
                }
                fn decode_any(codec: Codec, bytes: &[u8]) -> Result<Self, WireError> {
                    match codec {
                        Codec::Postcard => frame::decode_postcard(bytes),
                        Codec::Json => frame::decode_json(bytes),
                    }
                    .map_err(wire_error)
                }
                fn schema() -> Option<&'static postcard_schema::schema::NamedType> {
                    Some(<$t as postcard_schema::Schema>::SCHEMA)
                }
            }
            impl JsonForm for $t {
                fn from_json(mut value: Value) -> Result<Self, serde_json::Error> {
                    frame::decode_json_value(&mut value).map_err(json_error)
                }
                fn to_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
                    frame::encode_json(self, <Self as Wire>::VERSION, out).map_err(json_error)
                }
            }
        )*
    };
}
for_each_record_type!(versioned_wire);

impl Wire for Value {
    const TYPE_NAME: &'static str = "json";
    const VERSION: u16 = 0;
    fn negotiate(_: Option<&[(u16, u32)]>) -> Option<u16> {
        Some(0)
    }
    fn announce(_: &mut String) {}
    fn encode_at(&self, codec: Codec, _: u16, out: &mut Vec<u8>) -> Result<(), String> {
        codec.encode(self, out).map_err(|e| e.to_string())
    }
    fn decode_any(codec: Codec, bytes: &[u8]) -> Result<Self, WireError> {
        codec
            .decode(bytes)
            .map_err(|e| WireError::Codec(e.to_string()))
    }
    fn schema() -> Option<&'static postcard_schema::schema::NamedType> {
        None
    }
}

impl JsonForm for Value {}

impl TypeEntry {
    const fn of<T: Storable>(name: &'static str, postcard: bool) -> Self {
        Self {
            name,
            postcard,
            version: T::VERSION,
            negotiate: T::negotiate,
            announce: T::announce,
            rust_name: std::any::type_name::<T>,
            fields: crate::fields::field_names::<T>,
            schema: T::schema,
            decode_json: decode_json::<T>,
            index: 0,
        }
    }
}

impl Debug for TypeEntry {
    /// Its config name: a record's `Debug` (a part's fingerprint) shows the type it was given.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for TypeEntry {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl Eq for TypeEntry {}

/// How many record types there are: those of `aimdb-records`, and `json`.
pub(crate) const COUNT: usize = aimdb_records::RECORD_TYPE_NAMES.len() + 1;

macro_rules! type_table {
    ($($t:ident),*) => {
        [
            $(TypeEntry::of::<$t>(<$t as RecordType>::NAME, true),)*
            TypeEntry::of::<Value>("json", false),
        ]
    };
}

/// Sets each entry's [`TypeEntry::index`] to its place.
const fn numbered(mut types: [TypeEntry; COUNT]) -> [TypeEntry; COUNT] {
    let mut i = 0;
    while i < COUNT {
        types[i].index = i;
        i += 1;
    }
    types
}

/// Every record type, in `for_each_record_type!` order, then `json`.
pub(crate) static TYPES: [TypeEntry; COUNT] = numbered(for_each_record_type!(type_table));

/// The entry named `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static TypeEntry> {
    TYPES.iter().find(|t| t.name == name)
}

/// The entry of Rust type `T`.
pub(crate) fn of<T: 'static>() -> Option<&'static TypeEntry> {
    let rust_name = std::any::type_name::<T>();
    TYPES.iter().find(|e| (e.rust_name)() == rust_name)
}

fn decode_json<T: Storable>(codec: Codec, bytes: &[u8]) -> Result<Value, String> {
    let v = T::decode_any(codec, bytes).map_err(|e| match e {
        WireError::Version { detail, .. } => detail,
        WireError::Codec(e) => e,
    })?;
    serde_json::to_value(&v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_type_once_plus_json() {
        let names: Vec<_> = TYPES.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), aimdb_records::RECORD_TYPE_NAMES.len() + 1);
        assert_eq!(names.last(), Some(&"json"));
        for (i, n) in names.iter().enumerate() {
            assert!(!names[i + 1..].contains(n), "{n} twice");
        }
    }
}
