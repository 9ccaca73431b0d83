//! The node's application logic, on the host, against a real Mosquitto: birth and last will,
//! postcard records on `aimdb/<node>/<key>`, commands on `aimdb/<node>/cmd/<key>` that change
//! its behaviour, malformed commands dropped, and `offline` on a clean stop or a kill.

mod support;

use aimdb_records::keys::{NodeKey, SensorKey};
use aimdb_records::topic::{command_topic, record_topic, status_topic};
use aimdb_records::{Codec, Heartbeat, NodeCommand, Temperature};
use support::{Broker, NodeProcess, TestDir};

fn temperatures(sub: &support::Subscriber, node: &str) -> Vec<Temperature> {
    sub.on(&record_topic(node, &SensorKey::TempIndoor))
        .iter()
        .map(|m| {
            Codec::Postcard
                .decode(&m.payload)
                .expect("node publishes postcard Temperature")
        })
        .collect()
}

#[test]
fn node_announces_itself_publishes_obeys_commands_and_says_offline_on_stop() {
    let dir = TestDir::new("lifecycle");
    let broker = Broker::start(dir.path());
    let node = "host-node-1";
    let status = status_topic(node);
    let watch = broker.subscribe("aimdb/#");
    // A sample period of 10 minutes: without a command, one reading at start, then nothing.
    let mut proc = NodeProcess::start(
        dir.path(),
        &broker,
        node,
        &[
            "--period-ms",
            "600000",
            "--heartbeat-ms",
            "600000",
            "--temp-base",
            "22",
            "--temp-swing",
            "2",
        ],
    );

    watch.wait_for(&status, "the node announces online", |m| {
        m.payload == b"online"
    });
    // Birth is retained: a client arriving later sees it at once.
    let late = broker.subscribe(&status);
    late.wait_for(&status, "retained online", |m| {
        m.retained && m.payload == b"online"
    });

    let temp_topic = record_topic(node, &SensorKey::TempIndoor);
    watch.wait_for(&temp_topic, "a postcard Temperature", |_| true);
    let first = temperatures(&watch, node);
    assert_eq!(first[0].sensor_id.as_str(), node);
    assert!((20.0..=24.0).contains(&first[0].celsius), "{first:?}");
    let hb = watch.wait_for(
        &record_topic(node, &NodeKey::Heartbeat),
        "a heartbeat",
        |_| true,
    );
    let hb: Heartbeat = Codec::Postcard
        .decode(&hb.payload)
        .expect("postcard Heartbeat");
    assert_eq!((hb.node_id.as_str(), hb.seq), (node, 0));

    // A malformed command is counted and dropped; the node carries on.
    let cmd_topic = command_topic(node, &NodeKey::Command);
    broker.publish(&cmd_topic, &[0x07, 0xff, 0xff]);
    support::wait_until("the node logs the dropped command", || {
        proc.log().contains("dropped malformed payload")
    });

    // Sampling every 50 ms instead of every 10 minutes: many readings within the bound.
    let mut cmd = Vec::new();
    Codec::Postcard
        .encode(&NodeCommand::SetSamplePeriod { ms: 50 }, &mut cmd)
        .unwrap();
    broker.publish(&cmd_topic, &cmd);
    support::wait_until("readings arrive every 50 ms", || {
        temperatures(&watch, node).len() >= 20
    });

    let mut led = Vec::new();
    Codec::Postcard
        .encode(&NodeCommand::SetLed { on: true }, &mut led)
        .unwrap();
    broker.publish(&cmd_topic, &led);
    support::wait_until("the LED goes on", || proc.log().contains("led: on"));
    assert!(
        proc.child.try_wait().unwrap().is_none(),
        "node still running"
    );

    proc.signal("-TERM");
    assert_eq!(proc.wait_exit(), Some(0), "clean exit:\n{}", proc.log());
    watch.wait_for(&status, "offline after the clean stop", |m| {
        m.payload == b"offline"
    });
    let after = broker.subscribe(&status);
    after.wait_for(&status, "retained offline", |m| {
        m.retained && m.payload == b"offline"
    });
    assert!(proc.log().contains("disconnected"), "{}", proc.log());
}

#[test]
fn killed_node_is_declared_offline_by_its_last_will() {
    let dir = TestDir::new("will");
    let broker = Broker::start(dir.path());
    let node = "host-node-2";
    let status = status_topic(node);
    let watch = broker.subscribe(&status);
    let mut proc = NodeProcess::start(dir.path(), &broker, node, &["--keep-alive-s", "2"]);
    watch.wait_for(&status, "online", |m| m.payload == b"online");
    proc.signal("-KILL");
    let _ = proc.wait_exit();
    watch.wait_for(&status, "the will says offline", |m| {
        m.payload == b"offline"
    });
}

#[test]
fn node_reconnects_when_the_broker_comes_back() {
    let dir = TestDir::new("reconnect");
    let broker = Broker::start(dir.path());
    let port = broker.port;
    let node = "host-node-3";
    let _proc = NodeProcess::start(dir.path(), &broker, node, &["--period-ms", "200"]);
    let watch = broker.subscribe(&status_topic(node));
    watch.wait_for(&status_topic(node), "online", |m| m.payload == b"online");
    drop(watch);
    drop(broker);
    // Same port again: the node's backoff keeps trying until the broker is back.
    let broker = support::Broker::start_on(dir.path(), port);
    let watch = broker.subscribe(&record_topic(node, &SensorKey::TempIndoor));
    watch.wait_for(
        &record_topic(node, &SensorKey::TempIndoor),
        "readings after reconnect",
        |_| true,
    );
}
