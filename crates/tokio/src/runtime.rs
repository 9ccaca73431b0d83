//! [`TokioAdapter`]: aimdb's runtime traits on Tokio.

use core::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aimdb_core::{LogLevel, Logger, Runtime, Spawn, SpawnError, TimeOps};
use tokio::runtime::Handle;

use crate::short_lock::ShortLocks;
use tokio::time::Instant;

/// Runs aimdb on a Tokio runtime: tasks are `tokio::spawn`ed on the runtime the adapter was
/// created in, time is `tokio::time` (so `tokio::time::pause` works in tests), logs go to
/// `tracing` with the record key as field `record`, and buffers lock with [`ShortLocks`].
#[derive(Clone, Debug)]
pub struct TokioAdapter {
    handle: Handle,
    started: Instant,
    started_coarse: coarsetime::Instant,
}

/// The adapter was created outside a Tokio runtime.
#[derive(Debug, thiserror::Error)]
#[error("TokioAdapter::new must be called inside a Tokio runtime: {0}")]
pub struct NoTokioRuntime(#[from] tokio::runtime::TryCurrentError);

impl TokioAdapter {
    /// An adapter for the Tokio runtime the caller runs in.
    pub fn new() -> Result<Self, NoTokioRuntime> {
        Ok(Self::with_handle(Handle::try_current()?))
    }

    /// An adapter spawning onto `handle`'s runtime.
    pub fn with_handle(handle: Handle) -> Self {
        let _guard = handle.enter();
        Self {
            handle,
            started: Instant::now(),
            started_coarse: coarsetime::Instant::now(),
        }
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Spawn for TokioAdapter {
    fn spawn<F>(&self, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(self.handle.spawn(task));
        Ok(())
    }
}

impl TimeOps for TokioAdapter {
    type Instant = Instant;

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn duration_between(&self, earlier: Instant, later: Instant) -> Duration {
        later.saturating_duration_since(earlier)
    }

    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// `CLOCK_MONOTONIC_COARSE` (a few ns to read, a few ms resolution): the precise clock costs
    /// more than the rest of a produce→receive cycle.
    fn stamp(&self) -> Duration {
        coarsetime::Instant::now()
            .duration_since(self.started_coarse)
            .into()
    }

    fn unix_time(&self) -> Option<Duration> {
        SystemTime::now().duration_since(UNIX_EPOCH).ok()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

impl Logger for TokioAdapter {
    fn log(&self, level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
        match level {
            LogLevel::Trace => tracing::trace!(record = target, "{message}"),
            LogLevel::Debug => tracing::debug!(record = target, "{message}"),
            LogLevel::Info => tracing::info!(record = target, "{message}"),
            LogLevel::Warn => tracing::warn!(record = target, "{message}"),
            LogLevel::Error => tracing::error!(record = target, "{message}"),
        }
    }
}

impl Runtime for TokioAdapter {
    type Mutex = ShortLocks;
}
