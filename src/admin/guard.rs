//! The middleware that applies the endpoint's [`AccessPolicy`](super::access::AccessPolicy) to
//! every request before its handler (the rules: `admin/access.rs`).

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::Refusal;
use super::reply::error;
use super::state::AdminState;

/// The middleware: refuses what [`AccessPolicy::check`](super::access::AccessPolicy::check) refuses, logs it at debug level.
pub(super) async fn guard(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let verdict = match state.access() {
        Some(policy) => policy.check(request.method(), request.headers()),
        None => Err(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the endpoint has no access rules yet".into(),
        }),
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::debug!(
                method = %request.method(),
                path = %request.uri().path(),
                status = refusal.status.as_u16(),
                "admin request refused: {}",
                refusal.message
            );
            let mut response = error(refusal.status, refusal.message);
            if refusal.status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"aimdbd\""),
                );
            }
            response.into_response()
        }
    }
}
