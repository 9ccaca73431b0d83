//! Model-checked tests (loom) of the sink's queue: pushes from several threads, the drain
//! thread's condvar wait, `flush`, waiting for room under `Block`, and close. The lock, condvar
//! and drain thread are loom's ([`super::sync`]); a lost wake-up shows as a loom deadlock.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release -p aimdb-tokio
//! --lib --target-dir target/loom loom_`

use std::sync::Arc;

use loom::future::block_on;
use loom::thread;

use super::{BackgroundSink, OverflowPolicy, SinkConfig};

type Drained = Arc<loom::sync::Mutex<Vec<u32>>>;

fn sink(
    capacity: usize,
    max_batch: usize,
    overflow: OverflowPolicy,
) -> (BackgroundSink<u32>, Drained) {
    let drained = Drained::default();
    let into = drained.clone();
    let config = SinkConfig {
        capacity,
        max_batch,
        overflow,
        ..SinkConfig::named("loom")
    };
    let sink = BackgroundSink::spawn(config, move |batch: &mut Vec<u32>| {
        into.lock().unwrap().extend(batch.iter().copied());
        Ok::<(), String>(())
    })
    .expect("sink");
    (sink, drained)
}

/// Items pushed from two threads are all drained, each once, and shutdown returns after the
/// drain thread finished them.
#[test]
fn loom_sink_drains_what_two_threads_pushed() {
    loom::model(|| {
        let (sink, drained) = sink(4, 2, OverflowPolicy::Error);
        let pushers: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let sink = sink.clone();
                thread::spawn(move || sink.try_push(v).expect("room"))
            })
            .collect();
        for p in pushers {
            p.join().unwrap();
        }
        let stats = block_on(sink.shutdown());
        assert_eq!(stats.drained, 2);
        let mut got = drained.lock().unwrap().clone();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// `flush` returns once the item pushed before it is drained, while the drain thread races it.
#[test]
fn loom_sink_flush_waits_for_the_drain() {
    loom::model(|| {
        let (sink, drained) = sink(4, 4, OverflowPolicy::Error);
        sink.try_push(1).expect("room");
        block_on(sink.flush()).expect("flushed");
        assert_eq!(*drained.lock().unwrap(), [1]);
        drop(sink);
    });
}

/// Under `Block` a push into a full queue waits for the drain thread to take the batch, and
/// every item arrives in order.
#[test]
fn loom_sink_blocked_push_is_woken_by_the_drain() {
    loom::model(|| {
        let (sink, drained) = sink(1, 1, OverflowPolicy::Block);
        let producer = {
            let sink = sink.clone();
            thread::spawn(move || {
                block_on(sink.push(1)).expect("accepted");
                block_on(sink.push(2)).expect("accepted");
            })
        };
        producer.join().unwrap();
        let stats = block_on(sink.shutdown());
        assert_eq!(stats.drained, 2);
        assert_eq!(*drained.lock().unwrap(), [1, 2]);
    });
}
