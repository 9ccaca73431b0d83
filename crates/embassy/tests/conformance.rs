//! The core's buffer and engine conformance suite, on Embassy's std executor.
//!
//! Each case runs as a real Embassy task on a fresh `embassy_executor::Executor` (one per test
//! thread); the engine's tasks go to the adapter's static pool, shared by the tests that run in
//! parallel, so it is sized for all of them.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aimdb_embassy::EmbassyAdapter;
use embassy_executor::{Executor, SendSpawner};

aimdb_embassy::task_pool!(engine_tasks, 128);

thread_local! {
    static SPAWNER: Cell<Option<SendSpawner>> = const { Cell::new(None) };
}

/// The adapter for the executor the current test runs on.
fn adapter() -> EmbassyAdapter {
    let spawner = SPAWNER
        .get()
        .unwrap_or_else(|| panic!("adapter() called outside block_on"));
    EmbassyAdapter::new(spawner, engine_tasks)
}

type LocalTask = std::pin::Pin<Box<dyn Future<Output = ()>>>;

#[embassy_executor::task(pool_size = 32)]
async fn main_task(fut: LocalTask, done: Arc<AtomicBool>) {
    fut.await;
    done.store(true, Ordering::SeqCst);
}

/// Runs `f` as an Embassy task on a new std executor until it completes.
fn block_on<F: Future<Output = ()> + 'static>(f: F) {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    executor.run_until(
        move |spawner| {
            SPAWNER.set(Some(spawner.make_send()));
            match main_task(Box::pin(f), done2) {
                Ok(token) => spawner.spawn(token),
                Err(e) => panic!("test task pool full: {e:?}"),
            }
        },
        move || done.load(Ordering::SeqCst),
    );
}

aimdb_core::conformance_tests!(block_on, adapter());
