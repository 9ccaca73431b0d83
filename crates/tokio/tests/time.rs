//! `ctx.time()` on Tokio: the duration helpers, `duration_since`, and `sleep` on the (paused)
//! Tokio clock, in a graph and on a context of its own.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::lifecycle::ShutdownSignal;
use aimdb_core::{AimDbBuilder, BufferCfg, RuntimeContext};
use aimdb_tokio::TokioAdapter;
use parking_lot::Mutex;

fn context() -> RuntimeContext<TokioAdapter> {
    RuntimeContext::new(
        TokioAdapter::new().expect("inside Tokio"),
        "test.time".into(),
        ShutdownSignal::new(),
    )
}

#[tokio::test(start_paused = true)]
async fn duration_helpers_are_core_durations() {
    let ctx = context();
    let time = ctx.time();
    assert_eq!(time.secs(3), Duration::from_secs(3));
    assert_eq!(time.millis(1500), Duration::from_millis(1500));
    assert_eq!(time.micros(250), Duration::from_micros(250));
    assert_eq!(time.secs(u64::MAX), Duration::from_secs(u64::MAX));
    assert_eq!(time.secs(2), time.millis(2000));
}

#[tokio::test(start_paused = true)]
async fn duration_since_is_none_when_later_is_earlier() {
    let ctx = context();
    let time = ctx.time();
    let a = time.now();
    tokio::time::advance(Duration::from_millis(40)).await;
    let b = time.now();
    assert_eq!(time.duration_since(b, a), Some(Duration::from_millis(40)));
    assert_eq!(time.duration_since(a, b), None);
    assert_eq!(time.duration_since(a, a), Some(Duration::ZERO));
    // `since` saturates where `duration_since` says `None`.
    assert_eq!(time.since(b), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn sleep_waits_on_the_tokio_clock_and_is_cancel_safe() {
    let ctx = context();
    let time = ctx.time();
    let start = time.now();
    time.sleep(time.secs(2)).await;
    let slept = time.duration_since(time.now(), start).expect("monotonic");
    assert!(slept >= Duration::from_secs(2), "{slept:?}");

    // Dropped before it fires: nothing happens, and a later sleep is unaffected.
    let early = tokio::time::timeout(time.millis(10), time.sleep(time.secs(60))).await;
    assert!(early.is_err());
    // The future borrows the context, not the `Time` it came from.
    let pending = ctx.time().sleep(ctx.time().millis(5));
    pending.await;
}

/// The reference API's loop, unchanged: `ctx.time().sleep(ctx.time().secs(1))` in a source,
/// `duration_since` in a tap.
#[tokio::test(start_paused = true)]
async fn a_source_paced_with_the_helpers() {
    let gaps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let seen = gaps.clone();
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.configure::<u32>("tick", |reg| {
        reg.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .source(|ctx, producer| async move {
                for i in 0..3 {
                    producer.produce(i);
                    ctx.time().sleep(ctx.time().secs(1)).await;
                }
            })
            .tap(move |ctx, mut consumer| async move {
                let mut last = None;
                while consumer.recv().await.is_ok() {
                    let now = ctx.time().now();
                    if let Some(gap) = last.and_then(|l| ctx.time().duration_since(now, l)) {
                        seen.lock().push(gap);
                    }
                    last = Some(now);
                }
            });
    });
    b.build().unwrap().run().await.unwrap();
    let gaps = gaps.lock().clone();
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(1)),
        "{gaps:?}"
    );
}
