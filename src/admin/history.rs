//! `GET /api/records/{key}/history?since=&until=&limit=`: stored values of a record, read from
//! the history database on a blocking thread over a read-only connection.
//!
//! `since`/`until`: a duration back from now (`1h`) or an RFC 3339 time (write a `+` offset as
//! `%2B`, or use `Z`); `limit` (default 100, at most 10 000): the newest values of the range,
//! returned oldest first, with `"truncated": true` when older ones were left out.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::reply::error;
use super::state::AdminState;
use crate::store::persist::now_ms;
use crate::store::query::{self, HistoryQuery};
use crate::store::{schema, StoreError, StoreState};

/// Default number of values per answer.
pub(super) const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` accepted.
pub(super) const MAX_LIMIT: usize = 10_000;

pub(super) async fn history(
    State(state): State<AdminState>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(store) = state.store().filter(|s| s.state() != StoreState::Disabled) else {
        return error(StatusCode::NOT_FOUND, "this daemon has no [store]");
    };
    let (Some(path), StoreState::Up | StoreState::Degraded) = (store.path(), store.state()) else {
        let reason = store.reason().unwrap_or_default();
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the history store is down: {reason}"),
        );
    };
    let q = match parse_params(&key, raw.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let configured = state
        .live()
        .is_some_and(|l| l.config.records.iter().any(|r| r.key == key));
    let answer = tokio::task::spawn_blocking(move || {
        let conn = schema::open_reader(&path)?;
        let page = query::query(&conn, &path, &q)?;
        let known =
            page.values.is_empty() && !configured && !query::keys(&conn, &path)?.contains(&q.key);
        Ok::<_, StoreError>((page, known))
    })
    .await;
    match answer {
        Ok(Ok((_, true))) => error(
            StatusCode::NOT_FOUND,
            format!("no record {key:?} in the config or the history"),
        ),
        Ok(Ok((page, false))) => Json(page).into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("query task: {e}"),
        ),
    }
}

/// `since=..&until=..&limit=..` → a query for `key`.
fn parse_params(key: &str, raw: &str) -> Result<HistoryQuery, String> {
    let now = now_ms();
    let mut q = HistoryQuery {
        key: key.to_string(),
        since_ms: None,
        until_ms: None,
        limit: DEFAULT_LIMIT,
    };
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).ok_or(format!("{name}: bad %-escape"))?;
        match name {
            "since" => {
                q.since_ms =
                    Some(query::parse_time(&value, now).map_err(|e| format!("since: {e}"))?)
            }
            "until" => {
                q.until_ms =
                    Some(query::parse_time(&value, now).map_err(|e| format!("until: {e}"))?)
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or(format!("limit must be a number from 1 to {MAX_LIMIT}"))?
            }
            other => return Err(format!("unknown parameter {other:?} (since, until, limit)")),
        }
    }
    Ok(q)
}

/// Decodes `%XX` escapes (a `+` stays a `+`, so RFC 3339 offsets survive). `None` for a `%`
/// not followed by two hex digits (which `percent-encoding` would keep as it is) or for bytes
/// that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let well_formed = s.split('%').skip(1).all(|escape| {
        escape
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let q = parse_params("k", "since=1h&limit=5").expect("ok");
        assert_eq!(q.limit, 5);
        assert!(q.since_ms.is_some() && q.until_ms.is_none());
        let q = parse_params("k", "until=2023-11-14T23%3A13%3A20+01:00").expect("ok");
        assert_eq!(q.until_ms, Some(1_700_000_000_000));
        assert!(parse_params("k", "limit=0").is_err());
        assert!(parse_params("k", "limit=x").is_err());
        assert!(parse_params("k", "since=soon").is_err());
        assert!(parse_params("k", "order=asc").is_err());
        assert_eq!(parse_params("k", "").expect("ok").limit, DEFAULT_LIMIT);
    }

    #[test]
    fn percent_escapes_must_be_two_hex_digits_of_utf_8() {
        assert_eq!(percent_decode("a%3Ab+c").as_deref(), Some("a:b+c"));
        assert_eq!(percent_decode("%e2%82%AC").as_deref(), Some("\u{20ac}"));
        for bad in ["%", "%4", "%zz", "a%4g", "%FF"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
