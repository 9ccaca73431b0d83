//! systemd's notify protocol (`sd_notify(3)`): one datagram per state change to
//! `$NOTIFY_SOCKET`, and watchdog pings every half `$WATCHDOG_USEC`.
//!
//! The socket is non-blocking, so [`notify()`] never blocks the async runtime: if systemd's
//! queue is full the message is dropped (and logged at debug), as libsystemd would.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends `state` (e.g. `"READY=1"`) to systemd if `$NOTIFY_SOCKET` is set; otherwise does
/// nothing. Never blocks.
pub(crate) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&path, state) {
        tracing::debug!("sd_notify {state:?}: {e}");
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    let bytes = path.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// `RELOADING=1` with the `MONOTONIC_USEC` systemd ≥ 253 wants for `Type=notify-reload` (the
/// clock read by the `sd-notify` crate).
pub(super) fn reloading() {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&format!("RELOADING=1\n{now}")),
        Err(e) => {
            tracing::debug!("CLOCK_MONOTONIC: {e}");
            notify("RELOADING=1");
        }
    }
}

/// Half the watchdog interval systemd asked for (`$WATCHDOG_USEC`, for this process per
/// `$WATCHDOG_PID`), if any.
pub(super) fn watchdog_interval() -> Option<Duration> {
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog every [`watchdog_interval`] while the runtime runs.
pub(super) fn spawn_watchdog() {
    if let Some(every) = watchdog_interval() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                notify("WATCHDOG=1");
            }
        });
    }
}
