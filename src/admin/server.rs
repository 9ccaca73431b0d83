//! The admin endpoint's connections, bounded so that no client can exhaust the daemon.
//!
//! | limit | default | what happens |
//! |---|---|---|
//! | `[admin] max_connections` | 256 | a new connection beyond it closes the **oldest** open one (a slow or idle client; a fresh request still gets in) |
//! | `[admin] idle_timeout` | 10 s | a connection that has not sent a complete request head within this time of opening, or of its last response (keep-alive), is closed (slowloris, idle sockets) |
//! | [`REQUEST_TIMEOUT`] | 30 s | a request whose body and answer take longer is answered 408 and its connection closed |
//!
//! So the endpoint holds at most `max_connections` file descriptors (+1 while one is being
//! replaced), whatever clients do; the rest of the process's descriptors stay for the broker,
//! the store and the outbox. `accept` failing (e.g. "Too many open files") is logged and counted
//! and retried after a pause, never a busy loop. Counters: `aimdbd_admin_connections`,
//! `aimdbd_admin_connections_closed_total{reason}`, `aimdbd_admin_accept_errors_total`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Longest a request (its body included) may take before it is answered 408.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The endpoint's connection counters (process-wide: one endpoint per daemon).
#[derive(Default)]
struct Counters {
    open: AtomicU64,
    max: AtomicU64,
    idle: AtomicU64,
    evicted: AtomicU64,
    request_timeout: AtomicU64,
    accept_errors: AtomicU64,
}

static COUNTERS: Counters = Counters {
    open: AtomicU64::new(0),
    max: AtomicU64::new(0),
    idle: AtomicU64::new(0),
    evicted: AtomicU64::new(0),
    request_timeout: AtomicU64::new(0),
    accept_errors: AtomicU64::new(0),
};

/// File descriptors kept for everything but the admin endpoint: the broker connection, the
/// history store and the disk outbox (each a database, its `-wal` and `-shm`), the runtime's
/// own (epoll, eventfds, signals), logs.
pub(super) const FD_RESERVE: u64 = 64;

/// `max_connections`, lowered (with a warning) so that [`FD_RESERVE`] descriptors stay free under
/// the process's open-file limit.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn within_fd_limit(max_connections: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes one `rlimit` into the struct we own and pass by pointer; it
    // has no other effect.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return max_connections;
    }
    #[allow(clippy::unnecessary_cast)] // `rlim_t` is not `u64` on every target
    let soft = lim.rlim_cur as u64;
    let budget = soft.saturating_sub(FD_RESERVE).max(1);
    if (max_connections as u64) <= budget {
        return max_connections;
    }
    tracing::warn!(
        max_connections,
        open_file_limit = soft,
        "[admin] max_connections lowered to {budget}, so {FD_RESERVE} file descriptors stay for the broker and the store; raise the limit (LimitNOFILE=) or lower max_connections"
    );
    usize::try_from(budget).unwrap_or(max_connections)
}

/// Serves `app` on `listener` until the process ends, within `max_connections` (lowered to fit
/// the open-file limit) and `idle_timeout` (see the module doc).
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    idle_timeout: Duration,
) {
    let max_connections = within_fd_limit(max_connections);
    COUNTERS
        .max
        .store(max_connections as u64, Ordering::Relaxed);
    // Open connections by age: id → the sender that closes it.
    let open: Arc<Mutex<BTreeMap<u64, oneshot::Sender<()>>>> = Arc::default();
    let mut next_id = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                let n = COUNTERS.accept_errors.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(
                        errors = n,
                        "admin endpoint cannot accept a connection: {e}; retrying"
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (close, closed) = oneshot::channel();
        let oldest = {
            let mut open = open.lock();
            let oldest = (open.len() >= max_connections)
                .then(|| open.pop_first())
                .flatten();
            open.insert(next_id, close);
            oldest
        };
        if let Some((_, close)) = oldest {
            let n = COUNTERS.evicted.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    max_connections,
                    evicted = n,
                    "admin endpoint at [admin] max_connections: closed the oldest connection"
                );
            }
            let _ = close.send(());
        }
        let id = next_id;
        next_id += 1;
        let (app, open) = (app.clone(), open.clone());
        tokio::spawn(async move {
            COUNTERS.open.fetch_add(1, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(idle_timeout)
                .keep_alive(true);
            let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
            tokio::pin!(conn);
            tokio::select! {
                served = conn.as_mut() => {
                    if served.is_err_and(|e| e.is_timeout()) {
                        COUNTERS.idle.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ = closed => {}
            }
            open.lock().remove(&id);
            COUNTERS.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Middleware: answers 408 to a request that takes longer than [`REQUEST_TIMEOUT`] (a body
/// trickling in, a stuck handler).
pub(super) async fn deadline(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            COUNTERS.request_timeout.fetch_add(1, Ordering::Relaxed);
            let mut r = (
                StatusCode::REQUEST_TIMEOUT,
                Json(serde_json::json!({
                    "error": format!("the request took longer than {} s", REQUEST_TIMEOUT.as_secs())
                })),
            )
                .into_response();
            r.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            r
        }
    }
}

/// Writes the connection metrics of a `/metrics` page.
pub(super) fn encode(
    enc: &mut prometheus_client::encoding::DescriptorEncoder<'_>,
) -> crate::telemetry::exposition::Encoded {
    use crate::telemetry::exposition::{counter, counters, gauge};
    let c = &COUNTERS;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    gauge(
        enc,
        "aimdbd_admin_connections",
        "Open connections to the admin endpoint.",
        get(&c.open),
    )?;
    gauge(
        enc,
        "aimdbd_admin_connections_max",
        "[admin] max_connections.",
        get(&c.max),
    )?;
    counters(
        enc,
        "aimdbd_admin_connections_closed_total",
        "Admin connections the endpoint closed: idle (no complete request head within idle_timeout), evicted (the oldest, at max_connections), request_timeout (a request took longer than 30 s).",
        [
            ("idle", &c.idle),
            ("evicted", &c.evicted),
            ("request_timeout", &c.request_timeout),
        ]
        .map(|(reason, v)| ([("reason", reason)], get(v))),
    )?;
    counter(
        enc,
        "aimdbd_admin_accept_errors_total",
        "Failed accepts on the admin endpoint (e.g. out of file descriptors).",
        get(&c.accept_errors),
    )
}
