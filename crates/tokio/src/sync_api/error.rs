//! Errors of the sync API.

use aimdb_core::{AccessError, BuildError};

/// The engine thread could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The graph is invalid or could not start.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The Tokio runtime or the thread could not be created.
    #[error("could not start the engine thread: {0}")]
    Runtime(#[from] std::io::Error),
    /// The engine thread ended before reporting whether the graph built.
    #[error("the engine thread ended during start-up")]
    ThreadEnded,
    /// A record asked for while starting could not be had (its key or type is wrong).
    #[error("could not start the graph: {0}")]
    Access(#[from] AccessError),
}

/// `detach` did not finish cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    /// Draining took longer than the timeout; the engine cancels its remaining tasks and its
    /// thread ends on its own, unwaited for.
    #[error("the engine did not drain within {0:?}")]
    Timeout(std::time::Duration),
    /// The engine thread panicked.
    #[error("the engine thread panicked")]
    Panicked,
}

/// `set` failed; the value is handed back.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError<T> {
    /// The graph is shutting down or has shut down.
    #[error("the engine has shut down")]
    Closed(T),
}

/// Why a `get` returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// Nothing is ready (`try_get` only).
    #[error("no value ready")]
    Empty,
    /// Nothing arrived within the timeout (`get_with_timeout` only).
    #[error("no value within the timeout")]
    Timeout,
    /// This consumer fell behind a ring and missed this many values; the next `get` returns the
    /// oldest value still held.
    #[error("missed {0} values")]
    Lagged(u64),
    /// The record closed or the engine shut down, and everything delivered has been read.
    #[error("closed")]
    Closed,
}
