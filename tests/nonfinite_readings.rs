//! NaN and infinite readings are refused at the inbound edge, counted, with the real `aimdbd`
//! and a real Mosquitto: a postcard NaN and a JSON `1e39` (infinite as an `f32`) from a node are
//! decode errors (`aimdbd_mqtt_bad_input_total{reason="decode"}`), the record keeps its last
//! finite reading, the history holds only finite values, and `restore` after a restart brings
//! the last finite reading back (a stored NaN used to read back as `null` and break it).

mod support;

use aimdb_records::{Codec, Temperature};
use rumqttc::QoS;
use serde_json::Value;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir};

fn config(admin: u16, broker: &Mosquitto) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"

[store]
path = "history.db"
batch_delay = "20ms"

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "single_latest" }}
link_from = [{{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard", qos = 1 }}, {{ url = "mqtt://json/+/temp", codec = "json", qos = 1 }}]
persist = true
restore = true
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

/// A postcard `Temperature` frame from node `n1`.
fn reading(celsius: f32) -> Vec<u8> {
    let t = Temperature {
        sensor_id: aimdb_records::id("n1").expect("id"),
        celsius,
        timestamp_ms: 1_700_000_000_000,
    };
    Codec::Postcard.encode_to_vec(&t).expect("encode")
}

/// A postcard frame of `Temperature` whose `celsius` bytes are NaN, as a node could send.
fn nan_frame() -> Vec<u8> {
    let mut frame = reading(12.25);
    let at = frame
        .windows(4)
        .position(|w| w == 12.25f32.to_le_bytes())
        .expect("celsius in the frame");
    frame[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    frame
}

fn celsius(d: &Daemon) -> Value {
    d.get_json("/api/records/sensor.temp").expect("get")["value"]["celsius"].clone()
}

#[test]
fn non_finite_readings_are_refused_counted_and_restore_keeps_working() {
    let dir = TestDir::new("nonfinite");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let mut d = Daemon::start(dir.path(), admin, &config(admin, &broker));
    let node = TestClient::connect(broker.port, "nonfinite-node", &[]);
    node.publish(
        "aimdb/n1/sensor.temp",
        QoS::AtLeastOnce,
        false,
        reading(21.5),
    );
    wait_until("the finite reading arrives", || celsius(&d) == 21.5);
    node.publish("aimdb/n1/sensor.temp", QoS::AtLeastOnce, false, nan_frame());
    node.publish(
        "json/n1/temp",
        QoS::AtLeastOnce,
        false,
        r#"{"sensor_id":"n1","celsius":1e39,"timestamp_ms":1}"#,
    );
    wait_until("both are counted as decode errors", || {
        d.metric("aimdbd_mqtt_bad_input_total{reason=\"decode\"}") == Some(2.0)
    });
    assert_eq!(celsius(&d), 21.5, "the last finite reading stays");
    let stored = || -> Vec<Value> {
        d.get_json("/api/records/sensor.temp/history")
            .and_then(|h| h["values"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|v| v["value"]["celsius"].clone())
            .collect()
    };
    // The history is written in batches: wait for the first one.
    wait_until("the finite reading is stored", || !stored().is_empty());
    let stored = stored();
    assert_eq!(
        stored,
        vec![Value::from(21.5)],
        "only finite values are stored"
    );
    assert!(d.logged("MQTT message dropped"));
    assert_eq!(d.stop(), Some(0));
    drop(d);

    let d = Daemon::start(dir.path(), admin, &config(admin, &broker));
    assert_eq!(celsius(&d), 21.5, "restored");
    assert_eq!(d.metric("aimdbd_store_restored_total"), Some(1.0));
}
