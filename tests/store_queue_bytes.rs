//! The history writer's queue is bounded in bytes as well as values (`[store] queue_max_bytes`):
//! with the database locked by another process, a QoS 1 burst of 100 KB JSON values into a
//! persisting record (a ring of 256, so the ring alone would let them all through) holds at most
//! the byte bound in the writer's queue — the persist tap waits, the rest stays in the ring,
//! unacknowledged — and once the lock is released every value is in SQLite. Real `aimdbd`, real
//! Mosquitto, real SQLite. (With a small ring, the inbound link pausing bounds the queue first:
//! see `tests/mqtt_flow.rs`.)
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::time::{Duration, Instant};

use rumqttc::QoS;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir, BOUND};

const VALUES: usize = 60;
const PAD: usize = 100 * 1024;
const MAX_BYTES: f64 = 1024.0 * 1024.0;

#[test]
fn a_burst_of_large_values_into_a_locked_store_stays_within_the_byte_bound_and_loses_nothing() {
    let dir = TestDir::new("store-queue-bytes");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let db = dir.join("history.db");
    let config = format!(
        r#"{head}[store]
path = "{db}"
queue_max_bytes = {max}
batch_size = 4
batch_delay = "10ms"

[mqtt]
url = "{url}"

[[record]]
key = "big"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = 256 }}
persist = true
link_from = [{{ url = "mqtt://in/big", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        db = db.display(),
        max = MAX_BYTES as u64,
        url = broker.url()
    );
    let d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge is connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    assert_eq!(d.metric("aimdbd_store_queue_max_bytes"), Some(MAX_BYTES));

    // Another process takes the write lock: the writer's batches wait (busy timeout, retries).
    let lock = rusqlite::Connection::open(&db).expect("open the history db");
    lock.execute_batch("BEGIN EXCLUSIVE;")
        .expect("hold the write lock");
    let publisher = TestClient::connect(broker.port, "bytes-pub", &[]);
    let pad = "x".repeat(PAD);
    for n in 0..VALUES {
        publisher.publish(
            "in/big",
            QoS::AtLeastOnce,
            false,
            format!("{{\"n\":{n},\"pad\":\"{pad}\"}}"),
        );
    }
    let (mut most, mut deepest) = (0.0f64, 0.0f64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        most = most.max(d.metric("aimdbd_store_queue_bytes").unwrap_or(0.0));
        deepest = deepest.max(d.metric("aimdbd_store_queue_depth").unwrap_or(0.0));
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("while locked: at most {most} bytes / {deepest} values queued");
    // Counted by the writer's own queue, not by the byte budget: what the bound lets in.
    assert!(
        deepest <= (MAX_BYTES / PAD as f64).ceil(),
        "at most queue_max_bytes / value size values waited: {deepest}"
    );
    assert!(
        most > PAD as f64,
        "values did reach the queue while the database was locked ({most} bytes)"
    );
    assert!(
        most <= MAX_BYTES,
        "the queue never held more than queue_max_bytes: {most}"
    );
    lock.execute_batch("COMMIT;").expect("release the lock");
    drop(lock);

    let reader = rusqlite::Connection::open(&db).expect("open the history db");
    let count = || -> usize {
        reader
            .query_row("SELECT count(*) FROM history WHERE key = 'big'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_or(0, |n| n as usize)
    };
    let deadline = Instant::now() + BOUND;
    while count() < VALUES && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stmt = reader
        .prepare("SELECT json_extract(value, '$.n') FROM history WHERE key = 'big' ORDER BY id")
        .expect("query");
    let ns: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        ns,
        (0..VALUES as i64).collect::<Vec<_>>(),
        "every value is in SQLite, once, in order"
    );
    assert_eq!(
        d.metric(r#"aimdbd_store_values_lost_total{reason="lagged"}"#),
        Some(0.0)
    );
}
