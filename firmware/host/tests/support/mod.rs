//! Test harness for the node on the host: a real Mosquitto on a free loopback port, the real
//! `aimdb-node-host` binary, and the Mosquitto command-line clients to watch and command it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any wait may take before the test fails. Generous: machines are shared.
pub const BOUND: Duration = Duration::from_secs(30);

/// Polls `f` every 50 ms until it holds; fails the test after [`BOUND`].
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < BOUND, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdb-node-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
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

/// A Mosquitto broker on a free loopback port, killed on drop.
pub struct Broker {
    child: Child,
    pub port: u16,
}

impl Broker {
    pub fn start(dir: &Path) -> Self {
        Self::start_on(dir, free_port())
    }

    /// A broker on `port` (e.g. the port of a broker stopped before).
    pub fn start_on(dir: &Path, port: u16) -> Self {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"),
        )
        .expect("write mosquitto.conf");
        let log = std::fs::File::create(dir.join("mosquitto.log")).expect("mosquitto log");
        let child = Command::new(tool("mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn mosquitto");
        let broker = Self { child, port };
        wait_until("mosquitto listens", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        broker
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Publishes `payload` on `topic` with QoS 1 (`mosquitto_pub`).
    pub fn publish(&self, topic: &str, payload: &[u8]) {
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

    /// Starts watching `filter` (`mosquitto_sub`); returns once subscribed.
    pub fn subscribe(&self, filter: &str) -> Subscriber {
        Subscriber::start(self.port, filter)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: String,
    pub retained: bool,
    pub payload: Vec<u8>,
}

/// A `mosquitto_sub` collecting every message on a filter, killed on drop.
pub struct Subscriber {
    child: Child,
    messages: Arc<Mutex<Vec<Message>>>,
}

impl Subscriber {
    fn start(port: u16, filter: &str) -> Self {
        let mut child = Command::new(tool("mosquitto_sub"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-q",
                "1",
                "-t",
                filter,
            ])
            .args(["-F", "%t %r %x"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.splitn(3, ' ');
                let (Some(topic), Some(retained), hex) = (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let hex = hex.unwrap_or("");
                let payload = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                sink.lock().unwrap().push(Message {
                    topic: topic.to_string(),
                    retained: retained == "1",
                    payload,
                });
            }
        });
        // mosquitto_sub prints nothing when subscribed; give it a moment (a later check that
        // expects a live message waits for it anyway).
        std::thread::sleep(Duration::from_millis(300));
        Self { child, messages }
    }

    /// Every message so far.
    pub fn messages(&self) -> Vec<Message> {
        self.messages.lock().unwrap().clone()
    }

    /// Messages on `topic` so far.
    pub fn on(&self, topic: &str) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|m| m.topic == topic)
            .collect()
    }

    /// Waits until a message on `topic` satisfies `f`; returns it.
    pub fn wait_for(&self, topic: &str, what: &str, f: impl Fn(&Message) -> bool) -> Message {
        let mut found = None;
        wait_until(what, || {
            found = self.on(topic).into_iter().find(|m| f(m));
            found.is_some()
        });
        found.expect("found")
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `aimdb-node-host`, killed on drop; its stderr goes to `<dir>/node.log`.
pub struct NodeProcess {
    pub child: Child,
    log: PathBuf,
}

impl NodeProcess {
    pub fn start(dir: &Path, broker: &Broker, node: &str, extra: &[&str]) -> Self {
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (e.g. `"-TERM"`) with `kill`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("`kill` (procps) is needed to send signals");
        assert!(status.success(), "kill {sig}");
    }

    /// Waits (at most [`BOUND`]) for the process to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
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
