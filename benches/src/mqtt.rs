//! What the MQTT benchmarks share: a Mosquitto of their own on a free loopback port, rumqttc
//! publishers and subscribers, the minimal forwarder, and the throughput and latency drivers.
//!
//! Every message carries a postcard `Temperature` whose `timestamp_ms` is its sequence number;
//! subscribers decode it (postcard or JSON) and report `(seq, arrival)`, so every path is
//! counted the same way: distinct sequence numbers delivered, duplicates, and the rest lost.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_records::{id, Codec, Temperature};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// A Mosquitto for one benchmark run, on a free loopback port, killed on drop.
pub struct Broker {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    dir: PathBuf,
}

/// The tests' free ports (below the ephemeral range), shared.
#[path = "../../tests/support/ports.rs"]
mod ports;

/// A loopback port nothing listens on right now, below the kernel's ephemeral range (so no
/// outgoing connection takes it before the broker binds it).
pub fn free_port() -> u16 {
    ports::free_port()
}

impl Broker {
    /// Starts it; `name` tells the temp dirs of concurrent benchmarks apart.
    pub fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdb-bench-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let port = free_port();
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
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
        let mut child = Command::new(bin)
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
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "mosquitto exited at start ({status}); config {}",
                    conf.display()
                );
            }
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

/// The message with sequence number `seq`: a framed postcard `Temperature` (32-byte sensor id)
/// whose `timestamp_ms` is `seq`, as a node sends it.
pub fn payload(seq: u64) -> Vec<u8> {
    let t = Temperature {
        sensor_id: id("bench-sensor-0123456789abcdefghi").unwrap_or_default(),
        celsius: 21.5,
        timestamp_ms: seq,
    };
    let mut out = Vec::new();
    let _ = aimdb_records::frame::encode_postcard(&t, 1, &mut out);
    out
}

/// The sequence number of a message in `codec`.
pub fn seq_of(codec: Codec, bytes: &[u8]) -> Option<u64> {
    match codec {
        Codec::Postcard => aimdb_records::frame::decode_postcard::<Temperature>(bytes).ok(),
        Codec::Json => aimdb_records::frame::decode_json::<Temperature>(bytes).ok(),
    }
    .map(|t| t.timestamp_ms)
}

/// Client options for the benchmarks' own clients.
pub fn options(port: u16, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    o
}

/// What a subscriber reports: `(seq, arrival)` per message.
pub type Arrivals = mpsc::UnboundedReceiver<(u64, Instant)>;

/// A subscriber on `topic` whose payloads are in `codec`; returns once subscribed.
pub async fn subscriber(port: u16, id: &str, topic: &str, qos: QoS, codec: Codec) -> Arrivals {
    let (client, mut el) = AsyncClient::new(options(port, id), 10_000);
    let (tx, rx) = mpsc::unbounded_channel();
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    let filter = topic.to_string();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed);
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = client.try_subscribe(filter.clone(), qos);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(seq) = seq_of(codec, &p.payload) {
                        if tx.send((seq, Instant::now())).is_err() {
                            let _ = client.try_disconnect();
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    if tokio::time::timeout(Duration::from_secs(20), ready)
        .await
        .is_err()
    {
        panic!("subscriber {id} did not get its SUBACK for {topic}");
    }
    rx
}

/// A publisher; its event loop runs on its own task.
pub fn publisher(port: u16, id: &str) -> AsyncClient {
    let (client, mut el) = AsyncClient::new(options(port, id), 10_000);
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    client
}

/// The minimal forwarder: subscribes to `from` and republishes every payload to `to` at `qos`,
/// nothing else (event loop on one task, publishing on another; rumqttc's automatic acks).
/// Returns once subscribed; abort the handle to stop it.
pub async fn forwarder(
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

/// One throughput round of a path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Round {
    /// From the first publish to the last delivery.
    pub elapsed: Duration,
    /// Distinct sequence numbers delivered.
    pub delivered: u64,
    /// Deliveries of a sequence number already delivered (QoS 1 is at-least-once).
    pub duplicates: u64,
    /// Messages published.
    pub sent: u64,
}

impl Round {
    /// Messages never delivered.
    pub fn lost(&self) -> u64 {
        self.sent - self.delivered
    }

    /// Distinct messages delivered per second.
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Which sequence numbers arrived: counts distinct ones and duplicates.
struct Seen {
    bits: Vec<u64>,
    distinct: u64,
    duplicates: u64,
}

impl Seen {
    fn new(n: u64) -> Self {
        Self {
            bits: vec![0; n.div_ceil(64) as usize],
            distinct: 0,
            duplicates: 0,
        }
    }

    fn mark(&mut self, i: u64) {
        let (w, b) = ((i / 64) as usize, i % 64);
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.distinct += 1;
        } else {
            self.duplicates += 1;
        }
    }
}

/// Publishes the sequence numbers `seqs` to `input` as fast as the client takes them, and
/// counts them on `rx` (arrivals outside `seqs` — probes, an earlier round — are ignored) until
/// all arrived or none came for `stall`.
pub async fn blast(
    pubc: &AsyncClient,
    input: &str,
    qos: QoS,
    seqs: Range<u64>,
    rx: &mut Arrivals,
    stall: Duration,
) -> Round {
    while rx.try_recv().is_ok() {}
    let n = seqs.end - seqs.start;
    let payloads: Vec<Vec<u8>> = seqs.clone().map(payload).collect();
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
    let mut seen = Seen::new(n);
    let mut last = start;
    while seen.distinct < n {
        match tokio::time::timeout(stall, rx.recv()).await {
            Ok(Some((seq, at))) if seqs.contains(&seq) => {
                seen.mark(seq - seqs.start);
                last = at;
            }
            Ok(Some(_)) => {}
            _ => break, // stalled: the rest is lost
        }
    }
    Round {
        elapsed: last.duration_since(start),
        delivered: seen.distinct,
        duplicates: seen.duplicates,
        sent: n,
    }
}

/// Latency of one path at a fixed rate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    /// Median, publish call → delivery.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Distinct messages delivered (of `sent`).
    pub delivered: u64,
    /// Messages published.
    pub sent: u64,
}

/// Publishes the sequence numbers `seqs` to `input` at `rate` per second (in 1 ms ticks) and
/// measures each one's time from the publish call to its delivery on `rx`.
pub async fn latency(
    pubc: &AsyncClient,
    input: &str,
    qos: QoS,
    seqs: Range<u64>,
    rate: u64,
    rx: &mut Arrivals,
    stall: Duration,
) -> Latency {
    while rx.try_recv().is_ok() {}
    let n = seqs.end - seqs.start;
    let per_tick = (rate / 1000).max(1);
    let base = Instant::now();
    // Nanoseconds after `base` at which each message was handed to the client (0: not yet).
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let log = sent.clone();
    let p = pubc.clone();
    let input = input.to_string();
    let first = seqs.start;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut i = 0;
        while i < n {
            tick.tick().await;
            for _ in 0..per_tick.min(n - i) {
                let pl = payload(first + i);
                log[i as usize].store(base.elapsed().as_nanos() as u64 + 1, Ordering::Relaxed);
                if p.publish(input.clone(), qos, false, pl).await.is_err() {
                    return;
                }
                i += 1;
            }
        }
    });
    let mut seen = Seen::new(n);
    let mut lat = Vec::with_capacity(n as usize);
    while seen.distinct < n {
        match tokio::time::timeout(stall, rx.recv()).await {
            Ok(Some((seq, at))) if seqs.contains(&seq) => {
                let i = seq - first;
                let before = seen.distinct;
                seen.mark(i);
                let t0 = sent[i as usize].load(Ordering::Relaxed);
                if seen.distinct > before && t0 > 0 {
                    let at = at.duration_since(base).as_nanos() as u64 + 1;
                    lat.push(Duration::from_nanos(at.saturating_sub(t0)));
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    lat.sort();
    let pick = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Latency {
        p50: pick(0.5),
        p99: pick(0.99),
        delivered: seen.distinct,
        sent: n,
    }
}

/// The median of `v` (0 if empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
