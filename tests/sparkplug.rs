//! Sparkplug B end to end: the real `aimdbd`, a real Mosquitto, and a host built on the Python
//! `pysparkplug` package (an independent implementation, installed by scripts/setup.sh), which
//! decodes every message and reports it as a JSON line (tests/sparkplug/host.py).
//!
//! - `edge_node_lifecycle`: NBIRTH (seq 0, every node metric with alias, datatype and value,
//!   bdSeq), NDATA with only the changed metrics by alias, seq continuity across the 255 → 0
//!   wrap, a rebirth NCMD answered with a new NBIRTH, a malformed NCMD counted (no crash),
//!   `kill -9` → the broker's NDEATH with the NBIRTH's bdSeq, a restart → bdSeq + 1, SIGTERM →
//!   exactly one NDEATH, the daemon's own (not the will), and exit 0.
//! - `a_stop_with_no_budget_left_sends_exactly_one_ndeath`: ten stops whose drain left no
//!   shutdown budget: one NDEATH each, the daemon's own (run it beside CPU load to see the old
//!   double NDEATH: the will after a connection closed with a TCP reset).
//! - `primary_host_gates_births_and_values_held_meanwhile_follow_as_historical`: with
//!   `primary_host_id`, no births before the host's STATE online; held node and device values
//!   follow the births as historical, in order; an older STATE is ignored; offline → NDEATH and
//!   nothing published; past `store_forward_max_values` the oldest are dropped and counted; back
//!   online → NBIRTH with the next bdSeq and every value kept, in order, then live data.
//! - `a_node_whose_will_fires_is_a_dead_device`: an MCU node killed with its will set → DDEATH.
//! - `devices`: a node's retained `online` and its postcard readings → DBIRTH + DDATA of device
//!   `<node>`; a DCMD reaches the node's mailbox record (and its node), bad ones are counted;
//!   its `offline` → DDEATH.
//! - `a_reload_sends_new_births_on_the_same_connection`: SIGHUP with one more record → a new
//!   NBIRTH with its metrics, same bdSeq, no NDEATH.
//! - `config_mistakes_are_reported_at_their_place`: `aimdbd check` on broken `[sparkplug]` configs
//!   (and `store_forward_max_values` without `primary_host_id` or out of range).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aimdb_records::{id, NodeCommand, Temperature};
use rumqttc::QoS;
use serde_json::{json, Value};
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, free_port, Daemon, TestDir, BOUND};

const GROUP: &str = "plant";
const EDGE: &str = "test-gw";

/// The venv scripts/setup.sh installs pysparkplug into (or `$AIMDBD_SPARKPLUG_PYTHON`).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("AIMDBD_SPARKPLUG_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/aimdbd/venv-sparkplug/bin/python")
}

/// The pysparkplug host, its decoded messages collected as they come.
struct Host {
    child: Child,
    stdin: ChildStdin,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    fn start(port: u16) -> Self {
        let py = python();
        let ok = Command::new(&py)
            .args(["-c", "import pysparkplug"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "{} cannot import pysparkplug: run scripts/setup.sh (it installs the Sparkplug test host's venv)",
            py.display()
        );
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sparkplug/host.py");
        let mut child = Command::new(&py)
            .arg(script)
            .args([&port.to_string(), GROUP, EDGE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the pysparkplug host");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let g = got.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).expect("host prints JSON lines");
                g.lock().unwrap().push(v);
            }
        });
        let h = Self { child, stdin, got };
        h.wait("the host is subscribed", |m| m["type"] == "ready");
        h
    }

    fn all(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// The messages of type `t` (and device `device`) so far.
    fn of(&self, t: &str, device: Option<&str>) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|m| m["type"] == t && m["device"].as_str() == device)
            .collect()
    }

    /// The first message (from index `from`) that `f` accepts, waiting at most [`BOUND`].
    fn wait_from(&self, from: usize, what: &str, f: impl Fn(&Value) -> bool) -> (usize, Value) {
        let start = Instant::now();
        loop {
            let all = self.all();
            if let Some((i, m)) = all.iter().enumerate().skip(from).find(|(_, m)| f(m)) {
                return (i, m.clone());
            }
            assert!(
                start.elapsed() < BOUND,
                "timed out waiting for {what}; the host got: {all:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        self.wait_from(0, what, f).1
    }

    fn send(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").expect("write to host");
        self.stdin.flush().expect("flush host");
    }
}

fn metric<'a>(msg: &'a Value, name: &str) -> &'a Value {
    msg["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == name))
        .unwrap_or_else(|| panic!("no metric {name:?} in {msg:#}"))
}

fn config(admin: u16, broker: &Mosquitto, period_ms: u64) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"

[sparkplug]
group_id = "{GROUP}"

[[record]]
key = "sim.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
source = {{ kind = "simulate", period_ms = {period_ms} }}
sparkplug = true

[[record]]
key = "gw.alert"
type = "TemperatureAlert"
buffer = {{ kind = "single_latest" }}
transform = {{ kind = "threshold", input = "sim.temp", above = 1000.0 }}
sparkplug = {{ metric = "alerts/temp" }}

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
link_from = [{{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard" }}]
sparkplug = true

[[record]]
key = "node.cmd"
type = "NodeCommand"
buffer = {{ kind = "mailbox" }}
link_to = [{{ url = "mqtt://aimdb/node-7/cmd/node.cmd", codec = "postcard", qos = 1 }}]
sparkplug = true
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn edge_node_lifecycle() {
    let dir = TestDir::new("sparkplug-node");
    let broker = Mosquitto::start(dir.path());
    let mut host = Host::start(broker.port);
    let admin = free_port();
    // 5 ms: the 256 messages of a seq wrap take about 1.5 s.
    let cfg = config(admin, &broker, 5);
    let mut daemon = Daemon::start(dir.path(), admin, &cfg);

    // NBIRTH: seq 0, bdSeq 0 (a fresh state directory), every node metric typed and aliased.
    let birth = host.wait("NBIRTH", |m| m["type"] == "NBIRTH");
    assert_eq!(birth["edge"], EDGE);
    assert_eq!(birth["seq"], 0);
    assert_eq!(birth["bdseq"], 0);
    let expected = [
        ("Node Control/Rebirth", "BOOLEAN"),
        ("sim.temp/sensor_id", "STRING"),
        ("sim.temp/celsius", "FLOAT"),
        ("sim.temp/timestamp_ms", "UINT64"),
        ("alerts/temp/sensor_id", "STRING"),
        ("alerts/temp/celsius", "FLOAT"),
        ("alerts/temp/threshold", "FLOAT"),
        ("alerts/temp/level", "STRING"),
        ("alerts/temp/timestamp_ms", "UINT64"),
    ];
    let mut aliases = Vec::new();
    for (name, datatype) in expected {
        let m = metric(&birth, name);
        assert_eq!(m["datatype"], datatype, "{name}: {m}");
        let alias = m["alias"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} has no alias"));
        assert!(!aliases.contains(&alias), "alias {alias} twice");
        aliases.push(alias);
    }
    assert_eq!(metric(&birth, "bdSeq")["datatype"], "INT64");
    // Node metrics only: the device record (sensor.temp) is not a node metric.
    let names: Vec<_> = birth["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect();
    assert_eq!(names.len(), expected.len() + 1, "{names:?}");

    // NDATA: only what changed (celsius, timestamp; never the constant sensor_id), by alias, with
    // seq 1, 2, ... continuing without a gap past 255 → 0.
    let (birth_at, _) = host.wait_from(0, "NBIRTH", |m| m["type"] == "NBIRTH");
    let sensor_alias = metric(&birth, "sim.temp/sensor_id")["alias"]
        .as_u64()
        .unwrap();
    // 300 messages after the birth, seq has wrapped once.
    let (wrapped_at, _) = host.wait_from(birth_at + 300, "a seq wrap", |m| {
        m["type"] == "NDATA" && m["seq"] == 5
    });
    let seqs: Vec<u64> = host.all()[birth_at..=wrapped_at]
        .iter()
        .filter(|m| m["seq"].is_u64())
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], (w[0] + 1) % 256, "seq gap in {seqs:?}");
    }
    assert!(
        seqs.contains(&255) && seqs.len() > 256,
        "no wrap seen: {seqs:?}"
    );
    for m in &host.all()[birth_at + 1..=wrapped_at] {
        assert_eq!(m["type"], "NDATA", "{m}");
        for metric in m["metrics"].as_array().unwrap() {
            assert!(
                metric["alias"].is_u64(),
                "NDATA metric without alias: {metric}"
            );
            assert_ne!(
                metric["alias"].as_u64(),
                Some(sensor_alias),
                "unchanged sensor_id sent: {m}"
            );
        }
        // The host resolved the names from the birth's aliases.
        assert!(
            m["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "sim.temp/celsius"
                    || x["name"] == "sim.temp/timestamp_ms"
                    || x["name"].as_str().is_some_and(|n| n.starts_with("alerts/"))),
            "{m}"
        );
    }

    // A malformed NCMD is counted and logged; the edge node goes on.
    host.send(json!({"raw_ncmd": "ffffffff"}));
    // Rebirth: a new NBIRTH (seq 0, same bdSeq: same connection).
    let before = host.all().len();
    host.send(json!({"rebirth": true}));
    let (_, rebirth) = host.wait_from(before, "NBIRTH after the rebirth NCMD", |m| {
        m["type"] == "NBIRTH"
    });
    assert_eq!(rebirth["seq"], 0);
    assert_eq!(rebirth["bdseq"], 0);
    support::wait_until("the counters show the rebirth and the refused NCMD", || {
        daemon.http("GET", "/metrics", "").is_some_and(|(_, body)| {
            body.contains("aimdbd_sparkplug_rebirth_requests_total 1")
                && body.contains("aimdbd_sparkplug_commands_rejected_total 1")
                && body.contains("aimdbd_sparkplug_births_total{kind=\"node\"} 2")
                && body.contains("aimdbd_sparkplug_bdseq 0")
        })
    });
    assert!(daemon.logged("sparkplug: NCMD refused"));

    // kill -9: the broker publishes the will, NDEATH with the NBIRTH's bdSeq.
    daemon.signal("-KILL");
    let _ = daemon.wait_exit();
    let death = host.wait("NDEATH", |m| m["type"] == "NDEATH");
    assert_eq!(death["bdseq"], birth["bdseq"]);

    // A restart continues bdSeq from the state directory.
    let before = host.all().len();
    let daemon2 = Daemon::start(dir.path(), admin, &cfg);
    let (_, again) = host.wait_from(before, "NBIRTH after the restart", |m| {
        m["type"] == "NBIRTH"
    });
    assert_eq!(again["bdseq"], 1);
    assert_eq!(again["seq"], 0);
    assert_eq!(host.of("NDEATH", None).len(), 1);

    // A clean stop publishes NDEATH itself (the will is not sent after DISCONNECT), with the
    // bdSeq of its NBIRTH, and the daemon exits 0.
    let mut daemon = daemon2;
    assert_eq!(daemon.stop(), Some(0));
    let deaths = host
        .wait_from(before, "NDEATH after SIGTERM", |m| m["type"] == "NDEATH")
        .1;
    assert_eq!(deaths["bdseq"], 1);
    // Exactly one: the daemon's own (stamped after its NBIRTH, unlike the will, stamped at
    // CONNECT), and no will after it (the DISCONNECT was written before the daemon exited).
    std::thread::sleep(Duration::from_millis(500));
    let later: Vec<Value> = host
        .all()
        .into_iter()
        .skip(before)
        .filter(|m| m["type"] == "NDEATH")
        .collect();
    assert_eq!(later.len(), 1, "after the stop, one NDEATH: {later:?}");
    assert!(
        later[0]["timestamp"].as_u64() > again["timestamp"].as_u64(),
        "the NDEATH is the daemon's own, not the will: {later:?} after {again}"
    );
    assert!(daemon.logged("sparkplug: NDEATH published"));
    drop(broker);
}

fn reading(node: &str, celsius: f32, ts: u64) -> Vec<u8> {
    let t = Temperature {
        sensor_id: id(node).unwrap(),
        celsius,
        timestamp_ms: ts,
    };
    let mut out = Vec::new();
    aimdb_records::frame::encode_postcard(&t, 1, &mut out).unwrap();
    out
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn devices() {
    let dir = TestDir::new("sparkplug-devices");
    let broker = Mosquitto::start(dir.path());
    let mut host = Host::start(broker.port);
    let admin = free_port();
    let node = TestClient::connect(broker.port, "node-7", &["aimdb/node-7/cmd/#"]);
    // Online before the gateway starts (retained): its DBIRTH follows the NBIRTH.
    node.publish("aimdb/node-7/status", QoS::AtLeastOnce, true, "online");
    let daemon = Daemon::start(dir.path(), admin, &config(admin, &broker, 60_000));
    let (birth_at, _) = host.wait_from(0, "NBIRTH", |m| m["type"] == "NBIRTH");
    let (_, dbirth) = host.wait_from(birth_at, "DBIRTH of node-7", |m| {
        m["type"] == "DBIRTH" && m["device"] == "node-7"
    });
    let celsius = metric(&dbirth, "sensor.temp/celsius");
    assert_eq!(celsius["datatype"], "FLOAT");
    assert_eq!(celsius["is_null"], true, "no reading yet: {dbirth}");
    let alias = celsius["alias"].as_u64().unwrap();
    // Its command record is a writable String metric of the device.
    let cmd = metric(&dbirth, "node.cmd");
    assert_eq!(cmd["datatype"], "STRING");

    node.publish(
        "aimdb/node-7/sensor.temp",
        QoS::AtMostOnce,
        false,
        reading("node-7", 21.5, 1000),
    );
    let ddata = host.wait("DDATA of node-7", |m| {
        m["type"] == "DDATA" && m["device"] == "node-7"
    });
    let c = metric(&ddata, "sensor.temp/celsius");
    assert_eq!(c["alias"], alias);
    assert_eq!(c["value"], 21.5);
    assert_eq!(
        ddata["seq"].as_u64(),
        Some(dbirth["seq"].as_u64().unwrap() + 1)
    );

    // A second node that never said "online": its first reading is its birth.
    node.publish(
        "aimdb/node-9/sensor.temp",
        QoS::AtMostOnce,
        false,
        reading("node-9", 3.0, 5),
    );
    let b9 = host.wait("DBIRTH of node-9", |m| {
        m["type"] == "DBIRTH" && m["device"] == "node-9"
    });
    assert_eq!(metric(&b9, "sensor.temp/celsius")["value"], 3.0);
    assert_ne!(
        metric(&b9, "sensor.temp/celsius")["alias"],
        alias,
        "aliases are unique across devices"
    );
    assert!(
        !b9["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "node.cmd"),
        "node.cmd commands node-7 only: {b9}"
    );

    // The alias table, as operators see it.
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["ctl", "--admin", &format!("127.0.0.1:{admin}"), "sparkplug"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    // DEVICE METRIC ALIAS DATATYPE; a metric name may hold spaces.
    let row = |device: &str, name: &str, alias: &Value| {
        table.lines().any(|l| {
            l.starts_with(device)
                && l.contains(&format!(" {name} "))
                && l.split_whitespace().rev().nth(1) == Some(alias.to_string().as_str())
        })
    };
    assert!(
        table.starts_with("group plant  edge node test-gw  bdSeq 0  born"),
        "{table}"
    );
    assert!(
        row("node-7", "sensor.temp/celsius", &json!(alias)),
        "{table}"
    );
    assert!(
        row(
            "node-9",
            "sensor.temp/celsius",
            &metric(&b9, "sensor.temp/celsius")["alias"]
        ),
        "{table}"
    );
    assert!(row("(node)", "Node Control/Rebirth", &json!(1)), "{table}");

    // DCMD: typed and validated into the mailbox, which sends it to the node (postcard).
    host.send(json!({"dcmd": {"device": "node-7", "name": "node.cmd", "value": r#"{"set_led":{"on":true}}"#}}));
    support::wait_until("the command reaches node-7", || {
        !node.on("aimdb/node-7/cmd/node.cmd").is_empty()
    });
    let frame = &node.on("aimdb/node-7/cmd/node.cmd")[0].payload;
    let got: NodeCommand = aimdb_records::frame::decode_postcard(frame).unwrap();
    assert_eq!(got, NodeCommand::SetLed { on: true });
    // Not a NodeCommand, and a metric the device does not have: refused, counted, logged.
    host.send(json!({"dcmd": {"device": "node-7", "name": "node.cmd", "value": "explode"}}));
    host.send(json!({"dcmd": {"device": "node-7", "name": "sensor.temp/celsius", "value": "1"}}));
    support::wait_until("both refused DCMDs are counted", || {
        daemon
            .http("GET", "/metrics", "")
            .is_some_and(|(_, body)| body.contains("aimdbd_sparkplug_commands_rejected_total 2"))
    });
    assert!(daemon.logged("sparkplug: DCMD refused"));
    assert_eq!(node.on("aimdb/node-7/cmd/node.cmd").len(), 1);

    // A payload that does not decode is counted, never published.
    let before = host.all().len();
    node.publish(
        "aimdb/node-7/sensor.temp",
        QoS::AtMostOnce,
        false,
        vec![0xff; 3],
    );
    support::wait_until("the bad node payload is counted", || {
        daemon.http("GET", "/metrics", "").is_some_and(|(_, body)| {
            body.contains("aimdbd_sparkplug_device_payloads_rejected_total 1")
        })
    });
    assert!(host.all()[before..].iter().all(|m| m["type"] != "DDATA"));

    node.publish("aimdb/node-7/status", QoS::AtLeastOnce, true, "offline");
    host.wait("DDEATH of node-7", |m| {
        m["type"] == "DDEATH" && m["device"] == "node-7"
    });
    assert!(host.of("DDEATH", Some("node-9")).is_empty());
}

/// `aimdbd check` on `config`: exit code and stderr + stdout.
fn check(dir: &TestDir, name: &str, config: &str) -> (Option<i32>, String) {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    (
        out.status.code(),
        text.replace(&format!("{}/", dir.path().display()), ""),
    )
}

#[test]
fn config_mistakes_are_reported_at_their_place() {
    let dir = TestDir::new("sparkplug-check");
    let (code, out) = check(
        &dir,
        "bad.toml",
        r#"[node]
id = "gw-1"

[sparkplug]
group_id = "pla/nt"
edge_node_id = "e+1"

[[record]]
key = "sim.a"
type = "Temperature"
source = { kind = "simulate", period_ms = 100 }
sparkplug = { metric = "t", unit = "C" }

[[record]]
key = "sim.b"
type = "Temperature"
source = { kind = "simulate", period_ms = 100 }
sparkplug = "yes"

[[record]]
key = "sim.c"
type = "Temperature"
source = { kind = "simulate", period_ms = 100 }
sparkplug = { metric = "sim.d" }

[[record]]
key = "sim.d"
type = "Temperature"
source = { kind = "simulate", period_ms = 100 }
sparkplug = true

[[record]]
key = "node.cmd"
type = "NodeCommand"
buffer = { kind = "mailbox" }
sparkplug = true
"#,
    );
    assert_eq!(code, Some(78), "{out}");
    for line in [
        "bad.toml:4:1: [sparkplug] needs [mqtt]: the broker it publishes to",
        "bad.toml:5:12: [sparkplug] group_id \"pla/nt\" must not contain '/', '+' or '#'",
        "bad.toml:6:16: [sparkplug] edge_node_id \"e+1\" must not contain '/', '+' or '#'",
        "bad.toml:12:13: record \"sim.a\": unknown field `unit` in sparkplug",
        "bad.toml:18:13: record \"sim.b\": sparkplug must be true, false or a table",
        "bad.toml:30:13: record \"sim.d\": Sparkplug metric \"sim.d/sensor_id\" is also a metric of record \"sim.c\"",
        "bad.toml:36:13: record \"node.cmd\": a mailbox record cannot be a Sparkplug metric",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }

    let (code, out) = check(
        &dir,
        "no-table.toml",
        "[node]\nid = \"gw-1\"\n\n[[record]]\nkey = \"sim.a\"\ntype = \"Temperature\"\nsource = { kind = \"simulate\", period_ms = 100 }\nsparkplug = true\n",
    );
    assert_eq!(code, Some(78), "{out}");
    assert!(
        out.contains("no-table.toml:8:13: record \"sim.a\": `sparkplug` needs a [sparkplug] table"),
        "{out}"
    );

    // primary_host_id is acted on: no warning any more.
    let (code, out) = check(
        &dir,
        "host.toml",
        "[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\n\n[sparkplug]\ngroup_id = \"plant\"\nprimary_host_id = \"scada\"\nstore_forward_max_values = 500\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("warning"), "{out}");

    let (code, out) = check(
        &dir,
        "held.toml",
        "[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\n\n[sparkplug]\ngroup_id = \"plant\"\nstore_forward_max_values = 10\n",
    );
    assert_eq!(code, Some(78), "{out}");
    assert!(
        out.contains("held.toml:9:28: [sparkplug] store_forward_max_values needs primary_host_id"),
        "{out}"
    );
    assert!(
        out.contains("primary_host_id = \"HOST\""),
        "the hint: {out}"
    );
    let (code, out) = check(
        &dir,
        "range.toml",
        "[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\n\n[sparkplug]\ngroup_id = \"plant\"\nprimary_host_id = \"sc/ada\"\nstore_forward_max_values = 0\n",
    );
    assert_eq!(code, Some(78), "{out}");
    for line in [
        "range.toml:9:19: [sparkplug] primary_host_id \"sc/ada\" must not contain '/', '+' or '#'",
        "range.toml:10:28: [sparkplug] store_forward_max_values must be between 1 and 1000000",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn a_reload_sends_new_births_on_the_same_connection() {
    let dir = TestDir::new("sparkplug-reload");
    let broker = Mosquitto::start(dir.path());
    let host = Host::start(broker.port);
    let admin = free_port();
    let cfg = config(admin, &broker, 60_000);
    let daemon = Daemon::start(dir.path(), admin, &cfg);
    let first = host.wait("NBIRTH", |m| m["type"] == "NBIRTH");
    assert!(!first["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "sim.hum/percent"));

    // One more node record: the new graph's metrics are born, same connection, same bdSeq.
    let before = host.all().len();
    let added = format!(
        "{cfg}\n[[record]]\nkey = \"sim.hum\"\ntype = \"Humidity\"\nsource = {{ kind = \"simulate\", period_ms = 60000 }}\nsparkplug = true\n"
    );
    std::fs::write(dir.join("aimdbd.toml"), added).unwrap();
    daemon.signal("-HUP");
    let (_, again) = host.wait_from(before, "NBIRTH after the reload", |m| m["type"] == "NBIRTH");
    assert_eq!(again["bdseq"], first["bdseq"], "the connection was kept");
    assert_eq!(again["seq"], 0);
    assert_eq!(metric(&again, "sim.hum/percent")["datatype"], "FLOAT");
    assert!(host.of("NDEATH", None).is_empty());
}

/// A config with the primary host `scada`, one node record `feed` the test writes
/// (`plant/feed`, JSON `Temperature`; every value is known by its `celsius`) and the device
/// record `sensor.temp` of the MCU nodes.
fn host_config(admin: u16, broker: &Mosquitto, max_held: usize) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"

[sparkplug]
group_id = "{GROUP}"
primary_host_id = "scada"
store_forward_max_values = {max_held}

[[record]]
key = "feed"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 256 }}
link_from = [{{ url = "mqtt://plant/feed", codec = "json", qos = 1 }}]
sparkplug = true

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
link_from = [{{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard" }}]
sparkplug = true
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

/// Publishes feed value `n` (celsius = n).
fn feed(client: &TestClient, n: u32) {
    let v = json!({"sensor_id": "feed-1", "celsius": n, "timestamp_ms": n});
    client.publish("plant/feed", QoS::AtLeastOnce, false, v.to_string());
}

/// The `feed/celsius` values of the NDATA messages in `msgs`, with their `is_historical`.
fn celsius_of(msgs: &[Value]) -> Vec<(u32, bool)> {
    msgs.iter()
        .filter(|m| m["type"] == "NDATA")
        .flat_map(|m| m["metrics"].as_array().cloned().unwrap_or_default())
        .filter(|x| x["name"] == "feed/celsius")
        .map(|x| {
            let v = x["value"].as_f64().expect("celsius is a number");
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = v as u32;
            (n, x["is_historical"] == true)
        })
        .collect()
}

/// The `sensor.temp/celsius` values of node-7's DDATA messages in `msgs`, with `is_historical`.
fn device_celsius_of(msgs: &[Value]) -> Vec<(f64, bool)> {
    msgs.iter()
        .filter(|m| m["type"] == "DDATA" && m["device"] == "node-7")
        .flat_map(|m| m["metrics"].as_array().cloned().unwrap_or_default())
        .filter(|x| x["name"] == "sensor.temp/celsius")
        .map(|x| {
            (
                x["value"].as_f64().unwrap_or(f64::NAN),
                x["is_historical"] == true,
            )
        })
        .collect()
}

fn scrape(daemon: &Daemon) -> String {
    daemon
        .http("GET", "/metrics", "")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

fn state(host: &mut Host, online: bool, timestamp: u64) {
    let before = host.all().len();
    host.send(json!({"state": {"host": "scada", "online": online, "timestamp": timestamp}}));
    host.wait_from(before, "the STATE is published", |m| {
        m["type"] == "state_sent" && m["timestamp"] == timestamp
    });
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn primary_host_gates_births_and_values_held_meanwhile_follow_as_historical() {
    let dir = TestDir::new("sparkplug-host");
    let broker = Mosquitto::start(dir.path());
    let mut host = Host::start(broker.port);
    let writer = TestClient::connect(broker.port, "feeder", &["aimdb/test-gw/status"]);
    // MCU node node-7 is online (retained) before the gateway starts.
    writer.publish("aimdb/node-7/status", QoS::AtLeastOnce, true, "online");
    let admin = free_port();
    let daemon = Daemon::start(dir.path(), admin, &host_config(admin, &broker, 20));
    // The bridge publishes `online` after subscribing: from then on `plant/feed` reaches `feed`.
    support::wait_until("the bridge is subscribed", || {
        writer
            .texts("aimdb/test-gw/status")
            .iter()
            .any(|t| t == "online")
    });

    // No STATE yet: connected, subscribed, not born. Values produced meanwhile are held.
    support::wait_until("the session waits for the primary host", || {
        daemon.logged("births wait for the primary host's STATE online")
    });
    // Its retained status reached the session: the session's subscriptions are in place.
    support::wait_until("the session knows node-7", || {
        daemon.get_json("/api/sparkplug").is_some_and(|t| {
            t["metrics"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["device"] == "node-7"))
        })
    });
    for n in 1..=5 {
        feed(&writer, n);
    }
    // And three readings of MCU node node-7 (device metrics, from the session's subscription).
    for (i, c) in [1.5f32, 2.5, 3.5].into_iter().enumerate() {
        let ts = u64::try_from(i).unwrap() + 1;
        writer.publish(
            "aimdb/node-7/sensor.temp",
            QoS::AtMostOnce,
            false,
            reading("node-7", c, ts),
        );
    }
    support::wait_until("eight values are held", || {
        scrape(&daemon).contains("aimdbd_sparkplug_held_values 8")
    });
    assert!(scrape(&daemon).contains("aimdbd_sparkplug_host_online 0"));
    assert!(
        host.all()
            .iter()
            .all(|m| m["type"] != "NBIRTH" && m["type"] != "NDATA"),
        "born before the host's STATE: {:#?}",
        host.all()
    );

    // The host comes online: NBIRTH, then the held values, in order, historical.
    let before = host.all().len();
    state(&mut host, true, 1_000);
    let (birth_at, birth) = host.wait_from(before, "NBIRTH", |m| m["type"] == "NBIRTH");
    assert_eq!(birth["bdseq"], 0);
    assert_eq!(metric(&birth, "feed/celsius")["value"], 5.0);
    support::wait_until("the five held values are sent", || {
        celsius_of(&host.all()[birth_at..]).len() >= 5
    });
    assert_eq!(
        celsius_of(&host.all()[birth_at..]),
        (1..=5).map(|n| (n, true)).collect::<Vec<_>>()
    );
    // node-7 is born with its current reading, then its held readings follow, historical.
    let (dbirth_at, dbirth) = host.wait_from(birth_at, "DBIRTH of node-7", |m| {
        m["type"] == "DBIRTH" && m["device"] == "node-7"
    });
    assert_eq!(metric(&dbirth, "sensor.temp/celsius")["value"], 3.5);
    support::wait_until("the three held readings are sent", || {
        device_celsius_of(&host.all()[dbirth_at..]).len() >= 3
    });
    assert_eq!(
        device_celsius_of(&host.all()[birth_at..]),
        [(1.5, true), (2.5, true), (3.5, true)]
    );
    // Live values after them are not historical.
    feed(&writer, 6);
    feed(&writer, 7);
    support::wait_until("two live values", || {
        celsius_of(&host.all()[birth_at..]).len() >= 7
    });
    assert_eq!(
        celsius_of(&host.all()[birth_at..])[5..],
        [(6, false), (7, false)]
    );

    // A STATE offline older than the one taken: ignored (still born, data still flows).
    state(&mut host, false, 999);
    feed(&writer, 8);
    support::wait_until("the live value after the old STATE", || {
        celsius_of(&host.all()[birth_at..]).len() >= 8
    });
    assert!(host.of("NDEATH", None).is_empty(), "{:#?}", host.all());
    let metrics = scrape(&daemon);
    assert!(
        metrics.contains("aimdbd_sparkplug_host_states_ignored_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aimdbd_sparkplug_host_online 1"),
        "{metrics}"
    );

    // The host goes offline: its will, which carries the timestamp of its birth (spec 3.0), so
    // an equal one counts. NDEATH (the daemon's own, bdSeq 0), no data while it is away.
    let before = host.all().len();
    state(&mut host, false, 1_000);
    let (_, death) = host.wait_from(before, "NDEATH", |m| m["type"] == "NDEATH");
    assert_eq!(death["bdseq"], 0);
    support::wait_until("reconnected, waiting for the host again", || {
        scrape(&daemon).contains("aimdbd_sparkplug_bdseq 1")
    });
    // 32 values meanwhile, past the bound of 20: the 12 oldest are dropped, counted.
    for n in 9..=40 {
        feed(&writer, n);
        std::thread::sleep(Duration::from_millis(10));
    }
    support::wait_until("20 held, 12 dropped", || {
        let m = scrape(&daemon);
        m.contains("aimdbd_sparkplug_held_values 20")
            && m.contains("aimdbd_sparkplug_held_dropped_total 12")
    });
    assert!(daemon.logged("store-and-forward is full"));
    let after_death = host.all().len();
    assert!(
        host.all()[before..]
            .iter()
            .all(|m| !["NBIRTH", "NDATA", "DBIRTH", "DDATA"]
                .contains(&m["type"].as_str().unwrap_or(""))),
        "published while the host was offline: {:#?}",
        &host.all()[before..]
    );

    // Back online: NBIRTH with the new bdSeq, then every value kept (21..=40), in order.
    state(&mut host, true, 3_000);
    let (birth_at, birth) = host.wait_from(after_death, "NBIRTH after the host's return", |m| {
        m["type"] == "NBIRTH"
    });
    assert_eq!(birth["bdseq"], 1);
    assert_eq!(birth["seq"], 0);
    support::wait_until("the 20 held values are sent", || {
        celsius_of(&host.all()[birth_at..]).len() >= 20
    });
    feed(&writer, 41);
    support::wait_until("a live value after them", || {
        celsius_of(&host.all()[birth_at..]).len() >= 21
    });
    let mut expected: Vec<(u32, bool)> = (21..=40).map(|n| (n, true)).collect();
    expected.push((41, false));
    assert_eq!(celsius_of(&host.all()[birth_at..]), expected);
    // seq continues without a gap from the NBIRTH through the historical NDATA.
    let seqs: Vec<u64> = host.all()[birth_at..]
        .iter()
        .filter_map(|m| m["seq"].as_u64())
        .collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], (w[0] + 1) % 256, "seq gap in {seqs:?}");
    }
    let metrics = scrape(&daemon);
    assert!(
        metrics.contains("aimdbd_sparkplug_historical_sent_total 28"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aimdbd_sparkplug_held_values 0"),
        "{metrics}"
    );
}

#[test]
fn a_node_whose_will_fires_is_a_dead_device() {
    let dir = TestDir::new("sparkplug-will");
    let broker = Mosquitto::start(dir.path());
    let host = Host::start(broker.port);
    let admin = free_port();
    let daemon = Daemon::start(dir.path(), admin, &config(admin, &broker, 60_000));
    host.wait("NBIRTH", |m| m["type"] == "NBIRTH");
    // A node as the firmware connects: its will is a retained `offline` on its status topic.
    let mut node = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-i",
            "node-5",
        ])
        .args(["-t", "aimdb/node-5/cmd/#", "-k", "5"])
        .args([
            "--will-topic",
            "aimdb/node-5/status",
            "--will-payload",
            "offline",
        ])
        .args(["--will-qos", "1", "--will-retain"])
        .stdout(Stdio::null())
        .spawn()
        .expect("mosquitto_sub");
    support::wait_until("node-5 is connected", || {
        broker.connections_of("node-5") > 0
    });
    let online = TestClient::connect(broker.port, "node-5-birth", &[]);
    online.publish("aimdb/node-5/status", QoS::AtLeastOnce, true, "online");
    host.wait("DBIRTH of node-5", |m| {
        m["type"] == "DBIRTH" && m["device"] == "node-5"
    });
    assert!(host.of("DDEATH", Some("node-5")).is_empty());

    // It dies without a word (power cut): the broker publishes its will, the edge node DDEATH.
    node.kill().expect("kill the node");
    let _ = node.wait();
    let ddeath = host.wait("DDEATH of node-5", |m| {
        m["type"] == "DDEATH" && m["device"] == "node-5"
    });
    assert!(ddeath["seq"].is_u64());
    support::wait_until("the DDEATH is counted", || {
        scrape(&daemon).contains("aimdbd_sparkplug_deaths_total{kind=\"device\"} 1")
    });
    assert!(host.of("NDEATH", None).is_empty());
}

/// A stop whose drain used up the whole shutdown budget (`shutdown_timeout` 1 ms) still
/// publishes the daemon's own NDEATH followed by DISCONNECT: exactly one death, never the will
/// after it (the double NDEATH once seen under CI load).
#[test]
fn a_stop_with_no_budget_left_sends_exactly_one_ndeath() {
    let dir = TestDir::new("sparkplug-stop");
    let broker = Mosquitto::start(dir.path());
    let host = Host::start(broker.port);
    let admin = free_port();
    let cfg = config(admin, &broker, 5)
        .replace("shutdown_timeout = \"10s\"", "shutdown_timeout = \"1ms\"");
    for round in 0..10u64 {
        let before = host.all().len();
        let mut daemon = Daemon::start(dir.path(), admin, &cfg);
        let (_, birth) = host.wait_from(before, "NBIRTH", |m| m["type"] == "NBIRTH");
        assert_eq!(birth["bdseq"], round);
        let _ = daemon.stop();
        host.wait_from(before, "NDEATH", |m| m["type"] == "NDEATH");
        std::thread::sleep(Duration::from_millis(500));
        let deaths: Vec<Value> = host.all()[before..]
            .iter()
            .filter(|m| m["type"] == "NDEATH")
            .cloned()
            .collect();
        let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap_or_default();
        let spb_log: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("sparkplug") || l.contains("drain"))
            .collect();
        assert_eq!(
            deaths.len(),
            1,
            "round {round}: {deaths:?}\ndaemon log:\n{}",
            spb_log.join("\n")
        );
        assert_eq!(deaths[0]["bdseq"], round);
        assert!(
            deaths[0]["timestamp"].as_u64() > birth["timestamp"].as_u64(),
            "round {round}: the will, not the daemon's NDEATH: {deaths:?} after {birth}"
        );
    }
}

/// Store-and-forward survives a crash: values held while the primary host is away are on disk
/// (`sparkplug-held.db` in the state directory), so after `kill -9` and a restart the next
/// session still has them and sends them — with the ones held since — historical, in order,
/// once the host is back.
#[test]
fn held_values_survive_kill_9_of_the_daemon() {
    let dir = TestDir::new("sparkplug-held-disk");
    let broker = Mosquitto::start(dir.path());
    let mut host = Host::start(broker.port);
    let writer = TestClient::connect(broker.port, "feeder", &["aimdb/test-gw/status"]);
    let admin = free_port();
    let cfg = host_config(admin, &broker, 100);
    // The bridge publishes `online` after subscribing: from the `n`th, `plant/feed` reaches
    // `feed` (a value fed before would be lost, and the test would count too few).
    let started = |d: &Daemon, n: usize| {
        support::wait_until("the bridge is subscribed", || {
            writer
                .texts("aimdb/test-gw/status")
                .iter()
                .filter(|t| *t == "online")
                .count()
                >= n
        });
        support::wait_until("the session waits for the primary host", || {
            scrape(d).contains("aimdbd_sparkplug_bdseq")
        });
    };
    let mut daemon = Daemon::start(dir.path(), admin, &cfg);
    started(&daemon, 1);
    for n in 1..=5 {
        feed(&writer, n);
    }
    support::wait_until("five values are held", || {
        scrape(&daemon).contains("aimdbd_sparkplug_held_values 5")
    });
    // The writer thread commits at once; give it a moment before the crash.
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal("-KILL");
    let _ = daemon.wait_exit();

    let daemon = Daemon::start(dir.path(), admin, &cfg);
    started(&daemon, 2);
    support::wait_until("the five are back from the disk", || {
        scrape(&daemon).contains("aimdbd_sparkplug_held_values 5")
    });
    for n in 6..=7 {
        feed(&writer, n);
    }
    support::wait_until("seven values are held", || {
        scrape(&daemon).contains("aimdbd_sparkplug_held_values 7")
    });
    let before = host.all().len();
    state(&mut host, true, 1_000);
    let (birth_at, _) = host.wait_from(before, "NBIRTH", |m| m["type"] == "NBIRTH");
    support::wait_until("the seven held values are sent", || {
        celsius_of(&host.all()[birth_at..]).len() >= 7
    });
    assert_eq!(
        celsius_of(&host.all()[birth_at..]),
        (1..=7).map(|n| (n, true)).collect::<Vec<_>>(),
        "every held value, historical, in order, across the crash"
    );
    assert!(daemon.logged("store-and-forward values kept from before the restart"));
}
