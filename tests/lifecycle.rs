//! The daemon's lifecycle, driving the real binary: SIGTERM drains a busy graph (every accepted
//! value reaches its tap) and exits 0; SIGHUP with a broken file keeps the old graph; SIGHUP with
//! a good file applies it; the admin endpoint answers and `/metrics` is Prometheus text; systemd
//! hears READY=1 and STOPPING=1. Signals are sent with `kill` (procps/util-linux, see
//! scripts/setup.sh). Time bounds are generous; nothing asserts on speed.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::prometheus::check_prometheus;
use support::{config_head, field, wait_until, Daemon, NotifySocket, TestDir};

const BUSY: &str = r#"
[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = { kind = "spmc_ring", capacity = 65536 }
source = { kind = "simulate", period_ms = 1, min = 20.0, max = 40.0 }
tap = [{ kind = "log", level = "trace" }]
link_to = [{ url = "mqtt://test/sensor.temp", codec = "postcard" }]

[[record]]
key = "alert.temp"
type = "TemperatureAlert"
buffer = { kind = "spmc_ring", capacity = 1024 }
transform = { kind = "threshold", input = "sensor.temp", above = 30.0 }
tap = [{ kind = "log", level = "trace" }]
"#;

/// A daemon on `<head><records>` in its own temp dir (the dir lives as long as the daemon).
fn start(name: &str, records: &str, notify: Option<&Path>) -> (TestDir, Daemon) {
    let dir = TestDir::new(name);
    let port = support::free_port();
    let d = Daemon::start_with(dir.path(), port, &config(port, records), notify);
    (dir, d)
}

fn config(port: u16, records: &str) -> String {
    format!("{}{records}", config_head(port))
}

#[test]
fn sigterm_drains_a_busy_graph_and_exits_0() {
    let dir = TestDir::new("notify");
    let sock = NotifySocket::bind(&dir);
    let (_dir, mut d) = start("sigterm", BUSY, Some(sock.path()));
    assert!(sock.recv().contains("READY=1"));

    wait_until("values flow", || {
        d.http("GET", "/api/records/sensor.temp", "")
            .is_some_and(|(s, b)| s == 200 && b.contains("celsius"))
    });
    std::thread::sleep(Duration::from_millis(500));
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
    assert!(sock.recv().contains("STOPPING=1"));

    let lines = d.log_lines();
    for record in ["sensor.temp", "alert.temp"] {
        let produced = field(&lines, "record stats", record, "produced").expect("stats line");
        let seen = field(&lines, "tap log done", record, "values").expect("tap count line");
        let lagged = field(&lines, "tap log done", record, "lagged").expect("tap lag");
        assert_eq!(lagged, 0, "{record}: the ring is large enough");
        assert_eq!(
            seen, produced,
            "{record}: every accepted value reached the tap"
        );
        assert!(produced > 0, "{record}");
    }
    assert!(field(&lines, "record stats", "sensor.temp", "produced").unwrap_or(0) > 10);
    drop(sock);
}

#[test]
fn sighup_with_a_broken_file_keeps_the_old_graph() {
    let (_dir, mut d) = start("hup-broken", BUSY, None);
    let broken = config(
        d.port,
        &BUSY.replace("input = \"sensor.temp\"", "input = \"sensor.tmp\""),
    );
    std::fs::write(d.dir.join("aimdbd.toml"), &broken).expect("rewrite config");
    d.signal("-HUP");
    wait_until("the reload is rejected", || d.logged("reload rejected"));
    // The mistake is logged as `check` reports it: at the typo's line and column, with the
    // record, and the key it was probably meant to be.
    let (line, col) = broken
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("\"sensor.tmp\"").map(|c| (i + 1, c + 1)))
        .expect("the typo is in the file");
    let logged = d.log_lines();
    let mistake = logged
        .iter()
        .map(support::message)
        .find(|m| m.contains("\"sensor.tmp\""))
        .unwrap_or_else(|| panic!("the mistake is logged: {logged:?}"));
    assert!(
        mistake.ends_with(&format!(
            "aimdbd.toml:{line}:{col}: record \"alert.temp\": transform input \"sensor.tmp\" is not a record; did you mean \"sensor.temp\"?"
        )),
        "{mistake}"
    );
    let (status, _) = d.http("GET", "/readyz", "").expect("admin answers");
    assert_eq!(status, 200, "still ready with the old graph");
    let produced = |d: &Daemon| -> u64 {
        d.http("GET", "/api/records", "")
            .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
            .and_then(|v| v[0]["stats"]["produced"].as_u64())
            .unwrap_or(0)
    };
    let before = produced(&d);
    wait_until("the old graph keeps producing", || produced(&d) > before);
    let metrics = d.http("GET", "/metrics", "").expect("metrics").1;
    assert!(
        metrics.contains("aimdbd_reloads_total{result=\"rejected\"} 1"),
        "{metrics}"
    );
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}

#[test]
fn sighup_with_a_good_file_applies_it() {
    let (_dir, mut d) = start("hup-good", BUSY, None);
    assert_eq!(
        d.http("GET", "/api/records/extra.note", "").map(|r| r.0),
        Some(404)
    );
    let more = format!(
        "{BUSY}\n[[record]]\nkey = \"extra.note\"\ntype = \"json\"\nbuffer = {{ kind = \"single_latest\" }}\n"
    );
    std::fs::write(d.dir.join("aimdbd.toml"), config(d.port, &more)).expect("rewrite config");
    d.signal("-HUP");
    wait_until("the new graph runs", || {
        d.logged("reloaded: new graph running")
    });
    let (status, _) = d
        .http("POST", "/api/records/extra.note", r#"{"text":"hi"}"#)
        .expect("admin answers");
    assert_eq!(status, 200);
    let (status, body) = d.http("GET", "/api/records/extra.note", "").expect("get");
    assert_eq!(status, 200);
    assert!(body.contains("\"text\":\"hi\""), "{body}");

    // Another reload: the unchanged single_latest record keeps its value in the new graph.
    d.signal("-HUP");
    wait_until("the second reload is applied", || {
        d.log_lines()
            .iter()
            .filter(|l| support::message(l).contains("reloaded: new graph running"))
            .count()
            >= 2
    });
    let (_, body) = d.http("GET", "/api/records/extra.note", "").expect("get");
    assert!(
        body.contains("\"text\":\"hi\""),
        "kept across the reload: {body}"
    );
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}

/// Two parts: `a.*` (a source and a moving average over it) and `b.*` (the same); the reload
/// changes `b.temp`'s period and adds a record.
fn parts(b_period_ms: u32) -> String {
    format!(
        r#"
[[record]]
key = "a.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
source = {{ kind = "simulate", period_ms = 10 }}

[[record]]
key = "a.avg"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
transform = {{ kind = "moving_average", input = "a.temp", window = 4 }}

[[record]]
key = "b.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
source = {{ kind = "simulate", period_ms = {b_period_ms} }}

[[record]]
key = "b.avg"
type = "Temperature"
buffer = {{ kind = "single_latest" }}
transform = {{ kind = "moving_average", input = "b.temp", window = 1 }}
"#
    )
}

/// `produced` of every record, from `/api/records`.
fn produced(d: &Daemon) -> std::collections::BTreeMap<String, u64> {
    let list = d.get_json("/api/records").expect("/api/records");
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["key"].as_str()?.to_string(),
                r["stats"]["produced"].as_u64()?,
            ))
        })
        .collect()
}

/// Issue 11 item 5: a reload rebuilds only the parts of the graph that changed. The unchanged
/// part (a source and the transform over it) keeps running — its counters, buffers and the
/// transform's window go on — while the changed part starts again (its counters from 0) with
/// its unchanged `single_latest` value carried over.
#[test]
fn a_reload_rebuilds_only_the_parts_that_changed() {
    let (_dir, mut d) = start("hup-parts", &parts(20), None);
    wait_until("both parts produce", || {
        let p = produced(&d);
        p.get("a.avg").copied().unwrap_or(0) >= 30 && p.get("b.temp").copied().unwrap_or(0) >= 30
    });
    let before = produced(&d);
    let more = format!(
        "{}\n[[record]]\nkey = \"extra.note\"\ntype = \"json\"\n",
        parts(25)
    );
    std::fs::write(d.dir.join("aimdbd.toml"), config(d.port, &more)).expect("rewrite config");
    d.signal("-HUP");
    wait_until("the new graph runs", || {
        d.logged("reloaded: new graph running")
    });
    let after = produced(&d);
    for key in ["a.temp", "a.avg"] {
        assert!(
            after[key] >= before[key],
            "{key}'s part kept running: produced {} before, {} after",
            before[key],
            after[key]
        );
    }
    assert!(
        after["b.temp"] < before["b.temp"],
        "b.temp's part was rebuilt (counters from 0): {} before, {} after",
        before["b.temp"],
        after["b.temp"]
    );
    let line = d
        .log_lines()
        .into_iter()
        .find(|l| support::message(l) == "reloaded: new graph running")
        .expect("reload line");
    let f = |name: &str| line["fields"][name].as_u64();
    assert_eq!(
        (f("kept"), f("rebuilt"), f("carried")),
        (Some(1), Some(2), Some(1)),
        "a kept; b and extra.note built; b.avg's newest value carried: {line}"
    );
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}

#[test]
fn the_admin_endpoint_answers_and_metrics_parse() {
    let (_dir, mut d) = start("admin", BUSY, None);
    assert_eq!(d.http("GET", "/healthz", "").map(|r| r.0), Some(200));
    let (status, metrics) = d.http("GET", "/metrics", "").expect("metrics");
    assert_eq!(status, 200);
    let samples = check_prometheus(&metrics).unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    assert!(samples >= 10, "{metrics}");
    for want in [
        "aimdbd_build_info{version=",
        "aimdbd_record_produced_total{record=\"sensor.temp\",type=\"Temperature\"}",
        "aimdbd_record_delivered_total",
        "aimdbd_record_lagged_total",
        "aimdbd_record_dropped_total",
    ] {
        assert!(metrics.contains(want), "{want}");
    }
    let (_, graph) = d.http("GET", "/api/graph", "").expect("graph");
    let graph: Value = serde_json::from_str(&graph).expect("graph is JSON");
    assert_eq!(graph["edges"][0]["from"], "sensor.temp");
    let (status, body) = d
        .http("POST", "/api/records/alert.temp", "{not json")
        .expect("post");
    assert_eq!(status, 400, "{body}");
    let (status, body) = d.http("GET", "/api/records/sensor.tmp", "").expect("get");
    assert_eq!(status, 404);
    assert!(body.contains("did you mean"), "{body}");

    // The CLI client against the same endpoint.
    let addr = format!("127.0.0.1:{}", d.port);
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["ctl", "--admin", &addr, "get", "sensor.temp"])
        .output()
        .expect("ctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("celsius"));
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}

#[test]
fn ctl_set_refuses_a_record_that_has_a_writer_with_409() {
    let records = format!(
        "{BUSY}\n[[record]]\nkey = \"note.cmd\"\ntype = \"json\"\nbuffer = {{ kind = \"mailbox\" }}\n"
    );
    let (_dir, mut d) = start("writer-rule", &records, None);
    for (key, writer) in [("alert.temp", "transform"), ("sensor.temp", "source")] {
        let (status, body) = d
            .http(
                "POST",
                &format!("/api/records/{key}"),
                r#"{"celsius":99.0}"#,
            )
            .expect("admin answers");
        assert_eq!(status, 409, "{key}: {body}");
        assert!(
            body.contains(writer),
            "{key}: the message names the writer: {body}"
        );
    }
    // A record with no writer in the graph is written from outside as before.
    let (status, body) = d
        .http("POST", "/api/records/note.cmd", r#"{"go":true}"#)
        .expect("admin answers");
    assert_eq!(status, 200, "{body}");

    let addr = format!("127.0.0.1:{}", d.port);
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args([
            "ctl",
            "--admin",
            &addr,
            "set",
            "alert.temp",
            r#"{"celsius":99.0}"#,
        ])
        .output()
        .expect("ctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ctl set must fail: {stderr}");
    assert!(
        stderr.contains("HTTP 409") && stderr.contains("written by its transform"),
        "{stderr}"
    );
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}
