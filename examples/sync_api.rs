//! The sync API from plain threads: several producers, several consumers, the three blocking
//! read strategies, and a clean detach.
//!
//! Run: `cargo run --example sync_api`

use std::time::Duration;

use aimdb_core::{AimDbBuilder, BufferCfg};
use aimdb_tokio::sync_api::GetError;
use aimdb_tokio::{AttachExt, TokioAdapter};

#[derive(Clone, Debug)]
struct Reading {
    sensor: u32,
    celsius: f32,
}

fn main() -> anyhow::Result<()> {
    let mut builder = AimDbBuilder::<TokioAdapter>::new();
    builder.configure::<Reading>("sensor.temp", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 1024 })
            // Taps run on the engine thread exactly as under `run()`.
            .tap(|ctx, mut c| async move {
                let mut n = 0u32;
                while c.recv().await.is_ok() {
                    n += 1;
                }
                ctx.log().info(format_args!("tap saw {n} readings"));
            });
    });
    builder.configure::<f32>("setpoint", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let handle = builder.attach()?;

    // Two consumers, each sees every reading.
    let blocking = handle.consumer::<Reading>("sensor.temp")?;
    let polling = handle.consumer::<Reading>("sensor.temp")?;

    std::thread::scope(|s| -> anyhow::Result<()> {
        for sensor in 0..4 {
            let p = handle.producer::<Reading>("sensor.temp")?;
            s.spawn(move || {
                for i in 0..250 {
                    let celsius = 20.0 + sensor as f32 + i as f32 / 100.0;
                    if p.set(Reading { sensor, celsius }).is_err() {
                        return;
                    }
                }
            });
        }
        // Strategy 1: block until a value arrives.
        s.spawn(move || {
            let first = blocking.get();
            println!("get(): {first:?}");
            // Strategy 2: block, but no longer than a timeout.
            let (mut n, mut warmest) = (1, None::<Reading>);
            while let Ok(r) = blocking.get_with_timeout(Duration::from_millis(500)) {
                n += 1;
                if warmest.as_ref().is_none_or(|w| r.celsius > w.celsius) {
                    warmest = Some(r);
                }
            }
            println!("get_with_timeout(): {n} readings in total");
            if let Some(w) = warmest {
                println!("warmest: {:.2} °C from sensor {}", w.celsius, w.sensor);
            }
        });
        // Strategy 3: never block; poll and do other work in between.
        s.spawn(move || {
            let mut n = 0;
            let mut idle = 0;
            while idle < 50 {
                match polling.try_get() {
                    Ok(_r) => n += 1,
                    Err(GetError::Empty) => {
                        idle += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => {
                        println!("try_get(): {e}");
                        break;
                    }
                }
            }
            println!("try_get(): {n} readings");
        });
        Ok(())
    })?;

    let setpoint = handle.producer::<f32>("setpoint")?;
    let current = handle.consumer::<f32>("setpoint")?;
    setpoint.set(21.5)?;
    println!(
        "setpoint: {:?}",
        current.get_with_timeout(Duration::from_secs(1))
    );

    let stats = handle.db().stats("sensor.temp");
    println!("sensor.temp counters: {stats:?}");
    handle.detach()?;
    println!("detached cleanly");
    Ok(())
}
