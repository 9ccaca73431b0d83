//! The admin HTTP endpoint (loopback): `/healthz`, `/readyz`, `/metrics`, `/api/records`,
//! `/api/records/{key}` (GET latest value, POST a new one), `/api/records/{key}/history`
//! (stored values), `/api/records/{key}/stream` (every new value, as server-sent events),
//! `/api/graph`, `/api/nodes` (what each node announced it speaks), `/api/stream` (every
//! record's values on one stream), and the dashboard at `/` ([`dashboard`]).
//!
//! Built on axum (hyper 1 underneath, HTTP/1 only); see docs/OPERATIONS.md for why. Every
//! request passes the [`access`] guard first (Host, Origin, bearer token, JSON for writes).

mod access;
mod api;
mod dashboard;
mod guard;
mod history;
mod metrics;
mod reply;
mod server;
mod state;
mod store_metrics;
mod stream;

pub(crate) use access::AccessPolicy;
pub(crate) use state::{AdminState, Phase};

use crate::config::AdminConfig;

use axum::middleware;
use axum::routing::get;
use axum::Router;

/// The endpoint's routes over `state`, each behind the access guard.
pub(crate) fn router(state: AdminState) -> Router {
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
        .route("/api/records/{key}/stream", get(stream::stream))
        .route("/api/graph", get(api::graph))
        .route("/api/nodes", get(api::nodes))
        .route("/api/sparkplug", get(crate::sparkplug::table::handler))
        .route("/api/stream", get(stream::stream_all))
        .route("/", get(dashboard::index))
        .route("/ui/{name}", get(dashboard::asset))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn(server::deadline))
        .with_state(state)
}

/// Binds `admin.listen` and serves the endpoint on a background task under `admin`'s access
/// rules and connection limits ([`server`]). Errors if the address cannot be bound (the daemon
/// then exits 1).
pub(crate) async fn serve(admin: &AdminConfig, state: AdminState) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(admin.listen).await?;
    let bound = listener.local_addr().unwrap_or(admin.listen);
    state.set_access(AccessPolicy::new(bound, admin));
    let app = router(state);
    tokio::spawn(server::run(
        listener,
        app,
        admin.max_connections,
        admin.idle_timeout,
    ));
    Ok(())
}
