//! The daemon's lifecycle, driving the real binary: SIGTERM drains a busy graph (every accepted
//! value reaches its tap) and exits 0; SIGHUP with a broken file keeps the old graph; SIGHUP with
//! a good file applies it; the admin endpoint answers and `/metrics` is Prometheus text; systemd
//! hears READY=1 and STOPPING=1. Signals are sent with `kill` (procps/util-linux, see
//! scripts/setup.sh). Time bounds are generous; nothing asserts on speed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BOUND: Duration = Duration::from_secs(30);

struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aimdbd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn config(port: u16, records: &str) -> String {
    format!(
        "[node]\nid = \"test-gw\"\nshutdown_timeout = \"10s\"\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{records}"
    )
}

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

fn start(name: &str, records: &str, notify: Option<&Path>) -> Daemon {
    let dir = temp_dir(name);
    let port = free_port();
    std::fs::write(dir.join("aimdbd.toml"), config(port, records)).expect("write config");
    let log = std::fs::File::create(dir.join("log.jsonl")).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aimdbd"));
    cmd.args(["--log-format", "json", "--log-level", "info", "--config"])
        .arg(dir.join("aimdbd.toml"))
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    match notify {
        Some(p) => cmd.env("NOTIFY_SOCKET", p),
        None => cmd.env_remove("NOTIFY_SOCKET"),
    };
    let child = cmd.spawn().expect("spawn aimdbd");
    let d = Daemon { child, dir, port };
    wait_until("the admin endpoint is ready", || {
        http(d.port, "GET", "/readyz", "").is_some_and(|(s, _)| s == 200)
    });
    d
}

fn signal(d: &Daemon, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &d.child.id().to_string()])
        .status()
        .expect("`kill` is needed to send signals; install procps (scripts/setup.sh)");
    assert!(status.success(), "kill {sig}");
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < BOUND, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(d: &mut Daemon) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = d.child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(
            start.elapsed() < BOUND,
            "aimdbd did not exit within {BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.0 request; `None` if nothing answers.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The JSON log lines (`--log-format json`).
fn log_lines(d: &Daemon) -> Vec<Value> {
    std::fs::read_to_string(d.dir.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn message(v: &Value) -> &str {
    v["fields"]["message"].as_str().unwrap_or("")
}

fn logged(d: &Daemon, msg: &str) -> bool {
    log_lines(d).iter().any(|l| message(l).contains(msg))
}

fn field(lines: &[Value], msg: &str, record: &str, name: &str) -> Option<u64> {
    lines
        .iter()
        .rev()
        .find(|l| message(l) == msg && l["fields"]["record"] == record)
        .and_then(|l| l["fields"][name].as_u64())
}

#[test]
fn sigterm_drains_a_busy_graph_and_exits_0() {
    let dir = temp_dir("notify");
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(BOUND)).expect("timeout");
    let mut d = start("sigterm", BUSY, Some(&sock_path));
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("READY=1 from aimdbd");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("READY=1"));

    wait_until("values flow", || {
        http(d.port, "GET", "/api/records/sensor.temp", "")
            .is_some_and(|(s, b)| s == 200 && b.contains("celsius"))
    });
    std::thread::sleep(Duration::from_millis(500));
    signal(&d, "-TERM");
    assert_eq!(wait_exit(&mut d), Some(0));
    let n = sock.recv(&mut buf).expect("STOPPING=1 from aimdbd");
    assert!(String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1"));

    let lines = log_lines(&d);
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
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sighup_with_a_broken_file_keeps_the_old_graph() {
    let mut d = start("hup-broken", BUSY, None);
    std::fs::write(
        d.dir.join("aimdbd.toml"),
        config(
            d.port,
            &BUSY.replace("input = \"sensor.temp\"", "input = \"sensor.tmp\""),
        ),
    )
    .expect("rewrite config");
    signal(&d, "-HUP");
    wait_until("the reload is rejected", || logged(&d, "reload rejected"));
    assert!(logged(&d, "did you mean \\\"sensor.temp\\\"") || logged(&d, "sensor.tmp"));
    let (status, _) = http(d.port, "GET", "/readyz", "").expect("admin answers");
    assert_eq!(status, 200, "still ready with the old graph");
    let produced = |d: &Daemon| -> u64 {
        http(d.port, "GET", "/api/records", "")
            .and_then(|(_, b)| serde_json::from_str::<Value>(&b).ok())
            .and_then(|v| v[0]["stats"]["produced"].as_u64())
            .unwrap_or(0)
    };
    let before = produced(&d);
    wait_until("the old graph keeps producing", || produced(&d) > before);
    let metrics = http(d.port, "GET", "/metrics", "").expect("metrics").1;
    assert!(
        metrics.contains("aimdbd_reloads_total{result=\"rejected\"} 1"),
        "{metrics}"
    );
    signal(&d, "-TERM");
    assert_eq!(wait_exit(&mut d), Some(0));
}

#[test]
fn sighup_with_a_good_file_applies_it() {
    let mut d = start("hup-good", BUSY, None);
    assert_eq!(
        http(d.port, "GET", "/api/records/extra.note", "").map(|r| r.0),
        Some(404)
    );
    let more = format!(
        "{BUSY}\n[[record]]\nkey = \"extra.note\"\ntype = \"json\"\nbuffer = {{ kind = \"single_latest\" }}\n"
    );
    std::fs::write(d.dir.join("aimdbd.toml"), config(d.port, &more)).expect("rewrite config");
    signal(&d, "-HUP");
    wait_until("the new graph runs", || {
        logged(&d, "reloaded: new graph running")
    });
    let (status, _) = http(
        d.port,
        "POST",
        "/api/records/extra.note",
        r#"{"text":"hi"}"#,
    )
    .expect("admin answers");
    assert_eq!(status, 200);
    let (status, body) = http(d.port, "GET", "/api/records/extra.note", "").expect("get");
    assert_eq!(status, 200);
    assert!(body.contains("\"text\":\"hi\""), "{body}");
    signal(&d, "-TERM");
    assert_eq!(wait_exit(&mut d), Some(0));
}

/// Checks the Prometheus text format line by line: HELP/TYPE comments, then samples
/// `name{label="value",...} number` whose family has a TYPE.
fn check_prometheus(text: &str) -> Result<usize, String> {
    fn name_ok(n: &str) -> bool {
        let mut cs = n.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut typed = std::collections::BTreeSet::new();
    let mut samples = 0;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, tail) = (parts.next(), parts.next(), parts.next());
            match (kw, name, tail) {
                (Some("HELP"), Some(n), Some(_)) if name_ok(n) => {}
                (
                    Some("TYPE"),
                    Some(n),
                    Some("counter" | "gauge" | "histogram" | "summary" | "untyped"),
                ) if name_ok(n) => {
                    typed.insert(n.to_string());
                }
                _ => return Err(format!("bad comment line: {line}")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        value
            .parse::<f64>()
            .map_err(|_| format!("bad value: {line}"))?;
        let name = match series.split_once('{') {
            None => series,
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .ok_or(format!("unclosed labels: {line}"))?;
                for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").ok_or(format!("bad label: {line}"))?;
                    if !name_ok(k) || v.trim_end_matches('"').contains('\n') {
                        return Err(format!("bad label: {line}"));
                    }
                }
                name
            }
        };
        if !name_ok(name) || !typed.contains(name) {
            return Err(format!("sample without TYPE or bad name: {line}"));
        }
        samples += 1;
    }
    Ok(samples)
}

#[test]
fn the_admin_endpoint_answers_and_metrics_parse() {
    let mut d = start("admin", BUSY, None);
    assert_eq!(http(d.port, "GET", "/healthz", "").map(|r| r.0), Some(200));
    let (status, metrics) = http(d.port, "GET", "/metrics", "").expect("metrics");
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
    let (_, graph) = http(d.port, "GET", "/api/graph", "").expect("graph");
    let graph: Value = serde_json::from_str(&graph).expect("graph is JSON");
    assert_eq!(graph["edges"][0]["from"], "sensor.temp");
    let (status, body) =
        http(d.port, "POST", "/api/records/alert.temp", "{not json").expect("post");
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(d.port, "GET", "/api/records/sensor.tmp", "").expect("get");
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
    signal(&d, "-TERM");
    assert_eq!(wait_exit(&mut d), Some(0));
}
