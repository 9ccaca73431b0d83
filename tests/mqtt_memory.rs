//! Memory bounded in bytes, and given back: with the broker away, 100 KB values keep coming
//! (through the admin API, a writer that cannot wait); the outbox holds at most
//! `outbox_max_bytes` of them (the rest dropped, counted), the daemon's RSS stays under that bound
//! plus a fixed overhead, and after the broker returns and the outbox drains, RSS falls back near
//! its idle level. Read from /proc.

mod support;

use std::time::Duration;

use support::mosquitto::Mosquitto;
use support::{config_head, wait_until, Daemon, TestDir};

const MIB: f64 = 1024.0 * 1024.0;
const VALUE_BYTES: usize = 100 * 1024;
const OUTBOX_MAX_BYTES: usize = 8 << 20;

fn rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024.0
}

#[test]
fn an_outage_with_large_values_holds_rss_to_the_byte_bound_and_gives_it_back() {
    let dir = TestDir::new("mqtt-memory");
    let mut broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"
reconnect_min = "50ms"
reconnect_max = "300ms"
outbox_max_bytes = {OUTBOX_MAX_BYTES}

[[record]]
key = "big"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = 4 }}
link_to = [{{ url = "mqtt://out/big", codec = "text", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    );
    let mut d = Daemon::start(dir.path(), admin, &config);
    let pid = d.child.id();
    wait_until("the bridge is connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    let body = format!("\"{}\"", "x".repeat(VALUE_BYTES));
    // Warm up the path once (allocator arenas, HTTP, TLS-free client), then take the idle level.
    for _ in 0..5 {
        assert_eq!(
            d.http("POST", "/api/records/big", &body).map(|r| r.0),
            Some(200)
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_bytes(pid);

    broker.stop();
    wait_until("the bridge sees the outage", || {
        d.metric("aimdbd_mqtt_connected") == Some(0.0)
    });
    let offered = 600; // 60 MB, 7.5 times the bound
    let mut peak: f64 = 0.0;
    for i in 0..offered {
        assert_eq!(
            d.http("POST", "/api/records/big", &body).map(|r| r.0),
            Some(200),
            "value {i}"
        );
        if i % 20 == 0 {
            peak = peak.max(rss_bytes(pid));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    peak = peak.max(rss_bytes(pid));
    let held = d
        .metric(r#"aimdbd_mqtt_outbox_bytes{direction="out",record="big",topic="out/big"}"#)
        .expect("outbox bytes");
    let dropped = d
        .metric(r#"aimdbd_mqtt_outbox_dropped_total{direction="out",record="big",topic="out/big"}"#)
        .expect("outbox drops");
    eprintln!(
        "idle {:.1} MiB, peak during the outage {:.1} MiB, outbox {:.1} MiB, {dropped} dropped",
        idle / MIB,
        peak / MIB,
        held / MIB
    );
    assert!(
        held <= OUTBOX_MAX_BYTES as f64,
        "the outbox keeps its byte bound"
    );
    assert!(dropped > 0.0, "what did not fit was dropped, and counted");
    let overhead = 24.0 * MIB;
    assert!(
        peak - idle < OUTBOX_MAX_BYTES as f64 + overhead,
        "RSS during the outage grew by {:.1} MiB: more than the {:.0} MiB bound plus {:.0} MiB",
        (peak - idle) / MIB,
        OUTBOX_MAX_BYTES as f64 / MIB,
        overhead / MIB
    );

    broker.start_again();
    wait_until("the outbox drained", || {
        d.metric(r#"aimdbd_mqtt_outbox_depth{direction="out",record="big",topic="out/big"}"#)
            == Some(0.0)
    });
    std::thread::sleep(Duration::from_millis(800));
    let after = rss_bytes(pid);
    eprintln!("after the drain {:.1} MiB", after / MIB);
    assert!(
        after - idle < 12.0 * MIB,
        "RSS returns near idle after the drain: {:.1} MiB above it",
        (after - idle) / MIB
    );
    assert_eq!(d.stop(), Some(0));
}
