//! The runtime abstraction: what the engine needs from Tokio, Embassy or any other executor.
//!
//! A runtime spawns tasks ([`Spawn`]), tells time and sleeps ([`TimeOps`]), logs ([`Logger`]) and
//! names the mutex its buffers use ([`MutexFamily`]). Everything is generic over `R: Runtime` and
//! resolves to direct calls at compile time: nothing on the per-message path is boxed or
//! dynamically dispatched. Spawning boxes a task once, where the runtime needs it (Embassy's static
//! task pool), never per message.

use core::fmt;
use core::future::Future;
use core::time::Duration;

use crate::lifecycle::ShutdownSignal;
use crate::sync::MutexFamily;

/// Why a task could not be spawned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// A fixed-size task pool (e.g. Embassy's) is full.
    PoolFull,
    /// The runtime is shutting down or gone.
    Shutdown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::PoolFull => f.write_str("task pool is full"),
            SpawnError::Shutdown => f.write_str("runtime is shutting down"),
        }
    }
}

impl core::error::Error for SpawnError {}

/// Starts tasks.
pub trait Spawn {
    /// Starts `task` concurrently with the caller. Does not block.
    fn spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static;
}

/// Clocks and timers.
pub trait TimeOps {
    /// A point on the runtime's monotonic clock.
    type Instant: Copy + Ord + Send + Sync + fmt::Debug + 'static;

    /// The current monotonic time.
    fn now(&self) -> Self::Instant;
    /// Time elapsed from `earlier` to `later` (zero if `later` is before `earlier`).
    fn duration_between(&self, earlier: Self::Instant, later: Self::Instant) -> Duration;
    /// Time since the runtime was created.
    fn uptime(&self) -> Duration;
    /// A cheap, possibly coarse (a few milliseconds) reading of [`TimeOps::uptime`]. Called on
    /// every produce to timestamp the record's counters, so adapters whose precise clock is
    /// costly override it.
    fn stamp(&self) -> Duration {
        self.uptime()
    }
    /// Wall-clock time since the Unix epoch, where the platform knows it (an MCU without RTC
    /// returns `None`).
    fn unix_time(&self) -> Option<Duration>;
    /// Completes after `duration`. Cancel-safe: dropping it has no effect.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Fine-grained diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected the engine recovered from.
    Warn,
    /// Something failed.
    Error,
}

/// Log output.
pub trait Logger {
    /// Emits one log line. `target` names the component (usually a record key).
    fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>);
}

/// Everything the engine needs from an executor. Cheap to clone (adapters hold an `Arc` or
/// nothing).
pub trait Runtime: Spawn + TimeOps + Logger + Clone + Send + Sync + 'static {
    /// The mutex buffers use on this platform.
    type Mutex: MutexFamily;
}

/// Handed to every source, tap, transform and link: the runtime's clock and log, the record's
/// key, and the engine's shutdown signal.
pub struct RuntimeContext<R: Runtime> {
    runtime: R,
    key: alloc::sync::Arc<str>,
    shutdown: ShutdownSignal<R::Mutex>,
}

impl<R: Runtime> Clone for RuntimeContext<R> {
    fn clone(&self) -> Self {
        Self {
            runtime: self.runtime.clone(),
            key: self.key.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<R: Runtime> RuntimeContext<R> {
    /// A context for the component of record `key`.
    pub fn new(runtime: R, key: alloc::sync::Arc<str>, shutdown: ShutdownSignal<R::Mutex>) -> Self {
        Self {
            runtime,
            key,
            shutdown,
        }
    }

    /// The clock: [`Time::now`], [`Time::sleep`], the duration helpers [`Time::secs`],
    /// [`Time::millis`], [`Time::micros`] and [`Time::duration_since`]. Never blocks.
    pub fn time(&self) -> Time<'_, R> {
        Time(&self.runtime)
    }

    /// The log, with this record's key as target.
    pub fn log(&self) -> Log<'_, R> {
        Log {
            runtime: &self.runtime,
            target: &self.key,
        }
    }

    /// The runtime itself, e.g. to spawn helper tasks.
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The key of the record this component belongs to.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The engine's shutdown signal: completes when the engine begins to drain. Sources are
    /// cancelled at that point anyway; long-running taps may use it to finish early.
    pub fn shutdown(&self) -> &ShutdownSignal<R::Mutex> {
        &self.shutdown
    }
}

/// Clock view of a [`RuntimeContext`]: `ctx.time()`.
///
/// Available on every runtime (`no_std` included): each method is written once, over the
/// runtime's [`TimeOps`]. Durations are [`core::time::Duration`] on every runtime (the Embassy
/// adapter converts to and from `embassy_time` at its edge); instants are the runtime's own
/// [`TimeOps::Instant`] (`tokio::time::Instant`, `embassy_time::Instant`).
///
/// Nothing here blocks: the clock reads and the duration helpers return at once, and
/// [`Time::sleep`] is a future that suspends only the task awaiting it. `Time` borrows the
/// context and is `Copy`, so `let time = ctx.time();` once and use it in a loop.
///
/// ```
/// # use aimdb_core::RuntimeContext;
/// # use aimdb_core::Runtime;
/// // A source's loop in the shape the AimDB documentation uses.
/// async fn tick<R: Runtime>(ctx: RuntimeContext<R>) {
///     let time = ctx.time();
///     let start = time.now();
///     time.sleep(time.millis(250)).await;
///     let took = time.duration_since(time.now(), start);
///     assert!(took.is_some_and(|d| d >= time.millis(250)));
///     assert_eq!(time.secs(2), time.millis(2_000));
/// }
/// ```
pub struct Time<'a, R: Runtime>(&'a R);

impl<R: Runtime> Clone for Time<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: Runtime> Copy for Time<'_, R> {}

impl<R: Runtime> fmt::Debug for Time<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Time").finish_non_exhaustive()
    }
}

impl<'a, R: Runtime> Time<'a, R> {
    /// A duration of `secs` seconds, in the runtime's duration type. Pure arithmetic: never
    /// blocks, never fails (`Duration` holds every `u64` of seconds).
    #[inline]
    #[must_use]
    pub fn secs(&self, secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// A duration of `millis` milliseconds, in the runtime's duration type. Pure arithmetic.
    #[inline]
    #[must_use]
    pub fn millis(&self, millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A duration of `micros` microseconds, in the runtime's duration type. Pure arithmetic.
    /// (Embassy's default tick is 1 µs; a sleep rounds up to whole ticks.)
    #[inline]
    #[must_use]
    pub fn micros(&self, micros: u64) -> Duration {
        Duration::from_micros(micros)
    }

    /// The current monotonic time. Never blocks; never goes backwards.
    pub fn now(&self) -> R::Instant {
        self.0.now()
    }

    /// Time elapsed from `earlier` to `later`, or `None` if `later` is before `earlier` (as
    /// `std::time::Instant::checked_duration_since`; the arguments are in the same order as
    /// `later.duration_since(earlier)`). Never blocks.
    #[must_use]
    pub fn duration_since(&self, later: R::Instant, earlier: R::Instant) -> Option<Duration> {
        (later >= earlier).then(|| self.0.duration_between(earlier, later))
    }

    /// Time elapsed since `earlier` (zero if `earlier` is in the future). Never blocks.
    pub fn since(&self, earlier: R::Instant) -> Duration {
        self.0.duration_between(earlier, self.0.now())
    }

    /// Wall-clock time since the Unix epoch, where known (`None` on a node without a wall
    /// clock, e.g. before SNTP answered). Never blocks.
    pub fn unix_time(&self) -> Option<Duration> {
        self.0.unix_time()
    }

    /// Milliseconds since the Unix epoch where known, else uptime in milliseconds. Never blocks.
    pub fn timestamp_ms(&self) -> u64 {
        let t = self.0.unix_time().unwrap_or_else(|| self.0.uptime());
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
    }

    /// Completes once `duration` has passed (at least; timers round up to the runtime's tick).
    /// Suspends only the task awaiting it, never the thread. Cancel-safe: dropping it before it
    /// completes has no effect. A duration past the end of the clock sleeps forever.
    /// The future borrows the context, not this `Time`: `ctx.time().sleep(d)` may be stored and
    /// awaited later.
    pub fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send + 'a {
        self.0.sleep(duration)
    }
}

/// Log view of a [`RuntimeContext`]; every line carries the record key as target.
pub struct Log<'a, R: Runtime> {
    runtime: &'a R,
    target: &'a str,
}

impl<R: Runtime> Log<'_, R> {
    /// Logs at `level`.
    pub fn at(&self, level: LogLevel, message: impl fmt::Display) {
        self.runtime
            .log(level, self.target, format_args!("{message}"));
    }
    /// Logs at debug level.
    pub fn debug(&self, message: impl fmt::Display) {
        self.at(LogLevel::Debug, message);
    }
    /// Logs at info level.
    pub fn info(&self, message: impl fmt::Display) {
        self.at(LogLevel::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(&self, message: impl fmt::Display) {
        self.at(LogLevel::Warn, message);
    }
    /// Logs at error level.
    pub fn error(&self, message: impl fmt::Display) {
        self.at(LogLevel::Error, message);
    }
}

// An `Arc` of a runtime is a runtime, so `AimDbBuilder::new().runtime(Arc::new(adapter))` works.
impl<R: Spawn> Spawn for alloc::sync::Arc<R> {
    fn spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (**self).spawn(task)
    }
}

impl<R: TimeOps + Send + Sync> TimeOps for alloc::sync::Arc<R> {
    type Instant = R::Instant;
    fn now(&self) -> Self::Instant {
        (**self).now()
    }
    fn duration_between(&self, earlier: Self::Instant, later: Self::Instant) -> Duration {
        (**self).duration_between(earlier, later)
    }
    fn uptime(&self) -> Duration {
        (**self).uptime()
    }
    fn stamp(&self) -> Duration {
        (**self).stamp()
    }
    fn unix_time(&self) -> Option<Duration> {
        (**self).unix_time()
    }
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        (**self).sleep(duration)
    }
}

impl<R: Logger> Logger for alloc::sync::Arc<R> {
    fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
        (**self).log(level, target, message)
    }
}

impl<R: Runtime> Runtime for alloc::sync::Arc<R> {
    type Mutex = R::Mutex;
}
