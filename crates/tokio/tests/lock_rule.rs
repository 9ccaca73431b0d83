//! The lock rule: user code never runs under a buffer's lock. A value's `Clone` and `Drop` may
//! call back into the same record (here: read its counters and its newest value) without
//! deadlocking, on every read path (`try_recv`, `recv`, `latest`) and when a produce overwrites
//! or collapses a value, for every buffer kind.
//!
//! Each case runs on its own thread; a deadlock shows as a timeout, not a hung test run.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use aimdb_core::{AimDbBuilder, BufferCfg, DbHandle};
use aimdb_tokio::TokioAdapter;

/// Each case's record; `Clone` and `Drop` of [`Spy`] look it up by the value's `key`.
static HANDLES: OnceLock<std::sync::Mutex<Vec<Case>>> = OnceLock::new();
type Case = (&'static str, DbHandle<TokioAdapter>);
static CALLBACKS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static NESTED: Cell<bool> = const { Cell::new(false) };
}

fn handle(key: &str) -> Option<DbHandle<TokioAdapter>> {
    let all = HANDLES.get()?.lock().unwrap_or_else(|e| e.into_inner());
    all.iter().find(|(k, _)| *k == key).map(|(_, h)| h.clone())
}

/// Reads its own record's counters and newest value when cloned or dropped.
#[derive(Debug, PartialEq)]
struct Spy {
    key: &'static str,
    n: u64,
}

impl Spy {
    fn call_back(&self) {
        if let Some(h) = handle(self.key) {
            let stats = h.stats(self.key).expect("record");
            assert!(stats.produced >= 1);
            CALLBACKS.fetch_add(1, Ordering::Relaxed);
            // Re-entering the value path too (not only the counters). A value read here is a
            // `Spy` whose own clone and drop call back again, so only one level deep.
            if !NESTED.replace(true) {
                let _ = h.latest::<Spy>(self.key);
                NESTED.set(false);
            }
        }
    }
}

impl Clone for Spy {
    fn clone(&self) -> Self {
        self.call_back();
        Self {
            key: self.key,
            n: self.n,
        }
    }
}

impl Drop for Spy {
    fn drop(&mut self) {
        self.call_back();
    }
}

fn within(limit: Duration, what: &'static str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: deadlocked (user code ran under the buffer lock)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

fn case(key: &'static str, cfg: BufferCfg) {
    within(Duration::from_secs(10), key, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("tokio"));
            b.configure::<Spy>(key, |r| {
                r.buffer(cfg);
            });
            let db = b.build().expect("graph");
            let h = db.handle();
            HANDLES
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((key, h.clone()));
            let p = h.producer::<Spy>(key).expect("producer");
            let mut c = h.consumer::<Spy>(key).expect("consumer");
            // Overwrites (ring of 2, single slot) drop values inside `produce`.
            for n in 1..=5 {
                p.produce(Spy { key, n });
            }
            assert!(h.latest::<Spy>(key).expect("record").is_some());
            let _ = c.try_recv();
            p.produce(Spy { key, n: 6 });
            // A ring reader lagged above; it reads on up to the newest value.
            loop {
                match c.recv().await {
                    Ok(v) if v.n == 6 => break,
                    Ok(_) | Err(aimdb_core::RecvError::Lagged(_)) => {}
                    Err(e) => panic!("{key}: {e}"),
                }
            }
            let _ = c.latest();
        });
        assert!(CALLBACKS.load(Ordering::Relaxed) > 0, "callbacks ran");
    });
}

#[test]
fn a_clone_or_drop_that_reads_its_own_record_does_not_deadlock_a_ring() {
    case("ring", BufferCfg::SpmcRing { capacity: 2 });
}

#[test]
fn a_clone_or_drop_that_reads_its_own_record_does_not_deadlock_single_latest() {
    case("latest", BufferCfg::SingleLatest);
}

#[test]
fn a_clone_or_drop_that_reads_its_own_record_does_not_deadlock_a_mailbox() {
    case("mailbox", BufferCfg::Mailbox);
}
