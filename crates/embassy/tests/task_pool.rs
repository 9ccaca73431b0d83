//! A graph needing more tasks than the pool holds fails to start with `PoolFull`; nothing panics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aimdb_core::{AimDbBuilder, BufferCfg, BuildError, Spawn, SpawnError};
use aimdb_embassy::EmbassyAdapter;
use embassy_executor::{Executor, Spawner};

aimdb_embassy::task_pool!(two_slots, 2);

#[embassy_executor::task]
async fn main_task(
    spawner: Spawner,
    result: Arc<Mutex<Option<Result<(), BuildError>>>>,
    done: Arc<AtomicBool>,
) {
    let rt = EmbassyAdapter::new(spawner.make_send(), two_slots);
    let mut b = AimDbBuilder::new().runtime(rt);
    for key in ["a", "b", "c"] {
        b.configure::<u32>(key, |r| {
            r.buffer(BufferCfg::SingleLatest)
                .source(|ctx, _p| async move {
                    ctx.time()
                        .sleep(core::time::Duration::from_millis(50))
                        .await
                });
        });
    }
    let outcome = match b.build() {
        Ok(db) => db.run().await,
        Err(e) => Err(e),
    };
    // The two started sources end by themselves and free their slots: the pool is usable again.
    embassy_time::Timer::after_millis(200).await;
    assert_eq!(rt.spawn(async {}), Ok(()));
    *result.lock().unwrap() = Some(outcome);
    done.store(true, Ordering::SeqCst);
}

#[test]
fn a_full_pool_is_an_error_not_a_panic() {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    let result = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let (r2, d2) = (result.clone(), done.clone());
    executor.run_until(
        move |spawner| spawner.spawn(main_task(spawner, r2, d2).unwrap()),
        move || done.load(Ordering::SeqCst),
    );
    let outcome = result.lock().unwrap().take();
    assert!(
        matches!(outcome, Some(Err(BuildError::Spawn(SpawnError::PoolFull)))),
        "{outcome:?}"
    );
}

aimdb_embassy::task_pool!(two_more_slots, 2);

/// Sources alive now (each holds one while it runs).
static ALIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct Alive;

impl Alive {
    fn new() -> Self {
        ALIVE.fetch_add(1, Ordering::SeqCst);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What `run` returned, the sources alive then, whether the pool was free, whether shutdown was
/// raised.
type Undone = (Result<(), BuildError>, usize, bool, bool);

#[embassy_executor::task]
async fn failing_start(
    spawner: Spawner,
    result: Arc<Mutex<Option<Undone>>>,
    done: Arc<AtomicBool>,
) {
    let rt = EmbassyAdapter::new(spawner.make_send(), two_more_slots);
    let mut b = AimDbBuilder::new().runtime(rt);
    for key in ["a", "b", "c"] {
        b.configure::<u32>(key, |r| {
            // Runs until cancelled: only shutdown ends it.
            r.buffer(BufferCfg::SingleLatest)
                .source(|_ctx, _p| async move {
                    let _alive = Alive::new();
                    core::future::pending::<()>().await
                });
        });
    }
    let db = b.build().expect("graph");
    let handle = db.handle();
    let outcome = db.run().await;
    // Right when `run` returns: the started sources have ended and their slots are free.
    let alive = ALIVE.load(Ordering::SeqCst);
    let pool_free = rt.spawn(async {}).is_ok() && rt.spawn(async {}).is_ok();
    *result.lock().unwrap() = Some((outcome, alive, pool_free, handle.is_shutting_down()));
    done.store(true, Ordering::SeqCst);
}

#[test]
fn a_failed_start_stops_what_it_started() {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    let result = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let (r2, d2) = (result.clone(), done.clone());
    executor.run_until(
        move |spawner| spawner.spawn(failing_start(spawner, r2, d2).unwrap()),
        move || done.load(Ordering::SeqCst),
    );
    let (outcome, alive, pool_free, shutting_down) =
        result.lock().unwrap().take().expect("finished");
    assert!(
        matches!(outcome, Err(BuildError::Spawn(SpawnError::PoolFull))),
        "{outcome:?}"
    );
    assert!(shutting_down, "shutdown raised");
    assert_eq!(alive, 0, "every started source ended before run returned");
    assert!(pool_free, "their pool slots are free again");
}
