//! [`StoreError`]: why the history database could not be opened, written or read, with the path
//! and the OS or SQLite reason an operator needs.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// What went wrong with the history database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database's directory is missing, not a directory, or not writable.
    #[error("{path}: cannot use directory {dir}: {reason}")]
    Directory {
        /// The database file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// The OS reason.
        reason: String,
    },
    /// The file is not a SQLite database, or is damaged.
    #[error("{path} is not a readable history database (corrupt or not SQLite): {reason}; move it away to start a new one")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        reason: String,
    },
    /// Another process holds a lock on the database.
    #[error("{path} is locked by another process: {reason}")]
    Locked {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        reason: String,
    },
    /// The database was written by a newer aimdbd.
    #[error("{path} has schema version {found}, newer than this build's {known}; run a newer aimdbd or use another [store] path")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// There is no database file (read-only access does not create one).
    #[error("no history database at {path} (has a daemon with this [store] path run yet?)")]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// Any other failure (full disk, I/O error, read-only file).
    #[error("{path}: {reason}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's or the OS's reason.
        reason: String,
    },
}

impl StoreError {
    /// Classifies a SQLite error on `path`.
    pub(crate) fn from_sqlite(path: &Path, e: &rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        let reason = e.to_string();
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, reason }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path, reason }
            }
            _ => StoreError::Sqlite { path, reason },
        }
    }
}
