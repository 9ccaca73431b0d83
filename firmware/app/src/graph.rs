//! The node's record graph: sources, the local threshold transform, the command mailbox and its
//! tap, and the MQTT links of every record.

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use aimdb_core::{AimDb, AimDbBuilder, BufferCfg, BuildError, CodecError, Runtime, RuntimeContext};
use aimdb_records::keys::{AlertKey, NodeKey, SensorKey};
use aimdb_records::topic::{command_topic, record_topic};
use aimdb_records::transforms::Threshold;
use aimdb_records::{Heartbeat, Humidity, NodeCommand, Temperature, TemperatureAlert};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::{ConfigError, NodeConfig};
use crate::control::{command_tap, Control, PeriodWatcher};
use crate::drivers::{HumiditySensor, SensorError, StatusLed, TemperatureSensor};
use crate::mqtt::{mqtt_url, MqttConnector};
use crate::stats::NodeStats;
use crate::wire;

/// Largest postcard frame a record of this node encodes to (a `TemperatureAlert` with a 32-byte
/// id is 53 bytes).
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

/// Builds the node's graph on `rt`, with `connector` carrying its MQTT links.
pub(crate) fn build<R, T, H, L>(
    rt: R,
    cfg: &NodeConfig,
    drivers: Drivers<T, H, L>,
    shared: &Shared,
    connector: MqttConnector<R>,
) -> Result<AimDb<R>, GraphBuildError>
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

    let (sensor_id, control, stats) = (
        cfg.sensor_id.clone(),
        shared.control.clone(),
        shared.stats.clone(),
    );
    let mut sensor = drivers.temperature;
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
    b.configure::<NodeCommand>(NodeKey::Command, |r| {
        r.buffer(BufferCfg::Mailbox)
            .codec(postcard_encoder(), postcard_decoder())
            .link_from(&mqtt_url(&command_topic(node, &NodeKey::Command)))
            .tap_named("command", move |ctx, c| {
                command_tap(ctx, c, control, stats, led)
            });
    });

    b.build().map_err(GraphBuildError::Build)
}

fn sensor_failed<R: Runtime>(ctx: &RuntimeContext<R>, stats: &NodeStats, e: SensorError) {
    NodeStats::bump(&stats.sensor_errors);
    ctx.log().warn(format_args!("sensor read failed: {e:?}"));
}

fn postcard_encoder<T: Serialize + Send + Sync + 'static>() -> aimdb_core::Encoder<T> {
    Arc::new(|value: &T, buf: &mut Vec<u8>| {
        buf.resize(MAX_FRAME, 0);
        let len = wire::to_postcard(value, buf)
            .map(|b| b.len())
            .map_err(|e| CodecError(e.to_string()))?;
        buf.truncate(len);
        Ok(())
    })
}

fn postcard_decoder<T: DeserializeOwned + Send + Sync + 'static>() -> aimdb_core::Decoder<T> {
    Arc::new(|bytes: &[u8]| wire::from_postcard(bytes).map_err(|e| CodecError(e.to_string())))
}
