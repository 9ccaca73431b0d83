//! The node's application logic, on the host, against a real Mosquitto: birth and last will,
//! the retained schema announcement, versioned postcard frames on `aimdb/<node>/<key>`, commands
//! on `aimdb/<node>/cmd/<key>` that change its behaviour, malformed commands dropped, and
//! `offline` on a clean stop or a kill; and a v2 gateway (the records crate's v2 fixture)
//! talking to this v1 node.

mod support;

use aimdb_records::announce;
use aimdb_records::frame::{self, Header};
use aimdb_records::keys::{NodeKey, SensorKey};
use aimdb_records::topic::{command_topic, record_topic, schema_topic, status_topic};
use aimdb_records::version::{negotiate, VersionError, Versioned};
use aimdb_records::{
    Codec, Heartbeat, Humidity, NodeCommand, RecordType, Temperature, TemperatureAlert,
};
use support::{Broker, NodeProcess, TestDir};

#[path = "../../../crates/records/tests/fixtures/v2.rs"]
mod v2;

/// `payload` as a frame of `V`'s version 1 (the node's version of every type), decoded into `V`
/// (the v1 type itself, or a newer one that converts up).
fn from_v1_frame<V: Versioned>(payload: &[u8], v1_schema: u32) -> V {
    let (header, _) = Header::split(payload).expect("a whole header");
    assert_eq!(
        header,
        Some(Header {
            version: 1,
            schema: v1_schema
        }),
        "the node frames what it publishes, at version 1: {payload:02x?}"
    );
    frame::decode_postcard(payload).expect("the frame decodes")
}

fn temperatures(sub: &support::Subscriber, node: &str) -> Vec<Temperature> {
    sub.on(&record_topic(node, &SensorKey::TempIndoor))
        .iter()
        .map(|m| from_v1_frame(&m.payload, Temperature::SCHEMA_ID.short()))
        .collect()
}

/// `cmd` framed at `version` of its chain, as a gateway sends it.
fn command<V: Versioned>(cmd: &V, version: u16) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode_postcard(cmd, version, &mut out).expect("the command has a form there");
    out
}

/// The node's announcement, read as a late subscriber would: retained.
fn announcement(broker: &Broker, node: &str) -> Vec<u8> {
    let topic = schema_topic(node);
    let late = broker.subscribe(&topic);
    late.wait_for(&topic, "the retained schema announcement", |m| m.retained)
        .payload
}

/// What a v1 node links over MQTT, each at version 1 with its schema id.
fn v1_line<T: RecordType>() -> (String, Vec<(u16, u32)>) {
    (T::NAME.to_string(), vec![(1, T::SCHEMA_ID.short())])
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

    // The schema announcement: retained, exactly the node's five types, each at version 1.
    let text = announcement(&broker, node);
    let mut listed: Vec<(String, Vec<(u16, u32)>)> = announce::entries(&text)
        .map(|e| {
            let e = e.expect("every line parses");
            (e.type_name.to_string(), e.versions.to_vec())
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        v1_line::<Temperature>(),
        v1_line::<Humidity>(),
        v1_line::<TemperatureAlert>(),
        v1_line::<Heartbeat>(),
        v1_line::<NodeCommand>(),
    ];
    expected.sort();
    assert_eq!(listed, expected, "{}", String::from_utf8_lossy(&text));

    let temp_topic = record_topic(node, &SensorKey::TempIndoor);
    watch.wait_for(&temp_topic, "a framed Temperature", |_| true);
    let first = temperatures(&watch, node);
    assert_eq!(first[0].sensor_id.as_str(), node);
    assert!((20.0..=24.0).contains(&first[0].celsius), "{first:?}");
    let hb = watch.wait_for(
        &record_topic(node, &NodeKey::Heartbeat),
        "a heartbeat",
        |_| true,
    );
    let hb: Heartbeat = from_v1_frame(&hb.payload, Heartbeat::SCHEMA_ID.short());
    assert_eq!((hb.node_id.as_str(), hb.seq), (node, 0));

    // A malformed command is counted and dropped; the node carries on.
    let cmd_topic = command_topic(node, &NodeKey::Command);
    broker.publish(&cmd_topic, &[0x07, 0xff, 0xff]);
    support::wait_until("the node logs the dropped command", || {
        proc.log().contains("dropped malformed payload")
    });

    // Sampling every 50 ms instead of every 10 minutes: many readings within the bound.
    broker.publish(
        &cmd_topic,
        &command(&NodeCommand::SetSamplePeriod { ms: 50 }, 1),
    );
    support::wait_until("readings arrive every 50 ms", || {
        temperatures(&watch, node).len() >= 20
    });

    broker.publish(&cmd_topic, &command(&NodeCommand::SetLed { on: true }, 1));
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
    // The new broker knows nothing retained: the node announced its schema again.
    let text = announcement(&broker, node);
    assert!(
        announce::find(&text, Temperature::NAME).is_ok_and(|t| t.is_some()),
        "{}",
        String::from_utf8_lossy(&text)
    );
}

#[test]
fn v1_node_and_v2_gateway_keep_talking() {
    let dir = TestDir::new("v2-gateway");
    let broker = Broker::start(dir.path());
    let node = "host-node-4";
    let temp_topic = record_topic(node, &SensorKey::TempIndoor);
    let cmd_topic = command_topic(node, &NodeKey::Command);
    let watch = broker.subscribe(&temp_topic);
    let mut proc = NodeProcess::start(
        dir.path(),
        &broker,
        node,
        &["--period-ms", "600000", "--heartbeat-ms", "600000"],
    );

    // The v2 gateway reads the node's v1 readings as v2 ones: `accuracy` filled in by `up`.
    let first = watch.wait_for(&temp_topic, "a reading", |_| true);
    let reading: v2::Temperature = from_v1_frame(&first.payload, Temperature::SCHEMA_ID.short());
    assert_eq!(reading.sensor_id.as_str(), node);
    assert_eq!(reading.accuracy, v2::V1_ACCURACY);

    // It reads what the node speaks and talks down to it: version 1 for both types.
    let text = announcement(&broker, node);
    let spoken = |name: &str| {
        announce::find(&text, name)
            .expect("the announcement parses")
            .unwrap_or_else(|| panic!("{name} is announced"))
    };
    let commands = spoken(v2::NodeCommand::NAME);
    assert_eq!(negotiate::<v2::NodeCommand>(Some(&commands)), Some(1));
    assert_eq!(
        negotiate::<v2::Temperature>(Some(&spoken(v2::Temperature::NAME))),
        Some(1)
    );
    let version = 1;

    // A command v1 has no form for is not sent at all.
    let mut out = Vec::new();
    assert!(matches!(
        frame::encode_postcard(
            &v2::NodeCommand::SetAlertAbove { celsius: 30.0 },
            version,
            &mut out
        ),
        Err(VersionError::Unrepresentable(_))
    ));
    assert!(out.is_empty());

    // One it has, spoken at version 1, is obeyed: readings every 50 ms.
    let period = command(&v2::NodeCommand::SetSamplePeriod { ms: 50 }, version);
    assert_eq!(period, command(&NodeCommand::SetSamplePeriod { ms: 50 }, 1));
    broker.publish(&cmd_topic, &period);
    support::wait_until("readings arrive every 50 ms", || {
        temperatures(&watch, node).len() >= 20
    });

    // Spoken at version 2 (a gateway that ignored the announcement), it is dropped and logged.
    broker.publish(
        &cmd_topic,
        &command(&v2::NodeCommand::SetLed { on: true }, 2),
    );
    let refused = format!(
        "dropped command on {cmd_topic}: version 2 unknown (this node knows up to 1): upgrade \
         the node"
    );
    support::wait_until("the node logs the v2 command as refused", || {
        proc.log().contains(&refused)
    });
    assert!(!proc.log().contains("led: on"), "{}", proc.log());

    // An unframed command, as gateways sent before versioning, is version 1: obeyed.
    let mut legacy = Vec::new();
    Codec::Postcard
        .encode(&NodeCommand::SetLed { on: true }, &mut legacy)
        .unwrap();
    assert_ne!(legacy[0], frame::MARKER);
    broker.publish(&cmd_topic, &legacy);
    support::wait_until("the LED goes on", || proc.log().contains("led: on"));

    proc.signal("-TERM");
    assert_eq!(proc.wait_exit(), Some(0), "clean exit:\n{}", proc.log());
    assert!(
        proc.log()
            .contains("commands 2 received, 0 malformed, 1 refused (version/schema)"),
        "{}",
        proc.log()
    );
}
