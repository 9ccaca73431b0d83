//! The MQTT bridge end to end, with the real `aimdbd` and a real Mosquitto: values published on
//! input topics (postcard and JSON) arrive transformed on the output topic (QoS 1, retained);
//! wildcard subscriptions route by node and stamp the node id into the value; several links feed
//! one record; the status topic says `online` (birth) and `offline` (clean shutdown); the bridge's
//! metrics are valid Prometheus text.

mod support;

use aimdb_records::{id, Codec, Heartbeat, Temperature};
use rumqttc::QoS;
use serde_json::Value;
use support::mosquitto::{mosquitto_sub_one, Mosquitto, TestClient};
use support::prometheus::check_prometheus;
use support::{config_head, wait_until, Daemon, TestDir};

fn config(admin: u16, broker: &Mosquitto) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
reconnect_min = "50ms"
reconnect_max = "1s"

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
link_from = [
  {{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard", qos = 1, node_into = "sensor_id" }},
  {{ url = "mqtt://json/+/temp", codec = "json" }},
]

[[record]]
key = "alert.temp"
type = "TemperatureAlert"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
transform = {{ kind = "threshold", input = "sensor.temp", above = 30.0 }}
link_to = [{{ url = "mqtt://{{node}}/alert/{{key}}", codec = "json", qos = 1, retain = true }}]

[[record]]
key = "hb.all"
type = "Heartbeat"
link_from = [{{ url = "mqtt://aimdb/+/node.heartbeat", codec = "postcard" }}]
link_to = [{{ url = "mqtt://out/hb.all", codec = "json" }}]

[[record]]
key = "hb.node1"
type = "Heartbeat"
link_from = [{{ url = "mqtt://aimdb/node-1/node.heartbeat", codec = "postcard" }}]
link_to = [{{ url = "mqtt://out/hb.node1", codec = "postcard", qos = 2 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn json(r: &support::mosquitto::Received) -> Value {
    serde_json::from_slice(&r.payload).expect("JSON payload")
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn values_cross_the_bridge_transformed_and_routed_by_node() {
    let dir = TestDir::new("mqtt-bridge");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let mut d = Daemon::start(dir.path(), admin, &config(admin, &broker));
    let watcher = TestClient::connect(broker.port, "watcher", &["test-gw/alert/#", "out/#"]);
    wait_until("the bridge is connected", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, b)| b.contains("aimdbd_mqtt_connected 1"))
    });
    let birth = mosquitto_sub_one(broker.port, "aimdb/test-gw/status", 20);
    assert_eq!(
        birth.as_deref(),
        Some("1 1 aimdb/test-gw/status online"),
        "birth message, retained, QoS 1"
    );

    // Postcard from node-7 on the wildcard link: the node id lands in sensor_id.
    let hot = Temperature {
        sensor_id: id("whatever").expect("id"),
        celsius: 40.0,
        timestamp_ms: 1_700_000_000_000,
    };
    let input = TestClient::connect(broker.port, "node-sim", &[]);
    input.publish(
        "aimdb/node-7/sensor.temp",
        QoS::AtLeastOnce,
        false,
        Codec::Postcard.encode_to_vec(&hot).expect("encode"),
    );
    // JSON from a service on the second link of the same record.
    input.publish(
        "json/svc/temp",
        QoS::AtMostOnce,
        false,
        r#"{"sensor_id":"svc-1","celsius":20.5,"timestamp_ms":1700000000001}"#,
    );
    let alerts = watcher.wait_for("test-gw/alert/alert.temp", 2);
    let (a, b) = (json(&alerts[0]), json(&alerts[1]));
    assert_eq!(a["level"], "high", "{a}");
    assert_eq!(
        a["sensor_id"], "node-7",
        "node_into stamps the topic's node: {a}"
    );
    assert_eq!(a["celsius"], 40.0);
    assert_eq!(b["level"], "normal", "{b}");
    assert_eq!(
        b["sensor_id"], "svc-1",
        "the JSON link keeps the payload's id: {b}"
    );
    assert_eq!(
        alerts[0].qos,
        QoS::AtLeastOnce,
        "published and delivered at QoS 1"
    );

    // A late subscriber gets the retained, newest alert.
    let retained =
        mosquitto_sub_one(broker.port, "test-gw/alert/alert.temp", 20).expect("retained alert");
    assert!(
        retained.starts_with("1 1 test-gw/alert/alert.temp {") && retained.contains("\"normal\""),
        "retained, QoS 1, the newest value: {retained}"
    );

    // Wildcard routing by node: node-1's heartbeat reaches both records, node-2's only hb.all.
    for (node, seq) in [("node-1", 1u32), ("node-2", 2)] {
        let hb = Heartbeat {
            node_id: id(node).expect("id"),
            uptime_s: 10,
            seq,
        };
        input.publish(
            &format!("aimdb/{node}/node.heartbeat"),
            QoS::AtLeastOnce,
            false,
            Codec::Postcard.encode_to_vec(&hb).expect("encode"),
        );
    }
    let all = watcher.wait_for("out/hb.all", 2);
    let seqs: Vec<_> = all.iter().map(|r| json(r)["seq"].as_u64()).collect();
    assert_eq!(seqs, vec![Some(1), Some(2)]);
    let one = watcher.wait_for("out/hb.node1", 1);
    // What the gateway sends is framed with its version (docs/TOPICS.md, "Versioned frames").
    assert_eq!(one[0].payload[0], aimdb_records::frame::MARKER);
    let hb: Heartbeat =
        aimdb_records::frame::decode_postcard(&one[0].payload).expect("postcard out");
    assert_eq!((hb.node_id.as_str(), hb.seq), ("node-1", 1));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        watcher.on("out/hb.node1").len(),
        1,
        "node-2 is not routed to hb.node1"
    );

    // Metrics: valid Prometheus text with the bridge's families.
    let (_, metrics) = d.http("GET", "/metrics", "").expect("/metrics");
    check_prometheus(&metrics).unwrap_or_else(|e| panic!("{e}\n{metrics}"));
    for line in [
        "aimdbd_mqtt_connected 1",
        "aimdbd_mqtt_connects_total 1",
        "aimdbd_mqtt_node_messages_total{node=\"node-7\"} 1",
        "aimdbd_mqtt_node_messages_total{node=\"node-1\"} 1",
        "aimdbd_mqtt_messages_total{direction=\"in\",record=\"sensor.temp\",topic=\"aimdb/+/sensor.temp\"} 1",
        "aimdbd_mqtt_messages_total{direction=\"in\",record=\"sensor.temp\",topic=\"json/+/temp\"} 1",
        "aimdbd_mqtt_messages_total{direction=\"out\",record=\"alert.temp\",topic=\"test-gw/alert/alert.temp\"} 2",
        "aimdbd_mqtt_outbox_depth{direction=\"out\",record=\"alert.temp\",topic=\"test-gw/alert/alert.temp\"} 0",
        "aimdbd_mqtt_bad_input_total{reason=\"decode\"} 0",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in\n{metrics}");
    }

    // Clean shutdown says offline (retained).
    assert_eq!(d.stop(), Some(0));
    let status = mosquitto_sub_one(broker.port, "aimdb/test-gw/status", 20);
    assert_eq!(status.as_deref(), Some("1 1 aimdb/test-gw/status offline"));
    assert!(d.logged("disconnected from the MQTT broker"));
}

#[test]
fn untyped_json_records_carry_raw_utf8_text() {
    let dir = TestDir::new("mqtt-text");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"

[[record]]
key = "svc.text"
type = "json"
link_from = [{{ url = "mqtt://text/in", codec = "text" }}, {{ url = "mqtt://json/in", codec = "json" }}]
link_to = [{{ url = "mqtt://text/as-json", codec = "json" }}, {{ url = "mqtt://text/as-text", codec = "text" }}]
"#,
        head = config_head(admin),
        url = broker.url()
    );
    let _d = Daemon::start(dir.path(), admin, &config);
    let c = TestClient::connect(broker.port, "text-client", &["text/#"]);
    wait_until("the bridge is connected", || {
        _d.http("GET", "/metrics", "")
            .is_some_and(|(_, b)| b.contains("aimdbd_mqtt_connected 1"))
    });
    c.publish("text/in", QoS::AtLeastOnce, false, "héllo plain text");
    c.publish("json/in", QoS::AtLeastOnce, false, r#"{"a":1}"#);
    let as_json = c.wait_for("text/as-json", 2);
    assert_eq!(as_json[0].payload, "\"héllo plain text\"".as_bytes());
    assert_eq!(as_json[1].payload, br#"{"a":1}"#);
    let as_text = c.wait_for("text/as-text", 2);
    assert_eq!(
        as_text[0].payload,
        "héllo plain text".as_bytes(),
        "a string goes out as bare text"
    );
    assert_eq!(as_text[1].payload, br#"{"a":1}"#, "other values as JSON");
}

#[test]
fn a_gateway_without_mqtt_links_still_announces_itself() {
    let dir = TestDir::new("mqtt-no-links");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        "{head}[mqtt]\nurl = \"{url}\"\n\n[[record]]\nkey = \"hb\"\ntype = \"Heartbeat\"\nsource = {{ kind = \"heartbeat\", period_ms = 1000 }}\n",
        head = config_head(admin),
        url = broker.url()
    );
    let mut d = Daemon::start(dir.path(), admin, &config);
    let birth = mosquitto_sub_one(broker.port, "aimdb/test-gw/status", 20);
    assert_eq!(birth.as_deref(), Some("1 1 aimdb/test-gw/status online"));
    assert_eq!(d.stop(), Some(0));
    let last = mosquitto_sub_one(broker.port, "aimdb/test-gw/status", 20);
    assert_eq!(last.as_deref(), Some("1 1 aimdb/test-gw/status offline"));
}
