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
use std::time::{Duration, Instant};

use aimdb_bench::mqtt::{blast, forwarder, latency, payload, publisher, subscriber, Broker};
use aimdb_bench::{fmt_rate, quick_mode, report, Throughput};
use aimdb_records::Codec;
use aimdbd::engine::{self, RunningGraph};
use rumqttc::QoS;

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
    let cfg = aimdbd::config::parse(
        "/tmp/aimdb-bench-mqtt.toml",
        &text,
        aimdbd::engine::catalog(),
    )
    .unwrap_or_else(|e| panic!("bench config: {e}"));
    let db = engine::build(&cfg).unwrap_or_else(|e| panic!("bench graph: {e}"));
    let graph = RunningGraph::start(db);
    // The bridge is up once a probe published on its input comes out.
    let mut probe_rx = subscriber(
        port,
        &format!("probe-sub-{round}"),
        "bench/aout",
        QoS::AtLeastOnce,
        Codec::Postcard,
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

#[derive(Clone, Copy)]
enum Path3 {
    Raw,
    Forwarder,
    Aimdbd,
}

/// How long a round waits for the next delivery before the rest counts as lost.
const STALL: Duration = Duration::from_secs(5);

/// One round of path `which` at `qos`: (elapsed, distinct messages delivered).
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
                let mut rx = subscriber(
                    port,
                    &format!("raw-sub-{tag}"),
                    "bench/raw",
                    qos,
                    Codec::Postcard,
                )
                .await;
                let p = publisher(port, &format!("raw-pub-{tag}"));
                let r = blast(&p, "bench/raw", qos, 0..n, &mut rx, STALL).await;
                let _ = p.disconnect().await;
                (r.elapsed, r.delivered)
            }
            Path3::Forwarder => {
                let fwd =
                    forwarder(port, &format!("fwd-{tag}"), "bench/fin", "bench/fout", qos).await;
                let mut rx = subscriber(
                    port,
                    &format!("fwd-sub-{tag}"),
                    "bench/fout",
                    qos,
                    Codec::Postcard,
                )
                .await;
                let p = publisher(port, &format!("fwd-pub-{tag}"));
                let r = blast(&p, "bench/fin", qos, 0..n, &mut rx, STALL).await;
                let _ = p.disconnect().await;
                fwd.abort();
                (r.elapsed, r.delivered)
            }
            Path3::Aimdbd => {
                let graph = start_bridge(port, qos, k + 1000 * qos as u64).await;
                let mut rx = subscriber(
                    port,
                    &format!("aimdbd-sub-{tag}"),
                    "bench/aout",
                    qos,
                    Codec::Postcard,
                )
                .await;
                let p = publisher(port, &format!("aimdbd-pub-{tag}"));
                let r = blast(&p, "bench/ain", qos, 0..n, &mut rx, STALL).await;
                let _ = p.disconnect().await;
                let _ = graph.drain(Duration::from_secs(5)).await;
                (r.elapsed, r.delivered)
            }
        }
    })
}

#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
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
    let broker = Broker::start("mqtt");
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
        let mut rx = subscriber(
            port,
            "lat-aimdbd-sub",
            "bench/aout",
            QoS::AtLeastOnce,
            Codec::Postcard,
        )
        .await;
        let p = publisher(port, "lat-aimdbd-pub");
        let a = latency(
            &p,
            "bench/ain",
            QoS::AtLeastOnce,
            0..n_lat,
            rate,
            &mut rx,
            STALL,
        )
        .await;
        let _ = graph.drain(Duration::from_secs(5)).await;
        let fwd = forwarder(port, "lat-fwd", "bench/fin", "bench/fout", QoS::AtLeastOnce).await;
        let mut rx = subscriber(
            port,
            "lat-fwd-sub",
            "bench/fout",
            QoS::AtLeastOnce,
            Codec::Postcard,
        )
        .await;
        let p = publisher(port, "lat-fwd-pub");
        let f = latency(
            &p,
            "bench/fin",
            QoS::AtLeastOnce,
            0..n_lat,
            rate,
            &mut rx,
            STALL,
        )
        .await;
        fwd.abort();
        (a, f)
    });
    let ((a50, a99), (f50, f99)) = ((lat.0.p50, lat.0.p99), (lat.1.p50, lat.1.p99));
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
