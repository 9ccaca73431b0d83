//! No loss across broker outages, with the real `aimdbd` and a real Mosquitto: a heartbeat
//! stream published at QoS 1 with `outbox = "disk"` keeps flowing into the outbox while the broker
//! is down and arrives complete and in order once it is back (duplicates allowed: at-least-once);
//! the same when the daemon itself is restarted during the outage (the disk outbox survives).
//!
//! The broker is persistent and the watching client has a persistent session, so the watcher
//! misses nothing the daemon publishes while the watcher is still reconnecting.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, field, wait_until, Daemon, TestDir};

const TOPIC: &str = "out/hb";

fn config(admin: u16, broker: &Mosquitto, with_source: bool) -> String {
    let source = if with_source {
        "source = { kind = \"heartbeat\", period_ms = 5 }\n"
    } else {
        ""
    };
    format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"
reconnect_min = "50ms"
reconnect_max = "500ms"

[[record]]
key = "hb"
type = "Heartbeat"
buffer = {{ kind = "spmc_ring", capacity = 4096 }}
{source}link_to = [{{ url = "mqtt://{TOPIC}", codec = "json", qos = 1 }}]
"#,
        head =
            config_head(admin).replace("shutdown_timeout = \"10s\"", "shutdown_timeout = \"4s\""),
        url = broker.url()
    )
}

/// The heartbeat sequence numbers received on [`TOPIC`], in arrival order.
fn seqs(watcher: &TestClient) -> Vec<u64> {
    watcher
        .on(TOPIC)
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.payload).ok())
        .filter_map(|v| v["seq"].as_u64())
        .collect()
}

/// Every value 0..produced arrived, and first arrivals are in order.
fn assert_complete_in_order(got: &[u64], produced: u64) {
    let mut next = 0u64;
    for &s in got {
        if s == next {
            next += 1;
        } else {
            assert!(
                s < next,
                "value {s} arrived before {next}: out of order or lost (received {got:?})"
            );
        }
    }
    assert_eq!(next, produced, "every produced value arrived at least once");
}

fn outbox_depth(d: &Daemon) -> Option<u64> {
    let (_, text) = d.http("GET", "/metrics", "")?;
    text.lines()
        .find(|l| l.starts_with("aimdbd_mqtt_outbox_depth{") && l.contains("record=\"hb\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn qos1_stream_survives_a_broker_outage_complete_and_in_order() {
    let dir = TestDir::new("mqtt-outage");
    let mut broker = Mosquitto::start_persistent(dir.path());
    let watcher = TestClient::connect_persistent(broker.port, "outage-watcher", &[TOPIC]);
    let admin = support::free_port();
    let mut d = Daemon::start(dir.path(), admin, &config(admin, &broker, true));

    wait_until("values flow", || seqs(&watcher).len() >= 50);
    broker.stop();
    // Values keep being produced into the outbox while the broker is away.
    wait_until("the outbox holds values", || {
        outbox_depth(&d).is_some_and(|n| n >= 100)
    });
    broker.start_again();
    // The source keeps producing, so "drained" means: down to the few values in flight.
    wait_until("the outbox drains after the reconnect", || {
        outbox_depth(&d).is_some_and(|n| n < 20)
    });
    // The watcher reconnects on its own schedule (every 100 ms while the broker is away), so
    // the values the outbox drained reach it a moment after the drain: wait for them, with the
    // daemon still running, so that the stream is shown to resume before the stop.
    wait_until("the stream resumed at the watcher before the stop", || {
        seqs(&watcher).len() > 150
    });
    assert_eq!(d.stop(), Some(0));
    let produced = field(&d.log_lines(), "record stats", "hb", "produced").expect("stats line");
    wait_until("every value arrived", || {
        seqs(&watcher)
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64
            >= produced
    });
    assert_complete_in_order(&seqs(&watcher), produced);
    assert!(d.logged("connected to the MQTT broker"));
}

#[test]
fn the_disk_outbox_survives_a_daemon_restart_during_the_outage() {
    let dir = TestDir::new("mqtt-outage-restart");
    let mut broker = Mosquitto::start_persistent(dir.path());
    let watcher = TestClient::connect_persistent(broker.port, "restart-watcher", &[TOPIC]);
    let admin = support::free_port();
    let mut d = Daemon::start(dir.path(), admin, &config(admin, &broker, true));

    wait_until("values flow", || seqs(&watcher).len() >= 50);
    broker.stop();
    wait_until("the outbox holds values", || {
        outbox_depth(&d).is_some_and(|n| n >= 100)
    });
    // Stop the daemon while the broker is away: what it holds stays on disk.
    assert_eq!(d.stop(), Some(0));
    let produced = field(&d.log_lines(), "record stats", "hb", "produced").expect("stats line");
    assert!(d.logged("values not acknowledged in time stay in the outbox"));
    drop(d);

    // The next run has no source: all it sends is what the disk outbox kept.
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker, false));
    std::thread::sleep(Duration::from_millis(200));
    broker.start_again();
    wait_until("every value arrived", || {
        seqs(&watcher)
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64
            >= produced
    });
    assert_complete_in_order(&seqs(&watcher), produced);
    wait_until("the outbox is empty", || outbox_depth(&d) == Some(0));
    assert!(d.logged("disk outbox: values kept from an earlier run will be sent"));
}
