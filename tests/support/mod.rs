//! Shared harness for the integration tests that drive the real `aimdbd` binary: temp dirs, free
//! ports, starting the daemon with a config, signals, HTTP against the admin endpoint, and the
//! JSON log. Each test file includes it with `mod support;`; not every file uses every helper.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) mod mosquitto;
mod ports;
pub(crate) mod prometheus;

pub(crate) use ports::free_port;

/// How long any wait in a test may take before it fails. Generous: machines are shared.
pub(crate) const BOUND: Duration = Duration::from_secs(30);

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    /// A fresh, empty directory named for the test.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdbd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` every 50 ms until it holds; fails the test after [`BOUND`].
pub(crate) fn wait_until(what: &str, f: impl FnMut() -> bool) {
    assert!(poll_until(f), "timed out waiting until {what}");
}

/// Polls `f` every 50 ms until it holds (`true`) or [`BOUND`] has passed (`false`).
fn poll_until(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !f() {
        if start.elapsed() >= BOUND {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The `[node]` and `[admin]` head of a test config; append `[mqtt]`, `[store]`, records.
pub(crate) fn config_head(admin_port: u16) -> String {
    format!(
        "[node]\nid = \"test-gw\"\nshutdown_timeout = \"10s\"\n\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n\n"
    )
}

/// A running `aimdbd`, killed on drop. Its config is `<dir>/aimdbd.toml`, its JSON log
/// `<dir>/log.jsonl` (appended, so a restart in the same dir keeps the earlier lines).
pub(crate) struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    /// The admin endpoint's port.
    pub port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Writes `config` to `<dir>/aimdbd.toml`, starts the daemon on it and waits until
    /// `/readyz` answers 200 on `admin_port` (which `config` must name).
    pub(crate) fn start(dir: &Path, admin_port: u16, config: &str) -> Self {
        Self::start_with(dir, admin_port, config, None)
    }

    /// [`Daemon::start`] with `NOTIFY_SOCKET` set to `notify`.
    pub(crate) fn start_with(
        dir: &Path,
        admin_port: u16,
        config: &str,
        notify: Option<&Path>,
    ) -> Self {
        let d = Self::spawn(dir, admin_port, config, notify, &[]);
        d.wait_ready();
        d
    }

    /// Waits until `/readyz` answers 200.
    pub(crate) fn wait_ready(&self) {
        self.wait_for("the admin endpoint is ready", || {
            self.http("GET", "/readyz", "")
                .is_some_and(|(s, _)| s == 200)
        });
    }

    /// Waits until the admin endpoint answers anything (behind a token, `/readyz` answers 401).
    pub(crate) fn wait_answering(&self) {
        self.wait_for("the admin endpoint answers", || {
            self.http("GET", "/healthz", "").is_some()
        });
    }

    /// [`wait_until`] for this daemon: on a timeout the failure shows the end of its log, which
    /// says why it is not there (e.g. it could not bind its port) before the test dir is gone.
    pub(crate) fn wait_for(&self, what: &str, f: impl FnMut() -> bool) {
        if poll_until(f) {
            return;
        }
        let log = std::fs::read_to_string(self.dir.join("log.jsonl")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        panic!(
            "timed out waiting until {what}; the daemon's log ends with:\n{}",
            tail.join("\n")
        );
    }

    /// Starts the daemon without waiting for it; `env` adds environment variables.
    pub(crate) fn spawn(
        dir: &Path,
        admin_port: u16,
        config: &str,
        notify: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Self {
        let program = Path::new(env!("CARGO_BIN_EXE_aimdbd"));
        Self::spawn_cmd(dir, admin_port, config, notify, env, program, |_| {})
    }

    /// [`Daemon::spawn`] of the binary `program` (a copy of `aimdbd`), with `adjust` applied to
    /// the command last (e.g. a `pre_exec` hook).
    pub(crate) fn spawn_cmd(
        dir: &Path,
        admin_port: u16,
        config: &str,
        notify: Option<&Path>,
        env: &[(&str, &str)],
        program: &Path,
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        std::fs::write(dir.join("aimdbd.toml"), config).expect("write config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log.jsonl"))
            .expect("log file");
        let mut cmd = Command::new(program);
        cmd.args(["--log-format", "json", "--log-level", "info", "--config"])
            .arg(dir.join("aimdbd.toml"))
            .env_remove("RUST_LOG")
            .env_remove("JOURNAL_STREAM")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("STATE_DIRECTORY")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        match notify {
            Some(p) => cmd.env("NOTIFY_SOCKET", p),
            None => cmd.env_remove("NOTIFY_SOCKET"),
        };
        for (k, v) in env {
            cmd.env(k, v);
        }
        adjust(&mut cmd);
        let child = cmd.spawn().expect("spawn aimdbd");
        Self {
            child,
            dir: dir.to_path_buf(),
            port: admin_port,
        }
    }

    /// Sends `sig` (e.g. `"-TERM"`) with `kill`.
    pub(crate) fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("`kill` is needed to send signals; install procps (scripts/setup.sh)");
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
                "aimdbd did not exit within {BOUND:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit code.
    pub(crate) fn stop(&mut self) -> Option<i32> {
        self.signal("-TERM");
        self.wait_exit()
    }

    /// One request to the admin endpoint; `None` if nothing answers.
    pub(crate) fn http(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        http(self.port, method, path, body)
    }

    /// `GET path` parsed as JSON, if it answers 200 with JSON.
    pub(crate) fn get_json(&self, path: &str) -> Option<Value> {
        let (status, body) = self.http("GET", path, "")?;
        (status == 200).then_some(())?;
        serde_json::from_str(&body).ok()
    }

    /// The JSON log lines (`--log-format json`), without the journald priority prefix (`<6>`)
    /// they carry when `JOURNAL_STREAM` is set.
    pub(crate) fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| match l.as_bytes() {
                [b'<', p, b'>', ..] if p.is_ascii_digit() => &l[3..],
                _ => l,
            })
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Whether any log message contains `msg`.
    pub(crate) fn logged(&self, msg: &str) -> bool {
        self.log_lines().iter().any(|l| message(l).contains(msg))
    }
}

/// One HTTP/1.0 request to `127.0.0.1:port`, as a legitimate local client sends it (`Host` the
/// endpoint's address, JSON bodies); `None` if nothing answers.
pub(crate) fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let json = if method == "GET" {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    http_raw(
        port,
        &format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{json}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .map(|(status, _, body)| (status, body))
}

/// Sends `request` (the whole HTTP/1.0 request, as written) to `127.0.0.1:port`; the status,
/// the response head and the body. `None` if nothing answers.
pub(crate) fn http_raw(port: u16, request: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}

/// The message of one JSON log line.
pub(crate) fn message(v: &Value) -> &str {
    v["fields"]["message"].as_str().unwrap_or("")
}

/// Field `name` of the last log line with message `msg` about `record`.
pub(crate) fn field(lines: &[Value], msg: &str, record: &str, name: &str) -> Option<u64> {
    lines
        .iter()
        .rev()
        .find(|l| message(l) == msg && l["fields"]["record"] == record)
        .and_then(|l| l["fields"][name].as_u64())
}

impl Daemon {
    /// The value of one sample of `/metrics`, e.g. `aimdbd_store_up` or
    /// `aimdbd_store_values_lost_total{reason="lagged"}`; `None` if absent or no answer.
    pub(crate) fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.http("GET", "/metrics", "")?;
        prometheus::sample(&text, series)
    }
}

/// Runs `aimdbd ARGS` to completion (no daemon); its output.
pub(crate) fn aimdbd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("STATE_DIRECTORY")
        .output()
        .expect("run aimdbd")
}

/// A stand-in for systemd's notify socket: a Unix datagram socket in a test dir that `aimdbd`
/// (given its path as `NOTIFY_SOCKET`) sends `READY=1`, `WATCHDOG=1`, ... to.
pub(crate) struct NotifySocket {
    sock: std::os::unix::net::UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds `<dir>/notify.sock`; reads wait at most [`BOUND`].
    pub(crate) fn bind(dir: &TestDir) -> Self {
        let path = dir.join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).expect("bind notify socket");
        sock.set_read_timeout(Some(BOUND)).expect("timeout");
        Self { sock, path }
    }

    /// The socket's path, for `NOTIFY_SOCKET`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The next datagram (fails the test after [`BOUND`]).
    pub(crate) fn recv(&self) -> String {
        let mut buf = [0u8; 512];
        let n = self
            .sock
            .recv(&mut buf)
            .expect("a notify datagram from aimdbd");
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// Datagrams until one contains `want`; all of them, in order.
    pub(crate) fn recv_until(&self, want: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let msg = self.recv();
            let done = msg.contains(want);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }

    /// Drops every datagram already queued.
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 512];
        self.sock.set_nonblocking(true).expect("nonblocking");
        while self.sock.recv(&mut buf).is_ok() {}
        self.sock.set_nonblocking(false).expect("blocking");
    }

    /// Datagrams that arrive within `window`.
    pub(crate) fn collect_for(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            self.sock.set_read_timeout(Some(left)).expect("timeout");
            if let Ok(n) = self.sock.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
            }
        }
        self.sock.set_read_timeout(Some(BOUND)).expect("timeout");
        seen
    }
}
