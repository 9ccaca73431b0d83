//! `[admin]`: the HTTP endpoint's config, owned by the admin subsystem: the table as written
//! ([`RawAdmin`]), its defaults and ranges, its checks (the token file is read here), and what
//! the server and the access guard run with ([`AdminConfig`]).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::duration::parse_duration;
use crate::config::paths::{readable, secret_path};
use crate::config::secret::AdminToken;
use crate::diagnostics::Problem;

/// `max_connections`.
pub(crate) const MAX_CONNECTIONS: (i64, i64) = (1, 65_536);

/// `[admin]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub(crate) listen: Spanned<String>,
    pub(crate) allowed_hosts: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) token_file: Option<Spanned<String>>,
    pub(crate) max_connections: Option<Spanned<i64>>,
    pub(crate) idle_timeout: Option<Spanned<String>>,
}

/// `[admin]`
#[derive(Debug, Clone)]
pub(crate) struct AdminConfig {
    /// Address the HTTP endpoint listens on.
    pub(crate) listen: SocketAddr,
    /// Further names (`host` or `host:port`, lower case) that `Host` and `Origin` may carry,
    /// besides the listen address and, on loopback, `localhost`.
    pub(crate) allowed_hosts: Vec<String>,
    /// The bearer token read from `token_file` when the config was validated.
    pub(crate) token: Option<AdminToken>,
    /// Most connections open at once; a new one beyond it closes the oldest.
    pub(crate) max_connections: usize,
    /// How long a connection may go without a complete request head (after it opened or
    /// after its last response) before it is closed.
    pub(crate) idle_timeout: Duration,
}

impl AdminConfig {
    /// `max_connections` when not set.
    pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 256;
    /// `idle_timeout` when not set.
    pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Whether the endpoint listens beyond loopback (then every request needs the token).
    pub(crate) fn beyond_loopback(&self) -> bool {
        !self.listen.ip().is_loopback()
    }
}

/// `host[:port]` → (host, port); IPv6 hosts keep their brackets.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if s.starts_with('[') {
        let end = s.find(']')?;
        let (host, rest) = s.split_at(end + 1);
        match rest {
            "" => Some((host, None)),
            r => r.strip_prefix(':').map(|p| (host, Some(p))),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => Some((h, Some(p))),
            Some(_) => None,
            None => Some((s, None)),
        }
    }
}

/// Checks `[admin]` (of config `file`): the address, the allowed host names and the bearer
/// token (read here, so a missing or weak token file is a config error with its place); every
/// problem is pushed, and the config is returned only if there was none. Listening beyond
/// loopback without a token, or a token file every user can read, is a warning.
pub(crate) fn validate(
    raw: &Spanned<RawAdmin>,
    file: &str,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Option<AdminConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let listen = listen(raw, problems);
    let allowed_hosts = allowed_hosts(raw, problems);
    let token = token(raw, file, problems, warnings);
    let max_connections = max_connections(raw, problems);
    let idle_timeout = idle_timeout(raw, problems);
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

/// `listen`: an `IP:port`.
fn listen(raw: &RawAdmin, problems: &mut Vec<Problem>) -> Option<SocketAddr> {
    match raw.listen.get_ref().parse::<SocketAddr>() {
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
    }
}

/// `allowed_hosts`, each lower-cased.
fn allowed_hosts(raw: &RawAdmin, problems: &mut Vec<Problem>) -> Vec<String> {
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
    allowed_hosts
}

/// The token read from `token_file`, if one is named; a warning if every user may read it.
fn token(
    raw: &RawAdmin,
    file: &str,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Option<AdminToken> {
    let (t, path) = raw
        .token_file
        .as_ref()
        .and_then(|t| secret_path(file, "[admin]", "token_file", t, problems).map(|p| (t, p)))?;
    if !readable(file, "[admin]", "token_file", t, &path, problems) {
        return None;
    }
    let token = AdminToken::read(&path)
        .map_err(|e| {
            problems.push(
                Problem::at(t.span(), format!("[admin] token_file: {e}")).with_hint(
                    "put a random token in it, e.g. `openssl rand -hex 32 > FILE`; chmod 0600",
                ),
            )
        })
        .ok()?;
    if world_readable(&path) {
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
    Some(token)
}

/// `max_connections`, within [`MAX_CONNECTIONS`].
fn max_connections(raw: &RawAdmin, problems: &mut Vec<Problem>) -> usize {
    let max = MAX_CONNECTIONS.1;
    match &raw.max_connections {
        None => AdminConfig::DEFAULT_MAX_CONNECTIONS,
        Some(m) if (MAX_CONNECTIONS.0..=max).contains(m.get_ref()) => {
            usize::try_from(*m.get_ref()).unwrap_or(1)
        }
        Some(m) => {
            problems.push(
                Problem::at(
                    m.span(),
                    format!("[admin] max_connections must be between 1 and {max}"),
                )
                .with_hint("each connection holds a file descriptor; keep it well below the process's limit (LimitNOFILE)"),
            );
            0
        }
    }
}

/// `idle_timeout`, longer than 0.
fn idle_timeout(raw: &RawAdmin, problems: &mut Vec<Problem>) -> Duration {
    match &raw.idle_timeout {
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
    }
}

/// Tries to listen on `[admin] listen` (the socket is closed at once); a warning at the field if
/// that fails now (a port taken, an address not on this machine, a port this user may not
/// bind). For `aimdbd check` only: see `config::Probes`.
pub(crate) fn probe_listen(raw: &RawAdmin, admin: &AdminConfig, warnings: &mut Vec<Problem>) {
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
