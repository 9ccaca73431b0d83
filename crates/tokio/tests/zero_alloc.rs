//! One produce→receive cycle allocates nothing, for every buffer kind, after warm-up — on the
//! async path and through the sync API (`set`, `get`, `get_with_timeout`, `try_get`, also
//! between two threads, where a `get` spins and parks).
//!
//! A counting global allocator wraps the system allocator; each case warms a record up, then
//! counts allocations over many lockstep cycles on a current-thread runtime. Only the test's own
//! thread is counted (everything measured runs on it): other threads of the process — the test
//! harness, a clock updater — may allocate at any time and are not what is measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use aimdb_core::{AimDbBuilder, BufferCfg};
use aimdb_tokio::sync_api::GetError;
use aimdb_tokio::{AttachExt, TokioAdapter};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether allocations on this thread are counted now.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

fn count() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
#[allow(unsafe_code)] // audited: see the SAFETY comments
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A value shaped like a sensor reading (inline id, no heap).
#[derive(Clone, Debug, PartialEq)]
struct Reading {
    id: [u8; 16],
    celsius: f32,
    ts: u64,
}

fn allocations_per_cycle(cfg: BufferCfg) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("tokio"));
        b.configure::<Reading>("reading", |r| {
            r.buffer(cfg);
        });
        let db = b.build().expect("graph");
        let h = db.handle();
        let p = h.producer::<Reading>("reading").expect("producer");
        let mut c = h.consumer::<Reading>("reading").expect("consumer");
        let mut v = Reading {
            id: *b"sensor-0001-abcd",
            celsius: 21.5,
            ts: 0,
        };
        let mut cycle = |v: &Reading| {
            p.produce(v.clone());
            c.try_recv()
        };
        for i in 0..1_000 {
            v.ts = i;
            assert!(cycle(&v).is_ok());
        }
        counting(true);
        for i in 0..10_000 {
            v.ts = i;
            let got = cycle(&v);
            assert_eq!(got.map(|r| r.ts), Ok(i));
        }
        counting(false);
        let sync_allocs = ALLOCS.swap(0, Ordering::SeqCst);

        // The async path: produce, then `recv().await` on a ready value.
        counting(true);
        for i in 0..10_000 {
            v.ts = i;
            p.produce(v.clone());
            assert_eq!(c.recv().await.map(|r| r.ts), Ok(i));
        }
        counting(false);
        sync_allocs + ALLOCS.swap(0, Ordering::SeqCst)
    })
}

/// parking_lot allocates a thread's parking data (and may grow its global table) the first time
/// that thread blocks on a contended lock — once per thread, not per message. Two threads
/// sharing a buffer's lock hit it at a random moment, so each thread does it before counting.
fn warm_up_lock_parking() {
    let m = parking_lot::Mutex::new(());
    let c = parking_lot::Condvar::new();
    let mut g = m.lock();
    let _ = c.wait_for(&mut g, Duration::from_nanos(1));
}

/// Sync API: `set` then `get` / `get_with_timeout` / `try_get` on one thread, and a ping-pong
/// with an echo thread (both threads counted, each `get` may spin and park).
fn sync_allocations_per_cycle(cfg: BufferCfg) -> u64 {
    const N: u64 = 5_000;
    let mut b = AimDbBuilder::<TokioAdapter>::new();
    for key in ["ping", "pong"] {
        b.configure::<Reading>(key, |r| {
            r.buffer(cfg);
        });
    }
    let h = b.attach().expect("attach");
    let ping_p = h.producer::<Reading>("ping").expect("producer");
    let ping_c = h.consumer::<Reading>("ping").expect("consumer");
    let pong_p = h.producer::<Reading>("pong").expect("producer");
    let pong_c = h.consumer::<Reading>("pong").expect("consumer");
    let mut v = Reading {
        id: *b"sensor-0001-abcd",
        celsius: 21.5,
        ts: 0,
    };
    let long = Duration::from_secs(10);
    let tiny = Duration::from_millis(1);
    let round = |v: &mut Reading, i: u64| {
        v.ts = i;
        ping_p.set(v.clone()).expect("set");
        assert_eq!(ping_c.get().map(|r| r.ts), Ok(i));
        ping_p.set(v.clone()).expect("set");
        assert_eq!(ping_c.get_with_timeout(long).map(|r| r.ts), Ok(i));
        ping_p.set(v.clone()).expect("set");
        assert_eq!(ping_c.try_get().map(|r| r.ts), Ok(i));
    };
    for i in 0..1_000 {
        round(&mut v, i);
    }
    counting(true);
    for i in 0..N {
        round(&mut v, i);
    }
    counting(false);
    let same_thread = ALLOCS.swap(0, Ordering::SeqCst);

    // Ping-pong: this thread sets "ping" and gets "pong"; the echo thread the other way round.
    let go = std::sync::Barrier::new(2);
    let cross_thread = std::thread::scope(|s| {
        let echo = s.spawn(|| {
            let mut echoed = 0;
            warm_up_lock_parking();
            // A wait that times out makes this thread's waker (once per thread).
            assert_eq!(ping_c.get_with_timeout(tiny), Err(GetError::Timeout));
            go.wait();
            while let Ok(r) = ping_c.get_with_timeout(long) {
                pong_p.set(r).expect("set");
                echoed += 1;
                if echoed == 1_000 {
                    counting(true);
                }
                if echoed == 1_000 + N {
                    break;
                }
            }
            counting(false);
        });
        warm_up_lock_parking();
        assert_eq!(pong_c.get_with_timeout(tiny), Err(GetError::Timeout));
        go.wait();
        for i in 0..1_000 + N {
            if i == 1_000 {
                counting(true);
            }
            v.ts = i;
            ping_p.set(v.clone()).expect("set");
            assert_eq!(pong_c.get_with_timeout(long).map(|r| r.ts), Ok(i));
        }
        counting(false);
        echo.join().expect("echo thread");
        ALLOCS.swap(0, Ordering::SeqCst)
    });
    h.detach().expect("detach");
    same_thread + cross_thread
}

/// Sync API, a ring whose reader takes values ahead (a quarter of its 64 slots per visit) and
/// falls behind: each cycle the writer laps the slots the reader's read-ahead still holds, which
/// it fills from the buffer's spare `Arc`s rather than allocating.
fn sync_lapped_read_ahead_allocations() -> u64 {
    let mut b = AimDbBuilder::<TokioAdapter>::new();
    b.configure::<Reading>("burst", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 64 });
    });
    let h = b.attach().expect("attach");
    let p = h.producer::<Reading>("burst").expect("producer");
    let c = h.consumer::<Reading>("burst").expect("consumer");
    let mut v = Reading {
        id: *b"sensor-0001-abcd",
        celsius: 21.5,
        ts: 0,
    };
    let mut next = 0;
    let mut cycle = |v: &mut Reading| {
        // One value read (the rest of its visit stays ahead), then more than a lap written.
        for _ in 0..2 {
            match c.try_get() {
                Ok(_) | Err(GetError::Lagged(_) | GetError::Empty) => {}
                Err(e) => panic!("{e}"),
            }
        }
        for _ in 0..80 {
            v.ts = next;
            next += 1;
            p.set(v.clone()).expect("set");
        }
    };
    for _ in 0..100 {
        cycle(&mut v);
    }
    counting(true);
    for _ in 0..1_000 {
        cycle(&mut v);
    }
    counting(false);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);
    assert!(h.db().stats("burst").expect("stats").lagged > 0);
    h.detach().expect("detach");
    allocs
}

#[test]
fn produce_receive_cycle_allocates_nothing() {
    // One test function: the counter is global, so cases must not run in parallel.
    for cfg in [
        BufferCfg::SpmcRing { capacity: 64 },
        BufferCfg::SingleLatest,
        BufferCfg::Mailbox,
    ] {
        assert_eq!(
            allocations_per_cycle(cfg),
            0,
            "{cfg}: allocations in 20 000 cycles"
        );
    }
    for cfg in [
        BufferCfg::SpmcRing { capacity: 64 },
        BufferCfg::SingleLatest,
        BufferCfg::Mailbox,
    ] {
        assert_eq!(
            sync_allocations_per_cycle(cfg),
            0,
            "{cfg}: allocations in sync set/get cycles"
        );
    }
    assert_eq!(
        sync_lapped_read_ahead_allocations(),
        0,
        "a writer lapping a sync reader's read-ahead"
    );
}
