//! The database schema, versioned with `PRAGMA user_version` and migrated when the daemon opens
//! the database; and the two ways to open it (the daemon's read-write connections, the
//! read-only one of `aimdbd history` and the admin endpoint).
//!
//! Blocking: every function here does file I/O; call them on a blocking thread.
//!
//! Schema (version 1), readable with the `sqlite3` tool:
//!
//! ```sql
//! CREATE TABLE history (            -- one row per persisted value
//!   id     INTEGER PRIMARY KEY,      -- insertion order
//!   key    TEXT    NOT NULL,         -- record key
//!   ts_ms  INTEGER NOT NULL,         -- when the daemon received the value, ms since the Unix epoch
//!   node   TEXT    NOT NULL,         -- [node] id of the daemon that stored it
//!   source TEXT    NOT NULL,         -- the record's writer: source:<kind>, transform:<kind>, link_from, admin (older rows: external)
//!   value  TEXT    NOT NULL          -- the value as JSON
//! );
//! CREATE INDEX history_key_ts ON history (key, ts_ms);
//! CREATE TABLE records (key TEXT PRIMARY KEY, type TEXT NOT NULL, first_ts_ms INTEGER NOT NULL);
//! CREATE VIEW history_readable AS SELECT id, key, strftime('%Y-%m-%dT%H:%M:%fZ', ...) AS time, ...;
//! ```

use std::path::Path;
use std::time::Duration;

pub use rusqlite::Connection;
use rusqlite::{OpenFlags, TransactionBehavior};

use super::error::StoreError;

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits for another one's write lock before failing with "locked".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migration `i` takes the schema from version `i` to `i + 1`. Append; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the history table, its per-record index, the records seen, a readable view.
    "CREATE TABLE history (
        id     INTEGER PRIMARY KEY,
        key    TEXT    NOT NULL,
        ts_ms  INTEGER NOT NULL,
        node   TEXT    NOT NULL,
        source TEXT    NOT NULL,
        value  TEXT    NOT NULL
    );
    CREATE INDEX history_key_ts ON history (key, ts_ms);
    CREATE TABLE records (
        key         TEXT PRIMARY KEY,
        type        TEXT NOT NULL,
        first_ts_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE VIEW history_readable AS
        SELECT id, key,
               strftime('%Y-%m-%dT%H:%M:%fZ', ts_ms / 1000.0, 'unixepoch') AS time,
               node, source, value
        FROM history;",
];

/// Opens (creating if needed) the database at `path` for writing: WAL, `synchronous = NORMAL`
/// (a committed batch survives a crash of the process; a power loss may lose the last few),
/// busy timeout, schema migrated to [`SCHEMA_VERSION`].
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    probe_directory(path)?;
    let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(path, &e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sqlite)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite {
            path: path.to_path_buf(),
            reason: format!("cannot switch to WAL mode (journal_mode is {mode:?})"),
        });
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;")
        .map_err(sqlite)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Opens the existing database at `path` read-only (never creates or migrates it). Works while a
/// daemon writes (WAL lets readers and the writer coexist) and while none runs.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(path, &e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    let version = user_version(&conn).map_err(sqlite)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version == 0 {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: "it has no aimdbd schema".into(),
        });
    }
    Ok(conn)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema to [`SCHEMA_VERSION`], one migration per transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(path, &e);
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let version = user_version(&tx).map_err(sqlite)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(step).map_err(sqlite)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        tracing::info!(
            path = %path.display(),
            from = version,
            to = version + 1,
            "history schema migrated"
        );
    }
}

/// Checks that the directory of `path` exists and accepts new files (SQLite creates `-wal` and
/// `-shm` beside the database), so the error names the OS reason rather than SQLite's
/// "unable to open database file".
fn probe_directory(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let fail = |reason: String| StoreError::Directory {
        path: path.to_path_buf(),
        dir: dir.clone(),
        reason,
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(fail("not a directory".into())),
        Err(e) => return Err(fail(e.to_string())),
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let probe = dir.join(format!(".{name}.{}.probe", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            // Best effort: a leftover probe file is harmless.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(fail(format!("cannot create files there: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("aimdbd-schema-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_new_database_is_migrated_and_reopens() {
        let dir = temp("new");
        let path = dir.join("h.db");
        let conn = open_writer(&path).expect("open");
        assert_eq!(user_version(&conn).expect("version"), SCHEMA_VERSION);
        drop(conn);
        let conn = open_writer(&path).expect("reopen");
        assert_eq!(user_version(&conn).expect("version"), SCHEMA_VERSION);
        drop(conn);
        assert!(open_reader(&path).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = temp("newer");
        let path = dir.join("h.db");
        let conn = open_writer(&path).expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(conn);
        assert!(matches!(
            open_writer(&path),
            Err(StoreError::NewerSchema { .. })
        ));
        assert!(matches!(
            open_reader(&path),
            Err(StoreError::NewerSchema { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_is_corrupt_and_a_file_as_directory_is_a_directory_error() {
        let dir = temp("bad");
        let path = dir.join("h.db");
        std::fs::write(&path, vec![0x5a; 8192]).expect("garbage");
        assert!(matches!(
            open_writer(&path),
            Err(StoreError::Corrupt { .. })
        ));
        let under_file = path.join("x.db");
        let e = open_writer(&under_file).expect_err("parent is a file");
        assert!(matches!(e, StoreError::Directory { .. }), "{e}");
        assert!(matches!(
            open_reader(&dir.join("none.db")),
            Err(StoreError::Missing { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
