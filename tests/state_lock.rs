//! One daemon per state file, with the real `aimdbd` and a real Mosquitto: a second daemon
//! pointed at the history store or the disk outbox of a running one exits 1 naming the file,
//! and the first keeps running, connected; once the first stops, the second starts.

mod support;

use std::path::Path;

use support::mosquitto::Mosquitto;
use support::prometheus::sample;
use support::{config_head, wait_until, Daemon, TestDir};

/// A config with `state` lines (`[store]` and/or `[mqtt]` with a disk outbox) in `shared`.
fn config(admin: u16, broker: &Mosquitto, shared: &Path, store: bool, outbox: bool) -> String {
    let mut c = config_head(admin);
    c.push_str(&format!(
        "[mqtt]\nurl = \"{}\"\noutbox = \"{}\"\noutbox_path = \"{}\"\n\n",
        broker.url(),
        if outbox { "disk" } else { "memory" },
        shared.join("outbox.db").display()
    ));
    if store {
        c.push_str(&format!(
            "[store]\npath = \"{}\"\n\n",
            shared.join("history.db").display()
        ));
    }
    c.push_str(
        "[[record]]\nkey = \"hb\"\ntype = \"Heartbeat\"\nsource = { kind = \"heartbeat\", period_ms = 50 }\npersist = true\nlink_to = [{ url = \"mqtt://out/hb\", qos = 1 }]\n",
    );
    if !store {
        c = c.replace("persist = true\n", "");
    }
    c
}

fn connected(d: &Daemon) -> bool {
    d.http("GET", "/metrics", "")
        .is_some_and(|(_, b)| sample(&b, "aimdbd_mqtt_connected") == Some(1.0))
}

fn second_is_refused(store: bool, outbox: bool, file: &str) {
    let name = format!("state-lock-{store}-{outbox}");
    let (shared, other) = (TestDir::new(&name), TestDir::new(&format!("{name}-2")));
    let broker = Mosquitto::start(shared.path());
    let a = support::free_port();
    let mut first = Daemon::start(
        shared.path(),
        a,
        &config(a, &broker, shared.path(), store, outbox),
    );
    wait_until("the first daemon is connected", || connected(&first));

    let b = support::free_port();
    let mut second = Daemon::spawn(
        other.path(),
        b,
        &config(b, &broker, shared.path(), store, outbox),
        None,
        &[],
    );
    assert_eq!(second.wait_exit(), Some(1), "the second daemon exits 1");
    let path = shared.join(file);
    let want = format!("{} is in use by another aimdbd", path.display());
    assert!(
        second
            .log_lines()
            .iter()
            .any(|l| support::message(l).contains(&want)),
        "{want:?} in {:?}",
        second.log_lines()
    );
    assert!(connected(&first), "the first daemon is still connected");
    assert_eq!(first.http("GET", "/readyz", "").map(|r| r.0), Some(200));

    assert_eq!(first.stop(), Some(0));
    drop(second);
    let mut third = Daemon::start(
        other.path(),
        b,
        &config(b, &broker, shared.path(), store, outbox),
    );
    wait_until("the next daemon is connected", || connected(&third));
    assert_eq!(third.stop(), Some(0));
}

#[test]
fn a_second_daemon_on_one_store_exits_1() {
    second_is_refused(true, false, "history.db");
}

#[test]
fn a_second_daemon_on_one_disk_outbox_exits_1() {
    second_is_refused(false, true, "outbox.db");
}
