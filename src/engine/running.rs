//! [`RunningGraph`]: a graph spawned on Tokio, and its bounded drain.

use std::time::Duration;

use aimdb_core::{AimDb, BuildError, DbHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Rt;

/// A graph running on its own task.
pub struct RunningGraph {
    handle: DbHandle<Rt>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), BuildError>>,
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every task ended.
    Drained,
    /// The timeout passed with this many tasks still running; they were abandoned.
    TimedOut {
        /// Tasks still running.
        live_tasks: usize,
    },
    /// The graph failed.
    Failed(String),
}

impl RunningGraph {
    /// Spawns `db` on the current Tokio runtime.
    pub fn start(db: AimDb<Rt>) -> Self {
        let handle = db.handle();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(db.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            handle,
            stop: Some(stop),
            task,
        }
    }

    /// The graph's handle.
    pub(crate) fn handle(&self) -> &DbHandle<Rt> {
        &self.handle
    }

    /// Stops sources and waits up to `timeout` for taps, transforms and links to drain.
    pub async fn drain(mut self, timeout: Duration) -> DrainOutcome {
        self.stop();
        self.wait(timeout).await
    }

    /// Stops sources and raises shutdown (taps, transforms and links drain); see
    /// [`RunningGraph::wait`].
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle.shutdown();
    }

    /// Waits up to `timeout` for a stopped graph's tasks to end (then abandons them).
    pub(crate) async fn wait(&mut self, timeout: Duration) -> DrainOutcome {
        match tokio::time::timeout(timeout, &mut self.task).await {
            Ok(Ok(Ok(()))) => DrainOutcome::Drained,
            Ok(Ok(Err(e))) => DrainOutcome::Failed(e.to_string()),
            Ok(Err(e)) => DrainOutcome::Failed(format!("graph task: {e}")),
            Err(_) => {
                self.task.abort();
                DrainOutcome::TimedOut {
                    live_tasks: self.handle.live_tasks(),
                }
            }
        }
    }
}
