//! Building blocks of `/metrics` shared by the bridge, the store and the admin endpoint: the
//! helpers every family is written with ([`exposition`], over `prometheus-client`), a
//! lock-free [`histogram::Histogram`], the process's own metrics ([`process`]), wall-clock
//! timestamps and state-file sizes. Nothing here depends on the rest of the daemon.

pub(crate) mod exposition;
pub(crate) mod histogram;
pub(crate) mod process;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970). One `clock_gettime`.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Bytes of the SQLite database at `path` plus its write-ahead log (`<path>-wal`, if any): what
/// the file takes on disk between checkpoints. `None` if the database file cannot be read.
/// Blocking (file metadata): call it off the async workers.
pub(crate) fn sqlite_file_bytes(path: &Path) -> Option<u64> {
    let db = std::fs::metadata(path).ok()?.len();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::fs::metadata(Path::new(&wal)).map_or(0, |m| m.len());
    Some(db + wal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_counts_with_the_database_and_a_missing_file_is_none() {
        let dir = std::env::temp_dir().join(format!("aimdbd-telemetry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("x.db");
        assert_eq!(sqlite_file_bytes(&db), None);
        std::fs::write(&db, [0u8; 100]).expect("db");
        assert_eq!(sqlite_file_bytes(&db), Some(100));
        std::fs::write(dir.join("x.db-wal"), [0u8; 28]).expect("wal");
        assert_eq!(sqlite_file_bytes(&db), Some(128));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
