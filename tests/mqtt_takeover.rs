//! Two daemons with the same MQTT client id (a copied config): the broker lets each connect take
//! the session from the other. Each daemon says so with a hint, and backs off instead of
//! reconnecting in a storm (a connection lost right after CONNACK does not reset the backoff).

mod support;

use std::time::Duration;

use support::mosquitto::Mosquitto;
use support::{config_head, wait_until, Daemon, TestDir};

fn config(admin: u16, broker: &Mosquitto) -> String {
    format!(
        "{}[mqtt]\nurl = \"{}\"\nclient_id = \"same-id\"\nreconnect_min = \"50ms\"\nreconnect_max = \"5s\"\n",
        config_head(admin),
        broker.url()
    )
}

#[test]
fn two_daemons_with_one_client_id_get_a_hint_and_back_off() {
    let dir = TestDir::new("mqtt-takeover");
    let broker = Mosquitto::start(dir.path());
    let (a_dir, b_dir) = (dir.join("a"), dir.join("b"));
    std::fs::create_dir_all(&a_dir).expect("dir");
    std::fs::create_dir_all(&b_dir).expect("dir");
    let (pa, pb) = (support::free_port(), support::free_port());
    let a = Daemon::start(&a_dir, pa, &config(pa, &broker));
    let b = Daemon::start(&b_dir, pb, &config(pb, &broker));
    let hint = "another client may be using client id";
    wait_until("a daemon names the takeover", || {
        a.logged(hint) || b.logged(hint)
    });
    let connects = |d: &Daemon| d.metric("aimdbd_mqtt_connects_total").unwrap_or(0.0);
    let before = connects(&a) + connects(&b);
    std::thread::sleep(Duration::from_secs(6));
    let during = connects(&a) + connects(&b) - before;
    eprintln!("connects in 6 s while fighting over one client id: {during}");
    // A storm at reconnect_min (50 ms) would be ~240 connects; backing off to 5 s, a handful.
    assert!(
        during <= 20.0,
        "the daemons back off: {during} connects in 6 s"
    );
    let log = std::fs::read_to_string(a_dir.join("log.jsonl")).expect("log")
        + &std::fs::read_to_string(b_dir.join("log.jsonl")).expect("log");
    assert!(
        log.contains("give each daemon its own [mqtt] client_id"),
        "{log}"
    );
}
