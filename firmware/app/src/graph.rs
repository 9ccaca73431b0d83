//! The node's record graph: sources, the local threshold transform, the command mailbox and its
//! tap, the MQTT links of every record, and the schema announcement of what those links speak.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use aimdb_core::{AimDb, AimDbBuilder, BufferCfg, BuildError, CodecError, Runtime, RuntimeContext};
use aimdb_records::announce;
use aimdb_records::keys::{AlertKey, NodeKey, SensorKey};
use aimdb_records::topic::{command_topic, record_topic};
use aimdb_records::transforms::Threshold;
use aimdb_records::version::{VersionError, Versioned};
use aimdb_records::{Heartbeat, Humidity, NodeCommand, RecordType, Temperature, TemperatureAlert};

use crate::config::{ConfigError, NodeConfig};
use crate::control::{command_tap, Control, PeriodWatcher};
use crate::drivers::{HumiditySensor, SensorError, StatusLed, TemperatureSensor};
use crate::mqtt::{mqtt_url, MqttConnector};
use crate::stats::NodeStats;
use crate::wire;

/// Largest postcard frame a record of this node encodes to (a `TemperatureAlert` with a 32-byte
/// id is 53 bytes, 60 with the frame header).
const MAX_FRAME: usize = 96;

/// The drivers the graph's tasks own.
pub(crate) struct Drivers<T, H, L> {
    pub(crate) temperature: T,
    pub(crate) humidity: H,
    pub(crate) led: L,
}

/// Everything the graph shares with the rest of the node.
pub(crate) struct Shared {
    pub(crate) control: Arc<Control>,
    pub(crate) stats: Arc<NodeStats>,
}

/// Why the graph could not be built.
#[derive(Debug)]
pub(crate) enum GraphBuildError {
    Config(ConfigError),
    Build(BuildError),
}

/// The built graph, and the node's schema announcement (`aimdb_records::announce`): one line for
/// every record type the graph links over MQTT.
pub(crate) struct Graph<R: Runtime> {
    pub(crate) db: AimDb<R>,
    pub(crate) announcement: String,
}

/// Builds the node's graph on `rt`, with `connector` carrying its MQTT links.
pub(crate) fn build<R, T, H, L>(
    rt: R,
    cfg: &NodeConfig,
    drivers: Drivers<T, H, L>,
    shared: &Shared,
    connector: MqttConnector<R>,
) -> Result<Graph<R>, GraphBuildError>
where
    R: Runtime,
    T: TemperatureSensor,
    H: HumiditySensor,
    L: StatusLed,
{
    let threshold =
        Threshold::new(cfg.alert).map_err(|e| GraphBuildError::Config(ConfigError::Alert(e)))?;
    let node = cfg.node_id.as_str();
    let ring = BufferCfg::SpmcRing {
        capacity: cfg.ring_capacity,
    };
    let mut b = AimDbBuilder::new().runtime(rt);
    b.connector(connector);
    let mut announcement = String::new();

    let (sensor_id, control, stats) = (
        cfg.sensor_id.clone(),
        shared.control.clone(),
        shared.stats.clone(),
    );
    let mut sensor = drivers.temperature;
    announce_type::<Temperature>(&mut announcement);
    b.configure::<Temperature>(SensorKey::TempIndoor, |r| {
        r.buffer(ring)
            .codec(postcard_encoder(), postcard_decoder())
            .source(move |ctx, p| async move {
                let mut period = PeriodWatcher::new(&control);
                loop {
                    match sensor.read_celsius().await {
                        Ok(celsius) => p.produce(Temperature {
                            sensor_id: sensor_id.clone(),
                            celsius,
                            timestamp_ms: ctx.time().timestamp_ms(),
                        }),
                        Err(e) => sensor_failed(&ctx, &stats, e),
                    }
                    period.wait(&ctx).await;
                }
            })
            .link_to(&mqtt_url(&record_topic(node, &SensorKey::TempIndoor)));
    });

    let (sensor_id, control, stats) = (
        cfg.sensor_id.clone(),
        shared.control.clone(),
        shared.stats.clone(),
    );
    let mut sensor = drivers.humidity;
    announce_type::<Humidity>(&mut announcement);
    b.configure::<Humidity>(SensorKey::HumidityIndoor, |r| {
        r.buffer(ring)
            .codec(postcard_encoder(), postcard_decoder())
            .source(move |ctx, p| async move {
                let mut period = PeriodWatcher::new(&control);
                loop {
                    match sensor.read_percent().await {
                        Ok(percent) => p.produce(Humidity {
                            sensor_id: sensor_id.clone(),
                            percent,
                            timestamp_ms: ctx.time().timestamp_ms(),
                        }),
                        Err(e) => sensor_failed(&ctx, &stats, e),
                    }
                    period.wait(&ctx).await;
                }
            })
            .link_to(&mqtt_url(&record_topic(node, &SensorKey::HumidityIndoor)));
    });

    announce_type::<TemperatureAlert>(&mut announcement);
    b.configure::<TemperatureAlert>(AlertKey::TempIndoor, |r| {
        r.buffer(BufferCfg::SingleLatest)
            .codec(postcard_encoder(), postcard_decoder())
            .transform::<Temperature, _>(SensorKey::TempIndoor, |t| {
                t.stateful(threshold, |th, reading| th.apply(reading))
            })
            .link_to(&mqtt_url(&record_topic(node, &AlertKey::TempIndoor)));
    });

    let (node_id, period) = (
        cfg.node_id.clone(),
        Duration::from_millis(u64::from(cfg.heartbeat_period_ms)),
    );
    announce_type::<Heartbeat>(&mut announcement);
    b.configure::<Heartbeat>(NodeKey::Heartbeat, |r| {
        r.buffer(BufferCfg::SingleLatest)
            .codec(postcard_encoder(), postcard_decoder())
            .source(move |ctx, p| async move {
                let mut seq = 0u32;
                loop {
                    let uptime_s =
                        u32::try_from(ctx.runtime().uptime().as_secs()).unwrap_or(u32::MAX);
                    p.produce(Heartbeat {
                        node_id: node_id.clone(),
                        uptime_s,
                        seq,
                    });
                    seq = seq.wrapping_add(1);
                    ctx.time().sleep(period).await;
                }
            })
            .link_to(&mqtt_url(&record_topic(node, &NodeKey::Heartbeat)));
    });

    let (control, stats, led) = (shared.control.clone(), shared.stats.clone(), drivers.led);
    announce_type::<NodeCommand>(&mut announcement);
    b.configure::<NodeCommand>(NodeKey::Command, |r| {
        r.buffer(BufferCfg::Mailbox)
            .codec(postcard_encoder(), postcard_decoder())
            .link_from(&mqtt_url(&command_topic(node, &NodeKey::Command)))
            .tap_named("command", move |ctx, c| {
                command_tap(ctx, c, control, stats, led)
            });
    });

    let db = b.build().map_err(GraphBuildError::Build)?;
    Ok(Graph { db, announcement })
}

/// Adds `T`'s line to the announcement; call it for each type the graph links over MQTT.
#[inline(never)] // once per type, at start: not worth inlining into the graph's build
fn announce_type<T: RecordType>(text: &mut String) {
    // Writing into a `String` cannot fail.
    let _ = announce::write_type::<T, _>(text);
}

fn sensor_failed<R: Runtime>(ctx: &RuntimeContext<R>, stats: &NodeStats, e: SensorError) {
    NodeStats::bump(&stats.sensor_errors);
    ctx.log().warn(format_args!("sensor read failed: {e:?}"));
}

/// Encodes each value as a frame at `T`'s current version (`wire::to_postcard_frame`).
fn postcard_encoder<T: Versioned + Send + Sync>() -> aimdb_core::Encoder<T> {
    Arc::new(|value: &T, buf: &mut Vec<u8>| {
        buf.resize(MAX_FRAME, 0);
        let len = wire::to_postcard_frame(value, buf)
            .map(|b| b.len())
            .map_err(|e| codec_error(e, CodecError::Unrepresentable))?;
        buf.truncate(len);
        Ok(())
    })
}

/// Decodes a frame of any version of `T`'s chain, or an unframed version 1 payload
/// (`wire::from_postcard_frame`); see [`codec_error`] for what a refusal says.
fn postcard_decoder<T: Versioned + Send + Sync>() -> aimdb_core::Decoder<T> {
    Arc::new(|bytes: &[u8]| {
        wire::from_postcard_frame(bytes).map_err(|e| codec_error(e, CodecError::Malformed))
    })
}

/// A codec error by kind: [`CodecError::Refused`] with the reason for a well-formed frame of a
/// version or schema this node does not know (the session counts and logs these as refused
/// commands), `failed` (malformed when decoding, unrepresentable when encoding) with the
/// postcard codec's message otherwise. Spelled out here rather than with `VersionError`'s
/// `Display`, which costs more flash.
fn codec_error(e: wire::FrameError, failed: fn(String) -> CodecError) -> CodecError {
    match e {
        VersionError::Codec(e) => failed(alloc::format!("{e}")),
        VersionError::Unknown { version, newest } => CodecError::Refused {
            version,
            reason: alloc::format!(
                "version {version} unknown (this node knows up to {newest}){}",
                if version > newest {
                    ": upgrade the node"
                } else {
                    ""
                }
            ),
        },
        VersionError::SchemaMismatch {
            version,
            ours,
            theirs,
        } => CodecError::Refused {
            version,
            reason: alloc::format!(
                "schema {theirs:08x} of version {version} is not this node's {ours:08x}"
            ),
        },
        VersionError::Unrepresentable(u) => {
            CodecError::Unrepresentable(alloc::format!("no form in version {}", u.version))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_records::frame::Header;

    fn frame(version: u16, schema: u32, value: &[u8]) -> Vec<u8> {
        let mut f = Header { version, schema }.to_bytes().to_vec();
        f.extend_from_slice(value);
        f
    }

    #[test]
    fn decoder_refuses_unknown_versions_and_schemas_apart_from_garbage() {
        let decode = postcard_decoder::<NodeCommand>();
        let ours = NodeCommand::SCHEMA_ID.short();
        let identify = [0x03];
        assert_eq!(decode(&identify), Ok(NodeCommand::Identify));
        assert_eq!(
            decode(&frame(1, ours, &identify)),
            Ok(NodeCommand::Identify)
        );
        assert_eq!(
            decode(&frame(2, ours, &identify)),
            Err(CodecError::Refused {
                version: 2,
                reason: "version 2 unknown (this node knows up to 1): upgrade the node".into()
            })
        );
        let Err(CodecError::Refused {
            version: 1,
            reason: foreign,
        }) = decode(&frame(1, ours ^ 1, &identify))
        else {
            panic!("a foreign schema must be refused")
        };
        assert!(foreign.contains(&alloc::format!("{ours:08x}")), "{foreign}");
        let Err(CodecError::Refused { version: 0, .. }) = decode(&frame(0, ours, &identify)) else {
            panic!("version 0 must be refused")
        };
        for garbage in [&[0x09][..], &[0xA1, 1, 0], &frame(1, ours, &[0x09])] {
            let Err(CodecError::Malformed(e)) = decode(garbage) else {
                panic!("{garbage:?} must fail as malformed")
            };
            assert!(!e.is_empty(), "{garbage:?}: the codec's message");
        }
    }

    #[test]
    fn encoder_writes_frames_at_the_current_version() {
        let encode = postcard_encoder::<NodeCommand>();
        let mut buf = Vec::new();
        encode(&NodeCommand::Identify, &mut buf).unwrap();
        assert_eq!(buf, frame(1, NodeCommand::SCHEMA_ID.short(), &[0x03]));
    }
}
