//! Reload (SIGHUP) with the bridge, real `aimdbd` and real Mosquitto: the old session closes
//! before the new graph's session starts (one connection at a time, same client id), the new
//! links are bridged, the disk outbox is reopened, and nothing panics.

mod support;

use std::time::{Duration, Instant};

use rumqttc::QoS;
use support::mosquitto::{mosquitto_sub_one, Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir, BOUND};

fn config(admin: u16, broker: &Mosquitto, out: &str) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"

[[record]]
key = "echo"
type = "json"
link_from = [{{ url = "mqtt://in/echo", codec = "json", qos = 1 }}]
link_to = [{{ url = "mqtt://{out}", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn metric(d: &Daemon, name: &str) -> u64 {
    d.http("GET", "/metrics", "")
        .and_then(|(_, t)| {
            t.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Publishes `{"n": n}` on `in/echo` until it comes back on `out`.
fn round_trip(c: &TestClient, out: &str, n: u64) {
    let start = Instant::now();
    let want = format!("{{\"n\":{n}}}");
    while !c.on(out).iter().any(|r| r.payload == want.as_bytes()) {
        c.publish("in/echo", QoS::AtLeastOnce, false, want.clone());
        std::thread::sleep(Duration::from_millis(300));
        assert!(start.elapsed() < BOUND, "{want} never came back on {out}");
    }
}

#[test]
fn sighup_closes_the_old_session_and_bridges_the_new_links() {
    let dir = TestDir::new("mqtt-reload");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker, "out/a"));
    let c = TestClient::connect(broker.port, "reload-client", &["out/#"]);
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected ") == 1);
    round_trip(&c, "out/a", 1);

    std::fs::write(dir.join("aimdbd.toml"), config(admin, &broker, "out/b")).expect("write config");
    d.signal("-HUP");
    wait_until("reloaded", || {
        metric(&d, "aimdbd_reloads_total{result=\"ok\"}") == 1
    });
    wait_until("the new session connected", || {
        metric(&d, "aimdbd_mqtt_connects_total ") == 2 && metric(&d, "aimdbd_mqtt_connected ") == 1
    });
    round_trip(&c, "out/b", 2);
    assert_eq!(
        mosquitto_sub_one(broker.port, "aimdb/test-gw/status", 20).as_deref(),
        Some("1 1 aimdb/test-gw/status online")
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    assert!(!log.contains("panicked"), "{log}");
    let closed = log
        .find("MQTT session closed")
        .expect("the old session closed");
    let second = log
        .rfind("connected to the MQTT broker")
        .expect("the new session connected");
    assert!(
        closed < second,
        "the old session closed before the new one connected"
    );
    assert!(
        broker.log().matches("already connected").count() == 0,
        "no client id takeover"
    );
}
