//! [`EmbassyAdapter`]: aimdb's runtime traits on Embassy.

use core::fmt;
use core::future::Future;
use core::time::Duration;

use aimdb_core::{LogLevel, Logger, Runtime, Spawn, SpawnError, TimeOps};
use embassy_executor::SendSpawner;
use embassy_time::{Instant, Timer};

use crate::mutex::CsMutexFamily;
use crate::pool::{spawn_boxed, SpawnFn};

/// Runs aimdb on an Embassy executor: tasks go to a static pool ([`task_pool!`](crate::task_pool))
/// on the executor of `spawner`, time is `embassy-time`, buffers lock with a critical-section
/// mutex. `Copy`, two words plus an optional clock.
#[derive(Clone, Copy)]
pub struct EmbassyAdapter {
    spawner: SendSpawner,
    spawn_fn: SpawnFn,
    started: Instant,
    wall_clock: Option<fn() -> Option<Duration>>,
}

impl fmt::Debug for EmbassyAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyAdapter")
            .field("started", &self.started)
            .field("wall_clock", &self.wall_clock.is_some())
            .finish_non_exhaustive()
    }
}

impl EmbassyAdapter {
    /// An adapter spawning into the pool `spawn_fn` (defined with
    /// [`task_pool!`](crate::task_pool)) on `spawner`'s executor. Uptime counts from now.
    pub fn new(spawner: SendSpawner, spawn_fn: SpawnFn) -> Self {
        Self {
            spawner,
            spawn_fn,
            started: Instant::now(),
            wall_clock: None,
        }
    }

    /// Uses `clock` (time since the Unix epoch, `None` while unknown, e.g. before SNTP answered)
    /// for [`TimeOps::unix_time`]. Without one the node has no wall clock and record timestamps
    /// are uptime.
    pub fn with_wall_clock(mut self, clock: fn() -> Option<Duration>) -> Self {
        self.wall_clock = Some(clock);
        self
    }

    /// The executor's spawner.
    pub fn spawner(&self) -> SendSpawner {
        self.spawner
    }
}

fn to_core(d: embassy_time::Duration) -> Duration {
    Duration::from_micros(d.as_micros())
}

/// Rounds up to whole ticks; saturates (a sleep past the end of the tick counter is "forever").
fn to_embassy(d: Duration) -> embassy_time::Duration {
    let ticks = d
        .as_nanos()
        .saturating_mul(u128::from(embassy_time::TICK_HZ))
        .div_ceil(1_000_000_000);
    embassy_time::Duration::from_ticks(u64::try_from(ticks).unwrap_or(u64::MAX))
}

impl Spawn for EmbassyAdapter {
    fn spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawn_boxed(self.spawner, self.spawn_fn, task)
    }
}

impl TimeOps for EmbassyAdapter {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn duration_between(&self, earlier: Instant, later: Instant) -> Duration {
        later
            .checked_duration_since(earlier)
            .map(to_core)
            .unwrap_or(Duration::ZERO)
    }

    fn uptime(&self) -> Duration {
        self.duration_between(self.started, Instant::now())
    }

    fn unix_time(&self) -> Option<Duration> {
        self.wall_clock.and_then(|clock| clock())
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        let deadline = Instant::now()
            .checked_add(to_embassy(duration))
            .unwrap_or(Instant::MAX);
        Timer::at(deadline)
    }
}

impl Logger for EmbassyAdapter {
    fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
        crate::log::emit(level, target, message);
    }
}

impl Runtime for EmbassyAdapter {
    type Mutex = CsMutexFamily;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_and_saturate() {
        assert_eq!(
            to_core(to_embassy(Duration::from_millis(1500))),
            Duration::from_millis(1500)
        );
        assert_eq!(to_embassy(Duration::from_nanos(1)).as_ticks(), 1);
        assert_eq!(to_embassy(Duration::MAX), embassy_time::Duration::MAX);
    }
}
