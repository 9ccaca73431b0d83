//! Free ports for the things a test starts (the daemon's admin endpoint, Mosquitto). Shared by
//! the root tests, the firmware host tests and the benchmarks: each includes this file by path.
//!
//! A port the kernel hands out for `bind(":0")` comes from the ephemeral range, the same range
//! it draws the local ports of outgoing connections from. Between the check here and the
//! program under test binding the port, any connection a parallel test opens (a browser, an
//! MQTT client) may take it, and the program then fails to bind. Ports below the ephemeral
//! range are never given to outgoing connections, so these are taken from there.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The lowest port handed out here.
const LOWEST: u16 = 10_000;

/// A port nothing listens on or is bound to right now, on loopback and on every address,
/// below the kernel's ephemeral range; falls back to an ephemeral port if none is found.
pub(crate) fn free_port() -> u16 {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    // Where this process starts (differs between processes); drawn once, so that the calls
    // in one process step from it by a prime and do not collide.
    static SEED: OnceLock<u32> = OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        std::process::id().wrapping_mul(2_654_435_761)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
    });
    let below = ephemeral_lowest().max(LOWEST + 1_000);
    let span = u32::from(below - LOWEST);
    for _ in 0..200 {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let offset = seed.wrapping_add(n.wrapping_mul(7_919)) % span;
        let port = LOWEST + u16::try_from(offset).unwrap_or(0);
        if bindable(port) {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// Whether `port` can be bound on loopback and on every address.
fn bindable(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok() && TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The lowest port of the kernel's ephemeral range (Linux's default if it cannot be read).
fn ephemeral_lowest() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}
