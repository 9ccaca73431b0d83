//! Reload (SIGHUP) with the bridge, real `aimdbd` and real Mosquitto.
//!
//! - `[mqtt]` unchanged: the session is kept (one connection, the status never `offline`), the
//!   subscriptions follow the new links (a dropped filter is unsubscribed, a new one
//!   subscribed), and an outbox of a link with the same record and topic carries over.
//! - `[mqtt]` changed: the old session closes before the new one starts (one connection at a
//!   time, same client id), the new links are bridged, the disk outbox is reopened.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

mod support;

use std::time::{Duration, Instant};

use rumqttc::QoS;
use support::mosquitto::{mosquitto_sub_one, Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir, BOUND};

/// A disk-outbox bridge of record `echo` from `in_topic` to `out` (both QoS 1), `mqtt_extra`
/// appended to `[mqtt]`.
fn config(admin: u16, broker: &Mosquitto, in_topic: &str, out: &str, mqtt_extra: &str) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"
{mqtt_extra}

[[record]]
key = "echo"
type = "json"
link_from = [{{ url = "mqtt://{in_topic}", codec = "json", qos = 1 }}]
link_to = [{{ url = "mqtt://{out}", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn metric(d: &Daemon, name: &str) -> u64 {
    d.metric(name).map_or(0, |v| v as u64)
}

/// Publishes `{"n": n}` on `topic` until it comes back on `out`.
fn round_trip(c: &TestClient, topic: &str, out: &str, n: u64) {
    let start = Instant::now();
    let want = format!("{{\"n\":{n}}}");
    while !c.on(out).iter().any(|r| r.payload == want.as_bytes()) {
        c.publish(topic, QoS::AtLeastOnce, false, want.clone());
        std::thread::sleep(Duration::from_millis(300));
        assert!(start.elapsed() < BOUND, "{want} never came back on {out}");
    }
}

fn reload(d: &Daemon, dir: &TestDir, config: &str, nth: u64) {
    std::fs::write(dir.join("aimdbd.toml"), config).expect("write config");
    d.signal("-HUP");
    wait_until("reloaded", || {
        metric(d, "aimdbd_reloads_total{result=\"ok\"}") == nth
    });
}

#[test]
fn a_reload_with_mqtt_unchanged_keeps_the_session_and_follows_the_new_links() {
    let dir = TestDir::new("mqtt-reload-keep");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(
        dir.path(),
        admin,
        &config(admin, &broker, "in/a", "out/a", ""),
    );
    let c = TestClient::connect(broker.port, "reload-client", &["out/#", "aimdb/+/status"]);
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected") == 1);
    round_trip(&c, "in/a", "out/a", 1);

    reload(&d, &dir, &config(admin, &broker, "in/b", "out/b", ""), 1);
    round_trip(&c, "in/b", "out/b", 2);
    // in/a was unsubscribed: a message there reaches nothing (and nothing counts it as ours).
    let unknown = metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"unknown_topic\"}");
    c.publish("in/a", QoS::AtLeastOnce, false, "{\"n\":3}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!c
        .on("out/b")
        .iter()
        .any(|r| r.payload == b"{\"n\":3}".as_slice()));
    assert_eq!(
        metric(&d, "aimdbd_mqtt_bad_input_total{reason=\"unknown_topic\"}"),
        unknown,
        "the broker no longer sends in/a"
    );

    assert_eq!(metric(&d, "aimdbd_mqtt_connects_total"), 1, "no reconnect");
    let said = c.texts("aimdb/test-gw/status");
    assert!(
        !said.iter().any(|s| s == "offline"),
        "never offline: {said:?}"
    );
    assert_eq!(
        broker.connections_of("aimdbd-test-gw"),
        1,
        "one connection:\n{}",
        broker.log()
    );
    assert!(!std::fs::read_to_string(dir.join("log.jsonl"))
        .expect("log")
        .contains("panicked"));
}

/// While the broker is away, values queue in the outbox; a reload (same `[mqtt]`, same link)
/// carries them over, and they arrive once the broker is back.
#[test]
fn a_reload_during_an_outage_carries_the_outbox_over() {
    let dir = TestDir::new("mqtt-reload-outbox");
    let mut broker = Mosquitto::start_persistent(dir.path());
    let admin = support::free_port();
    let base = config(admin, &broker, "in/a", "out/a", "");
    let src = format!(
        "{base}\n[[record]]\nkey = \"tick\"\ntype = \"json\"\nlink_to = [{{ url = \"mqtt://out/tick\", codec = \"json\", qos = 1 }}]\n"
    );
    let d = Daemon::start(dir.path(), admin, &src);
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected") == 1);
    let sub = TestClient::connect_persistent(broker.port, "reload-outbox-sub", &["out/tick"]);
    std::thread::sleep(Duration::from_millis(300));
    broker.stop();
    wait_until("disconnected", || metric(&d, "aimdbd_mqtt_connected") == 0);
    for n in 0..20 {
        let (code, body) = d
            .http("POST", "/api/records/tick", &format!("{{\"n\":{n}}}"))
            .expect("admin");
        assert_eq!(code, 200, "{body}");
    }
    wait_until("the outbox holds the values", || {
        metric(
            &d,
            "aimdbd_mqtt_outbox_depth{direction=\"out\",record=\"tick\",topic=\"out/tick\"}",
        ) == 20
    });
    reload(
        &d,
        &dir,
        &format!("{src}\n[[record]]\nkey = \"more\"\ntype = \"json\"\n"),
        1,
    );
    assert_eq!(
        metric(
            &d,
            "aimdbd_mqtt_outbox_depth{direction=\"out\",record=\"tick\",topic=\"out/tick\"}",
        ),
        20,
        "the outbox carried over"
    );
    broker.start_again();
    let got = sub.wait_for("out/tick", 20);
    let ns: Vec<_> = got
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
        .collect();
    let want: Vec<_> = (0..20).map(|n| format!("{{\"n\":{n}}}")).collect();
    assert_eq!(ns[..20], want[..], "every value, in order");
}

#[test]
fn a_reload_that_changes_mqtt_closes_the_old_session_before_the_new_one() {
    let dir = TestDir::new("mqtt-reload");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(
        dir.path(),
        admin,
        &config(admin, &broker, "in/echo", "out/a", ""),
    );
    let c = TestClient::connect(broker.port, "reload-client", &["out/#"]);
    wait_until("connected", || metric(&d, "aimdbd_mqtt_connected") == 1);
    round_trip(&c, "in/echo", "out/a", 1);

    reload(
        &d,
        &dir,
        &config(admin, &broker, "in/echo", "out/b", "keep_alive_s = 20"),
        1,
    );
    wait_until("the new session connected", || {
        metric(&d, "aimdbd_mqtt_connects_total") == 2 && metric(&d, "aimdbd_mqtt_connected") == 1
    });
    round_trip(&c, "in/echo", "out/b", 2);
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
