//! The MQTT bridge: MQTT in → transform → MQTT out through aimdbd, beside (a) raw Mosquitto
//! pub→sub and (b) a minimal forwarder (subscribe and republish, nothing else) on the same broker,
//! in the same run, at QoS 0 and QoS 1; then p50/p99 latency at a fixed rate below saturation.
//!
//! All three paths carry the same payload: a `Temperature` in postcard (43 bytes, with a 32-byte
//! sensor id) whose `timestamp_ms` is the message's sequence number. aimdbd runs in-process
//! (`aimdbd::engine`, the daemon's own graph builder and MQTT connector) with the config in
//! [`bridge_config`]: `link_from` (postcard) → `moving_average` (window 8) → `link_to` (postcard).
//! Each figure is messages delivered to the final subscriber per second, from the first publish
//! to the last delivery; lost messages are reported.
//!
//! Run: `cargo bench -p aimdb-bench --bench mqtt_bridge` (needs `mosquitto`: ./scripts/setup.sh).
//! Under `cargo test --benches` it runs one tiny round of each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_bench::{fmt_rate, quick_mode, report, Throughput};
use aimdb_records::{id, Codec, Temperature};
use aimdbd::engine::{self, RunningGraph};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// A Mosquitto for the benchmark, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("aimdb-bench-mqtt-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "root".into());
        let conf = dir.join("mosquitto.conf");
        // Stock Mosquitto drops QoS 1 messages once 1000 are queued for a subscriber, and keeps
        // only 20 in flight per client: both would measure the broker's limits, not the bridge.
        let text = format!(
            "user {user}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             log_dest stderr\nlog_type error\nmax_queued_messages 0\nmax_queued_bytes 0\n\
             max_inflight_messages 1000\n"
        );
        if let Err(e) = std::fs::write(&conf, text) {
            panic!("cannot write {}: {e}", conf.display());
        }
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start mosquitto ({e}); run ./scripts/setup.sh to install it")
            });
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                panic!("mosquitto did not listen on {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn payload(seq: u64) -> Vec<u8> {
    let t = Temperature {
        sensor_id: id("bench-sensor-0123456789abcdefghi").unwrap_or_default(),
        celsius: 21.5,
        timestamp_ms: seq,
    };
    Codec::Postcard.encode_to_vec(&t).unwrap_or_default()
}

fn seq_of(bytes: &[u8]) -> Option<u64> {
    Codec::Postcard
        .decode::<Temperature>(bytes)
        .ok()
        .map(|t| t.timestamp_ms)
}

fn options(port: u16, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    o
}

/// A subscriber on `topic`; yields `(seq, arrival)` for each message.
async fn subscriber(
    port: u16,
    id: &str,
    topic: &str,
    qos: QoS,
) -> mpsc::UnboundedReceiver<(u64, Instant)> {
    let (client, mut el) = AsyncClient::new(options(port, id), 10_000);
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    let topic = topic.to_string();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed);
        let _client = client.clone();
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(topic.clone(), qos);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(seq) = seq_of(&p.payload) {
                        if tx.send((seq, Instant::now())).is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(20), ready).await;
    rx
}

/// A publisher; its event loop runs on its own task.
fn publisher(port: u16, id: &str) -> AsyncClient {
    let (client, mut el) = AsyncClient::new(options(port, id), 10_000);
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    client
}

/// The minimal forwarder: subscribe to `from`, republish every payload to `to`.
async fn forwarder(
    port: u16,
    id: &str,
    from: &str,
    to: &str,
    qos: QoS,
) -> tokio::task::JoinHandle<()> {
    let (client, mut el) = AsyncClient::new(options(port, id), 10_000);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    let from = from.to_string();
    let to = to.to_string();
    let sub = client.clone();
    let task = tokio::spawn(async move {
        let mut subscribed = Some(subscribed);
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = sub.try_subscribe(from.clone(), qos);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload.to_vec());
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            if client.publish(to.clone(), qos, false, p).await.is_err() {
                return;
            }
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(20), ready).await;
    task
}

fn bridge_config(port: u16, qos: u8, round: u64) -> String {
    format!(
        r#"[node]
id = "bench"
shutdown_timeout = "5s"

[mqtt]
url = "mqtt://127.0.0.1:{port}"
client_id = "aimdbd-bench-{round}"
outbox_capacity = 1000000
# Each round is a fresh daemon with its own client id: a persistent session (the default with a
# QoS 1 link_from) would make the broker queue every later round's messages for it.
clean_session = true

[[record]]
key = "bench.in"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 65536 }}
link_from = [{{ url = "mqtt://bench/ain", codec = "postcard", qos = {qos} }}]

[[record]]
key = "bench.out"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 65536 }}
transform = {{ kind = "moving_average", input = "bench.in", window = 8 }}
link_to = [{{ url = "mqtt://bench/aout", codec = "postcard", qos = {qos} }}]
"#
    )
}

/// Starts aimdbd's graph and waits until its subscription is active.
async fn start_bridge(port: u16, qos: QoS, round: u64) -> RunningGraph {
    let text = bridge_config(port, qos as u8, round);
    let cfg = aimdbd::config::parse("/tmp/aimdb-bench-mqtt.toml", &text)
        .unwrap_or_else(|e| panic!("bench config: {e}"));
    let db = engine::build(&cfg).unwrap_or_else(|e| panic!("bench graph: {e}"));
    let graph = RunningGraph::start(db);
    // The bridge is up once a probe published on its input comes out.
    let mut probe_rx = subscriber(
        port,
        &format!("probe-sub-{round}"),
        "bench/aout",
        QoS::AtLeastOnce,
    )
    .await;
    let probe = publisher(port, &format!("probe-pub-{round}"));
    let start = Instant::now();
    loop {
        let _ = probe
            .publish("bench/ain", QoS::AtLeastOnce, false, payload(u64::MAX))
            .await;
        if tokio::time::timeout(Duration::from_millis(200), probe_rx.recv())
            .await
            .is_ok()
        {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("the bridge did not come up");
        }
    }
    let _ = probe.disconnect().await;
    graph
}

/// Publishes `n` messages to `input` as fast as the client takes them and waits for them on
/// `rx`; the time from the first publish to the last delivery, and how many arrived.
async fn blast(
    pubc: &AsyncClient,
    input: &str,
    qos: QoS,
    n: u64,
    rx: &mut mpsc::UnboundedReceiver<(u64, Instant)>,
) -> (Duration, u64) {
    while rx.try_recv().is_ok() {}
    let payloads: Vec<Vec<u8>> = (0..n).map(payload).collect();
    let start = Instant::now();
    let input = input.to_string();
    let p = pubc.clone();
    tokio::spawn(async move {
        for pl in payloads {
            if p.publish(input.clone(), qos, false, pl).await.is_err() {
                return;
            }
        }
    });
    let mut got = 0u64;
    let mut last = start;
    while got < n {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some((seq, at))) if seq < n => {
                got += 1;
                last = at;
            }
            Ok(Some(_)) => {}
            _ => break, // stalled: the rest is lost
        }
    }
    (last.duration_since(start), got)
}

/// Sends `n` messages at `rate`/s and returns the p50 and p99 latency.
async fn latency(
    pubc: &AsyncClient,
    input: &str,
    qos: QoS,
    n: u64,
    rate: u64,
    rx: &mut mpsc::UnboundedReceiver<(u64, Instant)>,
) -> (Duration, Duration) {
    while rx.try_recv().is_ok() {}
    let per_tick = (rate / 1000).max(1);
    let sent: Arc<SentLog> = Arc::default();
    let log = sent.clone();
    let p = pubc.clone();
    let input = input.to_string();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut seq = 0;
        while seq < n {
            tick.tick().await;
            for _ in 0..per_tick.min(n - seq) {
                log.record(seq, Instant::now());
                if p.publish(input.clone(), qos, false, payload(seq))
                    .await
                    .is_err()
                {
                    return;
                }
                seq += 1;
            }
        }
    });
    let mut lat = Vec::with_capacity(n as usize);
    while (lat.len() as u64) < n {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some((seq, at))) => {
                if let Some(t0) = sent.get(seq) {
                    lat.push(at.duration_since(t0));
                }
            }
            _ => break,
        }
    }
    lat.sort();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    (pick(0.5), pick(0.99))
}

/// Send times by sequence number.
#[derive(Default)]
struct SentLog(std::sync::Mutex<HashMap<u64, Instant>>);

impl SentLog {
    fn record(&self, seq: u64, at: Instant) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(seq, at);
        }
    }

    fn get(&self, seq: u64) -> Option<Instant> {
        self.0.lock().ok().and_then(|m| m.get(&seq).copied())
    }
}

#[derive(Clone, Copy)]
enum Path3 {
    Raw,
    Forwarder,
    Aimdbd,
}

/// One round of path `which` at `qos`: (elapsed, delivered).
fn round(
    rt: &tokio::runtime::Runtime,
    port: u16,
    which: Path3,
    qos: QoS,
    n: u64,
    k: u64,
) -> (Duration, u64) {
    rt.block_on(async {
        let tag = format!("{}-{k}", qos as u8);
        match which {
            Path3::Raw => {
                let mut rx = subscriber(port, &format!("raw-sub-{tag}"), "bench/raw", qos).await;
                let p = publisher(port, &format!("raw-pub-{tag}"));
                let r = blast(&p, "bench/raw", qos, n, &mut rx).await;
                let _ = p.disconnect().await;
                r
            }
            Path3::Forwarder => {
                let fwd =
                    forwarder(port, &format!("fwd-{tag}"), "bench/fin", "bench/fout", qos).await;
                let mut rx = subscriber(port, &format!("fwd-sub-{tag}"), "bench/fout", qos).await;
                let p = publisher(port, &format!("fwd-pub-{tag}"));
                let r = blast(&p, "bench/fin", qos, n, &mut rx).await;
                let _ = p.disconnect().await;
                fwd.abort();
                r
            }
            Path3::Aimdbd => {
                let graph = start_bridge(port, qos, k + 1000 * qos as u64).await;
                let mut rx =
                    subscriber(port, &format!("aimdbd-sub-{tag}"), "bench/aout", qos).await;
                let p = publisher(port, &format!("aimdbd-pub-{tag}"));
                let r = blast(&p, "bench/ain", qos, n, &mut rx).await;
                let _ = p.disconnect().await;
                let _ = graph.drain(Duration::from_secs(5)).await;
                r
            }
        }
    })
}

fn main() {
    let quick = quick_mode();
    let n: u64 = if quick { 500 } else { 100_000 };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a Tokio runtime: {e}"),
    };
    let broker = Broker::start();
    let port = broker.port;
    println!("MQTT: aimdbd (in -> moving_average -> out) vs raw pub->sub and a minimal forwarder, one Mosquitto; {n} msgs of 43 B per round");
    let mut k = 0u64;
    let mut lost: HashMap<&str, u64> = HashMap::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let q = qos as u8;
        // Median of the rounds, in delivered messages per second (losses reported below).
        let mut run = |which: Path3, name: &'static str| -> Throughput {
            let rounds = if quick { 1 } else { aimdb_bench::ROUNDS };
            let mut rates: Vec<f64> = (0..rounds)
                .map(|_| {
                    k += 1;
                    let (d, got) = round(&rt, port, which, qos, n, k);
                    *lost.entry(name).or_default() += n - got;
                    got as f64 / d.as_secs_f64().max(1e-9)
                })
                .collect();
            rates.sort_by(f64::total_cmp);
            Throughput {
                ops_per_sec: rates[rates.len() / 2],
            }
        };
        let raw = run(Path3::Raw, "raw");
        let fwd = run(Path3::Forwarder, "forwarder");
        let aim = run(Path3::Aimdbd, "aimdbd");
        report(
            &format!("QoS {q}: aimdbd bridge"),
            aim,
            "minimal forwarder",
            fwd,
        );
        report(&format!("QoS {q}: aimdbd bridge"), aim, "raw pub->sub", raw);
        report(
            &format!("QoS {q}: minimal forwarder"),
            fwd,
            "raw pub->sub",
            raw,
        );
        println!(
            "QoS {q}: lost messages (all rounds): raw {}, forwarder {}, aimdbd {}",
            lost.remove("raw").unwrap_or(0),
            lost.remove("forwarder").unwrap_or(0),
            lost.remove("aimdbd").unwrap_or(0)
        );
    }
    // Latency at a fixed rate below saturation.
    let (rate, n_lat) = if quick { (1000, 200) } else { (5000, 20_000) };
    let lat = rt.block_on(async {
        let graph = start_bridge(port, QoS::AtLeastOnce, 9_999).await;
        let mut rx = subscriber(port, "lat-aimdbd-sub", "bench/aout", QoS::AtLeastOnce).await;
        let p = publisher(port, "lat-aimdbd-pub");
        let a = latency(&p, "bench/ain", QoS::AtLeastOnce, n_lat, rate, &mut rx).await;
        let _ = graph.drain(Duration::from_secs(5)).await;
        let fwd = forwarder(port, "lat-fwd", "bench/fin", "bench/fout", QoS::AtLeastOnce).await;
        let mut rx = subscriber(port, "lat-fwd-sub", "bench/fout", QoS::AtLeastOnce).await;
        let p = publisher(port, "lat-fwd-pub");
        let f = latency(&p, "bench/fin", QoS::AtLeastOnce, n_lat, rate, &mut rx).await;
        fwd.abort();
        (a, f)
    });
    let ((a50, a99), (f50, f99)) = lat;
    println!(
        "QoS 1 latency at {} ({n_lat} msgs): aimdbd p50 {:?} p99 {:?} | minimal forwarder p50 {:?} p99 {:?}",
        fmt_rate(rate as f64),
        a50,
        a99,
        f50,
        f99
    );
    drop(broker);
}
