//! The real `aimdbd` binary as an MQTT bridge, beside raw pub→sub and a minimal forwarder on the
//! same broker, in the same run, at QoS 0 and QoS 1; then p50/p99 latency at a fixed rate below
//! saturation.
//!
//! Setup: one Mosquitto of its own on a free loopback port; one `aimdbd` process started with a
//! TOML config (written to a temp dir, see [`daemon_config`]) holding both aimdbd paths at both
//! QoS, and one minimal forwarder process (this benchmark's own executable, re-run as
//! [`FORWARDER_ENV`]; rumqttc, subscribe and republish, nothing else). Both stay up for the whole
//! run. The publishers and subscribers run in this process. Paths, each at QoS 0 and QoS 1:
//!
//! - **raw**: publisher → broker → subscriber;
//! - **forwarder**: publisher → broker → minimal forwarder → broker → subscriber;
//! - **passthrough**: publisher → broker → aimdbd (`link_from` postcard → `spmc_ring` record →
//!   `link_to` postcard) → broker → subscriber;
//! - **transform**: publisher → broker → aimdbd (`link_from` postcard → record →
//!   `moving_average` (window 8) → record → `link_to` JSON) → broker → subscriber.
//!
//! Every message is a postcard `Temperature` whose `timestamp_ms` is its sequence number; the
//! subscriber counts every sequence number, so loss and duplicates are exact per path. A round
//! publishes `n` messages as fast as the publishing client takes them; its figure is distinct
//! messages delivered per second from the first publish to the last delivery. Rounds of the four
//! paths alternate (order rotated per round); figures are medians of the rounds, ratios medians
//! of the per-round ratios.
//!
//! Run: `cargo bench -p aimdb-bench --bench daemon_bridge` (needs `mosquitto`:
//! ./scripts/setup.sh). It builds the `aimdbd` binary of its own profile first (`cargo build
//! [--release] --bin aimdbd`, a no-op when up to date), or runs `$AIMDBD_BIN` if set. Under
//! `cargo test --benches` it runs one tiny round of each and fails if a QoS 1 message is lost;
//! full mode fails on that too, after printing everything. No timing is ever asserted.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use aimdb_bench::mqtt::{
    self, blast, latency, median, publisher, subscriber, Arrivals, Broker, Latency, Round,
};
use aimdb_bench::{fmt_rate, quick_mode};
use aimdb_records::Codec;
use rumqttc::{AsyncClient, QoS};

/// Set (to the broker's port) when this executable runs as the minimal forwarder process.
const FORWARDER_ENV: &str = "AIMDB_BENCH_FORWARDER_PORT";

/// How long a round waits for the next delivery before the rest counts as lost.
const STALL: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Raw,
    Forwarder,
    Passthrough,
    Transform,
}

const KINDS: [Kind; 4] = [
    Kind::Raw,
    Kind::Forwarder,
    Kind::Passthrough,
    Kind::Transform,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw pub->sub",
            Kind::Forwarder => "minimal forwarder",
            Kind::Passthrough => "aimdbd passthrough",
            Kind::Transform => "aimdbd transform",
        }
    }

    /// Input and output topics at QoS `q`.
    fn topics(self, q: u8) -> (String, String) {
        match self {
            Kind::Raw => (format!("bench/raw/{q}"), format!("bench/raw/{q}")),
            Kind::Forwarder => (format!("bench/fwd/{q}/in"), format!("bench/fwd/{q}/out")),
            Kind::Passthrough => (format!("bench/pass/{q}/in"), format!("bench/pass/{q}/out")),
            Kind::Transform => (format!("bench/avg/{q}/in"), format!("bench/avg/{q}/out")),
        }
    }

    /// The codec of what the subscriber gets.
    fn out_codec(self) -> Codec {
        match self {
            Kind::Transform => Codec::Json,
            _ => Codec::Postcard,
        }
    }
}

/// The daemon's config: both aimdbd paths at QoS 0 and QoS 1. Rings of 65 536 and outboxes of
/// 10⁶ so that a QoS 0 burst of a whole round fits (QoS 0 links drop at their bounds; QoS 1
/// links block, the default for a QoS 1 link fed by a QoS 1 `link_from`). Everything else is the
/// default, e.g. a persistent session (a QoS 1 `link_from`), manual acks after acceptance.
fn daemon_config(mqtt_port: u16, admin_port: u16) -> String {
    let mut c = format!(
        r#"[node]
id = "bench"
shutdown_timeout = "10s"

[admin]
listen = "127.0.0.1:{admin_port}"

[mqtt]
url = "mqtt://127.0.0.1:{mqtt_port}"
client_id = "aimdbd-bench-{pid}"
outbox_capacity = 1000000
outbox_max_bytes = 1073741824
"#,
        pid = std::process::id()
    );
    for q in [0u8, 1] {
        let (pin, pout) = Kind::Passthrough.topics(q);
        let (ain, aout) = Kind::Transform.topics(q);
        c.push_str(&format!(
            r#"
[[record]]
key = "pass.q{q}"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 65536 }}
link_from = [{{ url = "mqtt://{pin}", codec = "postcard", qos = {q} }}]
link_to = [{{ url = "mqtt://{pout}", codec = "postcard", qos = {q} }}]

[[record]]
key = "avg.in.q{q}"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 65536 }}
link_from = [{{ url = "mqtt://{ain}", codec = "postcard", qos = {q} }}]

[[record]]
key = "avg.out.q{q}"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 65536 }}
transform = {{ kind = "moving_average", input = "avg.in.q{q}", window = 8 }}
link_to = [{{ url = "mqtt://{aout}", codec = "json", qos = {q} }}]
"#
        ));
    }
    c
}

/// The `aimdbd` executable to run: `$AIMDBD_BIN`, else the one of this benchmark's target dir
/// and profile, built first so that it is never stale.
fn aimdbd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("AIMDBD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // <target>/<profile>/deps/daemon_bridge-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected benchmark path {}", exe.display()));
    let bin = profile_dir.join("aimdbd");
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let build = match profile.as_str() {
        "debug" => "cargo build --bin aimdbd".to_string(),
        "release" => "cargo build --release --bin aimdbd".to_string(),
        p => format!("cargo build --profile {p} --bin aimdbd"),
    };
    // Cargo sets $CARGO for what it runs; without it (the executable run by hand) the binary
    // must already be there.
    if let (Some(cargo), Some(target_dir)) = (std::env::var_os("CARGO"), profile_dir.parent()) {
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "aimdbd", "--bin", "aimdbd"])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            p => {
                cmd.args(["--profile", p]);
            }
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("`{build}` failed ({s})"),
            Err(e) => panic!("cannot run `{build}`: {e}"),
        }
    }
    if !bin.exists() {
        panic!(
            "{} is missing: build it with `{build}` (or set AIMDBD_BIN)",
            bin.display()
        );
    }
    bin
}

/// One HTTP/1.0 GET to the admin endpoint; the status code.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// The running daemon, stopped on drop.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    /// Writes the config, starts `bin` on it and waits until `/readyz` answers 200.
    fn start(bin: &Path, mqtt_port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdb-bench-daemon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let admin_port = mqtt::free_port();
        let config = dir.join("aimdbd.toml");
        std::fs::write(&config, daemon_config(mqtt_port, admin_port))
            .unwrap_or_else(|e| panic!("{}: {e}", config.display()));
        let log = std::fs::File::create(dir.join("aimdbd.log"))
            .unwrap_or_else(|e| panic!("aimdbd.log: {e}"));
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("STATE_DIRECTORY")
            .env_remove("CREDENTIALS_DIRECTORY")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut d = Self { child, dir };
        let start = Instant::now();
        while http_status(admin_port, "/readyz") != Some(200) {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("aimdbd exited at start ({status}); its log:\n{}", d.log());
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("aimdbd was not ready within 30 s; its log:\n{}", d.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("aimdbd.log")).unwrap_or_default()
    }

    /// SIGTERM and the exit code (killed after 15 s).
    fn stop(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            if start.elapsed() > Duration::from_secs(15) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The minimal forwarder process, killed on drop.
struct Forwarder(Child);

impl Forwarder {
    /// Re-runs this executable as the forwarder and waits until it has subscribed.
    fn start(mqtt_port: u16) -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
        let mut child = Command::new(exe)
            .env(FORWARDER_ENV, mqtt_port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the forwarder process: {e}"));
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = child.kill();
            panic!("the forwarder process did not start (said {line:?})");
        }
        Self(child)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The forwarder process: one minimal forwarder per QoS, until stdin closes.
fn forwarder_main(port: &str) -> ExitCode {
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("{FORWARDER_ENV}={port:?} is not a port");
        return ExitCode::FAILURE;
    };
    // What a minimal forwarder gets from `#[tokio::main]`: a worker per core.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot build a Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let mut tasks = Vec::new();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let (from, to) = Kind::Forwarder.topics(qos as u8);
            let id = format!("bench-forwarder-{}-{}", qos as u8, std::process::id());
            tasks.push(mqtt::forwarder(port, &id, &from, &to, qos).await);
        }
        println!("ready");
        // aimdb: allow-blocking(one line to the parent process at start, before any traffic)
        let _ = std::io::stdout().flush();
        let _ = tokio::task::spawn_blocking(|| {
            let mut rest = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut rest);
        })
        .await;
        for t in tasks {
            t.abort();
        }
    });
    ExitCode::SUCCESS
}

/// One path at one QoS: its publishing client and its subscriber.
struct Lane {
    kind: Kind,
    qos: QoS,
    input: String,
    publisher: AsyncClient,
    rx: Arrivals,
}

/// Sequence numbers of probes (never counted by a round).
const PROBE: u64 = 1 << 62;

impl Lane {
    async fn new(port: u16, kind: Kind, qos: QoS) -> Self {
        let q = qos as u8;
        let (input, output) = kind.topics(q);
        let tag = format!("{kind:?}-{q}-{}", std::process::id());
        let rx = subscriber(port, &format!("sub-{tag}"), &output, qos, kind.out_codec()).await;
        let publisher = publisher(port, &format!("pub-{tag}"));
        let mut lane = Self {
            kind,
            qos,
            input,
            publisher,
            rx,
        };
        lane.probe().await;
        lane
    }

    /// Publishes probes until one comes out (the path's subscriptions are all active).
    async fn probe(&mut self) {
        let start = Instant::now();
        let mut k = 0;
        loop {
            let _ = self
                .publisher
                .publish(
                    self.input.clone(),
                    QoS::AtLeastOnce,
                    false,
                    mqtt::payload(PROBE + k),
                )
                .await;
            k += 1;
            let deadline = Instant::now() + Duration::from_millis(300);
            while let Ok(Some((seq, _))) =
                tokio::time::timeout_at(deadline.into(), self.rx.recv()).await
            {
                if seq >= PROBE {
                    // Let the other probes in flight arrive before anything is measured.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    while self.rx.try_recv().is_ok() {}
                    return;
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "{} at QoS {}: nothing came through within 30 s",
                    self.kind.name(),
                    self.qos as u8
                );
            }
        }
    }
}

/// Per path: its rounds' figures.
#[derive(Default)]
struct Tally {
    rates: Vec<f64>,
    sent: u64,
    lost: u64,
    duplicates: u64,
}

impl Tally {
    fn add(&mut self, r: &Round) {
        self.rates.push(r.rate());
        self.sent += r.sent;
        self.lost += r.lost();
        self.duplicates += r.duplicates;
    }
}

#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn main() -> ExitCode {
    if let Ok(port) = std::env::var(FORWARDER_ENV) {
        return forwarder_main(&port);
    }
    let quick = quick_mode();
    let n: u64 = if quick { 500 } else { 100_000 };
    let rounds = if quick { 1 } else { aimdb_bench::ROUNDS };
    let (lat_rate, lat_n) = if quick { (1000, 200) } else { (5000, 20_000) };

    let bin = aimdbd_binary();
    let broker = Broker::start("daemon-bridge");
    let port = broker.port;
    let mut daemon = Daemon::start(&bin, port);
    let forwarder = Forwarder::start(port);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a Tokio runtime: {e}"),
    };
    let mut lanes: Vec<Lane> = rt.block_on(async {
        let mut lanes = Vec::new();
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            for kind in KINDS {
                lanes.push(Lane::new(port, kind, qos).await);
            }
        }
        lanes
    });
    println!(
        "MQTT through the aimdbd binary ({}) vs raw pub->sub and a minimal forwarder process, one Mosquitto on port {port}",
        bin.display()
    );
    println!(
        "{n} msgs per round, {rounds} round(s) of each path, interleaved; figures: distinct msgs delivered/s (median), ratios: median of per-round ratios"
    );

    // Throughput: rounds of the four paths alternate, the order rotated per round.
    let mut tallies: Vec<Tally> = (0..lanes.len()).map(|_| Tally::default()).collect();
    let mut per_round: Vec<Vec<f64>> = vec![Vec::new(); lanes.len()];
    let mut block = 0u64;
    for r in 0..rounds {
        for q in 0..2 {
            let mut rates = [0.0f64; 4];
            for j in 0..4 {
                let k = (j + r) % 4;
                let i = q * 4 + k;
                block += 1;
                let first = block << 32;
                let lane = &mut lanes[i];
                let round = rt.block_on(blast(
                    &lane.publisher,
                    &lane.input,
                    lane.qos,
                    first..first + n,
                    &mut lane.rx,
                    STALL,
                ));
                tallies[i].add(&round);
                rates[k] = round.rate();
            }
            for k in 0..4 {
                per_round[q * 4 + k].push(rates[k]);
            }
        }
    }
    let mut qos1_lost = 0u64;
    for q in 0..2 {
        let rate = |k: usize| median(tallies[q * 4 + k].rates.clone());
        let ratio = |a: usize, b: usize| {
            median(
                per_round[q * 4 + a]
                    .iter()
                    .zip(&per_round[q * 4 + b])
                    .map(|(x, y)| x / y.max(1e-9))
                    .collect(),
            )
        };
        println!();
        for k in 0..4 {
            let t = &tallies[q * 4 + k];
            let vs = match k {
                0 => String::new(),
                1 => format!("  | / raw {:>5.2}", ratio(1, 0)),
                _ => format!(
                    "  | / forwarder {:>5.2}  / raw {:>5.2}",
                    ratio(k, 1),
                    ratio(k, 0)
                ),
            };
            println!(
                "QoS {q}: {:<20} {:>12}  lost {:>6} of {:>7}  dup {:>5}{vs}",
                KINDS[k].name(),
                fmt_rate(rate(k)),
                t.lost,
                t.sent,
                t.duplicates
            );
            if q == 1 {
                qos1_lost += t.lost;
            }
        }
    }

    // Latency at a fixed rate below saturation.
    println!();
    let mut block_lat = block;
    for lane in &mut lanes {
        block_lat += 1;
        let first = block_lat << 32;
        let l: Latency = rt.block_on(latency(
            &lane.publisher,
            &lane.input,
            lane.qos,
            first..first + lat_n,
            lat_rate,
            &mut lane.rx,
            STALL,
        ));
        println!(
            "QoS {} latency at {} ({lat_n} msgs): {:<20} p50 {:>9.3} ms  p99 {:>9.3} ms  lost {}",
            lane.qos as u8,
            fmt_rate(lat_rate as f64),
            lane.kind.name(),
            l.p50.as_secs_f64() * 1e3,
            l.p99.as_secs_f64() * 1e3,
            l.sent - l.delivered
        );
        if lane.qos != QoS::AtMostOnce {
            qos1_lost += l.sent - l.delivered;
        }
    }

    drop(lanes);
    drop(rt);
    let code = daemon.stop();
    drop(forwarder);
    if code != Some(0) {
        println!(
            "aimdbd exited with {code:?} at SIGTERM; its log:\n{}",
            daemon.log()
        );
    }
    drop(daemon);
    drop(broker);
    if qos1_lost > 0 {
        println!("FAILED: {qos1_lost} QoS 1 messages lost");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
