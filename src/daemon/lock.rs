//! One daemon per state file: at start, an exclusive `flock` on the history store's and the
//! disk outbox's SQLite files, held until the process exits.
//!
//! Two daemons on one store would write one database, and on one outbox (same config, so the
//! same client id) kick each other off the broker forever. The second one to start finds the
//! lock taken and exits 1 naming the file. `flock` locks are independent of SQLite's own
//! (POSIX) locks on Linux, so SQLite and `aimdbd history` (read-only, no flock) are not
//! affected; the kernel drops the lock when the process ends, even on `kill -9`. The paths are
//! those of the config at start; a reload that names another file does not lock it.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::config::{Config, Outbox};

/// The locks held; dropping it releases them.
#[derive(Debug)]
pub(crate) struct StateLocks {
    _files: Vec<File>,
}

/// Why a state file could not be locked.
#[derive(Debug, thiserror::Error)]
#[error("{what} {} is in use by another aimdbd (it holds an exclusive lock on the file); two daemons on one {what} would overwrite each other's state. Stop the other one, or give this one its own `{key}`", path.display())]
pub(crate) struct InUse {
    /// `history store` or `disk outbox`.
    pub(crate) what: &'static str,
    /// The config key naming the file.
    pub(crate) key: &'static str,
    /// The file.
    pub(crate) path: PathBuf,
}

impl StateLocks {
    /// Locks the store and outbox files `config` names. A file that cannot be opened is
    /// skipped here (the store or outbox reports it when it opens the file); only a lock held
    /// by another process is an error.
    pub(crate) fn take(config: &Config) -> Result<Self, InUse> {
        let mut files = Vec::new();
        if let Some(store) = &config.store {
            files.extend(lock(&store.path, "history store", "[store] path")?);
        }
        if let Some(mqtt) = config.mqtt.as_ref().filter(|m| m.outbox == Outbox::Disk) {
            if let Some(dir) = mqtt
                .outbox_path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                let _ = std::fs::create_dir_all(dir);
            }
            files.extend(lock(
                &mqtt.outbox_path,
                "disk outbox",
                "[mqtt] outbox_path",
            )?);
        }
        Ok(Self { _files: files })
    }
}

#[allow(unsafe_code)] // audited: see the SAFETY comment
fn lock(path: &Path, what: &'static str, key: &'static str) -> Result<Option<File>, InUse> {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    else {
        return Ok(None);
    };
    // SAFETY: `flock` on a descriptor this function owns (`file` outlives the call); it only
    // changes the lock state of the open file description.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(Some(file));
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        return Err(InUse {
            what,
            key,
            path: path.to_path_buf(),
        });
    }
    tracing::warn!(path = %path.display(), "cannot lock the {what} file: {err}; not guarded against a second daemon");
    Ok(Some(file))
}
