//! The record-type registry: every type of `aimdb-records` (listed once, by
//! `for_each_record_type!`) plus `"json"` (an untyped `serde_json::Value`, for bridging plain
//! JSON services). Each entry knows how to add a record of its type to the engine's builder and
//! how to read and write its values as JSON for the admin endpoint.

use std::fmt::Debug;
use std::sync::Arc;

use aimdb_core::{
    AccessError, AimDb, AimDbBuilder, CodecError, Consumer, DbHandle, Decoder, Encoder, RecvError,
    TopicDecoder,
};
use aimdb_records::frame::{self, FrameError};
use aimdb_records::types::*;
use aimdb_records::version::{negotiate, VersionError};
use aimdb_records::{announce, for_each_record_type, Codec, RecordType};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::components::{Env, TapEvent, TapFeed};
use crate::config::{LinkCodec, RecordConfig, Writer};
use crate::mqtt::schemas::schemas;
use crate::store::Weigh;
use crate::Rt;

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
    /// Adds a record of this type to a builder; problems starting components are pushed.
    pub(crate) configure: fn(&mut AimDbBuilder<Rt>, &RecordConfig, &Env, &mut Vec<String>),
    /// A new reader of the running record, as JSON values (a ring reader for `spmc_ring`: it
    /// never slows the writer; a slow reader is told how many values it missed).
    pub(crate) subscribe_json: fn(&DbHandle<Rt>, &str) -> Result<TapFeed, AccessError>,
    /// The record's newest value as JSON.
    pub(crate) latest_json: fn(&DbHandle<Rt>, &str) -> Result<Option<Value>, String>,
    /// Writes a value given as JSON into the running record, under the writer rule (only a
    /// record with no writer in the graph takes it).
    pub(crate) set_json: fn(&DbHandle<Rt>, &str, Value) -> Result<(), SetJsonError>,
    /// Seeds a built, not yet running graph's record with a value given as JSON, whatever
    /// writes it (values restored from history).
    pub(crate) seed_json: fn(&AimDb<Rt>, &str, Value) -> Result<(), SetJsonError>,
    /// Copies the newest value of `key` from a running graph into a built, not yet running one
    /// (a reload); whether one was.
    pub(crate) carry_latest: fn(&DbHandle<Rt>, &AimDb<Rt>, &str) -> bool,
}

/// Why a JSON value was not written into a record.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetJsonError {
    /// The record cannot be written from outside (writer rule), or its key or type is wrong.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The JSON is not a value of the record's type.
    #[error("not a valid value: {0}")]
    Invalid(serde_json::Error),
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
            fields: crate::config::field_names::<T>,
            schema: T::schema,
            decode_json: decode_json::<T>,
            configure: configure::<T>,
            latest_json: latest_json::<T>,
            subscribe_json: subscribe_json::<T>,
            set_json: set_json::<T>,
            seed_json: seed_json::<T>,
            carry_latest: carry_latest::<T>,
        }
    }
}

macro_rules! type_table {
    ($($t:ident),*) => {
        &[
            $(&TypeEntry::of::<$t>(<$t as RecordType>::NAME, true),)*
            &TypeEntry::of::<Value>("json", false),
        ]
    };
}

/// Every record type, in `for_each_record_type!` order, then `json`.
pub(crate) static TYPES: &[&TypeEntry] = for_each_record_type!(type_table);

/// The entry named `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static TypeEntry> {
    TYPES.iter().copied().find(|t| t.name == name)
}

fn configure<T: Storable>(
    builder: &mut AimDbBuilder<Rt>,
    rec: &RecordConfig,
    env: &Env,
    problems: &mut Vec<String>,
) {
    builder.configure::<T>(rec.key.as_str(), |reg| {
        reg.buffer(rec.buffer);
        let attached = match &rec.writer {
            Some(Writer::Source(s)) => s.instance.attach(reg, env),
            Some(Writer::Transform(t)) => {
                let keys: Vec<String> = t.inputs.iter().map(|(_, k)| k.clone()).collect();
                t.instance.attach(reg, &keys)
            }
            None => Ok(()),
        };
        if let Err(e) = attached {
            problems.push(format!("record {:?}: {e}", rec.key));
        }
        for tap in &rec.taps {
            let inst = tap.instance.clone();
            reg.tap_named(&inst.describe(), move |ctx, c| inst.run(ctx, feed::<T>(c)));
        }
        if let (true, Some(store)) = (rec.persist, &env.store) {
            reg.tap_named("store", store.tap::<T>(rec));
        }
        for l in &rec.links_to {
            let peer = peer_node(&l.topic, &env.node_id);
            reg.link_to_with(&l.url, encoder::<T>(l.codec, peer));
        }
        for l in &rec.links_from {
            let from = Source::new::<T>(&rec.key);
            match &l.node_into {
                None => reg.link_from_with(&l.url, decoder::<T>(l.codec, from)),
                Some(field) => reg.link_from_topic(&l.url, node_decoder::<T>(l.codec, field, from)),
            };
        }
    });
}

fn feed<T: Storable>(mut consumer: Consumer<T, Rt>) -> TapFeed {
    TapFeed::new(Box::new(move |cx| {
        consumer.poll_recv(cx).map(|r| match r {
            Ok(v) => Some(TapEvent::Value(
                serde_json::to_value(&v).unwrap_or(Value::Null),
            )),
            Err(RecvError::Lagged(n)) => Some(TapEvent::Lagged(n)),
            Err(RecvError::Closed) => None,
        })
    }))
}

/// The node a link's topic addresses (`aimdb/<node>/...`), unless it is this gateway's own
/// or a template: values to it are sent in the version that node speaks.
fn peer_node(topic: &str, own: &str) -> Option<String> {
    if topic.contains('{') {
        return None;
    }
    let node = aimdb_records::topic::parse(topic)?.node();
    (node != own).then(|| node.to_string())
}

/// The version to send to a peer node, cached until the announcement table changes.
struct PeerVersion {
    node: String,
    entry: &'static TypeEntry,
    cached: Mutex<(u64, Option<u16>)>,
}

impl PeerVersion {
    fn new<T: Storable>(node: String) -> Option<Self> {
        let rust_name = std::any::type_name::<T>();
        let entry = TYPES
            .iter()
            .copied()
            .find(|e| (e.rust_name)() == rust_name)?;
        Some(Self {
            node,
            entry,
            cached: Mutex::new((u64::MAX, None)),
        })
    }

    fn get(&self) -> Option<u16> {
        let table = schemas();
        let generation = table.generation();
        let mut cached = self.cached.lock();
        if cached.0 != generation {
            *cached = (generation, table.version_for(&self.node, self.entry));
        }
        cached.1
    }
}

fn encoder<T: Storable>(codec: LinkCodec, peer: Option<String>) -> Encoder<T> {
    let peer = peer.and_then(PeerVersion::new::<T>);
    Arc::new(move |v: &T, out: &mut Vec<u8>| match codec {
        LinkCodec::Wire(c) => {
            let version = match &peer {
                None => T::VERSION,
                Some(p) => p.get().ok_or_else(|| {
                    CodecError::Unrepresentable(format!(
                        "node {:?} announced no version of {} that this gateway speaks",
                        p.node, p.entry.name
                    ))
                })?,
            };
            v.encode_at(c, version, out).map_err(|e| match &peer {
                Some(p) if version < T::VERSION => CodecError::Unrepresentable(format!(
                    "node {:?} speaks {} v{version}: {e}",
                    p.node, p.entry.name
                )),
                _ => CodecError::Unrepresentable(e),
            })
        }
        LinkCodec::Text => match serde_json::to_value(v) {
            Ok(Value::String(s)) => {
                out.extend_from_slice(s.as_bytes());
                Ok(())
            }
            Ok(other) => serde_json::to_writer(out, &other)
                .map_err(|e| CodecError::Unrepresentable(e.to_string())),
            Err(e) => Err(CodecError::Unrepresentable(e.to_string())),
        },
    })
}

/// The record a decoder feeds, for counting payloads refused for their version.
#[derive(Clone)]
struct Source {
    record: Arc<str>,
    type_name: &'static str,
}

impl Source {
    fn new<T: Storable>(record: &str) -> Self {
        Self {
            record: record.into(),
            type_name: T::TYPE_NAME,
        }
    }
}

/// Decodes a payload of a link. A payload refused for its version is
/// [`CodecError::Refused`]: the inbound router counts it as `reason="version"` and does not log
/// it again (the first of each record and version is logged here, by
/// [`NodeSchemas::refused`](crate::mqtt::schemas::NodeSchemas::refused)); anything else that
/// does not decode is [`CodecError::Malformed`].
fn decode<T: Storable>(codec: LinkCodec, bytes: &[u8], from: &Source) -> Result<T, CodecError> {
    match codec {
        LinkCodec::Wire(c) => T::decode_any(c, bytes).map_err(|e| match e {
            WireError::Version { version, detail } => {
                schemas().refused(&from.record, from.type_name, version, &detail);
                CodecError::Refused {
                    version,
                    reason: detail,
                }
            }
            WireError::Codec(e) => CodecError::Malformed(e),
        }),
        LinkCodec::Text => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| CodecError::Malformed(format!("text payload is not UTF-8: {e}")))?;
            serde_json::from_value(Value::String(text.to_string()))
                .map_err(|e| CodecError::Malformed(e.to_string()))
        }
    }
}

fn decoder<T: Storable>(codec: LinkCodec, from: Source) -> Decoder<T> {
    Arc::new(move |bytes: &[u8]| decode::<T>(codec, bytes, &from))
}

/// Decodes with `codec`, then sets string field `field` to the node of an `aimdb/<node>/...`
/// topic (other topics leave the value as decoded). Goes through JSON, so it costs more than a
/// plain decode; only links with `node_into` use it.
fn node_decoder<T: Storable>(codec: LinkCodec, field: &str, from: Source) -> TopicDecoder<T> {
    let field = field.to_string();
    Arc::new(move |topic: &str, bytes: &[u8]| {
        let value = decode::<T>(codec, bytes, &from)?;
        let Some(node) = aimdb_records::topic::parse(topic).map(|t| t.node()) else {
            return Ok(value);
        };
        let mut json =
            serde_json::to_value(&value).map_err(|e| CodecError::Malformed(e.to_string()))?;
        match json.as_object_mut().and_then(|o| o.get_mut(&field)) {
            Some(slot) => *slot = Value::String(node.to_string()),
            None => {
                return Err(CodecError::Malformed(format!(
                    "node_into: the value has no field {field:?}"
                )))
            }
        }
        serde_json::from_value(json).map_err(|e| {
            CodecError::Malformed(format!(
                "node_into: node id {node:?} does not fit field {field:?}: {e}"
            ))
        })
    })
}

fn decode_json<T: Storable>(codec: Codec, bytes: &[u8]) -> Result<Value, String> {
    let v = T::decode_any(codec, bytes).map_err(|e| match e {
        WireError::Version { detail, .. } => detail,
        WireError::Codec(e) => e,
    })?;
    serde_json::to_value(&v).map_err(|e| e.to_string())
}

fn subscribe_json<T: Storable>(h: &DbHandle<Rt>, key: &str) -> Result<TapFeed, AccessError> {
    h.consumer::<T>(key).map(feed::<T>)
}

fn latest_json<T: Storable>(h: &DbHandle<Rt>, key: &str) -> Result<Option<Value>, String> {
    let v = h.latest::<T>(key).map_err(|e| e.to_string())?;
    v.map(|v| serde_json::to_value(&v).map_err(|e| e.to_string()))
        .transpose()
}

fn set_json<T: Storable>(h: &DbHandle<Rt>, key: &str, value: Value) -> Result<(), SetJsonError> {
    // The writer rule first: a record that cannot be set says so whatever the value.
    let producer = h.producer::<T>(key)?;
    let v = T::from_json(value).map_err(SetJsonError::Invalid)?;
    producer.produce(v);
    Ok(())
}

fn seed_json<T: Storable>(db: &AimDb<Rt>, key: &str, value: Value) -> Result<(), SetJsonError> {
    let v = T::from_json(value).map_err(SetJsonError::Invalid)?;
    db.seed(key, v)?;
    Ok(())
}

fn carry_latest<T: Storable>(from: &DbHandle<Rt>, to: &AimDb<Rt>, key: &str) -> bool {
    match from.latest::<T>(key) {
        Ok(Some(v)) => to.seed(key, v).is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_records::Versioned;

    fn sample() -> Temperature {
        Temperature {
            sensor_id: aimdb_records::types::id("t1").unwrap(),
            celsius: 21.5,
            timestamp_ms: 1_000,
        }
    }

    #[test]
    fn a_link_decoder_says_refused_for_a_version_and_malformed_for_garbage() {
        let from = Source::new::<Temperature>("sensor.kinds");
        let postcard = LinkCodec::Wire(Codec::Postcard);
        let bare = Codec::Postcard.encode_to_vec(&sample()).unwrap();
        let mut v2 = frame::Header {
            version: 2,
            schema: 0,
        }
        .to_bytes()
        .to_vec();
        v2.extend_from_slice(&bare);
        let Err(CodecError::Refused { version, reason }) =
            decode::<Temperature>(postcard, &v2, &from)
        else {
            panic!("a v2 payload is refused for its version")
        };
        assert_eq!(version, 2);
        assert!(reason.starts_with("version 2 is unknown here"), "{reason}");
        assert_eq!(schemas().refused_count("sensor.kinds", 2), 1, "and counted");

        let mut foreign = frame::Header {
            version: 1,
            schema: Temperature::SCHEMA_ID.short() ^ 1,
        }
        .to_bytes()
        .to_vec();
        foreign.extend_from_slice(&bare);
        assert!(matches!(
            decode::<Temperature>(postcard, &foreign, &from),
            Err(CodecError::Refused { version: 1, .. })
        ));

        for garbage in [&[0xA1, 1][..], &[0x09], b"{}"] {
            assert!(
                matches!(
                    decode::<Temperature>(postcard, garbage, &from),
                    Err(CodecError::Malformed(_))
                ),
                "{garbage:?}"
            );
        }
        let json = LinkCodec::Wire(Codec::Json);
        let v9 = br#"{"v":9,"sensor_id":"t1","celsius":21.5,"timestamp_ms":1000}"#;
        assert!(matches!(
            decode::<Temperature>(json, v9, &from),
            Err(CodecError::Refused { version: 9, .. })
        ));
        assert!(matches!(
            decode::<Temperature>(json, b"{", &from),
            Err(CodecError::Malformed(_))
        ));
        assert_eq!(decode::<Temperature>(postcard, &bare, &from), Ok(sample()));
    }

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
