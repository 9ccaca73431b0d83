//! `--watch-config`: a changed config file triggers the same reload as SIGHUP.
//!
//! The watcher (`notify`: inotify on Linux) runs on a thread of its own that Tokio did not
//! create; it hands events to the daemon through a Tokio channel of one slot with `try_send`, so
//! it never blocks and a burst of events is one pending reload (a full slot means a reload is
//! already due). The daemon waits until the file was quiet for [`SETTLE`] (an editor writes,
//! truncates, renames), and reloads once — if what the file holds changed since the last time:
//! a save that writes the same text, or a `touch`, reloads nothing.
//!
//! The config file's directory is watched, not the file: editors that save by writing a new
//! file and renaming it over the old one replace the inode a file watch would follow. Only
//! events naming the config file count. When the config path is a symlink, the directory of the
//! file it points to is watched as well (an edit of the target is seen), and followed again
//! after every change (a link swapped to a file in another directory, as `ln -sfn` does).

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use parking_lot::Mutex;
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
    /// Dropping it stops the watcher thread.
    watcher: RecommendedWatcher,
    path: PathBuf,
    /// The directory of the symlink's target, when the path is a link into another one.
    target_dir: Option<PathBuf>,
    /// File names whose events count: the config path's, and its target's.
    names: Arc<Mutex<Vec<OsString>>>,
    /// What the file held at the last change reported (or at start).
    last: u64,
}

impl ConfigWatch {
    /// Starts watching `path`.
    pub(super) async fn start(path: &Path) -> Result<Self, WatchError> {
        let dir = parent(path);
        let own: Vec<OsString> = path
            .file_name()
            .map(ToOwned::to_owned)
            .into_iter()
            .collect();
        let names = Arc::new(Mutex::new(own));
        let (tx, changed) = mpsc::channel(1);
        let seen = names.clone();
        let on_event = move |res: notify::Result<Event>| {
            let Ok(event) = res else { return };
            if touches(&event, &seen.lock()) {
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
        let mut watch = Self {
            changed,
            watcher,
            path: path.to_path_buf(),
            target_dir: None,
            names,
            last: 0,
        };
        let now = watch.look().await;
        watch.last = now;
        Ok(watch)
    }

    /// Resolves once the file's contents changed and then stayed quiet for [`SETTLE`].
    /// Cancelled while settling, the change it saw is dropped: the daemon cancels it only for a
    /// SIGHUP (whose reload reads the file as it is) or a stop.
    pub(super) async fn changed(&mut self) {
        loop {
            if self.changed.recv().await.is_none() {
                // The watcher is gone: never resolve.
                return std::future::pending().await;
            }
            while let Ok(Some(())) = tokio::time::timeout(SETTLE, self.changed.recv()).await {}
            let now = self.look().await;
            if now != self.last {
                self.last = now;
                return;
            }
        }
    }

    /// Reads the file (on a blocking thread) and follows its link, if it is one: returns the
    /// hash of what it holds.
    async fn look(&mut self) -> u64 {
        let path = self.path.clone();
        let seen = tokio::task::spawn_blocking(move || (resolve(&path), contents(&path))).await;
        let Ok((link, now)) = seen else {
            return self.last;
        };
        self.follow(link);
        now
    }

    /// Watches the directory of the file the config path links to (`link`: its file name and,
    /// if it is in another directory, that directory), and stops watching the one before.
    fn follow(&mut self, link: Option<(OsString, Option<PathBuf>)>) {
        let (name, target_dir) = link.map_or((None, None), |(n, d)| (Some(n), d));
        {
            let mut names = self.names.lock();
            names.truncate(1);
            names.extend(name);
        }
        if target_dir == self.target_dir {
            return;
        }
        if let Some(old) = self.target_dir.take() {
            let _ = self.watcher.unwatch(&old);
        }
        if let Some(dir) = target_dir {
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => self.target_dir = Some(dir),
                Err(e) => tracing::warn!(
                    dir = %dir.display(),
                    "--watch-config: cannot watch the directory the config links to ({e}); edits there are seen only when the link changes"
                ),
            }
        }
    }
}

/// Where `path` leads: the target's file name, and its directory if that is not `path`'s own.
/// Blocking (file system calls).
fn resolve(path: &Path) -> Option<(OsString, Option<PathBuf>)> {
    let target = std::fs::canonicalize(path).ok()?;
    let name = target.file_name()?.to_owned();
    let dir = parent(&target);
    let own = std::fs::canonicalize(parent(path)).ok();
    Some((name, (own.as_ref() != Some(&dir)).then_some(dir)))
}

/// The directory `path` is in (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A hash of what `path` holds (a file that cannot be read hashes as its error's kind).
/// Blocking.
fn contents(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match std::fs::read(path) {
        Ok(bytes) => bytes.hash(&mut h),
        Err(e) => e.kind().hash(&mut h),
    }
    h.finish()
}

/// Whether `event` may have changed a file called one of `names` (content written, created,
/// renamed into place, removed); reads and metadata-only events do not count.
fn touches(event: &Event, names: &[OsString]) -> bool {
    let kind = match event.kind {
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    kind && event
        .paths
        .iter()
        .filter_map(|p| p.file_name())
        .any(|n| names.iter().any(|m| m == n))
}
