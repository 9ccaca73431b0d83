//! Store faults, driving the real daemon. Whatever is wrong with the database, the daemon starts
//! and runs its graph without history, and says so: an error log line with the path and the OS
//! or SQLite reason, `/readyz` 200 with a second line `store down: REASON`, `aimdbd_store_up 0`,
//! and values counted as lost (`reason="store_down"`). Covered: a directory that is a regular
//! file, a missing directory, a read-only directory (mode 555; when the tests run as root, which
//! ignores modes, `/sys` stands in: it refuses new files even to root), a corrupt file (left
//! untouched; a reload after removing it opens a new one), a database locked by another process.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::path::Path;

use rusqlite::Connection;
use support::{aimdbd, config_head, wait_until, Daemon, TestDir};

const RECORDS: &str = r#"
[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = { kind = "spmc_ring", capacity = 64 }
source = { kind = "simulate", period_ms = 5 }
persist = true
"#;

fn config(port: u16, db: &Path) -> String {
    format!(
        "{}[store]\npath = {:?}\nsweep_interval = \"1h\"\n{RECORDS}",
        config_head(port),
        db.to_string_lossy()
    )
}

/// Starts a daemon whose store cannot open `db`; checks the documented behaviour; returns it.
fn assert_runs_without_history(dir: &TestDir, db: &Path, reason: &str) -> Daemon {
    let port = support::free_port();
    let d = Daemon::start(dir.path(), port, &config(port, db));
    let (status, body) = d.http("GET", "/readyz", "").expect("readyz");
    assert_eq!(status, 200, "the graph runs: ready");
    assert!(body.contains("store down"), "{body}");
    assert!(
        body.contains(reason),
        "readyz names the reason {reason:?}: {body}"
    );
    assert_eq!(d.metric("aimdbd_store_up"), Some(0.0));
    assert_eq!(d.metric("aimdbd_store_state{state=\"down\"}"), Some(1.0));
    let logged = d.log_lines().into_iter().any(|l| {
        l["level"] == "ERROR"
            && l["fields"]["path"]
                .as_str()
                .is_some_and(|p| p.contains(&*db.to_string_lossy()))
            && l["fields"]["error"]
                .as_str()
                .is_some_and(|e| e.contains(reason))
    });
    assert!(logged, "an error line names the path and the reason");
    wait_until("the graph runs and counts what it cannot store", || {
        d.metric("aimdbd_store_values_lost_total{reason=\"store_down\"}")
            .is_some_and(|n| n > 10.0)
    });
    d
}

#[test]
fn a_directory_that_is_a_file_or_missing_leaves_the_graph_running_without_history() {
    let dir = TestDir::new("store-notdir");
    std::fs::write(dir.join("plain-file"), b"not a directory").expect("file");
    let mut d = assert_runs_without_history(
        &dir,
        &dir.join("plain-file").join("history.db"),
        "not a directory",
    );
    assert_eq!(d.stop(), Some(0), "a clean exit without a store");

    let mut d = assert_runs_without_history(
        &dir,
        &dir.join("missing").join("history.db"),
        "No such file or directory",
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn a_read_only_directory_leaves_the_graph_running_without_history() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("store-readonly");
    let ro = dir.join("ro");
    std::fs::create_dir(&ro).expect("dir");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    // Root ignores mode 555; sysfs refuses new files even to root, with the same EACCES.
    let db = if root {
        Path::new("/sys").join(format!("aimdbd-test-{}.db", std::process::id()))
    } else {
        ro.join("history.db")
    };
    let mut d = assert_runs_without_history(&dir, &db, "Permission denied");
    assert_eq!(d.stop(), Some(0));
    let _ = std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755));
}

#[test]
fn a_corrupt_file_is_reported_left_alone_and_replaced_after_a_reload() {
    let dir = TestDir::new("store-corrupt");
    let db = dir.join("history.db");
    let garbage: Vec<u8> = (0..16384u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&db, &garbage).expect("garbage");
    let mut d = assert_runs_without_history(&dir, &db, "not a readable history database");
    assert_eq!(std::fs::read(&db).expect("db"), garbage, "left untouched");

    let out = aimdbd(&["history", "sensor.temp", "--db", &db.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable history database"));

    // The operator moves it away and reloads: the store opens a new database.
    std::fs::rename(&db, dir.join("history.db.broken")).expect("move away");
    d.signal("-HUP");
    wait_until("the store is up after the reload", || {
        d.metric("aimdbd_store_up") == Some(1.0)
    });
    wait_until("values are written", || {
        d.metric("aimdbd_store_values_written_total")
            .is_some_and(|n| n > 10.0)
    });
    let (_, body) = d.http("GET", "/readyz", "").expect("readyz");
    assert_eq!(body, "ready\n");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_locked_database_is_reported() {
    let dir = TestDir::new("store-locked");
    let db = dir.join("history.db");
    let holder = Connection::open(&db).expect("create");
    let mode: String = holder
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    holder
        .execute_batch("CREATE TABLE other (x); BEGIN EXCLUSIVE; INSERT INTO other VALUES (1);")
        .expect("hold the write lock");
    let mut d = assert_runs_without_history(&dir, &db, "locked");
    assert_eq!(d.stop(), Some(0));
    drop(holder);
}
