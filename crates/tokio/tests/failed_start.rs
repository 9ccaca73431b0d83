//! A failed start stops what it started: when `run()` cannot spawn a task part-way (a full
//! task pool), it raises shutdown, waits for the tasks already running to end, and only then
//! returns the error. Here a runtime wraps Tokio and refuses spawns after a budget.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{
    AimDbBuilder, BufferCfg, BuildError, LogLevel, Logger, Runtime, Spawn, SpawnError, TimeOps,
};
use aimdb_tokio::TokioAdapter;

/// Tokio, with a pool of `budget` spawns.
#[derive(Clone)]
struct Pool {
    tokio: TokioAdapter,
    left: Arc<AtomicUsize>,
}

impl Spawn for Pool {
    fn spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let take = |n: usize| n.checked_sub(1);
        match self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
        {
            Ok(_) => self.tokio.spawn(task),
            Err(_) => Err(SpawnError::PoolFull),
        }
    }
}

impl TimeOps for Pool {
    type Instant = <TokioAdapter as TimeOps>::Instant;
    fn now(&self) -> Self::Instant {
        self.tokio.now()
    }
    fn duration_between(&self, earlier: Self::Instant, later: Self::Instant) -> Duration {
        self.tokio.duration_between(earlier, later)
    }
    fn uptime(&self) -> Duration {
        self.tokio.uptime()
    }
    fn unix_time(&self) -> Option<Duration> {
        self.tokio.unix_time()
    }
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.tokio.sleep(duration)
    }
}

impl Logger for Pool {
    fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
        self.tokio.log(level, target, message)
    }
}

impl Runtime for Pool {
    type Mutex = <TokioAdapter as Runtime>::Mutex;
}

/// Tasks alive now (each holds one while it runs).
static ALIVE: AtomicUsize = AtomicUsize::new(0);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_stops_what_it_started() {
    let pool = Pool {
        tokio: TokioAdapter::new().expect("tokio"),
        left: Arc::new(AtomicUsize::new(3)),
    };
    let mut b = AimDbBuilder::new().runtime(pool);
    // A tap and a transform (spawned first), then sources that run until cancelled: the third
    // source (the fifth task) does not fit.
    b.configure::<u32>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .tap(|_ctx, mut c| async move {
                let _alive = Alive::new();
                while c.recv().await.is_ok() {}
            });
    });
    b.configure::<u32>("doubled", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u32, _>("in", |t| t.map(|v| v * 2));
    });
    for key in ["s1", "s2", "s3"] {
        b.configure::<u32>(key, |r| {
            r.buffer(BufferCfg::SingleLatest)
                .source(|_ctx, _p| async move {
                    let _alive = Alive::new();
                    std::future::pending::<()>().await
                });
        });
    }
    let db = b.build().expect("graph");
    let h = db.handle();
    let outcome = tokio::time::timeout(Duration::from_secs(10), db.run())
        .await
        .expect("run returns");
    assert!(
        matches!(outcome, Err(BuildError::Spawn(SpawnError::PoolFull))),
        "{outcome:?}"
    );
    assert!(h.is_shutting_down(), "shutdown raised");
    assert_eq!(
        h.live_tasks(),
        0,
        "every started task ended before run returned"
    );
    assert_eq!(ALIVE.load(Ordering::SeqCst), 0);
}
