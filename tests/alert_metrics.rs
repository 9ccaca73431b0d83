//! The metrics an operator alerts on, with the real `aimdbd` and a real Mosquitto: after QoS 1
//! traffic through an inbound link, a persisting record and an outbound link with a disk outbox,
//! `/metrics` has per-node and per-link last-seen timestamps (a silent node's stays put while a
//! talking one's advances), exact PUBLISH byte counts in and out, a publish-to-ack histogram
//! counting every acknowledged value, a store write-duration histogram counting every write,
//! the process metrics and the outbox and history file sizes — and `promtool check metrics`
//! finds nothing to lint. The example alert rules (deploy/prometheus/) pass `promtool check
//! rules` and their own `promtool test rules`, and every aimdbd family they use is on the page.
//!
//! These tests need promtool (`scripts/setup.sh` installs it) and fail without it.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::QoS;
use support::mosquitto::{Mosquitto, TestClient};
use support::prometheus::{check_prometheus, sample};
use support::{config_head, wait_until, Daemon, TestDir};

const RULES: &str = "deploy/prometheus/aimdbd-rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/aimdbd-rules.test.yml";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// promtool, or a failure that says how to get it.
fn promtool() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("promtool is not installed: run scripts/setup.sh (it installs Debian's `prometheus` package, which provides /usr/bin/promtool, without starting the server)")
    })
}

/// Runs promtool with `args` (in `dir`), `stdin` fed in; (success, stdout + stderr).
fn run_promtool(dir: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(promtool())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(stdin.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `promtool check metrics` on a scraped page: no lint problem, exit 0.
fn assert_promtool_clean(page: &str) {
    let (ok, out) = run_promtool(repo(), &["check", "metrics"], page);
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics: {out}\n--- page ---\n{page}"
    );
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Bytes of a PUBLISH packet (QoS ≥ 1) with this topic and payload, as MQTT 3.1.1 encodes it.
fn publish_bytes(topic: &str, payload: &str) -> f64 {
    let remaining = 2 + topic.len() + 2 + payload.len();
    let len_len = if remaining < 128 { 1 } else { 2 };
    (1 + len_len + remaining) as f64
}

fn value(page: &str, series: &str) -> f64 {
    sample(page, series).unwrap_or_else(|| panic!("{series} missing from /metrics:\n{page}"))
}

/// Checks one histogram's shape: cumulative buckets ending in `+Inf` = `_count`; its count.
fn histogram_count(page: &str, name: &str) -> f64 {
    let buckets: Vec<f64> = page
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert!(buckets.len() > 5, "{name}: buckets {buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "{name}: cumulative {buckets:?}"
    );
    let count = value(page, &format!("{name}_count"));
    assert_eq!(
        value(page, &format!("{name}_bucket{{le=\"+Inf\"}}")),
        count,
        "{name}"
    );
    count
}

const IN: &str =
    r#"aimdbd_mqtt_messages_total{direction="in",record="sensor.x",topic="aimdb/+/sensor.x"}"#;
const OUT: &str =
    r#"aimdbd_mqtt_messages_total{direction="out",record="sensor.x",topic="out/sensor.x"}"#;
const ACKS: &str = "aimdbd_mqtt_publish_ack_duration_seconds";
const WRITES: &str = "aimdbd_store_write_duration_seconds";
const LINK_SEEN: &str = r#"aimdbd_mqtt_link_last_message_timestamp_seconds{direction="in",record="sensor.x",topic="aimdb/+/sensor.x"}"#;

fn node_seen(node: &str) -> String {
    format!("aimdbd_mqtt_node_last_seen_timestamp_seconds{{node=\"{node}\"}}")
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn alerting_metrics_move_with_traffic_and_pass_promtool() {
    promtool();
    let dir = TestDir::new("alert-metrics");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"
outbox_path = "outbox.db"

[store]
path = "history.db"
batch_delay = "20ms"
sweep_interval = "1h"

[[record]]
key = "sensor.x"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = 1024 }}
persist = true
link_from = [{{ url = "mqtt://aimdb/+/sensor.x", codec = "json", qos = 1 }}]
link_to = [{{ url = "mqtt://out/sensor.x", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url(),
    );
    let spawned = now_s();
    let d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge is connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    let scrape = || d.http("GET", "/metrics", "").expect("/metrics").1;
    let sender = TestClient::connect(broker.port, "alert-metrics-sender", &[]);
    // Publishes one value from `node`; its PUBLISH packet's size.
    let publish = |node: &str, i: usize| -> f64 {
        let (topic, payload) = (format!("aimdb/{node}/sensor.x"), format!("{{\"n\":{i}}}"));
        let bytes = publish_bytes(&topic, &payload);
        sender.publish(&topic, QoS::AtLeastOnce, false, payload);
        bytes
    };
    let settled = |page: &str| {
        let inbound = sample(page, IN);
        inbound.is_some()
            && sample(page, OUT) == inbound
            && sample(page, &format!("{ACKS}_count")) == inbound
            && sample(page, "aimdbd_store_values_written_total") == inbound
    };

    // The daemon subscribes after CONNACK: probe until a value gets through (messages are in
    // order, so once the record holds the last probe, every probe that will arrive has), and
    // count from there.
    let mut probes = 0;
    wait_until("the subscription is in place", || {
        probes += 1;
        publish("probe", probes);
        std::thread::sleep(Duration::from_millis(100));
        d.get_json("/api/records/sensor.x")
            .is_some_and(|v| v["value"]["n"] == probes)
    });
    wait_until("the probes are acknowledged and stored", || {
        settled(&scrape())
    });
    let p0 = scrape();
    let base = |series: &str| value(&p0, series);
    let mut sent_in = base("aimdbd_mqtt_received_bytes_total");

    // Round 1: node-a and node-b talk.
    let before = now_s();
    for i in 0..25 {
        sent_in += publish("node-a", i);
    }
    for i in 0..5 {
        sent_in += publish("node-b", i);
    }
    let n1 = base(IN) + 30.0;
    wait_until("30 more values are acknowledged and stored", || {
        let page = scrape();
        settled(&page) && sample(&page, IN) == Some(n1)
    });
    let p1 = scrape();
    let after = now_s();
    check_prometheus(&p1).unwrap_or_else(|e| panic!("{e}"));
    assert_promtool_clean(&p1);

    for node in ["node-a", "node-b"] {
        let seen = value(&p1, &node_seen(node));
        assert!(
            (before - 1.0..=after + 1.0).contains(&seen),
            "{node} last seen at {seen}, traffic between {before} and {after}"
        );
    }
    let link_seen = value(&p1, LINK_SEEN);
    assert!((before - 1.0..=after + 1.0).contains(&link_seen));
    assert_eq!(
        value(&p1, "aimdbd_mqtt_received_bytes_total"),
        sent_in,
        "every PUBLISH byte the broker forwarded"
    );
    let out_min = 30.0 * publish_bytes("out/sensor.x", "{\"n\":0}");
    let sent1 = value(&p1, "aimdbd_mqtt_sent_bytes_total");
    assert!(
        sent1 >= base("aimdbd_mqtt_sent_bytes_total") + out_min,
        "sent {sent1}"
    );
    assert_eq!(histogram_count(&p1, ACKS), value(&p1, OUT));
    assert_eq!(
        histogram_count(&p1, ACKS),
        n1,
        "one observation per acknowledged value"
    );
    assert!(value(&p1, &format!("{ACKS}_sum")) > value(&p0, &format!("{ACKS}_sum")));
    let writes = histogram_count(&p1, WRITES);
    let attempts = value(&p1, r#"aimdbd_store_batches_total{result="ok"}"#)
        + value(&p1, r#"aimdbd_store_batches_total{result="failed"}"#)
        + value(&p1, "aimdbd_store_write_retries_total");
    assert!(
        writes > histogram_count(&p0, WRITES) && writes == attempts,
        "{writes} writes, {attempts} attempts"
    );
    assert!(value(&p1, "aimdbd_store_file_bytes") > 0.0);
    assert!(value(&p1, "aimdbd_mqtt_outbox_file_bytes") > 0.0);
    assert_eq!(
        value(&p1, "aimdbd_mqtt_outbox_file_max_bytes"),
        (1u64 << 30) as f64,
        "the default outbox_max_file_bytes"
    );
    let start = value(&p1, "process_start_time_seconds");
    assert!(
        (spawned - 2.0..=spawned + 10.0).contains(&start),
        "started at {start}, spawned at {spawned}"
    );
    assert!(value(&p1, "process_resident_memory_bytes") > (1 << 20) as f64);
    assert!(value(&p1, "process_virtual_memory_bytes") > (1 << 20) as f64);
    let fds = value(&p1, "process_open_fds");
    assert!(fds >= 5.0 && fds <= value(&p1, "process_max_fds"));
    let cpu1 = value(&p1, "process_cpu_seconds_total");
    assert!(cpu1 > 0.0);

    // Round 2, over a second later: only node-a talks; node-b's timestamp must stay.
    std::thread::sleep(Duration::from_millis(1200));
    for i in 0..10 {
        sent_in += publish("node-a", 100 + i);
    }
    let n2 = n1 + 10.0;
    wait_until("10 more values are acknowledged and stored", || {
        let page = scrape();
        settled(&page) && sample(&page, IN) == Some(n2)
    });
    let p2 = scrape();
    assert_promtool_clean(&p2);
    assert!(value(&p2, &node_seen("node-a")) >= value(&p1, &node_seen("node-a")) + 1.0);
    assert_eq!(
        value(&p2, &node_seen("node-b")),
        value(&p1, &node_seen("node-b")),
        "a silent node's last-seen stays put"
    );
    assert!(value(&p2, LINK_SEEN) >= link_seen + 1.0);
    assert_eq!(value(&p2, "aimdbd_mqtt_received_bytes_total"), sent_in);
    assert!(
        value(&p2, "aimdbd_mqtt_sent_bytes_total")
            >= sent1 + 10.0 * publish_bytes("out/sensor.x", "{\"n\":100}")
    );
    assert_eq!(histogram_count(&p2, ACKS), n2);
    assert!(histogram_count(&p2, WRITES) > writes);
    assert!(value(&p2, "process_cpu_seconds_total") >= cpu1);

    // Every aimdbd family the example rules use is on the page (no rule watches a typo).
    let rules = std::fs::read_to_string(repo().join(RULES)).expect("rule file");
    let mut used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("aimdbd_") || w.starts_with("process_"))
        .collect();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() >= 10, "{used:?}");
    for name in used {
        assert!(
            p2.lines().any(|l| l.starts_with(&format!("# TYPE {name} "))
                || l.starts_with(&format!("{name} "))
                || l.starts_with(&format!("{name}{{"))),
            "{RULES} uses {name}, which /metrics does not have"
        );
    }
}

#[test]
fn the_example_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let (ok, out) = run_promtool(repo(), &["check", "rules", RULES], "");
    assert!(ok, "promtool check rules {RULES}: {out}");
    assert!(out.contains("SUCCESS"), "{out}");
    let dir = repo().join("deploy/prometheus");
    let test = Path::new(RULE_TESTS)
        .file_name()
        .and_then(|f| f.to_str())
        .expect("test file name");
    let (ok, out) = run_promtool(&dir, &["test", "rules", test], "");
    assert!(ok, "promtool test rules {RULE_TESTS}: {out}");
}
