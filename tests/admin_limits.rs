//! The admin endpoint cannot be exhausted, with the real `aimdbd` and hostile local clients:
//! hundreds of idle sockets and slowloris clients (a request head trickling in a byte at a
//! time) are closed after `[admin] idle_timeout`; beyond `[admin] max_connections` the oldest
//! connection makes room, so `/metrics` keeps answering; and under a low open-file limit the
//! endpoint leaves enough descriptors for the MQTT reconnect.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use support::mosquitto::Mosquitto;
use support::prometheus::sample;
use support::{config_head, wait_until, Daemon, TestDir};

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    s
}

/// Whether the server closed `s` (EOF or reset), as far as a short read can tell.
fn closed(s: &TcpStream) -> bool {
    let mut s = s;
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// `/metrics` answers 200 within a few seconds.
fn metrics(d: &Daemon) -> String {
    let start = Instant::now();
    let (status, body) = d.http("GET", "/metrics", "").expect("/metrics answers");
    assert_eq!(status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    body
}

/// A slowloris client: the start of a request head, then one header byte every 300 ms.
fn slowloris(port: u16) -> TcpStream {
    let mut s = connect(port);
    let _ = s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ").as_bytes(),
    );
    s
}

#[test]
fn idle_and_slowloris_connections_are_closed_and_metrics_keeps_answering() {
    let dir = TestDir::new("admin-limits-idle");
    let admin = support::free_port();
    // Defaults: max_connections 256, idle_timeout 10 s.
    let d = Daemon::start(dir.path(), admin, &config_head(admin));
    let idle: Vec<TcpStream> = (0..300).map(|_| connect(admin)).collect();
    let mut slow: Vec<TcpStream> = (0..50).map(|_| slowloris(admin)).collect();
    let start = Instant::now();
    let mut all_closed = false;
    while start.elapsed() < Duration::from_secs(25) {
        metrics(&d);
        for s in &mut slow {
            let _ = s.write_all(b"a");
        }
        let open_idle = idle.iter().filter(|s| !closed(s)).count();
        let open_slow = slow.iter().filter(|s| !closed(s)).count();
        if open_idle == 0 && open_slow == 0 {
            all_closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        all_closed,
        "idle and slow connections still open after {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() >= Duration::from_secs(8),
        "closed by the idle timeout (10 s), not at once: {:?}",
        start.elapsed()
    );
    let page = metrics(&d);
    assert!(
        sample(
            &page,
            "aimdbd_admin_connections_closed_total{reason=\"idle\"}"
        )
        .is_some_and(|n| n >= 50.0),
        "{page}"
    );
    assert!(
        sample(&page, "aimdbd_admin_connections_max").is_some_and(|n| n == 256.0),
        "{page}"
    );
}

#[test]
fn beyond_max_connections_the_oldest_make_room() {
    let dir = TestDir::new("admin-limits-max");
    let admin = support::free_port();
    let config = config_head(admin).replace(
        "[admin]\n",
        "[admin]\nmax_connections = 16\nidle_timeout = \"60s\"\n",
    );
    let d = Daemon::start(dir.path(), admin, &config);
    let held: Vec<TcpStream> = (0..200).map(|_| connect(admin)).collect();
    // An evicted connection's task closes it a moment later (under load, after this request
    // was accepted): the bound holds once those have run.
    let mut page = metrics(&d);
    wait_until("evicted connections closed", || {
        page = metrics(&d);
        sample(&page, "aimdbd_admin_connections").is_some_and(|open| open <= 17.0)
    });
    let evicted = sample(
        &page,
        "aimdbd_admin_connections_closed_total{reason=\"evicted\"}",
    )
    .expect("counter");
    assert!(evicted >= 184.0, "{evicted}");
    wait_until("the oldest connections are closed", || {
        held[..150].iter().all(closed)
    });
    assert!(d.logged("admin endpoint at [admin] max_connections: closed the oldest connection"));
}

#[test]
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn under_a_low_open_file_limit_the_mqtt_reconnect_still_finds_a_descriptor() {
    let dir = TestDir::new("admin-limits-fds");
    let mut broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"{}\"\nreconnect_min = \"50ms\"\nreconnect_max = \"200ms\"\n",
        config_head(admin),
        broker.url()
    );
    let program = std::path::Path::new(env!("CARGO_BIN_EXE_aimdbd"));
    let d = Daemon::spawn_cmd(dir.path(), admin, &config, None, &[], program, |cmd| {
        // SAFETY: runs in the forked child before exec; `setrlimit` is async-signal-safe and
        // only reads the struct on this stack.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit {
                    rlim_cur: 200,
                    rlim_max: 200,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    d.wait_ready();
    wait_until("connected", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, b)| sample(&b, "aimdbd_mqtt_connected") == Some(1.0))
    });
    // More idle connections than the process has descriptors.
    let _held: Vec<TcpStream> = (0..400).map(|_| connect(admin)).collect();
    let page = metrics(&d);
    assert!(
        sample(&page, "aimdbd_admin_connections_max").is_some_and(|n| n <= 200.0 - 64.0),
        "lowered to fit the limit: {page}"
    );
    assert!(d.logged("[admin] max_connections lowered to"));
    broker.restart();
    wait_until("reconnected to the restarted broker", || {
        d.log_lines()
            .iter()
            .filter(|l| support::message(l) == "connected to the MQTT broker")
            .count()
            >= 2
    });
    metrics(&d);
}

#[test]
fn a_keep_alive_connection_is_closed_once_idle_after_its_answer() {
    let dir = TestDir::new("admin-limits-keepalive");
    let admin = support::free_port();
    let config = config_head(admin).replace("[admin]\n", "[admin]\nidle_timeout = \"1s\"\n");
    let _d = Daemon::start(dir.path(), admin, &config);
    let mut s = connect(admin);
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{admin}\r\n\r\n").as_bytes())
        .expect("request");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).expect("an answer");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let answered = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!closed(&s), "kept alive for a next request at first");
    wait_until("the idle keep-alive connection is closed", || closed(&s));
    let idle = answered.elapsed();
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_secs(5),
        "{idle:?}"
    );
}
