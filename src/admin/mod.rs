//! The admin HTTP endpoint (loopback): `/healthz`, `/readyz`, `/metrics`, `/api/records`,
//! `/api/records/{key}` (GET latest value, POST a new one), `/api/records/{key}/history`
//! (stored values), `/api/graph`.
//!
//! Built on axum (hyper 1 underneath, HTTP/1 only); see docs/OPERATIONS.md for why.

mod api;
mod history;
mod metrics;
mod state;
mod store_metrics;

pub use metrics::render as render_metrics;
pub use state::{AdminState, Live, Phase};

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;

/// The endpoint's routes over `state`.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/api/records", get(api::records))
        .route(
            "/api/records/{key}",
            get(api::get_record).post(api::set_record),
        )
        .route("/api/records/{key}/history", get(history::history))
        .route("/api/graph", get(api::graph))
        .with_state(state)
}

/// Binds `addr` and serves the endpoint on a background task. Errors if the address cannot be
/// bound (the daemon then exits 1).
pub async fn serve(addr: SocketAddr, state: AdminState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = router(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("admin endpoint stopped: {e}");
        }
    });
    Ok(())
}
