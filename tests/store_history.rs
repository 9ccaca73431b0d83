//! The history store, driving the real daemon: persisted values come back from
//! `GET /api/records/KEY/history` while it runs and from `aimdbd history` (read-only) while it
//! runs and after it stopped, by time range and limit, as table, JSON and CSV; `restore = true`
//! seeds a single_latest record at start, and a reload carries it, without storing it twice.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{aimdbd, config_head, wait_until, Daemon, TestDir};

const STORE: &str = r#"
[store]
path = "history.db"
batch_delay = "20ms"
sweep_interval = "1h"
"#;

const NOTES: &str = r#"
[[record]]
key = "notes"
type = "json"
buffer = { kind = "spmc_ring", capacity = 1024 }
persist = true

[[record]]
key = "setpoint"
type = "json"
buffer = { kind = "single_latest" }
persist = true
restore = true
"#;

fn history(d: &Daemon, key: &str, query: &str) -> Value {
    d.get_json(&format!("/api/records/{key}/history?{query}"))
        .unwrap_or(Value::Null)
}

fn values(page: &Value) -> Vec<i64> {
    page["values"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v["value"]["n"].as_i64()).collect())
        .unwrap_or_default()
}

fn cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    let cfg = config.to_string_lossy().to_string();
    let mut all = vec!["history"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", &cfg]);
    let out = aimdbd(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn cli_values(config: &Path, args: &[&str]) -> Vec<i64> {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let (code, out, err) = cli(config, &all);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| v["value"]["n"].as_i64())
        .collect()
}

#[test]
fn values_are_persisted_and_queried_back_by_time_range_and_limit() {
    let dir = TestDir::new("store-query");
    let port = support::free_port();
    let config = format!("{}{STORE}{NOTES}", config_head(port));
    let mut d = Daemon::start(dir.path(), port, &config);
    for n in 0..10 {
        let (status, body) = d
            .http("POST", "/api/records/notes", &format!("{{\"n\":{n}}}"))
            .expect("post");
        assert_eq!(status, 200, "{body}");
        // Distinct storage times, so that time ranges pick exact values.
        std::thread::sleep(std::time::Duration::from_millis(15));
    }
    wait_until("all 10 values are stored", || {
        values(&history(&d, "notes", "")).len() == 10
    });
    let all = history(&d, "notes", "");
    assert_eq!(values(&all), (0..10).collect::<Vec<_>>(), "oldest first");
    assert_eq!(all["truncated"], false);
    assert_eq!(all["values"][0]["node"], "test-gw");
    assert_eq!(
        all["values"][0]["source"], "admin",
        "written through the API"
    );

    let newest = history(&d, "notes", "limit=3");
    assert_eq!(values(&newest), vec![7, 8, 9], "the newest 3, oldest first");
    assert_eq!(newest["truncated"], true);

    let time = |i: usize| all["values"][i]["time"].as_str().expect("time").to_string();
    let (t3, t6) = (time(3), time(6));
    let range = history(&d, "notes", &format!("since={t3}&until={t6}"));
    assert_eq!(
        values(&range),
        vec![3, 4, 5],
        "since inclusive, until exclusive"
    );
    assert_eq!(values(&history(&d, "notes", "since=1h")).len(), 10);
    assert_eq!(
        d.http("GET", "/api/records/notes/history?since=soon", "")
            .map(|r| r.0),
        Some(400)
    );
    assert_eq!(
        d.http("GET", "/api/records/nope/history", "").map(|r| r.0),
        Some(404)
    );

    // The CLI reads the same file read-only while the daemon writes it.
    let cfg = dir.join("aimdbd.toml");
    assert_eq!(cli_values(&cfg, &["notes", "--limit", "2"]), vec![8, 9]);

    assert_eq!(d.stop(), Some(0));

    assert_eq!(cli_values(&cfg, &["notes"]), (0..10).collect::<Vec<_>>());
    assert_eq!(
        cli_values(&cfg, &["notes", "--since", &t3, "--until", &t6]),
        vec![3, 4, 5]
    );
    let (code, csv, _) = cli(&cfg, &["notes", "--limit", "3", "--format", "csv"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,ts_ms,node,source,value");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[3].ends_with(r#","{""n"":9}""#), "{csv}");
    let (code, table, err) = cli(&cfg, &["notes", "--limit", "3"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(
        err.contains("left out"),
        "truncation is said on stderr: {err}"
    );
    let (code, _, err) = cli(&cfg, &["note"]);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean \"notes\""), "{err}");
    let (code, _, err) = cli(&cfg, &["notes", "--since", "yesterday"]);
    assert_eq!(code, 78, "{err}");
}

#[test]
fn restore_seeds_a_single_latest_record_at_start_and_does_not_store_it_twice() {
    let dir = TestDir::new("store-restore");
    let port = support::free_port();
    let config = format!("{}{STORE}{NOTES}", config_head(port));
    let mut d = Daemon::start(dir.path(), port, &config);
    assert_eq!(
        d.get_json("/api/records/setpoint").expect("get")["value"],
        Value::Null
    );
    let (status, _) = d
        .http("POST", "/api/records/setpoint", r#"{"n":21}"#)
        .expect("post");
    assert_eq!(status, 200);
    wait_until("the setpoint is stored", || {
        values(&history(&d, "setpoint", "")) == vec![21]
    });
    assert_eq!(d.stop(), Some(0));
    drop(d);

    let mut d = Daemon::start(dir.path(), port, &config);
    assert_eq!(
        d.get_json("/api/records/setpoint").expect("get")["value"]["n"],
        21,
        "restored from the history"
    );
    assert_eq!(d.metric("aimdbd_store_restored_total"), Some(1.0));
    d.http("POST", "/api/records/setpoint", r#"{"n":22}"#)
        .expect("post");
    wait_until("the new setpoint is stored", || {
        values(&history(&d, "setpoint", "")) == vec![21, 22]
    });
    // A reload carries the value into the new graph; it is not stored again either.
    d.signal("-HUP");
    wait_until("the new graph runs", || {
        d.logged("reloaded: new graph running")
    });
    d.http("POST", "/api/records/setpoint", r#"{"n":23}"#)
        .expect("post");
    wait_until("the next setpoint is stored", || {
        values(&history(&d, "setpoint", "")).last() == Some(&23)
    });
    assert_eq!(d.stop(), Some(0));
    let cfg = dir.join("aimdbd.toml");
    assert_eq!(
        cli_values(&cfg, &["setpoint"]),
        vec![21, 22, 23],
        "restored and carried values are not stored again"
    );
}
