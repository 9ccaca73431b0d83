//! `GET /api/records/KEY/stream` (server-sent events) and `aimdbd ctl watch` on top of it, with
//! the real `aimdbd`: every value of a ring record reaches two clients in order; a client that
//! does not read while the record runs far past its ring is told how many values it missed, and
//! what it saw plus what it missed is exactly what was produced; `ctl watch` prints every value
//! as it is produced (a poll of the newest value would skip the ones in between); the stream
//! obeys the admin token like every other route.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::{config_head, wait_until, Daemon, TestDir};

fn config(admin: u16, capacity: usize) -> String {
    format!(
        r#"{head}
[[record]]
key = "feed"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = {capacity} }}
"#,
        head = config_head(admin)
    )
}

/// One parsed event.
#[derive(Debug, Clone)]
struct Ev {
    event: String,
    data: Value,
}

/// An SSE client over a plain socket (HTTP/1.0: the body is the raw stream).
struct Client {
    reader: BufReader<TcpStream>,
    /// Past it, `next` gives up: the keep-alive comments every 15 s would otherwise keep a
    /// read waiting forever for an event that never comes.
    deadline: std::time::Instant,
}

impl Client {
    fn open(port: u16, path: &str, token: Option<&str>) -> (u16, Self) {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n{auth}\r\n"
        )
        .expect("request");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut reader = BufReader::new(s);
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        let code = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .expect("status code");
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("head") == 0 || line.trim().is_empty() {
                break;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        (code, Self { reader, deadline })
    }

    fn next(&mut self) -> Option<Ev> {
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            if std::time::Instant::now() > self.deadline {
                return None;
            }
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line.is_empty() {
                if !event.is_empty() || !data.is_empty() {
                    return Some(Ev {
                        event,
                        data: serde_json::from_str(&data).unwrap_or(Value::Null),
                    });
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
    }

    /// The `n` next `value` events' `n` fields (other events must not come).
    fn values(&mut self, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let ev = self.next().expect("an event");
                assert_eq!(ev.event, "value", "{ev:?}");
                ev.data["n"].as_u64().expect("n")
            })
            .collect()
    }
}

fn produce(d: &Daemon, n: u64, pad: &str) {
    let (status, body) = d
        .http(
            "POST",
            "/api/records/feed",
            &format!(r#"{{"n":{n},"pad":"{pad}"}}"#),
        )
        .expect("POST");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn two_clients_get_every_value_in_order() {
    let dir = TestDir::new("stream-two");
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, 64));
    let (code, mut a) = Client::open(admin, "/api/records/feed/stream", None);
    assert_eq!(code, 200);
    let (_, mut b) = Client::open(admin, "/api/records/feed/stream", None);
    wait_until("both streams are open", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, m)| m.contains("aimdbd_admin_streams 2"))
    });
    for n in 1..=300 {
        produce(&d, n, "");
    }
    let want: Vec<u64> = (1..=300).collect();
    assert_eq!(a.values(300), want);
    assert_eq!(b.values(300), want);

    // A late client starts with the newest value, then streams on.
    let (_, mut c) = Client::open(admin, "/api/records/feed/stream", None);
    let first = c.next().expect("latest");
    assert_eq!(
        (first.event.as_str(), first.data["n"].as_u64()),
        ("latest", Some(300))
    );
    produce(&d, 301, "");
    assert_eq!(c.values(1), [301]);

    // An unknown record: 404 with a hint, not a stream.
    let (code, _) = Client::open(admin, "/api/records/fed/stream", None);
    assert_eq!(code, 404);
}

#[test]
fn a_slow_client_is_told_what_it_missed_and_nothing_else_is_lost() {
    let dir = TestDir::new("stream-slow");
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, 16));
    let (_, mut slow) = Client::open(admin, "/api/records/feed/stream", None);
    let (_, mut fast) = Client::open(admin, "/api/records/feed/stream", None);
    wait_until("both streams are open", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, m)| m.contains("aimdbd_admin_streams 2"))
    });
    // The fast client reads on its own thread, each value before the next is produced; the
    // slow one reads nothing meanwhile. 64 KiB per value: far more than the socket buffers
    // hold, so the slow client's reader falls behind in the ring (16 values) while the writer
    // and the fast client go on.
    let total = 400u64;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..total {
            if tx.send(fast.values(1)[0]).is_err() {
                break;
            }
        }
    });
    let pad = "x".repeat(64 * 1024);
    for n in 1..=total {
        produce(&d, n, &pad);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(20)),
            Ok(n),
            "the fast client gets every value"
        );
    }

    let (mut seen, mut missed) = (Vec::new(), 0u64);
    while (seen.len() as u64) + missed < total {
        let ev = slow.next().unwrap_or_else(|| {
            panic!(
                "the slow client accounted for {} values ({} seen, {missed} missed) of {total}",
                seen.len() as u64 + missed,
                seen.len()
            )
        });
        match ev.event.as_str() {
            "value" => seen.push(ev.data["n"].as_u64().expect("n")),
            "lag" => missed += ev.data["missed"].as_u64().expect("missed"),
            other => panic!("unexpected {other}: {ev:?}"),
        }
    }
    assert!(
        missed > 0,
        "the slow client fell behind: saw {}",
        seen.len()
    );
    assert_eq!(
        seen.len() as u64 + missed,
        total,
        "every value seen or counted"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(seen.last(), Some(&total), "it catches up");
}

#[test]
fn ctl_watch_prints_every_value_as_it_is_produced() {
    let dir = TestDir::new("stream-watch");
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config(admin, 64));
    produce(&d, 0, "");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args([
            "ctl",
            "--admin",
            &format!("127.0.0.1:{admin}"),
            "watch",
            "feed",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ctl watch");
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = |rx: &mpsc::Receiver<String>| -> u64 {
        let l = rx.recv_timeout(Duration::from_secs(10)).expect("a line");
        let v: Value = serde_json::from_str(&l).expect("JSON line");
        v["n"].as_u64().expect("n")
    };
    assert_eq!(line(&rx), 0, "the newest value first");
    // Five values within half a second: a poll of the newest value each second would print
    // one or two of them.
    for n in 1..=5 {
        produce(&d, n, "");
        std::thread::sleep(Duration::from_millis(100));
    }
    let got: Vec<u64> = (0..5).map(|_| line(&rx)).collect();
    assert_eq!(got, [1, 2, 3, 4, 5]);
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn the_stream_obeys_the_admin_access_rules() {
    let dir = TestDir::new("stream-token");
    let admin = support::free_port();
    std::fs::write(dir.join("token"), "s3cret-token-0123456789abcdef\n").expect("token");
    // Beyond loopback every request needs the token.
    let cfg = config(admin, 64).replace(
        &format!("[admin]\nlisten = \"127.0.0.1:{admin}\"\n"),
        &format!(
            "[admin]\nlisten = \"0.0.0.0:{admin}\"\ntoken_file = \"{}\"\n",
            dir.join("token").display()
        ),
    );
    assert!(cfg.contains("token_file"), "{cfg}");
    let d = Daemon::spawn(dir.path(), admin, &cfg, None, &[]);
    d.wait_answering();
    let path = "/api/records/feed/stream";
    assert_eq!(Client::open(admin, path, None).0, 401);
    assert_eq!(
        Client::open(admin, path, Some("wrong-token-0123456789abcdefgh")).0,
        401
    );
    let (code, mut ok) = Client::open(admin, path, Some("s3cret-token-0123456789abcdef"));
    assert_eq!(code, 200);
    drop(ok.reader.get_mut().shutdown(std::net::Shutdown::Both));

    // A page on another origin cannot read it, token or not (the browser sends `Origin`).
    let mut s = TcpStream::connect(("127.0.0.1", admin)).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{admin}\r\nOrigin: http://evil.example\r\nAuthorization: Bearer s3cret-token-0123456789abcdef\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.0 403") || answer.starts_with("HTTP/1.1 403"),
        "{answer}"
    );
}

#[test]
fn ctl_top_once_shows_every_record_with_its_rate() {
    let dir = TestDir::new("stream-top");
    let admin = support::free_port();
    let cfg = format!(
        r#"{}
[[record]]
key = "sim.temp"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
source = {{ kind = "simulate", period_ms = 20, min = 18.0, max = 30.0, seed = 1 }}
"#,
        config(admin, 64)
    );
    let _d = Daemon::start(dir.path(), admin, &cfg);
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args([
            "ctl",
            "--admin",
            &format!("127.0.0.1:{admin}"),
            "top",
            "--once",
            "--interval",
            "1",
        ])
        .output()
        .expect("ctl top");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.starts_with("2 records | ready")),
        "{text}"
    );
    let row = |key: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no row {key}:\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let sim = row("sim.temp");
    let rate: f64 = sim[3].parse().expect("VALUES/s");
    assert!(rate > 10.0, "a 50/s source: {text}");
    let feed = row("feed");
    assert_eq!(feed[3], "0.0", "{text}");
}

#[test]
fn ctl_top_draws_in_a_terminal_and_quits_on_q() {
    // `script` (util-linux) gives `ctl top` a pseudo-terminal, as an SSH session does.
    assert!(
        Command::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux) is missing: run ./scripts/setup.sh"
    );
    let dir = TestDir::new("stream-top-tty");
    let admin = support::free_port();
    let _d = Daemon::start(dir.path(), admin, &config(admin, 64));
    let cmd = format!(
        "stty cols 160 rows 20; {} ctl --admin 127.0.0.1:{admin} top --interval 0.2",
        env!("CARGO_BIN_EXE_aimdbd")
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
        }
    });
    let mut screen = String::new();
    while !screen.contains("feed") {
        screen = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no frame with the record:\n{screen}"));
    }
    assert!(
        screen.contains("RECORD") && screen.contains("VALUES/s"),
        "{screen}"
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"q")
        .expect("q");
    let status = child.wait().expect("wait");
    assert!(status.success(), "q quits cleanly: {status}");
}

#[test]
fn one_stream_carries_every_record_until_a_reload_ends_it() {
    let dir = TestDir::new("stream-all");
    let admin = support::free_port();
    let cfg = format!(
        "{}\n[[record]]\nkey = \"other\"\ntype = \"json\"\nbuffer = {{ kind = \"spmc_ring\", capacity = 64 }}\n",
        config(admin, 64)
    );
    let d = Daemon::start(dir.path(), admin, &cfg);
    produce(&d, 0, "");
    let (code, mut all) = Client::open(admin, "/api/stream", None);
    assert_eq!(code, 200);
    // The newest value of each record that has one, then every value of every record.
    let first = all.next().expect("latest");
    assert_eq!(first.event, "latest", "{first:?}");
    assert_eq!(
        (
            first.data["key"].as_str(),
            first.data["value"]["n"].as_u64()
        ),
        (Some("feed"), Some(0))
    );
    for n in 1..=20u64 {
        let key = if n % 2 == 0 { "feed" } else { "other" };
        let (status, body) = d
            .http(
                "POST",
                &format!("/api/records/{key}"),
                &format!(r#"{{"n":{n}}}"#),
            )
            .expect("POST");
        assert_eq!(status, 200, "{body}");
    }
    let mut got: Vec<(String, u64)> = (0..20)
        .map(|_| {
            let ev = all.next().expect("an event");
            assert_eq!(ev.event, "value", "{ev:?}");
            (
                ev.data["key"].as_str().expect("key").to_string(),
                ev.data["value"]["n"].as_u64().expect("n"),
            )
        })
        .collect();
    // In order per record (records are read in turn, not in one global order).
    for key in ["feed", "other"] {
        let ns: Vec<u64> = got.iter().filter(|(k, _)| k == key).map(|e| e.1).collect();
        let want: Vec<u64> = (1..=20)
            .filter(|n| (n % 2 == 0) == (key == "feed"))
            .collect();
        assert_eq!(ns, want, "{key}");
    }
    got.sort_by_key(|e| e.1);
    assert_eq!(got.len(), 20);

    // A reload (here one that changes nothing) ends the stream with `end`: the set of records
    // may have changed, so the client reconnects.
    d.signal("-HUP");
    let end = loop {
        let ev = all.next().expect("the end event");
        if ev.event != "value" {
            break ev;
        }
    };
    assert_eq!(end.event, "end", "{end:?}");
    assert!(all.next().is_none(), "nothing after end");
}

#[test]
fn single_latest_and_mailbox_streams_open_with_the_current_value_once() {
    let dir = TestDir::new("stream-latest");
    let admin = support::free_port();
    let cfg = format!(
        r#"{}
[[record]]
key = "latest"
type = "json"
buffer = {{ kind = "single_latest" }}

[[record]]
key = "box"
type = "json"
buffer = {{ kind = "mailbox" }}
"#,
        config_head(admin)
    );
    let d = Daemon::start(dir.path(), admin, &cfg);
    for key in ["latest", "box"] {
        let (status, body) = d
            .http("POST", &format!("/api/records/{key}"), r#"{"n":7}"#)
            .expect("POST");
        assert_eq!(status, 200, "{body}");
        let (_, mut c) = Client::open(admin, &format!("/api/records/{key}/stream"), None);
        assert_eq!(
            c.values(1),
            [7],
            "{key}: the current value, as a value event"
        );
        d.http("POST", &format!("/api/records/{key}"), r#"{"n":8}"#)
            .expect("POST");
        assert_eq!(c.values(1), [8], "{key}: then the next, nothing twice");
    }
}
