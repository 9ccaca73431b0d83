//! The daemon's signal paths that need a slow graph to be seen: a drain that cannot finish
//! within `[node] shutdown_timeout` is abandoned and the process exits 75 (`UNDRAINED`), saying
//! so; values left in a memory outbox at shutdown (broker away) are reported lost, exit 75; a second
//! SIGTERM while draining exits at once with 130; and with `WATCHDOG_USEC` set, systemd gets
//! `WATCHDOG=1` pings. The slow consumer is the `log` tap's `pace_ms`. Bounds are generous;
//! nothing asserts on speed beyond "well before the configured timeout".

mod support;

use std::time::{Duration, Instant};

use support::{config_head, free_port, wait_until, Daemon, NotifySocket, TestDir};

/// A source far faster than its paced tap, so a backlog builds up in the ring.
fn slow_graph(admin_port: u16, shutdown_timeout: &str) -> String {
    config_head(admin_port).replace(
        "shutdown_timeout = \"10s\"",
        &format!("shutdown_timeout = \"{shutdown_timeout}\""),
    ) + r#"
[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = { kind = "spmc_ring", capacity = 100000 }
source = { kind = "simulate", period_ms = 1 }
tap = [{ kind = "log", level = "trace", pace_ms = 100 }]
"#
}

/// Waits until the tap has a backlog (produced well ahead of delivered).
fn wait_backlog(d: &Daemon) {
    wait_until("a backlog builds up", || {
        d.get_json("/api/records/sensor.temp")
            .and_then(|_| d.get_json("/api/records"))
            .and_then(|v| {
                let s = &v[0]["stats"];
                Some(s["produced"].as_u64()? > s["delivered"].as_u64()? + 100)
            })
            .unwrap_or(false)
    });
}

#[test]
fn a_drain_past_shutdown_timeout_is_abandoned_and_exits_75() {
    let dir = TestDir::new("drain-timeout");
    let port = free_port();
    let mut d = Daemon::start(dir.path(), port, &slow_graph(port, "1s"));
    wait_backlog(&d);
    let t0 = Instant::now();
    assert_eq!(
        d.stop(),
        Some(75),
        "a drain that could not finish is not a clean exit"
    );
    // It waited for the drain as long as shutdown_timeout (1 s) said, and not much longer: the
    // paced backlog would take minutes.
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "gave up before shutdown_timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(15),
        "the abandoned drain was not abandoned: {took:?}"
    );
    let lines = d.log_lines();
    let line = lines
        .iter()
        .find(|l| support::message(l).starts_with("drain timed out"))
        .expect("the timeout is logged");
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(support::message(line).contains("lost"), "{line}");
    assert!(
        support::field(&lines, "record stats", "sensor.temp", "produced").is_some(),
        "the record stats say what was produced and delivered"
    );
}

#[test]
fn values_left_in_a_memory_outbox_at_shutdown_are_reported_lost_and_exit_75() {
    let dir = TestDir::new("drain-outbox-lost");
    let mut broker = support::mosquitto::Mosquitto::start(dir.path());
    let port = free_port();
    let config = config_head(port)
        .replace("shutdown_timeout = \"10s\"", "shutdown_timeout = \"1s\"")
        + &format!(
            r#"[mqtt]
url = "{}"
outbox_capacity = 3
reconnect_min = "50ms"
reconnect_max = "200ms"

[[record]]
key = "note"
type = "json"
link_to = [{{ url = "mqtt://out/note", codec = "json", qos = 1 }}]
"#,
            broker.url()
        );
    let mut d = Daemon::start(dir.path(), port, &config);
    wait_until("connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    broker.stop();
    wait_until("disconnected", || {
        d.metric("aimdbd_mqtt_connected") == Some(0.0)
    });
    for n in 0..5 {
        assert_eq!(
            d.http("POST", "/api/records/note", &format!("{n}"))
                .map(|r| r.0),
            Some(200)
        );
    }
    wait_until("two dropped at the bound", || {
        d.metric(
            r#"aimdbd_mqtt_outbox_dropped_total{direction="out",record="note",topic="out/note"}"#,
        ) == Some(2.0)
    });
    assert_eq!(d.stop(), Some(75));
    let lines = d.log_lines();
    let dropped = lines
        .iter()
        .find(|l| support::message(l).starts_with("outbox full: values dropped"))
        .expect("the drops at the bound are logged");
    assert_eq!(dropped["level"], "WARN");
    let stats = lines
        .iter()
        .find(|l| support::message(l) == "outbox stats")
        .expect("outbox stats at shutdown");
    assert_eq!(stats["fields"]["dropped"], 2, "{stats}");
    assert_eq!(stats["fields"]["held"], 3, "{stats}");
    let lost = lines
        .iter()
        .find(|l| support::message(l).starts_with("MQTT shutdown: values still in memory outboxes"))
        .expect("the loss is logged");
    assert_eq!(lost["fields"]["values"], 3, "{lost}");
}

#[test]
fn a_second_sigterm_while_draining_exits_at_once_with_130() {
    let dir = TestDir::new("second-signal");
    let port = free_port();
    // The drain could take minutes: the backlog is paced at 10 values/s.
    let mut d = Daemon::start(dir.path(), port, &slow_graph(port, "10m"));
    wait_backlog(&d);
    d.signal("-TERM");
    wait_until("the drain starts", || d.logged("draining"));
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(130));
    assert!(d.logged("while draining: exiting now"));
}

#[test]
fn watchdog_pings_reach_systemd_when_watchdog_usec_is_set() {
    let dir = TestDir::new("watchdog");
    let sock = NotifySocket::bind(&dir);
    let notify = sock.path().to_str().expect("utf-8 temp path");
    let port = free_port();
    let mut d = Daemon::spawn(
        dir.path(),
        port,
        &slow_graph(port, "5s").replace("pace_ms = 100", "pace_ms = 0"),
        None,
        &[("NOTIFY_SOCKET", notify), ("WATCHDOG_USEC", "200000")],
    );
    let seen = sock.recv_until("READY=1");
    assert!(
        !seen.iter().any(|m| m.contains("WATCHDOG=1")),
        "no ping before READY=1: {seen:?}"
    );
    for _ in 0..3 {
        sock.recv_until("WATCHDOG=1");
    }
    assert_eq!(d.stop(), Some(0));
    // What the first daemon sent while stopping is still queued: drop it.
    sock.clear();
    // A WATCHDOG_PID naming another process means the pings are not ours to send.
    let port = free_port();
    let mut d = Daemon::spawn(
        dir.path(),
        port,
        &slow_graph(port, "5s").replace("pace_ms = 100", "pace_ms = 0"),
        None,
        &[
            ("NOTIFY_SOCKET", notify),
            ("WATCHDOG_USEC", "200000"),
            ("WATCHDOG_PID", "1"),
        ],
    );
    d.wait_ready();
    let seen = sock.collect_for(Duration::from_secs(1));
    assert!(
        !seen.iter().any(|m| m.contains("WATCHDOG=1")),
        "no pings for another process's watchdog: {seen:?}"
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn sighup_tells_systemd_reloading_with_monotonic_usec_then_ready() {
    let dir = TestDir::new("notify-reload");
    let sock = NotifySocket::bind(&dir);
    let notify = sock.path().to_str().expect("utf-8 temp path");
    let port = free_port();
    // Under systemd (JOURNAL_STREAM set) log lines carry no timestamp: the journal adds one.
    let mut d = Daemon::spawn(
        dir.path(),
        port,
        &slow_graph(port, "5s").replace("pace_ms = 100", "pace_ms = 0"),
        None,
        &[("NOTIFY_SOCKET", notify), ("JOURNAL_STREAM", "8:1234")],
    );
    sock.recv_until("READY=1");
    let before = monotonic_usec();
    d.signal("-HUP");
    let seen = sock.recv_until("RELOADING=1");
    let after = monotonic_usec();
    let reloading = seen.last().expect("one message");
    let usec: u64 = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("MONOTONIC_USEC in {reloading:?}"));
    // systemd compares it with its own CLOCK_MONOTONIC: it must be that clock, read when the
    // reload began.
    assert!(
        (before..=after).contains(&usec),
        "MONOTONIC_USEC={usec} is not CLOCK_MONOTONIC between the SIGHUP ({before}) and its receipt ({after})"
    );
    sock.recv_until("READY=1");
    assert_eq!(d.stop(), Some(0));
    let lines = d.log_lines();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l.get("timestamp").is_none()),
        "no timestamps under journald"
    );
}

#[test]
fn writes_through_the_api_during_a_drain_are_refused_with_503() {
    let dir = TestDir::new("drain-writes");
    let port = free_port();
    let config = slow_graph(port, "10m")
        + r#"
[[record]]
key = "note"
type = "json"
"#;
    let mut d = Daemon::start(dir.path(), port, &config);
    assert_eq!(
        d.http("POST", "/api/records/note", "\"before\"")
            .map(|r| r.0),
        Some(200),
        "a running daemon takes the write"
    );
    wait_backlog(&d);
    d.signal("-TERM");
    wait_until("the daemon is draining", || {
        d.http("GET", "/readyz", "").is_some_and(|(s, _)| s == 503)
    });
    let (status, body) = d
        .http("POST", "/api/records/note", "\"during\"")
        .expect("the endpoint answers while draining");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
    d.signal("-TERM"); // a second signal ends the long drain at once
    assert_eq!(d.wait_exit(), Some(130));
}

#[test]
fn a_changed_admin_listen_on_reload_is_reported_and_the_endpoint_stays() {
    let dir = TestDir::new("reload-admin-listen");
    let port = free_port();
    let config = slow_graph(port, "5s").replace("pace_ms = 100", "pace_ms = 0");
    let mut d = Daemon::start(dir.path(), port, &config);
    let other = free_port();
    std::fs::write(
        dir.join("aimdbd.toml"),
        config.replace(&format!("127.0.0.1:{port}"), &format!("127.0.0.1:{other}")),
    )
    .expect("write config");
    d.signal("-HUP");
    wait_until("reloaded", || {
        d.metric(r#"aimdbd_reloads_total{result="ok"}"#) == Some(1.0)
    });
    let lines = d.log_lines();
    let line = lines
        .iter()
        .find(|l| support::message(l).starts_with("[admin] listen changed"))
        .expect("the change is reported");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["configured"], format!("127.0.0.1:{other}"));
    assert!(
        d.http("GET", "/healthz", "").is_some(),
        "still on the old address"
    );
    assert_eq!(d.stop(), Some(0));
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd reads `MONOTONIC_USEC` against.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    let secs = u64::try_from(ts.tv_sec).expect("after the epoch of the clock");
    let nanos = u64::try_from(ts.tv_nsec).expect("0..1e9");
    secs * 1_000_000 + nanos / 1_000
}
