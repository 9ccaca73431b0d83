//! Snippets from AimDB's documentation (the reference API), ported to aimdb.
//!
//! Each function below is one snippet in the reference's shape: its README quickstart, the
//! usage guide's sensor loop, the MQTT demo's keys with `#[link_address]`, a timing tap, and
//! the sync API's basic example. Every line that differs from the reference carries a
//! `// ref:` comment saying what the reference writes and why aimdb differs; lines without one
//! are as the reference has them.
//!
//! The differences, in short:
//! - crates: `aimdb_tokio` (not `aimdb_tokio_adapter`), `aimdb_derive::RecordKey` (the reference
//!   re-exports it from `aimdb_core` behind a feature); no registrar extension trait to import;
//! - `producer.produce(v)` is synchronous and infallible (never blocks, never waits for
//!   readers): no `.await`, no `Result`;
//! - a `Consumer` is itself the reader: `consumer.recv().await`, no `subscribe()`;
//! - codecs are closures given with the link (`link_to_with`, `link_from_with`) or once per
//!   record (`codec`), not `.with_serializer` / `.with_deserializer` after it;
//! - connectors are `builder.connector(..)`; aimdb's MQTT connector is the daemon's bridge,
//!   configured from TOML, so here a small in-memory connector stands in for it;
//! - `ctx.time()`'s durations are `core::time::Duration` on every runtime (the reference's are
//!   the runtime's own type); `secs`, `millis`, `micros`, `now`, `duration_since(later,
//!   earlier)` and `sleep` are as the reference's;
//! - the sync API names the record: `handle.producer::<T>("key")`.
//!
//! Run: `cargo run -p aimdb-tokio --example reference_port` (about 4 s: the snippets sleep on
//! the real clock). `cargo test -p aimdb-tokio --example reference_port` runs every snippet on
//! Tokio's paused clock (instant), and is part of `cargo test --workspace`.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::link::FrameError;
use aimdb_core::{buffer::BufferCfg, AimDbBuilder};
use aimdb_core::{
    BoxError, BoxFuture, CodecError, Connector, InboundLink, OutboundLink, RuntimeContext,
};
use aimdb_derive::RecordKey; // ref: `use aimdb_core::RecordKey;` (derive re-exported there)
use aimdb_tokio::TokioAdapter; // ref: `use aimdb_tokio_adapter::{TokioAdapter, TokioRecordRegistrarExt};`

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

#[derive(Clone, Debug)]
pub struct Temperature {
    pub celsius: f32,
}

/// The README quickstart: three readings stream through a typed pipeline.
async fn quickstart() -> Result {
    // ref: in `#[tokio::main] async fn main()`; one function per snippet here.
    let runtime = Arc::new(TokioAdapter::new()?);
    let mut builder = AimDbBuilder::new().runtime(runtime);

    builder.configure::<Temperature>("temp.indoor", |reg| {
        reg.buffer(BufferCfg::SpmcRing { capacity: 16 })
            .source(|ctx, producer| async move {
                for celsius in [21.0, 22.5, 24.1] {
                    producer.produce(Temperature { celsius }); // ref: `.await.ok();` (sync here)
                    ctx.time().sleep(ctx.time().secs(1)).await;
                }
            })
            .tap(|ctx, mut consumer| async move {
                // ref: `let mut reader = consumer.subscribe().unwrap();` then `reader.recv()`.
                while let Ok(t) = consumer.recv().await {
                    ctx.log().info(format!("temp: {:.1}°C", t.celsius));
                    println!("quickstart: {:.1}°C", t.celsius); // (so a run shows something)
                }
            })
            .finish();
    });

    // The graph ends by itself once its source has finished and the tap has drained.
    builder.build()?.run().await?;
    Ok(())
}

#[derive(Debug, Clone)]
struct SensorData {
    temperature: f32,
    timestamp: u64,
}

/// The usage guide's basic example: a sensor read every second, a tap reacting to it.
async fn sensor_loop() -> Result {
    let runtime = Arc::new(TokioAdapter::new()?);
    // ref: `AimDbBuilder::new().runtime(runtime).configure(..).build().await?` in one chain;
    // `configure` takes `&mut self` and `build` is synchronous here.
    let mut builder = AimDbBuilder::new().runtime(runtime);
    builder.configure::<SensorData>("sensor.data", |reg| {
        reg.buffer(BufferCfg::SingleLatest)
            .source(|ctx, producer| async move {
                let time = ctx.time();
                for i in 0..3 {
                    // ref: `loop`; bounded so that the example ends.
                    let data = SensorData {
                        temperature: 20.0 + i as f32, // ref: `rand::random::<f32>() * 5.0`
                        // ref: `SystemTime::now().duration_since(UNIX_EPOCH)..as_secs()`;
                        // the runtime's wall clock (uptime where there is none, e.g. an MCU).
                        timestamp: time.timestamp_ms() / 1000,
                    };
                    producer.produce(data); // ref: `let _ = producer.produce(data).await;`
                    time.sleep(time.secs(1)).await;
                }
            })
            .tap(|_, mut consumer| async move {
                // ref: `consumer.subscribe().unwrap()`, as above.
                while let Ok(data) = consumer.recv().await {
                    println!(
                        "sensor_loop: {:.1}°C at {}",
                        data.temperature, data.timestamp
                    );
                }
            });
    });
    builder.build()?.run().await?;
    Ok(())
}

/// The MQTT demo's keys: the MQTT topic lives next to the record key.
#[derive(RecordKey, Clone, Copy, PartialEq, Eq, Debug)]
// ref: `Hash` is generated by the reference's derive (its keys live in hash maps); derive it
// yourself where you need it.
#[key_prefix = "sensor."]
pub enum SensorKey {
    #[key = "temp.indoor"]
    #[link_address = "mqtt://sensors/temp/indoor"]
    TempIndoor,

    #[key = "temp.outdoor"]
    #[link_address = "mqtt://sensors/temp/outdoor"]
    TempOutdoor,
}

#[derive(RecordKey, Clone, Copy, PartialEq, Eq, Debug)]
#[key_prefix = "command."]
pub enum CommandKey {
    #[key = "temp.indoor"]
    #[link_address = "mqtt://commands/temp/indoor"]
    TempIndoor,
}

#[derive(Clone, Debug)]
pub struct TemperatureCommand {
    pub setpoint: f32,
}

fn temperature_to_json(t: &Temperature, out: &mut Vec<u8>) -> std::result::Result<(), CodecError> {
    // ref: `Ok(temp.to_json_vec())` (serde_json); the encoder appends to a reused buffer.
    out.extend_from_slice(format!("{{\"celsius\":{:.1}}}", t.celsius).as_bytes());
    Ok(())
}

fn command_from_json(data: &[u8]) -> std::result::Result<TemperatureCommand, CodecError> {
    // ref: `TemperatureCommand::from_json(data)` (serde_json)
    let text = std::str::from_utf8(data).map_err(|e| CodecError::Malformed(e.to_string()))?;
    let setpoint = text
        .trim_matches(|c| c == '{' || c == '}')
        .strip_prefix("\"setpoint\":")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| CodecError::Malformed(format!("not a command: {text}")))?;
    Ok(TemperatureCommand { setpoint })
}

/// Keys with connector metadata, wired with `key.link_address()`.
async fn linked_keys() -> Result {
    let runtime = Arc::new(TokioAdapter::new()?);
    let mut builder = AimDbBuilder::new().runtime(runtime);
    // ref: `builder.with_connector(MqttConnector::new("mqtt://localhost:1883")...)`.
    let wire = Wire::default();
    builder.connector(wire.clone());

    for key in SensorKey::ALL {
        let key = *key;
        builder.configure::<Temperature>(key, |reg| {
            reg.buffer(BufferCfg::SpmcRing { capacity: 10 })
                .source(move |ctx, producer| async move {
                    producer.produce(Temperature {
                        celsius: if key == SensorKey::TempIndoor {
                            21.5
                        } else {
                            4.0
                        },
                    });
                    ctx.time().sleep(ctx.time().millis(100)).await;
                })
                // ref: `.link_to(addr).with_serializer_raw(|temp| Ok(temp.to_json_vec()))`.
                .link_to_with(key.link_address().unwrap(), Arc::new(temperature_to_json))
                .finish();
        });
    }

    builder.configure::<TemperatureCommand>(CommandKey::TempIndoor, |reg| {
        reg.buffer(BufferCfg::SpmcRing { capacity: 10 })
            .tap(|_, mut consumer| async move {
                while let Ok(cmd) = consumer.recv().await {
                    println!("linked_keys: command setpoint {:.1}°C", cmd.setpoint);
                }
            })
            // ref: `.link_from(addr).with_deserializer_raw(|data| TemperatureCommand::from_json(data))`.
            .link_from_with(
                CommandKey::TempIndoor.link_address().unwrap(),
                Arc::new(command_from_json),
            )
            .finish();
    });

    builder.build()?.run().await?;
    for (topic, payload) in wire.sent.lock().iter() {
        println!(
            "linked_keys: published {topic} {}",
            String::from_utf8_lossy(payload)
        );
    }
    Ok(())
}

/// What the stand-in connector published: `(topic, payload)`.
type Sent = Arc<parking_lot::Mutex<Vec<(String, Vec<u8>)>>>;

/// Stands in for the MQTT connector (not part of the reference snippet): prints what it would
/// publish, and delivers one command to every inbound link.
#[derive(Clone, Default)]
struct Wire {
    sent: Sent,
}

impl Connector<Arc<TokioAdapter>> for Wire {
    fn scheme(&self) -> &str {
        "mqtt"
    }

    fn start(
        &self,
        _ctx: RuntimeContext<Arc<TokioAdapter>>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> std::result::Result<Vec<BoxFuture>, BoxError> {
        let mut tasks: Vec<BoxFuture> = Vec::new();
        for mut link in outbound {
            let sent = self.sent.clone();
            tasks.push(Box::pin(async move {
                let mut buf = Vec::new();
                loop {
                    match link.next_frame(&mut buf).await {
                        Ok(()) => sent.lock().push((link.url.clone(), buf.clone())),
                        Err(FrameError::Closed) => break,
                        Err(_) => continue,
                    }
                }
            }));
        }
        tasks.push(Box::pin(async move {
            for link in &inbound {
                let _ = link.push_from(&link.url, br#"{"setpoint":22.0}"#);
            }
            // Dropping the links closes their records: the graph can end.
        }));
        Ok(tasks)
    }
}

/// Timing with `now` and `duration_since`, as the reference's profiling and deserializers use.
async fn timing() -> Result {
    let runtime = Arc::new(TokioAdapter::new()?);
    let mut builder = AimDbBuilder::new().runtime(runtime);
    builder.configure::<u32>("tick", |reg| {
        reg.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .source(|ctx, producer| async move {
                for i in 0..3 {
                    producer.produce(i);
                    ctx.time().sleep(ctx.time().millis(250)).await;
                }
            })
            .tap(|ctx, mut consumer| async move {
                let time = ctx.time();
                let mut last = None;
                while consumer.recv().await.is_ok() {
                    let now = time.now();
                    // `duration_since(later, earlier)`: `None` if `later` is earlier.
                    if let Some(gap) = last.and_then(|l| time.duration_since(now, l)) {
                        println!("timing: {gap:?} since the previous tick");
                        assert!(gap >= time.millis(250));
                    }
                    last = Some(now);
                }
            });
    });
    builder.build()?.run().await?;
    Ok(())
}

/// The sync API's basic example: plain threads, no async.
fn sync_api() -> Result {
    use aimdb_tokio::AttachExt; // ref: `use aimdb_sync::AimDbBuilderSyncExt;`

    // ref: `AimDbBuilder::new().runtime(Arc::new(TokioAdapter))`: `attach` starts its own Tokio
    // runtime on the engine thread and makes the adapter there.
    let mut builder = AimDbBuilder::<TokioAdapter>::new();
    // ref: `configure::<Temperature>(|reg| ..)`, keyed by type; aimdb names every record.
    builder.configure::<Temperature>("temp", |reg| {
        reg.buffer(BufferCfg::SingleLatest);
    });
    let handle = builder.attach()?;

    let producer = handle.producer::<Temperature>("temp")?; // ref: `producer::<Temperature>()?`
    let consumer = handle.consumer::<Temperature>("temp")?; // ref: `consumer::<Temperature>()?`

    let prod_handle = std::thread::spawn(move || {
        for i in 0..10 {
            let temp = Temperature {
                celsius: 20.0 + i as f32,
            };
            producer.set(temp).unwrap();
            std::thread::sleep(Duration::from_millis(10)); // ref: 100 ms
        }
    });
    let cons_handle = std::thread::spawn(move || {
        // ref: `for _ in 0..10 { consumer.get() }`: a `single_latest` collapses values a slow
        // reader missed (as the reference's does), so read until the last one.
        loop {
            let temp = consumer.get().unwrap();
            if temp.celsius >= 29.0 {
                println!("sync_api: last temperature {}°C", temp.celsius);
                break;
            }
        }
    });
    prod_handle.join().unwrap();
    cons_handle.join().unwrap();

    handle.detach()?;
    Ok(())
}

async fn async_snippets() -> Result {
    quickstart().await?;
    sensor_loop().await?;
    linked_keys().await?;
    timing().await?;
    Ok(())
}

fn main() -> Result {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async_snippets())?;
    sync_api()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_runs() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async_snippets())
            .unwrap();
        sync_api().unwrap();
    }

    #[test]
    fn link_addresses_are_the_mqtt_topics() {
        assert_eq!(
            SensorKey::TempIndoor.link_address(),
            Some("mqtt://sensors/temp/indoor")
        );
        assert_eq!(SensorKey::TempOutdoor.key(), "sensor.temp.outdoor");
        assert_eq!(
            CommandKey::TempIndoor.link_address(),
            Some("mqtt://commands/temp/indoor")
        );
    }
}
