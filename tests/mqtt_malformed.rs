//! Bad input, with the real `aimdbd` and a real Mosquitto: garbage, truncated postcard, JSON of
//! the wrong shape and a 1 MiB payload are counted by reason, logged with their topic (rate-
//! limited), dropped — and the daemon runs on: later good messages still flow. Messages on a
//! topic no link wants (a subscription left in a persistent session by an earlier config) are
//! counted as `unknown_topic`.

mod support;

use aimdb_records::{id, Codec, Temperature};
use rumqttc::QoS;
use serde_json::Value;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir};

fn config(admin: u16, broker: &Mosquitto, extra_link: &str) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
clean_session = false

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
link_from = [
  {{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard", qos = 1 }},
  {{ url = "mqtt://json/temp", codec = "json", qos = 1 }},{extra_link}
]
link_to = [{{ url = "mqtt://out/temp", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn metric(d: &Daemon, prefix: &str) -> u64 {
    d.http("GET", "/metrics", "")
        .and_then(|(_, t)| {
            t.lines()
                .find_map(|l| l.strip_prefix(prefix).map(|v| v.trim().to_string()))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn temp(celsius: f32) -> Temperature {
    Temperature {
        sensor_id: id("t-1").expect("id"),
        celsius,
        timestamp_ms: 1_700_000_000_000,
    }
}

#[test]
fn bad_payloads_are_counted_logged_and_dropped_and_good_ones_still_flow() {
    let dir = TestDir::new("mqtt-malformed");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker, ""));
    let c = TestClient::connect(broker.port, "malformed-client", &["out/temp"]);
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected ") == 1);

    let mut truncated = Codec::Postcard.encode_to_vec(&temp(1.0)).expect("encode");
    truncated.truncate(truncated.len() - 3);
    let pc = "aimdb/n1/sensor.temp";
    c.publish(pc, QoS::AtLeastOnce, false, vec![0xff; 12]);
    c.publish(pc, QoS::AtLeastOnce, false, truncated);
    c.publish("json/temp", QoS::AtLeastOnce, false, r#"{"celsius":"hot"}"#);
    c.publish("json/temp", QoS::AtLeastOnce, false, "not json at all");
    c.publish("json/temp", QoS::AtLeastOnce, false, vec![b' '; 1 << 20]);
    for _ in 0..500 {
        c.publish(pc, QoS::AtMostOnce, false, b"garbage".to_vec());
    }
    // Good values afterwards still flow, in order.
    c.publish(
        pc,
        QoS::AtLeastOnce,
        false,
        Codec::Postcard.encode_to_vec(&temp(21.5)).expect("encode"),
    );
    c.publish(
        "json/temp",
        QoS::AtLeastOnce,
        false,
        serde_json::to_vec(&temp(22.5)).expect("json"),
    );
    let out = c.wait_for("out/temp", 2);
    let celsius: Vec<_> = out
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.payload).expect("json")["celsius"].as_f64())
        .collect();
    assert_eq!(
        celsius,
        vec![Some(21.5), Some(22.5)],
        "only the good values were produced"
    );

    wait_until("every bad message is counted", || {
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"decode\"}") == 504
    });
    assert_eq!(
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"oversized\"}"),
        1
    );
    assert_eq!(
        metric(&d, "aimdbd_mqtt_link_errors_total{direction=\"in\",record=\"sensor.temp\",topic=\"aimdb/+/sensor.temp\"}"),
        502
    );
    assert_eq!(
        metric(&d, "aimdbd_mqtt_connects_total "),
        1,
        "no reconnect: the connection survived"
    );
    assert_eq!(d.http("GET", "/healthz", "").map(|r| r.0), Some(200));

    // Logged with topic and reason, at most one line per reason per 10 s.
    let lines = d.log_lines();
    let dropped: Vec<&Value> = lines
        .iter()
        .filter(|l| support::message(l) == "MQTT message dropped")
        .collect();
    let decode: Vec<_> = dropped
        .iter()
        .filter(|l| l["fields"]["kind"] == "decode")
        .collect();
    assert_eq!(decode.len(), 1, "rate-limited: {dropped:?}");
    assert_eq!(decode[0]["fields"]["topic"], pc);
    assert!(decode[0]["fields"]["reason"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let big: Vec<_> = dropped
        .iter()
        .filter(|l| l["fields"]["kind"] == "oversized")
        .collect();
    assert_eq!(big.len(), 1, "{dropped:?}");
    assert_eq!(big[0]["fields"]["topic"], "json/temp");
}

#[test]
fn a_stale_subscription_is_counted_as_unknown_topic() {
    let dir = TestDir::new("mqtt-unknown-topic");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    // First run subscribes to old/+ in a persistent session...
    let extra = "\n  { url = \"mqtt://old/+\", codec = \"json\", qos = 1 },";
    let mut d = Daemon::start(dir.path(), admin, &config(admin, &broker, extra));
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected ") == 1);
    assert_eq!(d.stop(), Some(0));
    drop(d);
    // ...the next run no longer has that link, but the broker still delivers it.
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker, ""));
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected ") == 1);
    let c = TestClient::connect(broker.port, "stale-client", &[]);
    c.publish("old/x", QoS::AtLeastOnce, false, "{}");
    wait_until("counted as unknown topic", || {
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"unknown_topic\"}") == 1
    });
    assert!(d.log_lines().iter().any(|l| {
        support::message(l) == "MQTT message dropped" && l["fields"]["topic"] == "old/x"
    }));
}

/// Publishes `bytes` zero bytes to `topic` at QoS 1 with `mosquitto_pub` (a client of another
/// implementation, with no packet limit of its own).
fn publish_large(port: u16, topic: &str, bytes: usize, dir: &std::path::Path) {
    let file = dir.join(format!("payload-{bytes}"));
    std::fs::write(&file, vec![b'x'; bytes]).expect("payload file");
    let out = std::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
            "-t",
            topic,
            "-f",
        ])
        .arg(&file)
        .output()
        .expect("mosquitto_pub (scripts/setup.sh installs mosquitto-clients)");
    assert!(out.status.success(), "mosquitto_pub: {:?}", out);
}

/// One oversized QoS 1 message on a persistent session must not poison it: it is read,
/// dropped, counted and acknowledged — no reconnect, no redelivery after a restart — and later
/// messages flow.
#[test]
fn messages_of_10_and_100_mb_are_dropped_without_dropping_the_connection() {
    let dir = TestDir::new("mqtt-poison");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = config(admin, &broker, "");
    let mut d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge is connected", || {
        metric(&d, "aimdbd_mqtt_connected ") == 1
    });
    let watcher = TestClient::connect(broker.port, "poison-watch", &["out/temp"]);
    for mb in [10, 100] {
        publish_large(broker.port, "json/temp", mb << 20, dir.path());
    }
    let good = serde_json::to_vec(&temp(21.0)).expect("json");
    let pubc = TestClient::connect(broker.port, "poison-pub", &[]);
    pubc.publish("json/temp", QoS::AtLeastOnce, false, good.clone());
    watcher.wait_for("out/temp", 1);
    assert_eq!(
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"oversized\"}"),
        2,
        "both counted"
    );
    assert_eq!(
        metric(&d, "aimdbd_mqtt_connects_total "),
        1,
        "no reconnect: the connection survived both"
    );
    wait_until("every inbound message is acknowledged", || {
        metric(&d, "aimdbd_mqtt_inbound_unacked ") == 0
    });
    // A restart on the same persistent session: nothing is redelivered, nothing loops.
    assert_eq!(d.stop(), Some(0));
    let d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge is connected again", || {
        metric(&d, "aimdbd_mqtt_connected ") == 1
    });
    pubc.publish("json/temp", QoS::AtLeastOnce, false, good);
    watcher.wait_for("out/temp", 2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"oversized\"}"),
        0,
        "the broker did not send the oversized messages again"
    );
    assert_eq!(metric(&d, "aimdbd_mqtt_connects_total "), 1);
}
