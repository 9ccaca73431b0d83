//! The alias table of the running edge node, for operators: `GET /api/sparkplug` and
//! `aimdbd ctl sparkplug`. The session publishes a snapshot whenever the table changes (a
//! birth, a new device); readers never wait on the session.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

/// One metric of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AliasRow {
    /// The device (`None`: the edge node itself).
    pub(crate) device: Option<String>,
    /// The metric name.
    pub(crate) metric: String,
    /// Its alias.
    pub(crate) alias: u64,
    /// Its Sparkplug datatype.
    pub(crate) datatype: &'static str,
}

/// The table with the ids it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AliasTable {
    /// `[sparkplug] group_id`.
    pub(crate) group_id: String,
    /// The edge node id.
    pub(crate) edge_node_id: String,
    /// The `bdSeq` of the current connection.
    pub(crate) bdseq: u8,
    /// Whether connected and born.
    pub(crate) born: bool,
    /// Every metric, node metrics first.
    pub(crate) metrics: Vec<AliasRow>,
}

static TABLE: Mutex<Option<AliasTable>> = Mutex::new(None);

/// Replaces the snapshot (`None`: no session).
pub(super) fn publish(table: Option<AliasTable>) {
    *TABLE.lock() = table;
}

/// The current snapshot.
pub(crate) fn snapshot() -> Option<AliasTable> {
    TABLE.lock().clone()
}

/// `GET /api/sparkplug`: the table as JSON, 404 without a Sparkplug session.
pub(crate) async fn handler() -> Response {
    match snapshot() {
        Some(t) => Json(t).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no Sparkplug session: the config has no [sparkplug] table"})),
        )
            .into_response(),
    }
}

/// `/api/sparkplug` (its JSON body) as a plain-text table.
pub(crate) fn render(body: &str) -> Result<String, String> {
    let t: Value =
        serde_json::from_str(body).map_err(|e| format!("/api/sparkplug is not JSON: {e}"))?;
    let mut out = format!(
        "group {}  edge node {}  bdSeq {}  {}\n{:<16} {:<40} {:>6}  {}\n",
        t["group_id"].as_str().unwrap_or("?"),
        t["edge_node_id"].as_str().unwrap_or("?"),
        t["bdseq"],
        if t["born"] == true {
            "born"
        } else {
            "not born"
        },
        "DEVICE",
        "METRIC",
        "ALIAS",
        "DATATYPE"
    );
    for m in t["metrics"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<16} {:<40} {:>6}  {}\n",
            m["device"].as_str().unwrap_or("(node)"),
            m["metric"].as_str().unwrap_or("?"),
            m["alias"],
            m["datatype"].as_str().unwrap_or("?"),
        ));
    }
    Ok(out)
}
