//! The disk outbox's file is bounded (`[mqtt] outbox_max_file_bytes`) and given back: with the
//! broker away, 100 KB values pile up in a disk outbox whose memory bound (8 MiB) is larger than
//! its file bound (2 MiB); the database never passes its bound (its WAL adds at most ~12 MiB before
//! a checkpoint truncates it) (what does not fit is kept in memory
//! only, counted in `aimdbd_mqtt_outbox_disk_failures_total`), every value still arrives once
//! the broker is back, and after the drain the file shrinks again (incremental vacuum; the WAL
//! is truncated after checkpoints). Real `aimdbd`, real Mosquitto, real SQLite.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir};

const VALUES: usize = 40;
const VALUE_BYTES: usize = 100 * 1024;
const FILE_MAX: u64 = 2 << 20;

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The database's size as SQLite counts it (pages, including those still in the WAL).
fn logical_size(db: &Path) -> u64 {
    let Ok(c) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    let pages: i64 = c
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap_or(0);
    let page: i64 = c
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(0);
    (pages * page) as u64
}

/// The WAL is truncated to this after checkpoints; it may hold up to SQLite's auto-checkpoint
/// (1000 pages) more before one.
const WAL_MAX: u64 = (8 << 20) + 1000 * 4096;

#[test]
fn the_disk_outbox_file_stays_within_its_bound_and_shrinks_after_the_drain() {
    let dir = TestDir::new("outbox-disk-size");
    let mut broker = Mosquitto::start_persistent(dir.path());
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"
reconnect_min = "50ms"
reconnect_max = "300ms"
outbox = "disk"
outbox_path = "outbox.db"
outbox_max_bytes = {mem}
outbox_max_file_bytes = {FILE_MAX}

[[record]]
key = "big"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
link_to = [{{ url = "mqtt://out/big", codec = "text", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url(),
        mem = 8 << 20,
    );
    // The ring holds every value (`ctl set` does not wait for its readers): on a loaded machine
    // the link may fall behind the writes, and this test is about the file, not the ring.
    let d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge is connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    let sub = TestClient::connect_persistent(broker.port, "disk-size-sub", &["out/big"]);
    std::thread::sleep(Duration::from_millis(300));
    broker.stop();
    wait_until("disconnected", || {
        d.metric("aimdbd_mqtt_connected") == Some(0.0)
    });

    let db = dir.join("outbox.db");
    let wal = dir.join("outbox.db-wal");
    let (mut most_db, mut most_wal) = (0, 0);
    for n in 0..VALUES {
        let body = format!("\"{n:04}{}\"", "x".repeat(VALUE_BYTES));
        assert_eq!(
            d.http("POST", "/api/records/big", &body).map(|r| r.0),
            Some(200)
        );
        most_db = most_db.max(logical_size(&db));
        most_wal = most_wal.max(size(&wal));
    }
    wait_until("the outbox holds every value", || {
        d.metric(r#"aimdbd_mqtt_outbox_depth{direction="out",record="big",topic="out/big"}"#)
            == Some(VALUES as f64)
    });
    std::thread::sleep(Duration::from_millis(300));
    most_db = most_db.max(logical_size(&db));
    most_wal = most_wal.max(size(&wal));
    let failures = d
        .metric("aimdbd_mqtt_outbox_disk_failures_total")
        .unwrap_or(0.0);
    eprintln!("during the outage: file at most {most_db} bytes, WAL at most {most_wal}; {failures} failed transactions");
    assert!(
        most_db <= FILE_MAX,
        "the file never passed outbox_max_file_bytes: {most_db}"
    );
    assert!(most_wal <= WAL_MAX, "the WAL stayed bounded: {most_wal}");
    assert!(
        failures > 0.0,
        "4 MB of values cannot fit a 2 MiB file: some stayed in memory only, counted"
    );

    broker.start_again();
    let got = sub.wait_for("out/big", VALUES);
    let mut ns: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload[..4]).into_owned())
        .collect();
    ns.sort();
    ns.dedup();
    assert_eq!(ns.len(), VALUES, "every value arrived after the outage");
    wait_until("the outbox drained", || {
        d.metric(r#"aimdbd_mqtt_outbox_depth{direction="out",record="big",topic="out/big"}"#)
            == Some(0.0)
    });
    wait_until("the file gave its free pages back", || {
        logical_size(&db) < 1 << 20
    });
    eprintln!(
        "after the drain: database {} bytes ({} on disk), WAL {} bytes",
        logical_size(&db),
        size(&db),
        size(&wal)
    );
}
