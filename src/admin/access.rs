//! Who may use the admin endpoint: every request passes `guard` (the middleware applying
//! [`AccessPolicy::check`]) before its handler.
//!
//! # Contract
//!
//! In this order, the first failing check answers:
//!
//! | check | applies to | refused with |
//! |---|---|---|
//! | `Host` is the listen address (`IP:PORT`), on loopback also `localhost:PORT`, `127.0.0.1:PORT`, `[::1]:PORT`; listening on `0.0.0.0`/`::` any IP literal with the port; or an `[admin] allowed_hosts` entry (`name` any port, `name:port` that port). No `Host` (HTTP/1.0 tools) passes: a browser always sends one. | every request | **421** |
//! | `Origin`, when present, is `http(s)://` + a host allowed as above (port from the scheme when absent); `Origin: null` is foreign | every request | **403** |
//! | `Authorization: Bearer TOKEN` with the `token_file`'s token | writes when a token is set; every request when listening beyond loopback | **401** + `WWW-Authenticate: Bearer` |
//! | `Content-Type: application/json` (parameters such as `charset` allowed) | writes | **415** |
//!
//! A write is any method but `GET`, `HEAD` and `OPTIONS`. Why each check: a web page the
//! operator opens can send a cross-site `POST` without a CORS preflight only with a "simple"
//! content type (`text/plain`, forms), so requiring JSON forces a preflight, which this endpoint
//! never grants; the `Origin` check refuses what a browser sends cross-site anyway; the `Host`
//! check defeats DNS rebinding (an attacker's name resolving to 127.0.0.1 still arrives with the
//! attacker's name in `Host`); the token keeps out other local users and, beyond loopback,
//! the network.

use axum::http::{header, HeaderMap, Method, StatusCode};
use std::net::{IpAddr, SocketAddr};

use crate::config::{split_host_port, AdminConfig, AdminToken};

/// The access rules of one endpoint: its bound address, extra host names and token.
#[derive(Debug, Clone)]
pub(crate) struct AccessPolicy {
    listen: SocketAddr,
    allowed_hosts: Vec<String>,
    token: Option<AdminToken>,
}

/// A refused request: status, message, and whether to ask for a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// 401, 403, 415 or 421.
    pub(crate) status: StatusCode,
    /// Why, for the client.
    pub(crate) message: String,
}

impl AccessPolicy {
    /// The rules of `admin`, for an endpoint bound to `listen` (which a reload does not move).
    pub(crate) fn new(listen: SocketAddr, admin: &AdminConfig) -> Self {
        Self {
            listen,
            allowed_hosts: admin.allowed_hosts.clone(),
            token: admin.token.clone(),
        }
    }

    /// The address the endpoint is bound to.
    pub(crate) fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Whether a request with `method` and `headers` may go on; the first refusal otherwise.
    pub(crate) fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
        let refuse = |status, message: String| Err(Refusal { status, message });
        if let Some(host) = headers.get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !self.host_allowed(host, 80) {
                return refuse(
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "Host {host:?} is not this endpoint ({}); add it to [admin] allowed_hosts if it is",
                        self.listen
                    ),
                );
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_allowed(origin) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    format!("cross-origin request from {origin:?} refused"),
                );
            }
        }
        let write = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if let Some(token) = &self.token {
            if write || !self.listen.ip().is_loopback() {
                match bearer(headers) {
                    None => {
                        return refuse(
                            StatusCode::UNAUTHORIZED,
                            "this request needs `Authorization: Bearer TOKEN` ([admin] token_file)"
                                .into(),
                        )
                    }
                    Some(t) if !token.matches(t) => {
                        return refuse(StatusCode::UNAUTHORIZED, "wrong bearer token".into())
                    }
                    Some(_) => {}
                }
            }
        }
        if write && !is_json(headers) {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "writes need `Content-Type: application/json`".into(),
            );
        }
        Ok(())
    }

    /// Whether `authority` (`host[:port]`) names this endpoint; `default_port` when it has none.
    fn host_allowed(&self, authority: &str, default_port: u16) -> bool {
        let authority = authority.to_ascii_lowercase();
        let Some((host, port)) = split_host_port(&authority) else {
            return false;
        };
        let port = match port {
            None => Some(default_port),
            Some(p) => p.parse::<u16>().ok(),
        };
        let Some(port) = port else { return false };
        let named = self
            .allowed_hosts
            .iter()
            .any(|entry| match split_host_port(entry) {
                Some((h, None)) => h == host,
                Some((h, Some(p))) => h == host && p.parse() == Ok(port),
                None => false,
            });
        if named {
            return true;
        }
        if port != self.listen.port() {
            return false;
        }
        let ip = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        let listen = self.listen.ip();
        match ip {
            Ok(ip) => {
                ip == listen
                    || listen.is_unspecified()
                    || (listen.is_loopback() && ip.is_loopback())
            }
            Err(_) => host == "localhost" && (listen.is_loopback() || listen.is_unspecified()),
        }
    }

    /// Whether `origin` (`scheme://host[:port]`) is this endpoint.
    fn origin_allowed(&self, origin: &str) -> bool {
        let (authority, default_port) = if let Some(a) = origin.strip_prefix("http://") {
            (a, 80)
        } else if let Some(a) = origin.strip_prefix("https://") {
            (a, 443)
        } else {
            return false;
        };
        !authority.contains('/') && self.host_allowed(authority, default_port)
    }
}

/// The token of an `Authorization: Bearer TOKEN` header.
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn policy(listen: &str, hosts: &[&str], token: Option<&str>) -> AccessPolicy {
        AccessPolicy {
            listen: listen.parse().expect("addr"),
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            token: token.map(|t| AdminToken::parse(t).expect("token")),
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn status(p: &AccessPolicy, m: Method, h: &[(header::HeaderName, &str)]) -> u16 {
        p.check(&m, &headers(h))
            .map_or_else(|r| r.status.as_u16(), |()| 200)
    }

    #[test]
    fn host_must_name_the_endpoint() {
        let p = policy("127.0.0.1:9464", &["gw-1.lan"], None);
        for ok in [
            "127.0.0.1:9464",
            "localhost:9464",
            "LOCALHOST:9464",
            "[::1]:9464",
            "gw-1.lan",
            "gw-1.lan:8080",
        ] {
            assert_eq!(status(&p, Method::GET, &[(header::HOST, ok)]), 200, "{ok}");
        }
        for bad in [
            "evil.example:9464",
            "127.0.0.1:9465",
            "localhost",
            "192.168.1.5:9464",
            "x",
        ] {
            assert_eq!(
                status(&p, Method::GET, &[(header::HOST, bad)]),
                421,
                "{bad}"
            );
        }
        assert_eq!(status(&p, Method::GET, &[]), 200, "no Host: not a browser");
        let any = policy("0.0.0.0:9464", &[], None);
        assert_eq!(
            status(&any, Method::GET, &[(header::HOST, "192.168.1.5:9464")]),
            200
        );
        assert_eq!(
            status(&any, Method::GET, &[(header::HOST, "evil.example:9464")]),
            421
        );
    }

    #[test]
    fn origin_when_present_must_be_the_endpoint() {
        let p = policy("127.0.0.1:9464", &[], None);
        let json = (header::CONTENT_TYPE, "application/json");
        let post = |origin| status(&p, Method::POST, &[(header::ORIGIN, origin), json.clone()]);
        assert_eq!(post("http://127.0.0.1:9464"), 200);
        assert_eq!(post("http://localhost:9464"), 200);
        assert_eq!(post("https://evil.example"), 403);
        assert_eq!(post("http://localhost:8080"), 403, "another local site");
        assert_eq!(post("null"), 403);
    }

    #[test]
    fn token_for_writes_on_loopback_and_for_everything_beyond() {
        let tok = "0123456789abcdef0123";
        let json = (header::CONTENT_TYPE, "application/json; charset=utf-8");
        let good = (header::AUTHORIZATION, "Bearer 0123456789abcdef0123");
        let wrong = (header::AUTHORIZATION, "Bearer 0123456789abcdef0124");
        let p = policy("127.0.0.1:9464", &[], Some(tok));
        assert_eq!(status(&p, Method::GET, &[]), 200);
        assert_eq!(status(&p, Method::POST, std::slice::from_ref(&json)), 401);
        assert_eq!(
            status(&p, Method::POST, &[json.clone(), wrong.clone()]),
            401
        );
        assert_eq!(status(&p, Method::POST, &[json.clone(), good.clone()]), 200);
        assert_eq!(
            status(
                &p,
                Method::POST,
                &[good.clone(), (header::CONTENT_TYPE, "text/plain")]
            ),
            415
        );
        let lan = policy("0.0.0.0:9464", &[], Some(tok));
        assert_eq!(status(&lan, Method::GET, &[]), 401);
        assert_eq!(status(&lan, Method::GET, &[wrong]), 401);
        assert_eq!(status(&lan, Method::GET, &[good]), 200);
    }

    #[test]
    fn writes_need_json() {
        let p = policy("127.0.0.1:9464", &[], None);
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/jsonx",
        ] {
            assert_eq!(
                status(&p, Method::POST, &[(header::CONTENT_TYPE, bad)]),
                415,
                "{bad}"
            );
        }
        assert_eq!(status(&p, Method::POST, &[]), 415);
        assert_eq!(
            status(
                &p,
                Method::POST,
                &[(header::CONTENT_TYPE, "Application/JSON")]
            ),
            200
        );
        assert_eq!(
            status(&p, Method::GET, &[(header::CONTENT_TYPE, "text/plain")]),
            200
        );
    }
}
