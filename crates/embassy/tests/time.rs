//! `ctx.time()` on Embassy: the same helpers as on Tokio, over `embassy-time` (its std driver
//! here; the firmware's on the MCU).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aimdb_core::lifecycle::ShutdownSignal;
use aimdb_core::RuntimeContext;
use aimdb_embassy::EmbassyAdapter;
use embassy_executor::{Executor, Spawner};

aimdb_embassy::task_pool!(time_pool, 1);

/// What the task saw: the helpers' results, `duration_since` both ways, and the time slept.
type Seen = (
    Duration,
    Duration,
    Option<Duration>,
    Option<Duration>,
    Duration,
);

#[embassy_executor::task]
async fn measure(spawner: Spawner, out: Arc<Mutex<Option<Seen>>>, done: Arc<AtomicBool>) {
    let rt = EmbassyAdapter::new(spawner.make_send(), time_pool);
    let ctx = RuntimeContext::new(rt, "test.time".into(), ShutdownSignal::new());
    let time = ctx.time();
    let a = time.now();
    time.sleep(time.millis(30)).await;
    let b = time.now();
    let slept = time.since(a);
    *out.lock().unwrap() = Some((
        time.secs(2),
        time.micros(1500),
        time.duration_since(b, a),
        time.duration_since(a, b),
        slept,
    ));
    done.store(true, Ordering::SeqCst);
}

#[test]
fn helpers_and_sleep_on_embassy_time() {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    let out = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let (o2, d2) = (out.clone(), done.clone());
    executor.run_until(
        move |spawner| spawner.spawn(measure(spawner, o2, d2).unwrap()),
        move || done.load(Ordering::SeqCst),
    );
    let (two_secs, micros, forward, backward, slept) = out.lock().unwrap().take().expect("ran");
    assert_eq!(two_secs, Duration::from_secs(2));
    assert_eq!(micros, Duration::from_micros(1500));
    let forward = forward.expect("b is after a");
    assert!(forward >= Duration::from_millis(30), "{forward:?}");
    assert_eq!(backward, None);
    assert!(slept >= forward, "{slept:?} {forward:?}");
}
