//! What every handler starts with: the running graph and the record a request names, or the
//! JSON error response that says why not (503 before a graph runs, 404 with a did-you-mean).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::state::{AdminState, Live};
use crate::record_types::TypeEntry;

/// A JSON error response: `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub(super) fn live(state: &AdminState) -> Result<Live, Box<Response>> {
    state.live().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the graph is not running yet",
        ))
    })
}

pub(super) fn find<'a>(
    live: &'a Live,
    key: &str,
) -> Result<&'a crate::config::RecordConfig, Box<Response>> {
    live.config
        .records
        .iter()
        .find(|r| r.key == key)
        .ok_or_else(|| {
            let keys = live.config.records.iter().map(|r| r.key.as_str());
            let hint = aimdb_core::graph::closest_match(key, keys)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            Box::new(error(
                StatusCode::NOT_FOUND,
                format!("no record {key:?}{hint}"),
            ))
        })
}

/// The running graph and the type of its record `key`: a 503 before a graph runs, a 404 with a
/// did-you-mean for an unknown key.
pub(super) fn typed_record(
    state: &AdminState,
    key: &str,
) -> Result<(Live, &'static TypeEntry), Box<Response>> {
    let live = live(state)?;
    let entry = find(&live, key)?.ty;
    Ok((live, entry))
}
