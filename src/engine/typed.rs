//! What a running graph does with each record type: add a record of it to a builder (its
//! writer, taps, persist tap and links with their codecs), and read and write its values as
//! JSON (the admin API, Sparkplug, restored history, a reload's carried values).
//!
//! [`OPS`] holds one [`TypeOps`] per [`TypeEntry`], in the order of
//! [`record_types::TYPES`]; [`ops`] finds an entry's by its index,
//! so a type resolved at config time needs no second lookup by name.

use std::sync::Arc;

use aimdb_core::{
    AccessError, AimDb, AimDbBuilder, CodecError, Consumer, DbHandle, Decoder, Encoder, RecvError,
    TopicDecoder,
};
use aimdb_records::for_each_record_type;
use aimdb_records::types::*;
use parking_lot::Mutex;
use serde_json::Value;

use crate::components::{AttachError, Env, TapEvent, TapFeed};
use crate::config::{LinkCodec, RecordConfig, Writer};
use crate::mqtt::schemas::schemas;
use crate::record_types::{self, Storable, TypeEntry, WireError, COUNT};
use crate::store::Persist;
use crate::Rt;

/// The operations on one record type that need a graph.
pub(crate) struct TypeOps {
    /// The Rust type's name (to check the table's order).
    #[cfg(test)]
    rust_name: fn() -> &'static str,
    /// Adds a record of this type to a builder, with its persist tap when `store` is given;
    /// problems starting components are pushed.
    pub(crate) configure:
        fn(&mut AimDbBuilder<Rt>, &RecordConfig, &Env, Option<&Persist>, &mut Vec<Unattached>),
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

impl TypeOps {
    const fn of<T: Storable>() -> Self {
        Self {
            #[cfg(test)]
            rust_name: std::any::type_name::<T>,
            configure: configure::<T>,
            latest_json: latest_json::<T>,
            subscribe_json: subscribe_json::<T>,
            set_json: set_json::<T>,
            seed_json: seed_json::<T>,
            carry_latest: carry_latest::<T>,
        }
    }
}

macro_rules! ops_table {
    ($($t:ident),*) => {
        [$(TypeOps::of::<$t>(),)* TypeOps::of::<Value>()]
    };
}

/// Every type's operations, in the order of `record_types::TYPES`.
static OPS: [TypeOps; COUNT] = for_each_record_type!(ops_table);

/// The operations of `entry`'s type.
pub(crate) fn ops(entry: &TypeEntry) -> &'static TypeOps {
    // `entry.index < COUNT`: `record_types::numbered` sets it to its place in an array of COUNT.
    &OPS[entry.index]
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

/// A record whose writer could not be attached, and why.
pub(crate) type Unattached = (String, AttachError);

fn configure<T: Storable>(
    builder: &mut AimDbBuilder<Rt>,
    rec: &RecordConfig,
    env: &Env,
    store: Option<&Persist>,
    problems: &mut Vec<Unattached>,
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
            problems.push((rec.key.clone(), e));
        }
        for tap in &rec.taps {
            let inst = tap.instance.clone();
            reg.tap_named(&inst.describe(), move |ctx, c| inst.run(ctx, feed::<T>(c)));
        }
        if let (true, Some(store)) = (rec.persist, store) {
            reg.tap_named("store", store.tap::<T>(rec));
        }
        // Each link carries its checked options (topic, QoS, retain, codec, outbox policy) to
        // the MQTT connector, which reads them as a `LinkConfig`.
        for l in &rec.links_to {
            let peer = peer_node(&l.topic, &env.node_id);
            reg.link_to_configured(&l.url, encoder::<T>(l.codec, peer), Arc::new(l.clone()));
        }
        for l in &rec.links_from {
            let from = Source::new::<T>(&rec.key);
            let decode: TopicDecoder<T> = match &l.node_into {
                None => {
                    let decode = decoder::<T>(l.codec, from);
                    Arc::new(move |_, payload: &[u8]| decode(payload))
                }
                Some(field) => node_decoder::<T>(l.codec, field, from),
            };
            reg.link_from_configured(&l.url, decode, Arc::new(l.clone()));
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

/// The node a link's topic (expanded at config time) addresses (`aimdb/<node>/...`), unless
/// it is this gateway's own: values to it are sent in the version that node speaks.
fn peer_node(topic: &str, own: &str) -> Option<String> {
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
        let entry = record_types::of::<T>()?;
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

/// Parts built but not yet started, as `engine::restore` reads and seeds them: records by their
/// config, values as JSON.
pub(crate) struct Unstarted<'a> {
    dbs: Vec<(&'a AimDb<Rt>, DbHandle<Rt>)>,
}

impl<'a> Unstarted<'a> {
    /// The graph of `dbs`.
    pub(crate) fn new(dbs: &[&'a AimDb<Rt>]) -> Self {
        Self {
            dbs: dbs.iter().map(|db| (*db, db.handle())).collect(),
        }
    }

    fn of(&self, key: &str) -> Option<&(&'a AimDb<Rt>, DbHandle<Rt>)> {
        self.dbs.iter().find(|(_, h)| h.stats(key).is_some())
    }
}

impl Unstarted<'_> {
    /// Whether `rec` is one of these parts' records (those of parts that already run are not).
    pub(crate) fn holds(&self, rec: &RecordConfig) -> bool {
        self.of(&rec.key).is_some()
    }

    /// The newest value in `rec`, as JSON (`None`: none, or `rec` is not held).
    pub(crate) fn latest(&self, rec: &RecordConfig) -> Option<Value> {
        let (_, handle) = self.of(&rec.key)?;
        (ops(rec.ty).latest_json)(handle, &rec.key).ok().flatten()
    }

    /// Seeds `rec` with `value`; why not (not a value of its type, not held).
    pub(crate) fn seed(&self, rec: &RecordConfig, value: Value) -> Result<(), String> {
        let (db, _) = self
            .of(&rec.key)
            .ok_or_else(|| format!("no record {:?} in the parts being started", rec.key))?;
        (ops(rec.ty).seed_json)(db, &rec.key, value).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_records::{frame, Codec, Versioned};

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
    fn ops_are_in_the_order_of_the_types() {
        for (entry, ops) in record_types::TYPES.iter().zip(OPS.iter()) {
            assert_eq!((entry.rust_name)(), (ops.rust_name)(), "{}", entry.name);
        }
    }
}
