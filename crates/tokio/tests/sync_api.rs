//! The sync API: blocking, thread-safe producers and consumers of a graph on its own thread.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_core::{AccessError, AimDbBuilder, BufferCfg};
use aimdb_tokio::sync_api::{AttachOptions, GetError};
use aimdb_tokio::{AttachExt, TokioAdapter};

/// Generous bound for "returns promptly" on a loaded, shared 2-core machine.
const MARGIN: Duration = Duration::from_secs(5);

fn builder() -> AimDbBuilder<TokioAdapter> {
    AimDbBuilder::new()
}

/// A graph of one ring `key` whose tap counts the values it reads.
fn counting_tap(key: &str, capacity: usize) -> (AimDbBuilder<TokioAdapter>, Arc<AtomicUsize>) {
    let tapped = Arc::new(AtomicUsize::new(0));
    let t2 = tapped.clone();
    let mut b = builder();
    b.configure::<u64>(key, |r| {
        r.buffer(BufferCfg::SpmcRing { capacity })
            .tap(move |_ctx, mut c| async move {
                while c.recv().await.is_ok() {
                    t2.fetch_add(1, Ordering::SeqCst);
                }
            });
    });
    (b, tapped)
}

#[test]
fn four_threads_times_ten_thousand_values_reach_every_consumer_exactly_once() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 10_000;
    let mut b = builder();
    b.configure::<(u64, u64)>("ring", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 65_536 });
    });
    let h = b.attach().unwrap();
    let consumers: Vec<_> = (0..2)
        .map(|_| h.consumer::<(u64, u64)>("ring").unwrap())
        .collect();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let p = h.producer::<(u64, u64)>("ring").unwrap();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    p.set((t, i)).unwrap();
                }
            });
        }
        for c in &consumers {
            s.spawn(move || {
                let mut next = [0u64; THREADS as usize];
                for _ in 0..THREADS * PER_THREAD {
                    let (t, i) = c.get_with_timeout(MARGIN).expect("value");
                    assert_eq!(
                        i, next[t as usize],
                        "thread {t}: in order, none lost or repeated"
                    );
                    next[t as usize] += 1;
                }
                assert_eq!(c.try_get(), Err(GetError::Empty));
            });
        }
    });
    h.detach().unwrap();
}

#[test]
fn lag_is_reported_honestly_when_capacity_does_not_suffice() {
    let mut b = builder();
    b.configure::<u64>("small", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 16 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("small").unwrap();
    let p = h.producer::<u64>("small").unwrap();
    for i in 0..10_000 {
        p.set(i).unwrap();
    }
    let (mut values, mut lagged, mut last) = (0u64, 0u64, None);
    loop {
        match c.get_with_timeout(Duration::from_millis(500)) {
            Ok(v) => {
                assert!(last < Some(v), "values stay in order");
                last = Some(v);
                values += 1;
            }
            Err(GetError::Lagged(n)) => lagged += n,
            Err(GetError::Timeout) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        lagged > 0,
        "a 16-slot ring cannot hold 10 000 unread values"
    );
    assert_eq!(
        values + lagged,
        10_000,
        "every value is either delivered or counted as lagged"
    );
    assert_eq!(last, Some(9_999), "the newest value is delivered");
    h.detach().unwrap();
}

#[test]
fn get_with_timeout_returns_within_the_timeout_when_nothing_arrives() {
    let mut b = builder();
    b.configure::<u64>("quiet", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("quiet").unwrap();
    let start = Instant::now();
    assert_eq!(
        c.get_with_timeout(Duration::from_millis(200)),
        Err(GetError::Timeout)
    );
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(200) + MARGIN, "{took:?}");
    assert_eq!(c.try_get(), Err(GetError::Empty));
    h.detach().unwrap();
}

#[test]
fn detach_drains_every_value_into_the_taps() {
    let (b, tapped) = counting_tap("events", 4096);
    let h = b.attach().unwrap();
    let p = h.producer::<u64>("events").unwrap();
    for i in 0..2_000 {
        p.set(i).unwrap();
    }
    h.detach().unwrap();
    assert_eq!(tapped.load(Ordering::SeqCst), 2_000);
    assert!(matches!(
        p.set(1),
        Err(aimdb_tokio::sync_api::SetError::Closed(1))
    ));
}

#[test]
fn detach_hands_consumers_what_was_produced() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 1024 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    let p = h.producer::<u64>("r").unwrap();
    for i in 0..500 {
        p.set(i).unwrap();
    }
    h.detach().unwrap();
    for i in 0..500 {
        assert_eq!(c.get(), Ok(i));
    }
    assert_eq!(c.get(), Err(GetError::Closed));
}

#[test]
fn dropping_the_handle_without_detach_terminates_even_with_a_stuck_tap() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            // A tap that never ends, even after its record closes.
            .tap(|ctx, _c| async move {
                loop {
                    ctx.time().sleep(Duration::from_secs(3600)).await;
                }
            });
    });
    let options = AttachOptions {
        drop_timeout: Duration::from_millis(300),
        ..AttachOptions::default()
    };
    let h = b.attach_with(options).unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    h.producer::<u64>("r").unwrap().set(1).unwrap();
    let start = Instant::now();
    drop(h);
    assert!(start.elapsed() < Duration::from_millis(300) + MARGIN);
    drop(c);
}

#[test]
fn a_reader_on_another_thread_gets_every_value_a_ring_can_hold() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 1 << 17 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    let p = h.producer::<u64>("r").unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Ok(v) = c.get() {
            got.push(v);
        }
        got
    });
    for i in 0..50_000u64 {
        p.set(i).unwrap();
    }
    h.detach().unwrap();
    let got = reader.join().unwrap();
    assert!(
        got == (0..50_000).collect::<Vec<_>>(),
        "every value, in order, then Closed"
    );
}

#[test]
fn single_latest_current_value_is_readable() {
    let mut b = builder();
    b.configure::<u64>("setpoint", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let h = b.attach().unwrap();
    let p = h.producer::<u64>("setpoint").unwrap();
    let c = h.consumer::<u64>("setpoint").unwrap();
    for i in 1..=100 {
        p.set(i).unwrap();
    }
    let deadline = Instant::now() + MARGIN;
    while c.latest() != Some(100) {
        assert!(Instant::now() < deadline, "latest value never became 100");
        std::thread::yield_now();
    }
    h.detach().unwrap();
}

#[test]
fn unknown_keys_and_wrong_types_are_typed_errors() {
    let mut b = builder();
    b.configure::<u64>("known", |r| {
        r.buffer(BufferCfg::Mailbox);
    });
    let h = b.attach().unwrap();
    assert!(matches!(
        h.producer::<u64>("unknwn"),
        Err(AccessError::UnknownKey { .. })
    ));
    assert!(matches!(
        h.consumer::<String>("known"),
        Err(AccessError::TypeMismatch { .. })
    ));
    h.detach().unwrap();
}

#[test]
fn an_invalid_graph_fails_attach_with_every_problem() {
    let mut b = builder();
    b.configure::<u64>("a", |_r| {});
    b.configure::<u64>("b", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u64, _>("nope", |t| t.map(|v| *v));
    });
    let err = b.attach().err().expect("invalid graph").to_string();
    assert!(err.contains("2 problems"), "{err}");
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<aimdb_tokio::SyncHandle>();
    assert_send_sync::<aimdb_tokio::SyncProducer<u64>>();
    assert_send_sync::<aimdb_tokio::SyncConsumer<u64>>();
}

// ---- issue 12: buffer meaning, detach timeout, writer rule ----

#[test]
fn a_sync_mailbox_reader_gets_the_newest_value_once() {
    let mut b = builder();
    b.configure::<u64>("cmd", |r| {
        r.buffer(BufferCfg::Mailbox);
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("cmd").unwrap();
    let p = h.producer::<u64>("cmd").unwrap();
    // Instructions arrive one by one while nobody reads.
    for i in 1..=5 {
        p.set(i).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.get_with_timeout(MARGIN), Ok(5), "latest instruction wins");
    assert_eq!(c.try_get(), Err(GetError::Empty), "consumed once");
    h.detach().unwrap();
}

#[test]
fn a_sync_single_latest_reader_sees_only_the_newest_value() {
    let mut b = builder();
    b.configure::<u64>("level", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("level").unwrap();
    let p = h.producer::<u64>("level").unwrap();
    p.set(0).unwrap();
    assert_eq!(c.get_with_timeout(MARGIN), Ok(0));
    for i in 1..=5 {
        p.set(i).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.get_with_timeout(MARGIN), Ok(5), "intermediates collapse");
    assert_eq!(c.try_get(), Err(GetError::Empty));
    h.detach().unwrap();
}

#[test]
fn a_sync_ring_reader_is_told_its_lag_as_a_count() {
    let mut b = builder();
    b.configure::<u64>("ring", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 4 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("ring").unwrap();
    let p = h.producer::<u64>("ring").unwrap();
    for i in 0..10 {
        p.set(i).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.get_with_timeout(MARGIN), Err(GetError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(c.get_with_timeout(MARGIN), Ok(i));
    }
    assert_eq!(c.try_get(), Err(GetError::Empty));
    h.detach().unwrap();
}

#[test]
fn a_value_set_is_readable_at_once_with_no_engine_in_between() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    let p = h.producer::<u64>("r").unwrap();
    for i in 0..100 {
        p.set(i).unwrap();
        assert_eq!(
            c.try_get(),
            Ok(i),
            "set returns once the value is in the record"
        );
    }
    h.detach().unwrap();
}

#[test]
fn a_reader_blocked_in_get_is_woken_by_a_set_on_another_thread() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 });
    });
    let h = b.attach().unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    let p = h.producer::<u64>("r").unwrap();
    std::thread::scope(|s| {
        let reader = s.spawn(|| c.get());
        // Long enough for the reader to spin out and park.
        std::thread::sleep(Duration::from_millis(50));
        p.set(7).unwrap();
        assert_eq!(reader.join().unwrap(), Ok(7));
    });
    // A timed-out get loses nothing (the sync form of cancel-safety).
    assert_eq!(
        c.get_with_timeout(Duration::from_millis(20)),
        Err(GetError::Timeout)
    );
    p.set(8).unwrap();
    assert_eq!(c.get_with_timeout(MARGIN), Ok(8));
    h.detach().unwrap();
}

#[test]
fn a_timed_out_detach_returns_after_its_timeout_and_drop_does_not_wait_again() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            // A tap that never ends, even after its record closes.
            .tap(|ctx, _c| async move {
                loop {
                    ctx.time().sleep(Duration::from_secs(3600)).await;
                }
            });
    });
    let timeout = Duration::from_millis(300);
    let options = AttachOptions {
        detach_timeout: timeout,
        drop_timeout: Duration::from_secs(10),
        ..AttachOptions::default()
    };
    let h = b.attach_with(options).unwrap();
    let start = Instant::now();
    let result = h.detach();
    let took = start.elapsed();
    assert!(
        matches!(result, Err(aimdb_tokio::sync_api::DetachError::Timeout(t)) if t == timeout),
        "{result:?}"
    );
    assert!(took >= timeout, "{took:?}");
    assert!(
        took < timeout + MARGIN,
        "detach waited {took:?} for a {timeout:?} timeout"
    );
}

#[test]
fn a_consumer_nobody_reads_does_not_make_detach_fail() {
    let mut b = builder();
    b.configure::<u64>("r", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 16 });
    });
    let options = AttachOptions {
        detach_timeout: Duration::from_secs(3),
        ..AttachOptions::default()
    };
    let h = b.attach_with(options).unwrap();
    let _unread = h.consumer::<u64>("r").unwrap();
    let p = h.producer::<u64>("r").unwrap();
    // Values trickle in (so nothing between caller and record can batch them) while nobody reads.
    for i in 0..1_500 {
        p.set(i).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let start = Instant::now();
    assert!(h.detach().is_ok(), "an unread consumer holds nothing back");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn only_records_without_a_writer_take_sync_producers() {
    let mut b = builder();
    b.configure::<u64>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 });
    });
    b.configure::<u64>("doubled", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .transform::<u64, _>("in", |t| t.map(|v| v * 2));
    });
    b.configure::<u64>("sourced", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .source(|_ctx, p| async move { p.produce(1) });
    });
    let h = b.attach().unwrap();
    for (key, writer) in [
        ("doubled", aimdb_core::WriterKind::Transform),
        ("sourced", aimdb_core::WriterKind::Source),
    ] {
        match h.producer::<u64>(key) {
            Err(AccessError::NotWritable { key: k, writer: w }) => {
                assert_eq!((k.as_str(), w), (key, writer));
            }
            Err(e) => panic!("{key}: {e}"),
            Ok(_) => panic!("{key}: a second writer was accepted"),
        }
    }
    let c = h.consumer::<u64>("doubled").unwrap();
    h.producer::<u64>("in").unwrap().set(20).unwrap();
    assert_eq!(
        c.get_with_timeout(MARGIN),
        Ok(40),
        "only the transform writes it"
    );
    h.detach().unwrap();
}

#[test]
fn a_shutdown_raised_elsewhere_releases_sync_producers_so_the_graph_drains() {
    let (b, tapped) = counting_tap("r", 64);
    let h = b.attach().unwrap();
    let p = h.producer::<u64>("r").unwrap();
    let c = h.consumer::<u64>("r").unwrap();
    for i in 0..10 {
        p.set(i).unwrap();
    }
    h.db().shutdown();
    // `live_tasks` is 0 also before the engine thread has spawned the tasks: wait for the tap to
    // have drained the record and for every task to have ended.
    let deadline = Instant::now() + MARGIN;
    while tapped.load(Ordering::SeqCst) < 10 || h.db().live_tasks() > 0 {
        assert!(
            Instant::now() < deadline,
            "the graph never drained: tapped {}",
            tapped.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(tapped.load(Ordering::SeqCst), 10);
    assert!(matches!(
        p.set(10),
        Err(aimdb_tokio::sync_api::SetError::Closed(10))
    ));
    for i in 0..10 {
        assert_eq!(c.get_with_timeout(MARGIN), Ok(i));
    }
    assert_eq!(c.get_with_timeout(MARGIN), Err(GetError::Closed));
    h.detach().unwrap();
}
