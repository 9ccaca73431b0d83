//! [`PeriodicWorker`]: run a task on a fixed interval, with a defined answer to "what if a tick is
//! late".
//!
//! # Contract
//!
//! * **Schedule.** Ticks follow [`tokio::time::interval`] with the configured period; the first
//!   tick fires at once unless `delay_first` is set. Ticks never overlap: the next tick is not
//!   started before the previous `tick` has returned.
//! * **Missed ticks.** When a tick runs long (or the runtime was busy), [`MissedTicks`] decides,
//!   mapping one-to-one to [`tokio::time::MissedTickBehavior`]. Default: `Skip`.
//!   `missed` in [`PeriodicStats`] counts ticks that did not run on schedule: for `Skip` and
//!   `Delay` the ticks dropped from the schedule, for `Burst` the catch-up ticks that ran one full
//!   period or more behind.
//! * **Errors.** A `tick` returning `Err` is logged (`tracing::warn!`) and counted; the worker
//!   carries on. A panicking `tick` ends the worker; [`PeriodicWorker::stop`] reports it.
//! * **Blocking.** [`PeriodicTask::tick`] is async and must not block. Blocking work implements
//!   [`BlockingPeriodicTask`] and is started with [`PeriodicWorker::spawn_blocking`]: each tick
//!   then runs on Tokio's blocking pool.
//! * **Stopping.** [`PeriodicWorker::stop`] lets the current tick finish, then ends the worker and
//!   returns the stats. A tick is never cancelled half-way by the worker. Dropping the
//!   `PeriodicWorker` stops it the same way, without waiting.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// One tick as the task sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// 0 for the first tick, then 1, 2, ... (ticks that were skipped get no number).
    pub seq: u64,
    /// When the tick was due (it may run later).
    pub scheduled: Instant,
}

/// Work done on every tick, as async code that does not block.
pub trait PeriodicTask: Send + 'static {
    /// A failed tick's error; logged and counted, not fatal.
    type Error: fmt::Display + Send;

    /// Runs one tick.
    fn tick(&mut self, tick: Tick) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Work done on every tick, as blocking code; run via [`PeriodicWorker::spawn_blocking`].
pub trait BlockingPeriodicTask: Send + 'static {
    /// A failed tick's error; logged and counted, not fatal.
    type Error: fmt::Display + Send + 'static;

    /// Runs one tick on Tokio's blocking pool.
    fn tick(&mut self, tick: Tick) -> Result<(), Self::Error>;
}

/// What happens to ticks that fall due while a tick is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTicks {
    /// Drop the ticks that fell due; resume on the original grid. ([`MissedTickBehavior::Skip`])
    #[default]
    Skip,
    /// Run the ticks that fell due back to back until caught up. ([`MissedTickBehavior::Burst`])
    Burst,
    /// Run one late tick, then shift the schedule to a period after it.
    /// ([`MissedTickBehavior::Delay`])
    Delay,
}

impl From<MissedTicks> for MissedTickBehavior {
    fn from(m: MissedTicks) -> Self {
        match m {
            MissedTicks::Skip => MissedTickBehavior::Skip,
            MissedTicks::Burst => MissedTickBehavior::Burst,
            MissedTicks::Delay => MissedTickBehavior::Delay,
        }
    }
}

/// Construction parameters of a [`PeriodicWorker`].
#[derive(Debug, Clone)]
pub struct PeriodicConfig {
    /// Names the worker in log lines.
    pub name: String,
    /// Time between ticks; must not be zero.
    pub period: Duration,
    /// Late-tick behaviour.
    pub missed: MissedTicks,
    /// Wait one period before the first tick (default: first tick at once).
    pub delay_first: bool,
}

impl PeriodicConfig {
    /// A worker `name` ticking every `period`, `Skip` on missed ticks, first tick at once.
    pub fn new(name: impl Into<String>, period: Duration) -> Self {
        PeriodicConfig {
            name: name.into(),
            period,
            missed: MissedTicks::Skip,
            delay_first: false,
        }
    }
}

/// Why a worker could not start, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodicError {
    /// `period` was zero.
    #[error("periodic worker period must not be zero")]
    ZeroPeriod,
    /// Not called from within a Tokio runtime.
    #[error("periodic worker needs a Tokio runtime")]
    NoRuntime,
    /// A tick panicked, which ended the worker.
    #[error("periodic task {name:?} panicked: {message}")]
    TaskPanicked {
        /// The worker's name.
        name: String,
        /// The panic message.
        message: String,
    },
    /// The runtime shut down under the worker.
    #[error("periodic task {0:?} was cancelled by runtime shutdown")]
    Cancelled(String),
}

/// Counters of a [`PeriodicWorker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeriodicStats {
    /// Ticks that ran to completion, failed ones included.
    pub ticks: u64,
    /// Ticks that returned an error.
    pub errors: u64,
    /// Ticks not run on schedule (see the module docs).
    pub missed: u64,
}

#[derive(Default)]
struct Counters {
    ticks: AtomicU64,
    errors: AtomicU64,
    missed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn snapshot(&self) -> PeriodicStats {
        PeriodicStats {
            ticks: self.ticks.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            missed: self.missed.load(Ordering::Relaxed),
        }
    }
}

/// A running periodic task. See the [module docs](self) for the contract.
#[derive(Debug)]
pub struct PeriodicWorker {
    name: String,
    stop: Option<oneshot::Sender<()>>,
    join: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.snapshot().fmt(f)
    }
}

impl PeriodicWorker {
    /// Starts `task` on the current Tokio runtime.
    pub fn spawn<T: PeriodicTask>(config: PeriodicConfig, task: T) -> Result<Self, PeriodicError> {
        if config.period.is_zero() {
            return Err(PeriodicError::ZeroPeriod);
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| PeriodicError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let name = config.name.clone();
        let join = runtime.spawn(run(config, task, stop_rx, Arc::clone(&counters)));
        Ok(PeriodicWorker {
            name,
            stop: Some(stop_tx),
            join,
            counters,
        })
    }

    /// Starts a blocking `task`: each tick runs on Tokio's blocking pool (`spawn_blocking`).
    pub fn spawn_blocking<T: BlockingPeriodicTask>(
        config: PeriodicConfig,
        task: T,
    ) -> Result<Self, PeriodicError> {
        Self::spawn(config, OnBlockingPool(Some(task)))
    }

    /// Lets the current tick finish, stops the worker and returns its final stats.
    ///
    /// Cancel-safe in the sense that cancelling it still stops the worker (without waiting).
    pub async fn stop(mut self) -> Result<PeriodicStats, PeriodicError> {
        if let Some(stop) = self.stop.take() {
            // The worker may have ended already (panic); the join below says so.
            let _ = stop.send(());
        }
        match (&mut self.join).await {
            Ok(()) => Ok(self.counters.snapshot()),
            Err(e) if e.is_panic() => Err(PeriodicError::TaskPanicked {
                name: self.name.clone(),
                message: super::panic_message(&*e.into_panic()).to_owned(),
            }),
            Err(_) => Err(PeriodicError::Cancelled(self.name.clone())),
        }
    }

    /// Current counters.
    pub fn stats(&self) -> PeriodicStats {
        self.counters.snapshot()
    }

    /// The last tick error, as text.
    pub fn last_error(&self) -> Option<String> {
        self.counters.last_error.lock().clone()
    }

    /// True once the worker has ended (stopped, or a tick panicked).
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

async fn run<T: PeriodicTask>(
    config: PeriodicConfig,
    mut task: T,
    mut stop: oneshot::Receiver<()>,
    counters: Arc<Counters>,
) {
    let period = config.period;
    let start = if config.delay_first {
        Instant::now() + period
    } else {
        Instant::now()
    };
    let mut interval = tokio::time::interval_at(start, period);
    interval.set_missed_tick_behavior(config.missed.into());
    let mut previous: Option<Instant> = None;
    let mut seq = 0u64;
    loop {
        let scheduled = tokio::select! {
            biased;
            // A stop request, or the `PeriodicWorker` was dropped.
            _ = &mut stop => break,
            scheduled = interval.tick() => scheduled,
        };
        let missed = missed_before(config.missed, period, previous, scheduled, Instant::now());
        if missed > 0 {
            counters.missed.fetch_add(missed, Ordering::Relaxed);
        }
        previous = Some(scheduled);
        // Not raced against `stop`: a tick always runs to completion.
        let result = task.tick(Tick { seq, scheduled }).await;
        seq += 1;
        counters.ticks.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            let message = e.to_string();
            tracing::warn!(worker = %config.name, tick = seq - 1, error = %message, "periodic tick failed");
            *counters.last_error.lock() = Some(message);
        }
    }
}

/// Ticks missed between the previous tick and this one (see the module docs for the definition).
fn missed_before(
    mode: MissedTicks,
    period: Duration,
    previous: Option<Instant>,
    scheduled: Instant,
    now: Instant,
) -> u64 {
    let period_ns = period.as_nanos().max(1);
    match mode {
        MissedTicks::Skip | MissedTicks::Delay => previous.map_or(0, |p| {
            let gap = scheduled.saturating_duration_since(p).as_nanos();
            u64::try_from((gap / period_ns).saturating_sub(1)).unwrap_or(u64::MAX)
        }),
        MissedTicks::Burst => u64::from(now.saturating_duration_since(scheduled) >= period),
    }
}

/// Adapts a [`BlockingPeriodicTask`] by moving it onto the blocking pool for each tick.
struct OnBlockingPool<T>(Option<T>);

/// Error of a blocking tick, or why it could not run.
enum BlockingTickError<E> {
    Task(E),
    Cancelled,
}

impl<E: fmt::Display> fmt::Display for BlockingTickError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockingTickError::Task(e) => e.fmt(f),
            BlockingTickError::Cancelled => f.write_str("blocking tick cancelled by shutdown"),
        }
    }
}

impl<T: BlockingPeriodicTask> PeriodicTask for OnBlockingPool<T> {
    type Error = BlockingTickError<T::Error>;

    async fn tick(&mut self, tick: Tick) -> Result<(), Self::Error> {
        let Some(mut task) = self.0.take() else {
            // Only after a cancelled tick, and the worker stops after those.
            return Err(BlockingTickError::Cancelled);
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = task.tick(tick);
            (task, result)
        })
        .await;
        match joined {
            Ok((task, result)) => {
                self.0 = Some(task);
                result.map_err(BlockingTickError::Task)
            }
            // Re-raise on the worker so that `stop` reports the panic like an async one.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(BlockingTickError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_counts_per_mode() {
        let p = Duration::from_millis(100);
        let t0 = Instant::now();
        // Skip: the schedule jumped from p to 4p.
        assert_eq!(
            missed_before(MissedTicks::Skip, p, Some(t0 + p), t0 + 4 * p, t0 + 4 * p),
            2
        );
        assert_eq!(missed_before(MissedTicks::Skip, p, None, t0, t0), 0);
        // Delay: a late tick at 3.5p shifted the schedule to 4.5p.
        assert_eq!(
            missed_before(
                MissedTicks::Delay,
                p,
                Some(t0 + p),
                t0 + p * 9 / 2,
                t0 + p * 9 / 2
            ),
            2
        );
        // Burst: late by a full period or more counts.
        assert_eq!(
            missed_before(MissedTicks::Burst, p, None, t0 + p, t0 + 2 * p),
            1
        );
        assert_eq!(
            missed_before(MissedTicks::Burst, p, None, t0 + p, t0 + p * 3 / 2),
            0
        );
    }
}
