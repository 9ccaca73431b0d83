//! Versioned record contracts end to end, with the real `aimdbd` (whose record types are all
//! version 1: the "v1 gateway") and a real Mosquitto. The test plays nodes built with the v2
//! fixture of `crates/records/tests/fixtures/v2.rs` (`Temperature` gained a field, `NodeCommand`
//! a variant) — the "v2 node". The other pairing, a v1 node (the real node app) and a v2
//! gateway, is `firmware/host/tests/node_mqtt.rs`.
//!
//! Shown here: the gateway announces what it speaks (retained `aimdb/<gw>/schema`); a v2 node
//! that reads it speaks v1 to it, and its readings arrive; the gateway reads the node's
//! announcement and sends it commands in v1, which the node reads as v2; a node that sends v2
//! anyway has every such payload dropped, counted per record and version, and logged once; a
//! node with no version in common shows as a mismatch in `/metrics`, `/api/nodes` and
//! `aimdbd ctl nodes`.

mod support;

use std::process::Command;

use aimdb_records::announce;
use aimdb_records::frame;
use aimdb_records::version::{negotiate, Versioned};
use aimdb_records::{id, NodeCommand, Temperature};
use rumqttc::QoS;
use serde_json::Value;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, wait_until, Daemon, TestDir};

#[path = "../crates/records/tests/fixtures/v2.rs"]
mod v2;

const NODE: &str = "node-v2";

fn config(admin: u16, broker: &Mosquitto) -> String {
    format!(
        r#"{head}[mqtt]
url = "{url}"
reconnect_min = "50ms"
reconnect_max = "1s"

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 256 }}
link_from = [{{ url = "mqtt://aimdb/+/sensor.temp", codec = "postcard", qos = 1 }}]
link_to = [{{ url = "mqtt://out/temp", codec = "json", qos = 1 }}]

[[record]]
key = "cmd.node-v2"
type = "NodeCommand"
buffer = {{ kind = "mailbox" }}
link_to = [{{ url = "mqtt://aimdb/{NODE}/cmd/node.cmd", codec = "postcard", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    )
}

fn reading(celsius: f32, ts: u64) -> v2::Temperature {
    v2::Temperature {
        sensor_id: id("t-1").expect("id"),
        celsius,
        timestamp_ms: ts,
        accuracy: 0.1,
    }
}

fn framed<T: Versioned>(value: &T, version: u16) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_postcard(value, version, &mut out).expect("encode");
    out
}

fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

fn metrics(d: &Daemon) -> String {
    d.http("GET", "/metrics", "").expect("/metrics").1
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn a_v2_node_and_a_v1_gateway_keep_talking() {
    let dir = TestDir::new("versioned-nodes");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, &broker));

    // The node: reads the gateway's announcement and its commands, announces its own types.
    let node = TestClient::connect(
        broker.port,
        NODE,
        &["aimdb/test-gw/schema", &format!("aimdb/{NODE}/cmd/#")],
    );
    let watcher = TestClient::connect(broker.port, "watcher", &["out/#"]);
    let gateway = node.wait_for("aimdb/test-gw/schema", 1);
    assert!(gateway[0].retain, "the gateway's announcement is retained");
    let gw_temp = announce::find(&gateway[0].payload, "Temperature")
        .expect("a valid announcement")
        .expect("the gateway lists Temperature");
    assert_eq!(&gw_temp[..], [(1, Temperature::SCHEMA_ID.short())]);

    let mut ours = String::new();
    announce::write_type::<v2::Temperature, _>(&mut ours).expect("write");
    announce::write_type::<v2::NodeCommand, _>(&mut ours).expect("write");
    node.publish(
        &format!("aimdb/{NODE}/schema"),
        QoS::AtLeastOnce,
        true,
        ours,
    );

    // Readings: spoken in the newest version both know, v1; they arrive whole.
    let speak = negotiate::<v2::Temperature>(Some(&gw_temp)).expect("a shared version");
    assert_eq!(speak, 1);
    for i in 0..5u8 {
        node.publish(
            &format!("aimdb/{NODE}/sensor.temp"),
            QoS::AtLeastOnce,
            false,
            framed(&reading(20.0 + f32::from(i), u64::from(i)), speak),
        );
    }
    let out = watcher.wait_for("out/temp", 5);
    let celsius: Vec<f64> = out
        .iter()
        .map(|m| {
            let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
            assert!(v.get("v").is_none(), "v1 JSON carries no \"v\": {v}");
            v["celsius"].as_f64().expect("celsius")
        })
        .collect();
    assert_eq!(celsius, [20.0, 21.0, 22.0, 23.0, 24.0]);

    // Commands: the gateway saw the node's announcement and speaks v1 with it.
    wait_until("the gateway knows what the node speaks", || {
        d.http("GET", "/api/nodes", "").is_some_and(|(_, b)| {
            let nodes: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
            nodes
                .as_array()
                .into_iter()
                .flatten()
                .any(|n| n["node"] == NODE && n["types"].as_array().is_some_and(|t| t.len() == 2))
        })
    });
    let (status, body) = d
        .http(
            "POST",
            "/api/records/cmd.node-v2",
            r#"{"set_led":{"on":true}}"#,
        )
        .expect("POST");
    assert_eq!(status, 200, "{body}");
    // The admin API reads JSON of the versions this build knows ("v" absent or 1), not others.
    let (status, body) = d
        .http(
            "POST",
            "/api/records/cmd.node-v2",
            r#"{"v":2,"set_alert_above":{"celsius":30.0}}"#,
        )
        .expect("POST");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("version 2 is unknown here"), "{body}");
    let cmd = node.wait_for(&format!("aimdb/{NODE}/cmd/node.cmd"), 1);
    let header = frame::Header::split(&cmd[0].payload)
        .expect("a header")
        .0
        .expect("framed");
    assert_eq!(
        (header.version, header.schema),
        (1, NodeCommand::SCHEMA_ID.short())
    );
    let got: v2::NodeCommand = frame::decode_postcard(&cmd[0].payload).expect("v1 reads as v2");
    assert_eq!(got, v2::NodeCommand::SetLed { on: true });

    // A node that sends v2 anyway: dropped, counted per record and version, logged once.
    for i in 0..3u8 {
        node.publish(
            &format!("aimdb/{NODE}/sensor.temp"),
            QoS::AtLeastOnce,
            false,
            framed(&reading(30.0, 100 + u64::from(i)), 2),
        );
    }
    let series = r#"aimdbd_mqtt_unknown_version_total{record="sensor.temp",version="2"}"#;
    wait_until("three v2 payloads counted", || {
        sample(&metrics(&d), series) == Some(3.0)
    });
    let page = metrics(&d);
    assert_eq!(
        sample(&page, r#"aimdbd_mqtt_bad_input_total{reason="version"}"#),
        Some(3.0)
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("dropping Temperature v2 payloads for record \\\"sensor.temp\\\""))
        .collect();
    assert_eq!(lines.len(), 1, "logged once:\n{log}");
    assert!(lines[0].contains("upgrade aimdbd"), "{}", lines[0]);
    assert!(
        !log.lines()
            .any(|l| l.contains("MQTT message dropped") && l.contains("version 2")),
        "not logged again as a generic drop:\n{log}"
    );
    // Nothing of it reached the record: still five readings out.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(watcher.on("out/temp").len(), 5);

    // A node with no version in common: a mismatch, in every view.
    node.publish(
        "aimdb/node-v3/schema",
        QoS::AtLeastOnce,
        true,
        "Temperature 3:deadbeef\n",
    );
    let mismatch = r#"aimdbd_node_schema_mismatch{node="node-v3",record="Temperature"}"#;
    wait_until("the mismatch shows in /metrics", || {
        sample(&metrics(&d), mismatch) == Some(1.0)
    });
    let page = metrics(&d);
    assert_eq!(
        sample(
            &page,
            &format!(r#"aimdbd_node_schema_mismatch{{node="{NODE}",record="Temperature"}}"#)
        ),
        Some(0.0)
    );
    assert!(
        !page.contains("node=\"test-gw\""),
        "the gateway's own announcement is not a node's"
    );
    let ctl = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["ctl", "--admin", &format!("127.0.0.1:{admin}"), "nodes"])
        .output()
        .expect("run aimdbd ctl nodes");
    let table = String::from_utf8_lossy(&ctl.stdout);
    assert!(ctl.status.success(), "{table}");
    let line = |node: &str, ty: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().take(2).eq([node, ty]))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
    };
    assert_eq!(
        line("node-v3", "Temperature"),
        Some(vec!["node-v3", "Temperature", "v3", "v1", "-", "MISMATCH"]),
        "{table}"
    );
    assert_eq!(
        line(NODE, "Temperature"),
        Some(vec![NODE, "Temperature", "v2,v1", "v1", "v1", "ok"]),
        "{table}"
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    assert!(
        log.contains("node node-v3 speaks Temperature v3 and this gateway Temperature v1"),
        "{log}"
    );
}

#[test]
fn check_nodes_warns_about_links_no_announced_node_can_read() {
    let dir = TestDir::new("versioned-check");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let file = dir.join("aimdbd.toml");
    std::fs::write(&file, config(admin, &broker)).expect("write config");
    let check = || {
        Command::new(env!("CARGO_BIN_EXE_aimdbd"))
            .args(["check", "--nodes", "--nodes-wait", "10", "--config"])
            .arg(&file)
            .output()
            .expect("run aimdbd check")
    };
    // Nothing announced yet: nothing to warn about.
    let quiet = check();
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(quiet.status.success(), "{stderr}");
    assert!(!stderr.contains("no version in common"), "{stderr}");

    let node = TestClient::connect(broker.port, "announcer", &[]);
    let t1 = Temperature::SCHEMA_ID.short();
    node.publish(
        "aimdb/node-ok/schema",
        QoS::AtLeastOnce,
        true,
        format!("Temperature 1:{t1:08x}\n"),
    );
    node.publish(
        "aimdb/node-v3/schema",
        QoS::AtLeastOnce,
        true,
        "Temperature 3:deadbeef\n",
    );
    let mut v2_types = String::new();
    announce::write_type::<v2::Temperature, _>(&mut v2_types).expect("write");
    node.publish(
        &format!("aimdb/{NODE}/schema"),
        QoS::AtLeastOnce,
        true,
        v2_types,
    );
    wait_until("the announcements are retained", || {
        support::mosquitto::mosquitto_sub_one(broker.port, &format!("aimdb/{NODE}/schema"), 2)
            .is_some()
    });

    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "warnings only: {stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            format!(
                "{}: warning: record \"sensor.temp\": link_from mqtt://aimdb/+/sensor.temp carries Temperature v1, but node node-v3 speaks Temperature v3: no version in common, so these values are dropped",
                file.display()
            )
            .as_str(),
            format!(
                "{}: warning: record \"cmd.node-v2\": link_to mqtt://aimdb/{NODE}/cmd/node.cmd carries NodeCommand, but node {NODE} does not announce NodeCommand",
                file.display()
            )
            .as_str(),
        ],
        "{stderr}"
    );
    assert!(stderr.contains("  hint: upgrade aimdbd"), "{stderr}");

    // A broker that is not there: said, and skipped.
    let mut broker = broker;
    broker.stop();
    let out = check();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: --nodes: cannot read the node announcements"),
        "{stderr}"
    );
}
