//! Reconnect, with the real `aimdbd` and a real Mosquitto: the broker is killed and restarted
//! three times; each time the bridge reconnects, re-subscribes (an input published afterwards
//! is bridged again) and the logged reconnect delays grow (exponential backoff with jitter).

mod support;

use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::Value;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir, BOUND};

fn config(admin: u16, broker: &Mosquitto) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
reconnect_min = "40ms"
reconnect_max = "5s"

[[record]]
key = "echo"
type = "json"
link_from = [{{ url = "mqtt://in/+", codec = "json", qos = 1 }}]
link_to = [{{ url = "mqtt://out/echo", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn connects(d: &Daemon) -> u64 {
    d.http("GET", "/metrics", "")
        .and_then(|(_, t)| {
            t.lines().find_map(|l| {
                l.strip_prefix("aimdbd_mqtt_connects_total ")
                    .map(str::to_string)
            })
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Publishes `{"round": n}` on `in/test` until it comes back on `out/echo`.
fn round_trip(client: &TestClient, n: u64) {
    let start = Instant::now();
    loop {
        if client.is_connected() {
            client.publish(
                "in/test",
                QoS::AtLeastOnce,
                false,
                format!("{{\"round\":{n}}}"),
            );
        }
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            let back = client.on("out/echo").iter().any(|r| {
                serde_json::from_slice::<Value>(&r.payload).is_ok_and(|v| v["round"] == n)
            });
            if back {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            start.elapsed() < BOUND,
            "round {n} never came back through the bridge"
        );
    }
}

/// `(attempt, retry_in_ms)` of each logged reconnect failure, in order.
fn failures(d: &Daemon) -> Vec<(u64, u64)> {
    d.log_lines()
        .iter()
        .filter(|l| support::message(l).contains("reconnecting"))
        .filter_map(|l| {
            Some((
                l["fields"]["attempt"].as_u64()?,
                l["fields"]["retry_in_ms"].as_u64()?,
            ))
        })
        .collect()
}

#[test]
fn three_broker_restarts_reconnect_resubscribe_and_back_off() {
    let dir = TestDir::new("mqtt-reconnect");
    let mut broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker));
    let client = TestClient::connect(broker.port, "echo-client", &["out/echo"]);
    wait_until("connected", || connects(&d) == 1);
    round_trip(&client, 0);

    for round in 1..=3u64 {
        broker.kill();
        // Down long enough for several failed attempts.
        std::thread::sleep(Duration::from_millis(1500));
        broker.start_again();
        wait_until("reconnected", || connects(&d) == round + 1);
        round_trip(&client, round);
        // A connection that lasted (3 s) starts the backoff over; a shorter one — a broker
        // flapping, a session taken over — keeps it growing (tests/mqtt_takeover.rs).
        std::thread::sleep(Duration::from_millis(3500));
    }

    // Each outage is a run of attempts 1, 2, 3, ... whose delays never shrink below the cap.
    let f = failures(&d);
    let mut outages = Vec::new();
    let mut current: Vec<(u64, u64)> = Vec::new();
    for &(attempt, delay) in &f {
        if attempt == 1 && !current.is_empty() {
            outages.push(std::mem::take(&mut current));
        }
        current.push((attempt, delay));
    }
    outages.push(current);
    assert_eq!(outages.len(), 3, "three outages: {f:?}");
    for o in &outages {
        assert!(o.len() >= 3, "several attempts per outage: {o:?}");
        for w in o.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1, "attempts count up: {o:?}");
            assert!(w[1].1 >= w[0].1, "the delay grows: {o:?}");
        }
        assert!(o[o.len() - 1].1 >= 4 * o[0].1, "exponential: {o:?}");
    }
    assert!(d.logged("connected to the MQTT broker"));
}
