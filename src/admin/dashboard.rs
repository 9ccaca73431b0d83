//! The dashboard: `GET /` and its assets under `/ui/`, embedded in the binary.
//!
//! Contract:
//! - The files are `src/admin/ui/*`, compiled in with `include_bytes!`: plain ES modules, one
//!   stylesheet, no build step and nothing fetched from elsewhere. They only read the JSON API
//!   (relative URLs, so the page works on any origin the access guard lets in, such as an SSH
//!   tunnel named in `[admin] allowed_hosts`).
//! - Every answer carries a strict `Content-Security-Policy` (scripts, styles and images from
//!   this origin only, no inline script or style, `connect-src 'self'`, no framing),
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, and
//!   `Cache-Control: no-cache` with a strong `ETag` (the content's hash): a browser revalidates
//!   each time and gets a 304 when the file has not changed.
//! - These routes sit behind the same access guard as the API (Host, Origin, token): the page
//!   is served without a token exactly where a `GET /api/...` would be.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::reply::error;

/// The policy sent with every dashboard file.
pub(super) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: u64,
}

/// FNV-1a, 64 bit: the `ETag` of a file, computed at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("ui/", $name)),
            etag: fnv1a(include_bytes!(concat!("ui/", $name))),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// `index.html` first; the rest are served under `/ui/NAME`.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("sse.js", JS),
    asset!("graph.js", JS),
    asset!("chart.js", JS),
];

/// `GET /`: the page.
pub(super) async fn index(headers: HeaderMap) -> Response {
    serve(&ASSETS[0], &headers)
}

/// `GET /ui/{name}`: a script, the stylesheet or the icon; 404 for anything else.
pub(super) async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS[1..].iter().find(|a| a.name == name) {
        Some(a) => serve(a, &headers),
        None => error(StatusCode::NOT_FOUND, format!("no dashboard file {name:?}")),
    }
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_served_and_nothing_is_inline() {
        let html = std::str::from_utf8(ASSETS[0].body).expect("utf-8");
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("style="), "no inline style");
        for a in &ASSETS[1..] {
            assert!(!a.body.is_empty(), "{}", a.name);
        }
        // Every module the scripts import is embedded.
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(a.body).expect("utf-8");
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['"', '\'']).nth(1) else {
                    panic!("{}: unparsed import {line}", a.name)
                };
                let file = spec.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|b| b.name == file),
                    "{} imports {spec}, which is not embedded",
                    a.name
                );
            }
        }
    }

    #[test]
    fn etags_differ_by_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        let tags: std::collections::HashSet<u64> = ASSETS.iter().map(|a| a.etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
