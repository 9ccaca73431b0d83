//! Durability, driving the real daemon: SIGTERM writes every value produced before it (produced,
//! as counted by the graph, equals rows stored); SIGKILL during heavy writes leaves a database
//! that passes `PRAGMA integrity_check`, holds at least every batch reported committed, has no
//! partial batch (row ids without holes), and that the daemon opens again.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use support::{config_head, field, wait_until, Daemon, TestDir};

fn open(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rows(conn: &Connection, key: &str) -> u64 {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM history WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .expect("count");
    n as u64
}

#[test]
fn sigterm_stores_every_value_produced_before_it() {
    // A small writer queue: the persist taps wait on it (backpressure) while the rings buffer.
    let records = r#"
[store]
path = "history.db"
queue_capacity = 256
batch_size = 64
batch_delay = "5ms"

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = { kind = "spmc_ring", capacity = 65536 }
source = { kind = "simulate", period_ms = 1, min = 20.0, max = 40.0 }
persist = true

[[record]]
key = "alert.temp"
type = "TemperatureAlert"
buffer = { kind = "spmc_ring", capacity = 65536 }
transform = { kind = "threshold", input = "sensor.temp", above = 30.0 }
persist = true
"#;
    let dir = TestDir::new("store-sigterm");
    let port = support::free_port();
    let mut d = Daemon::start(dir.path(), port, &format!("{}{records}", config_head(port)));
    wait_until("values are being written", || {
        d.metric("aimdbd_store_values_written_total")
            .is_some_and(|n| n > 200.0)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.stop(), Some(0));
    let lines = d.log_lines();
    assert!(d.logged("history store closed"), "the store was flushed");
    let conn = open(&dir.join("history.db"));
    for key in ["sensor.temp", "alert.temp"] {
        let produced = field(&lines, "record stats", key, "produced").expect("stats line");
        assert!(produced > 0, "{key}");
        assert_eq!(
            rows(&conn, key),
            produced,
            "{key}: every value produced before SIGTERM is stored"
        );
    }
}

#[test]
fn kill_9_during_heavy_writes_leaves_a_consistent_database() {
    let mut records = String::from(
        "\n[store]\npath = \"history.db\"\nbatch_size = 512\nbatch_delay = \"10ms\"\n",
    );
    for i in 0..4 {
        records.push_str(&format!(
            "\n[[record]]\nkey = \"load.{i}\"\ntype = \"Temperature\"\nbuffer = {{ kind = \"spmc_ring\", capacity = 4096 }}\nsource = {{ kind = \"simulate\", period_ms = 1, seed = {i} }}\npersist = true\n"
        ));
    }
    let dir = TestDir::new("store-kill9");
    let port = support::free_port();
    let config = format!("{}{records}", config_head(port));
    let mut d = Daemon::start(dir.path(), port, &config);
    let mut committed = 0.0;
    wait_until("a few thousand values are committed", || {
        committed = d.metric("aimdbd_store_values_written_total").unwrap_or(0.0);
        committed > 3000.0
    });
    d.child.kill().expect("SIGKILL");
    d.child.wait().expect("reaped");
    drop(d);

    let path = dir.join("history.db");
    {
        let conn = open(&path);
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok");
        let (count, max_id): (i64, i64) = conn
            .query_row("SELECT count(*), max(id) FROM history", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("count");
        assert!(
            count as f64 >= committed,
            "every batch reported committed is there: {count} rows, {committed} reported"
        );
        assert_eq!(count, max_id, "no partial batch: ids run 1..=count");
        let per_key: u64 = (0..4).map(|i| rows(&conn, &format!("load.{i}"))).sum();
        assert_eq!(per_key as i64, count);
    }

    // The daemon opens it again and goes on writing.
    let mut d = Daemon::start(dir.path(), port, &config);
    assert_eq!(d.metric("aimdbd_store_up"), Some(1.0));
    wait_until("writing again after the crash", || {
        d.metric("aimdbd_store_values_written_total")
            .is_some_and(|n| n > 100.0)
    });
    assert_eq!(d.stop(), Some(0));
}
