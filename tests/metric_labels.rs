//! `/metrics` stays small whatever nodes publish, with the real `aimdbd` and a real Mosquitto:
//! 40 node ids of 60 000 bytes and 400 distinct short ones on `aimdb/<node>/...` leave at most
//! 256 node series (message counts and last-seen timestamps alike), none longer than a node id
//! can be, and every message is counted (by node or in the overflow counter).

mod support;

use rumqttc::QoS;
use support::mosquitto::{Mosquitto, TestClient};
use support::prometheus::{check_prometheus, sample};
use support::{config_head, wait_until, Daemon, TestDir};

#[test]
fn node_labels_are_bounded_in_number_and_length_and_the_rest_is_counted() {
    let dir = TestDir::new("metric-labels");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"{}\"\n\n[[record]]\nkey = \"sensor.x\"\ntype = \"json\"\nlink_from = [{{ url = \"mqtt://aimdb/+/sensor.x\" }}]\n",
        config_head(admin),
        broker.url()
    );
    let d = Daemon::start(dir.path(), admin, &config);
    let before = d.http("GET", "/metrics", "").expect("/metrics").1.len();
    let sender = TestClient::connect(broker.port, "metric-labels-sender", &[]);
    let (long, short) = (40usize, 400usize);
    for i in 0..long {
        let node = format!("{i:03}{}", "n".repeat(60_000));
        sender.publish(
            &format!("aimdb/{node}/sensor.x"),
            QoS::AtLeastOnce,
            false,
            "1",
        );
    }
    for i in 0..short {
        sender.publish(
            &format!("aimdb/node-{i}/sensor.x"),
            QoS::AtLeastOnce,
            false,
            "1",
        );
    }
    let counted = |page: &str| -> f64 {
        page.lines()
            .filter(|l| l.starts_with("aimdbd_mqtt_node_messages_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
            + sample(page, "aimdbd_mqtt_node_messages_overflow_total").unwrap_or(0.0)
    };
    wait_until("every message is counted", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, p)| counted(&p) >= (long + short) as f64)
    });
    let (_, page) = d.http("GET", "/metrics", "").expect("/metrics");
    check_prometheus(&page).unwrap_or_else(|e| panic!("{e}"));
    let series: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("aimdbd_mqtt_node_messages_total{"))
        .collect();
    assert_eq!(series.len(), 256, "first 256 short ids by name");
    assert!(series.iter().all(|l| l.len() < 100), "no long labels");
    let seen: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("aimdbd_mqtt_node_last_seen_timestamp_seconds{"))
        .collect();
    assert_eq!(seen.len(), 256, "one last-seen timestamp per counted node");
    assert!(seen.iter().all(|l| l.len() < 120), "no long labels");
    assert_eq!(
        sample(&page, "aimdbd_mqtt_node_messages_overflow_total"),
        Some((long + short - 256) as f64)
    );
    assert!(
        page.len() < before + 40_000,
        "/metrics grew from {before} to {} bytes",
        page.len()
    );
}
