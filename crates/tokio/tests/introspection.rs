//! Records, edges and counters can be read while the graph runs; access errors are typed.

use std::time::Duration;

use aimdb_core::{AccessError, AimDbBuilder, BufferCfg, RecordKey, WriterKind};
use aimdb_tokio::TokioAdapter;

struct Key(&'static str);
impl RecordKey for Key {
    fn as_key(&self) -> &str {
        self.0
    }
}

#[tokio::test]
async fn records_edges_and_counters_are_introspectable() {
    let mut b = AimDbBuilder::new().runtime(std::sync::Arc::new(TokioAdapter::new().unwrap()));
    b.configure::<f32>(Key("sensor.temp"), |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 32 })
            .source(|ctx, p| async move {
                for i in 0..10 {
                    p.produce(i as f32);
                    ctx.time().sleep(Duration::from_millis(1)).await;
                }
            })
            .tap_named("log", |_ctx, mut c| async move {
                while c.recv().await.is_ok() {}
            });
    });
    b.configure::<bool>("alert", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<f32, _>("sensor.temp", |t| {
                t.filter_map(|v| (*v > 5.0).then_some(true))
            });
    });
    b.configure::<u8>("cmd", |r| {
        r.buffer(BufferCfg::Mailbox);
    });
    let db = b.build().unwrap();
    let h = db.handle();

    let temp = h.record("sensor.temp").unwrap();
    assert_eq!(temp.type_name, "f32");
    assert_eq!(temp.buffer, Some(BufferCfg::SpmcRing { capacity: 32 }));
    assert_eq!(temp.writer(), WriterKind::Source);
    assert_eq!(temp.taps, ["log"]);
    assert_eq!(h.record("alert").unwrap().writer(), WriterKind::Transform);
    assert_eq!(h.record("cmd").unwrap().writer(), WriterKind::External);
    assert_eq!(h.edges().len(), 1);

    let mut alert = h.consumer::<bool>("alert").unwrap();
    let run = tokio::spawn(db.run());
    assert_eq!(alert.recv().await, Ok(true));
    assert!(!h.is_shutting_down());
    // The source ends by itself; its record closes, the transform and the tap drain, `run` ends.
    run.await.unwrap().unwrap();

    let s = h.stats("sensor.temp").unwrap();
    assert_eq!(s.produced, 10);
    assert_eq!(s.delivered, 20, "tap and transform each got every value");
    assert!(s.last_produced.is_some());
    assert_eq!(h.stats("alert").unwrap().produced, 4);
    assert_eq!(h.live_tasks(), 0);
}

#[tokio::test]
async fn unknown_keys_and_wrong_types_are_typed_errors() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.configure::<f32>("sensor.temp", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let h = b.build().unwrap().handle();
    assert_eq!(
        h.consumer::<f32>("sensor.tmp").err(),
        Some(AccessError::UnknownKey {
            key: "sensor.tmp".into(),
            suggestion: Some("sensor.temp".into())
        })
    );
    assert_eq!(
        h.producer::<u32>("sensor.temp").err(),
        Some(AccessError::TypeMismatch {
            key: "sensor.temp".into(),
            requested: "u32",
            actual: "f32"
        })
    );
}
