//! A real Mosquitto broker for one test, on a free loopback port, and a small MQTT test client.
//! Shared by the root tests and the firmware host tests (`firmware/host/tests/support`), which
//! include this file by path; the including module provides `free_port`, `wait_until` and
//! `BOUND`.
//!
//! [`Mosquitto`] writes `<dir>/mosquitto.conf`, runs `mosquitto -c` with `log_dest stderr`
//! (into `<dir>/mosquitto.log`), can be stopped, killed and restarted on the same port, and is
//! killed on drop. [`TestClient`] (rumqttc, blocking) subscribes, records every message it gets
//! and publishes.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::{free_port, BOUND};

/// Where the broker binary is looked for.
fn mosquitto_binary() -> PathBuf {
    for p in [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    let found = Command::new("sh")
        .args(["-c", "command -v mosquitto"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    found.unwrap_or_else(|| {
        panic!("the `mosquitto` broker is not installed; run ./scripts/setup.sh (it installs mosquitto and mosquitto-clients)")
    })
}

/// The user the tests run as: Mosquitto started as root would otherwise switch to user
/// `mosquitto` and could not read the test's files (keys, password file) or write its state.
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

/// One broker process (and its config), killed on drop.
pub(crate) struct Mosquitto {
    child: Option<Child>,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    dir: PathBuf,
    /// Lines added to the listener (TLS files, password file...).
    extra: String,
    /// Whether sessions and queued messages survive a [`Mosquitto::stop`] (saved on exit).
    persistent: bool,
}

impl Mosquitto {
    /// A plain, anonymous broker whose files live in `dir`.
    pub(crate) fn start(dir: &Path) -> Self {
        Self::start_with(dir, "allow_anonymous true\n")
    }

    /// A plain, anonymous broker on `port` (e.g. the port of a broker dropped before).
    pub(crate) fn start_on(dir: &Path, port: u16) -> Self {
        let mut m = Self {
            child: None,
            port,
            dir: dir.to_path_buf(),
            extra: "allow_anonymous true\n".into(),
            persistent: false,
        };
        m.launch();
        m
    }

    /// A broker whose listener gets `extra` config lines (e.g. `cafile ...`, `password_file ...`).
    pub(crate) fn start_with(dir: &Path, extra: &str) -> Self {
        let mut m = Self {
            child: None,
            port: free_port(),
            dir: dir.to_path_buf(),
            extra: extra.to_string(),
            persistent: false,
        };
        m.launch();
        m
    }

    /// An anonymous broker that saves its sessions, subscriptions and queued messages in `dir`
    /// when stopped with [`Mosquitto::stop`], and restores them on [`Mosquitto::start_again`]:
    /// a persistent test client then misses nothing published while it was away.
    pub(crate) fn start_persistent(dir: &Path) -> Self {
        let mut m = Self {
            child: None,
            port: free_port(),
            dir: dir.to_path_buf(),
            extra: "allow_anonymous true\n".into(),
            persistent: true,
        };
        m.launch();
        m
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let conf = self.dir.join("mosquitto.conf");
        let persistence = if self.persistent {
            format!(
                "persistence true\npersistence_location {}/\nautosave_interval 0\n",
                self.dir.display()
            )
        } else {
            "persistence false\n".to_string()
        };
        std::fs::write(
            &conf,
            format!(
                "user {}\nper_listener_settings true\nlistener {} 127.0.0.1\n{}\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n{persistence}max_queued_messages 1000000\nmax_inflight_messages 100\n",
                current_user(),
                self.port,
                self.extra
            ),
        )
        .expect("write mosquitto.conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("mosquitto.log"))
            .expect("mosquitto log");
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start mosquitto (run ./scripts/setup.sh)");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "mosquitto exited with {status} at start; its log:\n{}",
                        self.log()
                    );
                }
            }
            assert!(
                start.elapsed() < BOUND,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The broker's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    /// How many times the broker logged a connect of `client_id`.
    pub(crate) fn connections_of(&self, client_id: &str) -> usize {
        let as_id = format!(" as {client_id} ");
        self.log()
            .lines()
            .filter(|l| l.contains("New client connected") && l.contains(&as_id))
            .count()
    }

    /// Kills the broker at once (SIGKILL), like a crash.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the broker cleanly (SIGTERM; a persistent broker saves its state) and waits.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let start = Instant::now();
            while !matches!(c.try_wait(), Ok(Some(_))) {
                if start.elapsed() > BOUND {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts it again on the same port.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Starts it again after `kill` (same port).
    pub(crate) fn start_again(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.launch();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One received message.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

/// A blocking MQTT client on its own thread that records what its subscriptions receive and
/// re-subscribes after every reconnect.
pub(crate) struct TestClient {
    pub client: Client,
    pub got: Arc<Mutex<Vec<Received>>>,
    connected: Arc<Mutex<bool>>,
}

impl TestClient {
    /// Connects to `127.0.0.1:port` as `id`, subscribed to `filters` (QoS 1).
    pub(crate) fn connect(port: u16, id: &str, filters: &[&str]) -> Self {
        Self::connect_with(port, id, filters, |_| {})
    }

    /// [`TestClient::connect`] with a persistent session: with a persistent broker, messages
    /// published while the client (or the broker) was away are delivered when it is back.
    pub(crate) fn connect_persistent(port: u16, id: &str, filters: &[&str]) -> Self {
        Self::connect_with(port, id, filters, |o| {
            o.set_clean_session(false);
        })
    }

    /// [`TestClient::connect`] with a hook to adjust the options (credentials, TLS).
    pub(crate) fn connect_with(
        port: u16,
        id: &str,
        filters: &[&str],
        adjust: impl FnOnce(&mut MqttOptions),
    ) -> Self {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(4 << 20, 4 << 20)
            .set_inflight(200);
        adjust(&mut o);
        let (client, mut connection) = Client::new(o, 10_000);
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connected = Arc::new(Mutex::new(false));
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let (g, c, sub) = (got.clone(), connected.clone(), client.clone());
        std::thread::spawn(move || {
            for ev in connection.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for f in &filters {
                            let _ = sub.try_subscribe(f.as_str(), QoS::AtLeastOnce);
                        }
                        if filters.is_empty() {
                            *c.lock() = true;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => *c.lock() = true,
                    Ok(Event::Incoming(Packet::Publish(p))) => g.lock().push(Received {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        qos: p.qos,
                        retain: p.retain,
                    }),
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(_) => {
                        *c.lock() = false;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        });
        let t = Self {
            client,
            got,
            connected,
        };
        super::wait_until("the test client is connected and subscribed", || {
            t.is_connected()
        });
        t
    }

    /// Whether connected (and subscribed).
    pub(crate) fn is_connected(&self) -> bool {
        *self.connected.lock()
    }

    /// Publishes one message (waits for room in the client's queue, not for the broker).
    pub(crate) fn publish(&self, topic: &str, qos: QoS, retain: bool, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, qos, retain, payload)
            .expect("test client publish");
    }

    /// Messages received on `topic` so far.
    pub(crate) fn on(&self, topic: &str) -> Vec<Received> {
        self.got
            .lock()
            .iter()
            .filter(|r| r.topic == topic)
            .cloned()
            .collect()
    }

    /// The payloads received on `topic` so far, as text.
    pub(crate) fn texts(&self, topic: &str) -> Vec<String> {
        self.on(topic)
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect()
    }

    /// Waits until `n` messages arrived on `topic`; returns them.
    pub(crate) fn wait_for(&self, topic: &str, n: usize) -> Vec<Received> {
        super::wait_until(&format!("{n} messages on {topic}"), || {
            self.on(topic).len() >= n
        });
        self.on(topic)
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

/// Runs `mosquitto_sub` once: the first message on `topic` (e.g. a retained one) with `-v`
/// formatting, or `None` if none arrives within `secs`.
pub(crate) fn mosquitto_sub_one(port: u16, topic: &str, secs: u32) -> Option<String> {
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-q",
            "1",
            "-C",
            "1",
            "-W",
        ])
        .arg(secs.to_string())
        .args(["-F", "%r %q %t %p"])
        .output()
        .unwrap_or_else(|e| {
            panic!("mosquitto_sub is needed ({e}); run ./scripts/setup.sh (mosquitto-clients)")
        });
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}
