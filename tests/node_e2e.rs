//! The mesh end to end: the sensor node's application logic (the very code the STM32 firmware
//! runs, here on Embassy's std executor with a std TCP transport) talks to a real Mosquitto; a
//! real `aimdbd` with a gateway config ingests the node's temperature (postcard), raises an alert
//! and publishes it as JSON; a command set through `aimdbd ctl set` reaches the node's mailbox and
//! changes its behaviour (the LED); stopping the node makes `aimdbd` see `offline`.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use aimdb_node::{Exit, NodeConfig, NodeError, NodeStats};
use aimdb_node_host::{HostLed, HostOptions};
use support::mosquitto::{mosquitto_sub_one, Mosquitto};
use support::{config_head, free_port, wait_until, Daemon, TestDir};

const NODE: &str = "n1";

fn gateway_config(admin_port: u16, broker: &str) -> String {
    format!(
        r#"{head}
[mqtt]
url = "{broker}"

[[record]]
key = "sensor.temp.indoor"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 256 }}
link_from = [{{ url = "mqtt://aimdb/+/sensor.temp.indoor", codec = "postcard", qos = 1 }}]

[[record]]
key = "alert.temp.indoor"
type = "TemperatureAlert"
buffer = {{ kind = "single_latest" }}
transform = {{ kind = "threshold", input = "sensor.temp.indoor", above = 30.0 }}
link_to = [{{ url = "mqtt://gw/alert/temp.indoor", codec = "json", qos = 1, retain = true }}]

[[record]]
key = "node.status"
type = "json"
buffer = {{ kind = "single_latest" }}
link_from = [{{ url = "mqtt://aimdb/{NODE}/status", codec = "text", qos = 1 }}]

[[record]]
key = "node.cmd"
type = "NodeCommand"
buffer = {{ kind = "mailbox" }}
link_to = [{{ url = "mqtt://aimdb/{NODE}/cmd/node.cmd", codec = "postcard", qos = 1 }}]
"#,
        head = config_head(admin_port)
    )
}

/// The node app on a thread of its own, stopped (cleanly: drain, `offline`, disconnect) on drop.
struct Node {
    led: HostLed,
    stats: Arc<NodeStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Exit, NodeError>>>,
}

impl Node {
    fn start(broker_port: u16) -> Self {
        let mut config = NodeConfig::new(NODE).expect("a valid node id");
        config.sample_period_ms = 100;
        config.reconnect_min_ms = 50;
        config.reconnect_max_ms = 500;
        let opts = HostOptions {
            broker: SocketAddr::from(([127, 0, 0, 1], broker_port)),
            config,
            // A steady 36 °C: above the gateway's 30 °C threshold.
            temp_base: 36.0,
            temp_swing: 0.0,
        };
        let led = HostLed::default();
        let stats = Arc::new(NodeStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s, st) = (led.clone(), stats.clone(), stop.clone());
        let thread = std::thread::spawn(move || aimdb_node_host::run(opts, l, s, st));
        Self {
            led,
            stats,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) -> Option<Result<Exit, NodeError>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ctl(admin_port: u16, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["ctl", "--admin", &format!("127.0.0.1:{admin_port}")])
        .args(args)
        .output()
        .expect("run aimdbd ctl")
}

#[test]
fn node_and_gateway_talk_through_a_real_broker() {
    let dir = TestDir::new("node-e2e");
    let broker = Mosquitto::start(dir.path());
    let admin = free_port();
    let mut d = Daemon::start(dir.path(), admin, &gateway_config(admin, &broker.url()));
    let mut node = Node::start(broker.port);

    // The node's postcard readings arrive, and the gateway's alert goes out as JSON.
    wait_until("aimdbd holds the node's temperature", || {
        d.get_json("/api/records/sensor.temp.indoor")
            .is_some_and(|v| v["value"]["sensor_id"] == NODE)
    });
    let reading = d
        .get_json("/api/records/sensor.temp.indoor")
        .expect("the reading");
    assert_eq!(reading["type"], "Temperature", "{reading}");
    assert!(reading["value"]["celsius"].is_f64(), "{reading}");
    assert!(reading["value"]["timestamp_ms"].is_u64(), "{reading}");
    wait_until("aimdbd raises the alert", || {
        d.get_json("/api/records/alert.temp.indoor")
            .is_some_and(|v| v["value"]["level"] == "high")
    });
    let raised = d
        .get_json("/api/records/alert.temp.indoor")
        .expect("the alert");
    assert_alert(&raised["value"]);
    let alert = mosquitto_sub_one(broker.port, "gw/alert/temp.indoor", 10)
        .expect("the retained alert on gw/alert/temp.indoor");
    let json = alert.splitn(4, ' ').nth(3).unwrap_or_default();
    let parsed: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("the alert is JSON ({e}): {alert}"));
    assert_alert(&parsed);
    wait_until("aimdbd sees the node online", || {
        d.get_json("/api/records/node.status")
            .is_some_and(|v| v["value"] == "online")
    });

    // A command set through aimdbd reaches the node's mailbox and turns its LED on.
    assert!(!node.led.is_on());
    let out = ctl(admin, &["set", "node.cmd", r#"{"set_led":{"on":true}}"#]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("the node's LED is on", || node.led.is_on());
    assert!(node.stats.commands_applied.load(Ordering::Relaxed) >= 1);
    assert_eq!(node.stats.commands_malformed.load(Ordering::Relaxed), 0);

    // Stopping the node cleanly publishes `offline`, and aimdbd sees it.
    let result = node.stop().expect("the node thread ends");
    assert!(result.is_ok(), "the node stopped cleanly: {result:?}");
    wait_until("aimdbd sees the node offline", || {
        d.get_json("/api/records/node.status")
            .is_some_and(|v| v["value"] == "offline")
    });
    assert_eq!(d.stop(), Some(0));
}

/// A `TemperatureAlert` from the node's sensor against the 30 °C threshold (the retained one may
/// be `normal` again by the time it is read: the node's reading swings).
fn assert_alert(alert: &serde_json::Value) {
    assert_eq!(alert["sensor_id"], NODE, "{alert}");
    assert_eq!(alert["threshold"], 30.0, "{alert}");
    let celsius = alert["celsius"].as_f64().expect("celsius is a number");
    match alert["level"].as_str() {
        Some("high") => assert!(celsius > 30.0, "{alert}"),
        Some("normal") => {}
        _ => panic!("level is high or normal: {alert}"),
    }
}
