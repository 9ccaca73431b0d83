//! `--watch-config`: a changed config file triggers the same reload as SIGHUP.
//!
//! The watcher (`notify`: inotify on Linux) runs on a thread of its own that Tokio did not
//! create; it hands events to the daemon through a Tokio channel of one slot with `try_send`, so
//! it never blocks and a burst of events is one pending reload (a full slot means a reload is
//! already due). The daemon waits until the file was quiet for [`SETTLE`] (an editor writes,
//! truncates, renames) and reloads once.
//!
//! The config file's directory is watched, not the file: editors that save by writing a new
//! file and renaming it over the old one replace the inode a file watch would follow. Only
//! events naming the config file count.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long the file must be quiet before a reload.
pub(super) const SETTLE: Duration = Duration::from_millis(300);

/// Why the config file could not be watched.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir} for changes of {file}: {source}")]
pub(super) struct WatchError {
    dir: String,
    file: String,
    #[source]
    source: notify::Error,
}

/// Watches one config file; see the module docs.
pub(super) struct ConfigWatch {
    changed: mpsc::Receiver<()>,
    /// Kept alive: dropping it stops the watcher thread.
    _watcher: RecommendedWatcher,
}

impl ConfigWatch {
    /// Starts watching `path`.
    pub(super) fn start(path: &Path) -> Result<Self, WatchError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name: Option<OsString> = path.file_name().map(ToOwned::to_owned);
        let (tx, changed) = mpsc::channel(1);
        let on_event = move |res: notify::Result<Event>| {
            let Ok(event) = res else { return };
            if touches(&event, name.as_deref()) {
                // Full: a reload is already due, which reads the file as it is then.
                let _ = tx.try_send(());
            }
        };
        let fail = |source| WatchError {
            dir: dir.display().to_string(),
            file: path.display().to_string(),
            source,
        };
        let mut watcher = notify::recommended_watcher(on_event).map_err(fail)?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(fail)?;
        Ok(Self {
            changed,
            _watcher: watcher,
        })
    }

    /// Resolves once the file changed and then stayed quiet for [`SETTLE`]. Cancelled while
    /// settling, the change it saw is dropped: the daemon cancels it only for a SIGHUP (whose
    /// reload reads the file as it is) or a stop.
    pub(super) async fn changed(&mut self) {
        if self.changed.recv().await.is_none() {
            // The watcher is gone: never resolve.
            return std::future::pending().await;
        }
        loop {
            match tokio::time::timeout(SETTLE, self.changed.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    }
}

/// Whether `event` may have changed the file called `name` (content written, created, renamed
/// into place); reads and metadata-only events do not count.
fn touches(event: &Event, name: Option<&std::ffi::OsStr>) -> bool {
    let kind = match event.kind {
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    kind && event
        .paths
        .iter()
        .any(|p| p.file_name().is_some() && p.file_name() == name)
}
