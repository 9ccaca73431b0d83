//! Retention, driving the real daemon: rows older than `[store] retention` go, a record's own
//! `retention` overrides it, and `max_rows` keeps only a record's newest rows.

mod support;

use support::{config_head, wait_until, Daemon, TestDir};

const CONFIG: &str = r#"
[store]
path = "history.db"
retention = "2s"
sweep_interval = "200ms"
batch_delay = "20ms"

[[record]]
key = "short"
type = "json"
buffer = { kind = "spmc_ring", capacity = 64 }
persist = true

[[record]]
key = "long"
type = "json"
buffer = { kind = "spmc_ring", capacity = 64 }
persist = true
retention = "1h"

[[record]]
key = "capped"
type = "json"
buffer = { kind = "spmc_ring", capacity = 64 }
persist = true
retention = "1h"
max_rows = 3
"#;

fn stored(d: &Daemon, key: &str) -> Vec<i64> {
    d.get_json(&format!("/api/records/{key}/history?limit=1000"))
        .and_then(|p| {
            p["values"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v["value"]["n"].as_i64()).collect())
        })
        .unwrap_or_default()
}

#[test]
fn retention_removes_old_rows_per_record_and_caps_rows() {
    let dir = TestDir::new("store-retention");
    let port = support::free_port();
    let mut d = Daemon::start(dir.path(), port, &format!("{}{CONFIG}", config_head(port)));
    for (key, n) in [("short", 5), ("long", 5), ("capped", 10)] {
        for i in 0..n {
            let (status, _) = d
                .http(
                    "POST",
                    &format!("/api/records/{key}"),
                    &format!("{{\"n\":{i}}}"),
                )
                .expect("post");
            assert_eq!(status, 200);
        }
    }
    wait_until("the capped record keeps its newest 3 rows", || {
        stored(&d, "capped") == vec![7, 8, 9]
    });
    wait_until("rows older than 2 s are deleted", || {
        stored(&d, "short").is_empty()
    });
    assert_eq!(
        stored(&d, "long"),
        vec![0, 1, 2, 3, 4],
        "a record's own retention wins over [store] retention"
    );
    let deleted = d
        .metric("aimdbd_store_retention_deleted_total")
        .expect("metric");
    assert!(deleted >= 12.0, "5 expired + 7 over the cap: {deleted}");
    assert_eq!(
        d.metric("aimdbd_store_retention_sweeps_total{result=\"failed\"}"),
        Some(0.0)
    );
    // The store keeps writing while the sweep runs.
    d.http("POST", "/api/records/short", r#"{"n":99}"#)
        .expect("post");
    wait_until("a new value is stored", || stored(&d, "short") == vec![99]);
    assert_eq!(d.stop(), Some(0));
}
