//! Test harness for the node on the host: a real Mosquitto on a free loopback port (the root
//! tests' harness, `tests/support/mosquitto.rs`), the real `aimdb-node-host` binary, an MQTT
//! client that watches it (returning once subscribed) and `mosquitto_pub` to command it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any wait may take before the test fails. Generous: machines are shared.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

/// Polls `f` every 50 ms until it holds; fails the test after [`BOUND`].
pub(crate) fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < BOUND, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The root tests' free ports (below the ephemeral range), shared.
#[path = "../../../../tests/support/ports.rs"]
mod ports;
pub(crate) use ports::free_port;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdb-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is not installed; run ./scripts/setup.sh (installs mosquitto and mosquitto-clients)");
}

/// The root tests' broker harness, shared.
#[path = "../../../../tests/support/mosquitto.rs"]
mod mosquitto;

/// A Mosquitto broker on a free loopback port, killed on drop (the root tests' [`mosquitto::Mosquitto`]).
pub(crate) struct Broker {
    inner: mosquitto::Mosquitto,
    pub port: u16,
}

impl Broker {
    pub(crate) fn start(dir: &Path) -> Self {
        Self::start_on(dir, free_port())
    }

    /// A broker on `port` (e.g. the port of a broker stopped before).
    pub(crate) fn start_on(dir: &Path, port: u16) -> Self {
        let inner = mosquitto::Mosquitto::start_on(dir, port);
        Self {
            port: inner.port,
            inner,
        }
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log so far.
    pub(crate) fn log(&self) -> String {
        self.inner.log()
    }

    /// Publishes `payload` on `topic` with QoS 1 (`mosquitto_pub`, which returns once the
    /// broker has it).
    pub(crate) fn publish(&self, topic: &str, payload: &[u8]) {
        let mut child = Command::new(tool("mosquitto_pub"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                "-s",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto_pub");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(payload)
            .expect("write payload");
        assert!(
            child.wait().expect("mosquitto_pub").success(),
            "mosquitto_pub failed"
        );
    }

    /// Starts watching `filter`; returns once the broker acknowledged the subscription (SUBACK).
    pub(crate) fn subscribe(&self, filter: &str) -> Subscriber {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "watch-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Subscriber(mosquitto::TestClient::connect(self.port, &id, &[filter]))
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub topic: String,
    pub retained: bool,
    pub payload: Vec<u8>,
}

/// A subscriber collecting every message on a filter, disconnected on drop.
pub(crate) struct Subscriber(mosquitto::TestClient);

impl Subscriber {
    /// Messages on `topic` so far.
    pub(crate) fn on(&self, topic: &str) -> Vec<Message> {
        self.0
            .on(topic)
            .into_iter()
            .map(|r| Message {
                topic: r.topic,
                retained: r.retain,
                payload: r.payload,
            })
            .collect()
    }

    /// Waits until a message on `topic` satisfies `f`; returns it.
    pub(crate) fn wait_for(
        &self,
        topic: &str,
        what: &str,
        f: impl Fn(&Message) -> bool,
    ) -> Message {
        let mut found = None;
        wait_until(what, || {
            found = self.on(topic).into_iter().find(|m| f(m));
            found.is_some()
        });
        found.expect("found")
    }
}

/// A running `aimdb-node-host`, killed on drop; its stderr goes to `<dir>/node.log`.
pub(crate) struct NodeProcess {
    pub child: Child,
    log: PathBuf,
}

impl NodeProcess {
    pub(crate) fn start(dir: &Path, broker: &Broker, node: &str, extra: &[&str]) -> Self {
        let log = dir.join(format!("{node}.log"));
        let file = std::fs::File::create(&log).expect("node log");
        let child = Command::new(env!("CARGO_BIN_EXE_aimdb-node-host"))
            .args(["--broker", &broker.addr(), "--node", node])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn aimdb-node-host");
        Self { child, log }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (e.g. `"-TERM"`) with `kill`.
    pub(crate) fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("`kill` (procps) is needed to send signals");
        assert!(status.success(), "kill {sig}");
    }

    /// Waits (at most [`BOUND`]) for the process to exit; its exit code.
    pub(crate) fn wait_exit(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                start.elapsed() < BOUND,
                "node did not exit within {BOUND:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
