//! Request handlers.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use aimdb_core::AccessError;

use super::reply::{error, live, typed_record};
use super::state::{AdminState, Phase};
use crate::engine::typed::{ops, SetJsonError};
use crate::render;
use crate::store::StoreState;

pub(super) async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 `ready` while the graph runs — also when the history store is down or degraded (the graph
/// runs without history): the body then says so on a second line (`store down: REASON`).
pub(super) async fn readyz(State(state): State<AdminState>) -> Response {
    match state.phase() {
        Phase::Ready => {
            let store = state
                .store()
                .filter(|s| matches!(s.state(), StoreState::Down | StoreState::Degraded));
            let body = match store {
                Some(s) => format!(
                    "ready\nstore {}: {}\n",
                    s.state().as_str(),
                    s.reason().unwrap_or_default()
                ),
                None => "ready\n".to_string(),
            };
            (StatusCode::OK, body).into_response()
        }
        Phase::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response(),
        Phase::Reloading => (StatusCode::SERVICE_UNAVAILABLE, "reloading\n").into_response(),
        Phase::Draining => (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response(),
    }
}

pub(super) async fn metrics(State(state): State<AdminState>) -> Response {
    // Procfs and file sizes are read: off the async workers.
    match tokio::task::spawn_blocking(move || super::metrics::render(&state)).await {
        Ok(Ok(page)) => {
            ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], page).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the metrics failed: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

pub(super) async fn records(State(state): State<AdminState>) -> Response {
    let live = match live(&state) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let list: Vec<Value> = live
        .config
        .records
        .iter()
        .map(|r| {
            let mut v = render::record_json(r);
            if let (Some(s), Some(obj)) = (live.graphs.stats(&r.key), v.as_object_mut()) {
                obj.insert(
                    "stats".into(),
                    json!({
                        "produced": s.produced, "delivered": s.delivered, "lagged": s.lagged,
                        "dropped": s.dropped, "readers": s.readers, "writers": s.writers,
                    }),
                );
            }
            v
        })
        .collect();
    Json(list).into_response()
}

pub(super) async fn get_record(
    State(state): State<AdminState>,
    Path(key): Path<String>,
) -> Response {
    let (live, entry) = match typed_record(&state, &key) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match live
        .graphs
        .handle(&key)
        .map_err(|e| e.to_string())
        .and_then(|h| (ops(entry).latest_json)(h, &key))
    {
        Ok(value) => {
            Json(json!({ "key": key, "type": entry.name, "value": value })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

pub(super) async fn set_record(
    State(state): State<AdminState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    // A value taken while the graph drains (stop or reload) could never be published: refuse
    // it, so the writer knows to send it again.
    let phase = match state.phase() {
        Phase::Ready => None,
        Phase::Starting => Some("starting"),
        Phase::Reloading => Some("reloading its config"),
        Phase::Draining => Some("shutting down"),
    };
    if let Some(phase) = phase {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the daemon is {phase}: writes are refused until it is ready; try again"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return r;
    }
    let (live, entry) = match typed_record(&state, &key) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    match live
        .graphs
        .handle(&key)
        .map_err(SetJsonError::from)
        .and_then(|h| (ops(entry).set_json)(h, &key, value))
    {
        Ok(()) => Json(json!({ "key": key, "ok": true })).into_response(),
        // The writer rule: the record's own writer is the only one.
        Err(e @ SetJsonError::Access(AccessError::NotWritable { .. })) => {
            error(StatusCode::CONFLICT, e.to_string())
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            format!("record {key:?} carries {}: {e}", entry.name),
        ),
    }
}

/// `GET /api/nodes`: every node that announced its record types on `aimdb/<node>/schema`, with
/// the version this gateway speaks with it for each (see `crate::mqtt::schemas`).
pub(super) async fn nodes() -> Response {
    Json(crate::mqtt::schemas::schemas().view()).into_response()
}

pub(super) async fn graph(State(state): State<AdminState>) -> Response {
    match live(&state) {
        Ok(l) => Json(render::json(&l.config)).into_response(),
        Err(r) => *r,
    }
}
