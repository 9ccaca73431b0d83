//! `[node]`, `[admin]` (`[mqtt]` is the MQTT subsystem's: `crate::mqtt::config`; `[store]` is in
//! `store.rs`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::super::paths::{readable, secret_path};
use super::super::ranges;
use super::super::raw::{RawAdmin, RawNode};
use super::super::secret::AdminToken;
use super::super::{parse_duration, split_host_port, AdminConfig, Problem};

/// `[node]`: the id (required) and the drain timeout.
pub(super) fn node(
    raw: Option<&Spanned<RawNode>>,
    problems: &mut Vec<Problem>,
) -> (String, Option<Duration>) {
    let Some(raw) = raw else {
        problems.push(
            Problem::nowhere("missing [node] table")
                .with_hint("add `[node]` with `id = \"gw-1\"` (used in client ids and topics)"),
        );
        return (String::new(), None);
    };
    let raw = raw.get_ref();
    let id = raw.id.get_ref();
    // The documented limit (32 bytes, an `Id` of the values the sources write) is checked
    // before the topic rules, whose own limit (MQTT's 65 535 bytes) is far beyond it.
    if id.len() > aimdb_records::types::ID_CAPACITY {
        problems.push(
            Problem::at(
                raw.id.span(),
                format!(
                    "[node] id {id:?} is {} bytes long; at most {} are allowed",
                    id.len(),
                    aimdb_records::types::ID_CAPACITY
                ),
            )
            .with_hint("a short name of this gateway, e.g. \"gw-1\" (it is the sensor_id/node_id of the values it writes)"),
        );
    } else if let Err(e) = aimdb_records::topic::validate_segment(id) {
        let p = Problem::at(raw.id.span(), format!("[node] id {id:?}: {e}"));
        problems.push(match e {
            aimdb_records::topic::TopicError::ContainsControl { .. } => {
                p.with_hint(super::links::CONTROL_HINT)
            }
            _ => p,
        });
    }
    let timeout = raw.shutdown_timeout.as_ref().and_then(|t| {
        parse_duration(t.get_ref())
            .map_err(|e| {
                problems.push(Problem::at(
                    t.span(),
                    format!("[node] shutdown_timeout: {e}"),
                ))
            })
            .ok()
    });
    (id.clone(), timeout)
}

/// `[admin]`: the address, the allowed host names and the bearer token (read here, so a
/// missing or weak token file is a config error with its place). Listening beyond loopback
/// without a token is a warning.
pub(super) fn admin(
    raw: &Spanned<RawAdmin>,
    file: &str,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Option<AdminConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let listen = match raw.listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            problems.push(
                Problem::at(
                    raw.listen.span(),
                    format!(
                        "[admin] listen {:?} is not an IP:port address",
                        raw.listen.get_ref()
                    ),
                )
                .with_hint(
                    "e.g. \"127.0.0.1:9464\"; keep it on loopback unless a token_file is set",
                ),
            );
            None
        }
    };
    let mut allowed_hosts = Vec::new();
    for h in raw.allowed_hosts.iter().flat_map(|l| l.get_ref()) {
        match allowed_host(h.get_ref()) {
            Ok(name) => allowed_hosts.push(name),
            Err(e) => problems.push(
                Problem::at(h.span(), format!("[admin] allowed_hosts {:?}: {e}", h.get_ref()))
                    .with_hint("a host name or IP as a browser puts it in the URL, optionally with :PORT, e.g. \"gw-1.lan\" or \"gw-1.lan:9464\""),
            ),
        }
    }
    let token_file = raw
        .token_file
        .as_ref()
        .and_then(|t| secret_path(file, "[admin]", "token_file", t, problems).map(|p| (t, p)));
    let token = token_file.as_ref().and_then(|(t, path)| {
        if !readable(file, "[admin]", "token_file", t, path, problems) {
            return None;
        }
        AdminToken::read(path)
            .map_err(|e| {
                problems.push(
                    Problem::at(t.span(), format!("[admin] token_file: {e}")).with_hint(
                        "put a random token in it, e.g. `openssl rand -hex 32 > FILE`; chmod 0600",
                    ),
                )
            })
            .ok()
    });
    if let (Some((t, path)), Some(_)) = (&token_file, &token) {
        if world_readable(path) {
            warnings.push(
                Problem::at(
                    t.span(),
                    format!(
                        "[admin] token_file {} is readable by every user of this machine",
                        path.display()
                    ),
                )
                .with_hint("chmod 0600 it (or hand it over with systemd's LoadCredential= and credential:NAME)"),
            );
        }
    }
    let max_connections = match &raw.max_connections {
        None => AdminConfig::DEFAULT_MAX_CONNECTIONS,
        Some(m) if (1..=MAX_ADMIN_CONNECTIONS).contains(m.get_ref()) => {
            usize::try_from(*m.get_ref()).unwrap_or(1)
        }
        Some(m) => {
            problems.push(
                Problem::at(
                    m.span(),
                    format!("[admin] max_connections must be between 1 and {MAX_ADMIN_CONNECTIONS}"),
                )
                .with_hint("each connection holds a file descriptor; keep it well below the process's limit (LimitNOFILE)"),
            );
            0
        }
    };
    let idle_timeout = match &raw.idle_timeout {
        None => AdminConfig::DEFAULT_IDLE_TIMEOUT,
        Some(t) => match parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                problems.push(Problem::at(
                    t.span(),
                    "[admin] idle_timeout must be longer than 0",
                ));
                Duration::ZERO
            }
            Err(e) => {
                problems.push(Problem::at(t.span(), format!("[admin] idle_timeout: {e}")));
                Duration::ZERO
            }
        },
    };
    let listen = listen?;
    if problems.len() != before {
        return None;
    }
    let cfg = AdminConfig {
        listen,
        allowed_hosts,
        token,
        max_connections,
        idle_timeout,
    };
    if cfg.beyond_loopback() && cfg.token.is_none() {
        warnings.push(
            Problem::at(
                raw.listen.span(),
                format!(
                    "[admin] listen {listen} is beyond loopback and there is no token_file: anyone who can reach it can read every record and write values"
                ),
            )
            .with_hint("set [admin] token_file (then every request needs `Authorization: Bearer TOKEN`), or listen on 127.0.0.1"),
        );
    }
    Some(cfg)
}

/// Tries to listen on `[admin] listen` (the socket is closed at once); a warning at the field if
/// that fails now (a port taken, an address not on this machine, a port this user may not
/// bind). For `aimdbd check` only: see [`super::super::Probes`].
pub(super) fn probe_listen(raw: &RawAdmin, admin: &AdminConfig, warnings: &mut Vec<Problem>) {
    let listen = admin.listen;
    let Err(e) = std::net::TcpListener::bind(listen) else {
        return;
    };
    let port = listen.port();
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "another process listens on port {port} (`ss -ltnp 'sport = :{port}'` names it); if it is aimdbd running this config, that is expected, else choose a free port"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            "the address is not one of this machine's: use 127.0.0.1 or the address of one of its interfaces".to_string()
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need CAP_NET_BIND_SERVICE (AmbientCapabilities= in the unit); use a port from 1024 up, e.g. 9464".to_string()
        }
        _ => "choose an address and port this machine can listen on".to_string(),
    };
    warnings.push(
        Problem::at(
            raw.listen.span(),
            format!(
                "[admin] listen {listen}: cannot listen there now: {e}; the daemon would not start"
            ),
        )
        .with_hint(hint),
    );
}

/// The most `[admin] max_connections` may allow.
const MAX_ADMIN_CONNECTIONS: i64 = ranges::MAX_CONNECTIONS.1;

/// Whether other users may read `path` (its mode has the "others may read" bit).
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

/// One `allowed_hosts` entry, lower-cased: `name`, `name:port`, `IPv4[:port]` or
/// `[IPv6][:port]`.
fn allowed_host(entry: &str) -> Result<String, &'static str> {
    let e = entry.to_ascii_lowercase();
    let (host, port) = split_host_port(&e).ok_or("not a host[:port]")?;
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err("the port must be a number from 1 to 65535");
        }
    }
    let ip_literal = host.starts_with('[');
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let valid_ip = ip_literal
        && host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
    if valid_name || valid_ip {
        Ok(e)
    } else {
        Err("not a host name or IP address")
    }
}
