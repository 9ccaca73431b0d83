//! `[node]`, `[mqtt]`, `[admin]` (`[store]` is in `store.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::super::ranges;
use super::super::raw::{RawAdmin, RawMqtt, RawNode};
use super::super::secret::{self, AdminToken};
use super::super::{
    parse_duration, split_host_port, AdminConfig, MqttConfig, Outbox, OutboxFull, Problem,
};

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

/// `[mqtt]`.
pub(super) fn mqtt(
    raw: &Spanned<RawMqtt>,
    node_id: &str,
    file: &str,
    problems: &mut Vec<Problem>,
) -> Option<MqttConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let url = raw.url.get_ref();
    let parsed = broker_url(url).map_err(|e| {
        let shown = redact_userinfo(url);
        let hint = if shown != *url {
            "credentials do not go in the URL: set [mqtt] username and password_file, and write mqtt://HOST:PORT or mqtts://HOST:PORT"
        } else {
            "write mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)"
        };
        problems.push(
            Problem::at(raw.url.span(), format!("[mqtt] url {shown:?}: {e}")).with_hint(hint),
        )
    });
    let keep_alive_s: u16 = int_in(
        &raw.keep_alive_s,
        "keep_alive_s",
        ranges::KEEP_ALIVE_S,
        30,
        problems,
    );
    let outbox = match raw
        .outbox
        .as_ref()
        .map(|o| (o.get_ref().as_str(), o.span()))
    {
        None | Some(("memory", _)) => Outbox::Memory,
        Some(("disk", _)) => Outbox::Disk,
        Some((other, span)) => {
            problems.push(Problem::at(
                span,
                format!("[mqtt] outbox {other:?}: expected \"memory\" or \"disk\""),
            ));
            Outbox::Memory
        }
    };
    let outbox_full = match raw
        .outbox_full
        .as_ref()
        .map(|o| (o.get_ref().as_str(), o.span()))
    {
        None | Some(("drop_oldest", _)) => OutboxFull::DropOldest,
        Some(("drop_newest", _)) => OutboxFull::DropNewest,
        Some(("block", span)) => {
            problems.push(
                Problem::at(span, "[mqtt] outbox_full \"block\" is set per link_to")
                    .with_hint("QoS >= 1 links of records fed only by QoS >= 1 link_from block by default; [mqtt] outbox_full is the policy of the others: \"drop_oldest\" or \"drop_newest\""),
            );
            OutboxFull::DropOldest
        }
        Some((other, span)) => {
            problems.push(Problem::at(
                span,
                format!(
                    "[mqtt] outbox_full {other:?}: expected \"drop_oldest\" or \"drop_newest\""
                ),
            ));
            OutboxFull::DropOldest
        }
    };
    let outbox_capacity: usize = int_in(
        &raw.outbox_capacity,
        "outbox_capacity",
        ranges::OUTBOX_CAPACITY,
        10_000,
        problems,
    );
    let outbox_max_bytes: usize = int_in(
        &raw.outbox_max_bytes,
        "outbox_max_bytes",
        ranges::OUTBOX_MAX_BYTES,
        DEFAULT_OUTBOX_MAX_BYTES,
        problems,
    );
    let outbox_max_file_bytes: u64 = int_in(
        &raw.outbox_max_file_bytes,
        "outbox_max_file_bytes",
        ranges::OUTBOX_MAX_FILE_BYTES,
        1 << 30,
        problems,
    );
    let max_packet_size: usize = int_in(
        &raw.max_packet_size,
        "max_packet_size",
        ranges::MAX_PACKET_SIZE,
        256 * 1024,
        problems,
    );
    let reconnect_min = duration_of(&raw.reconnect_min, "reconnect_min", 100, problems);
    let reconnect_max = duration_of(&raw.reconnect_max, "reconnect_max", 30_000, problems);
    if reconnect_min > reconnect_max {
        if let Some(r) = raw.reconnect_min.as_ref().or(raw.reconnect_max.as_ref()) {
            problems.push(Problem::at(
                r.span(),
                "[mqtt] reconnect_min must not be longer than reconnect_max",
            ));
        }
    }
    if let Some(c) = &raw.client_id {
        if c.get_ref().is_empty() || c.get_ref().len() > 256 {
            problems.push(Problem::at(
                c.span(),
                "[mqtt] client_id must be 1 to 256 bytes",
            ));
        }
    }
    let tls = parsed.as_ref().is_ok_and(|(tls, _, _)| *tls);
    for (field, value) in [
        ("ca_file", &raw.ca_file),
        ("cert_file", &raw.cert_file),
        ("key_file", &raw.key_file),
    ] {
        if let (Some(v), false, true) = (value, tls, parsed.is_ok()) {
            problems.push(
                Problem::at(v.span(), format!("[mqtt] {field} needs a TLS broker URL"))
                    .with_hint("use url = \"mqtts://HOST:PORT\""),
            );
        }
    }
    match (&raw.cert_file, &raw.key_file) {
        (Some(c), None) => problems.push(Problem::at(
            c.span(),
            "[mqtt] cert_file needs key_file (the client certificate's private key)",
        )),
        (None, Some(k)) => problems.push(Problem::at(
            k.span(),
            "[mqtt] key_file needs cert_file (the client certificate)",
        )),
        _ => {}
    }
    if let (Some(p), None) = (&raw.password_file, &raw.username) {
        problems.push(Problem::at(p.span(), "[mqtt] password_file needs username"));
    }
    let outbox_path = match &raw.outbox_path {
        Some(p) if p.get_ref().is_empty() => {
            problems.push(Problem::at(
                p.span(),
                "[mqtt] outbox_path must not be empty",
            ));
            PathBuf::new()
        }
        Some(p) => state_path(file, p.get_ref()),
        None => state_path(file, "outbox.db"),
    };
    let mut path_of = |field: &str, p: &Option<Spanned<String>>| {
        p.as_ref()
            .and_then(|p| secret_path(file, "[mqtt]", field, p, problems))
    };
    let password_file = path_of("password_file", &raw.password_file);
    let ca_file = path_of("ca_file", &raw.ca_file);
    let cert_file = path_of("cert_file", &raw.cert_file);
    let key_file = path_of("key_file", &raw.key_file);
    // Each file that is named, resolved and has no other mistake must be readable now: the
    // session reads them when it connects, too late for `check` and for a reload to refuse.
    for (field, value, path) in [
        ("password_file", &raw.password_file, &password_file),
        ("ca_file", &raw.ca_file, &ca_file),
        ("cert_file", &raw.cert_file, &cert_file),
        ("key_file", &raw.key_file, &key_file),
    ] {
        if let (Some(v), Some(path)) = (value, path) {
            let reported = problems[before..].iter().any(|p| p.span == Some(v.span()));
            if !reported {
                readable(file, "[mqtt]", field, v, path, problems);
            }
        }
    }
    let (tls, host, port) = parsed.ok()?;
    (problems.len() == before).then(|| MqttConfig {
        url: url.clone(),
        tls,
        host,
        port,
        client_id: raw
            .client_id
            .as_ref()
            .map_or_else(|| format!("aimdbd-{node_id}"), |c| c.get_ref().clone()),
        keep_alive_s,
        username: raw.username.as_ref().map(|u| u.get_ref().clone()),
        password_file,
        ca_file,
        cert_file,
        key_file,
        outbox,
        outbox_path,
        outbox_capacity,
        outbox_max_bytes,
        outbox_max_file_bytes,
        outbox_full,
        max_packet_size,
        clean_session: raw.clean_session.as_ref().is_none_or(|c| *c.get_ref()),
        reconnect_min,
        reconnect_max,
    })
}

/// `[mqtt] outbox_max_bytes` by default: 16 MiB of payloads per link, fit for a small gateway.
pub(super) const DEFAULT_OUTBOX_MAX_BYTES: i64 = 16 << 20;

/// An optional integer field of `[mqtt]` within `min..=max`, or `default`.
fn int_in<T: TryFrom<i64> + Default>(
    v: &Option<Spanned<i64>>,
    field: &str,
    (min, max): (i64, i64),
    default: i64,
    problems: &mut Vec<Problem>,
) -> T {
    let fallback = || T::try_from(default).unwrap_or_default();
    let Some(v) = v else {
        return fallback();
    };
    if !(min..=max).contains(v.get_ref()) {
        problems.push(Problem::at(
            v.span(),
            format!("[mqtt] {field} must be between {min} and {max}"),
        ));
        return fallback();
    }
    match T::try_from(*v.get_ref()) {
        Ok(n) => n,
        // In range, but past what this machine's type holds (a byte count past 4 GiB on a
        // 32-bit gateway): an error, never a truncated bound.
        Err(_) => {
            problems.push(Problem::at(
                v.span(),
                format!(
                    "[mqtt] {field} {} is more than this machine can hold (a {}-bit target)",
                    v.get_ref(),
                    usize::BITS
                ),
            ));
            fallback()
        }
    }
}

/// An optional, positive duration field of `[mqtt]`, or `default_ms`.
fn duration_of(
    v: &Option<Spanned<String>>,
    field: &str,
    default_ms: u64,
    problems: &mut Vec<Problem>,
) -> Duration {
    let Some(v) = v else {
        return Duration::from_millis(default_ms);
    };
    match parse_duration(v.get_ref()) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            problems.push(Problem::at(
                v.span(),
                format!("[mqtt] {field} must be longer than 0"),
            ));
            Duration::from_millis(default_ms)
        }
        Err(e) => {
            problems.push(Problem::at(v.span(), format!("[mqtt] {field}: {e}")));
            Duration::from_millis(default_ms)
        }
    }
}

/// A secret's path (`password_file`, `ca_file`, ..., `token_file`): relative to the config
/// file's directory unless absolute, or `credential:NAME` in `$CREDENTIALS_DIRECTORY`.
fn secret_path(
    file: &str,
    section: &str,
    field: &str,
    value: &Spanned<String>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    secret::resolve(&config_dir(file), value.get_ref())
        .map_err(|e| {
            problems.push(
                Problem::at(value.span(), format!("{section} {field}: {}", e.message))
                    .with_hint(e.hint),
            )
        })
        .ok()
}

/// Pushes a problem at `value` unless the file `path` it names can be read.
fn readable(
    file: &str,
    section: &str,
    field: &str,
    value: &Spanned<String>,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> bool {
    match secret::check_readable(&config_dir(file), value.get_ref(), path) {
        Ok(()) => true,
        Err(e) => {
            problems.push(
                Problem::at(value.span(), format!("{section} {field}: {}", e.message))
                    .with_hint(e.hint),
            );
            false
        }
    }
}

fn config_dir(file: &str) -> PathBuf {
    Path::new(file)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A state file's path (`[store] path`, `[mqtt] outbox_path`): absolute as given, else relative
/// to `$STATE_DIRECTORY` if set, else to the config file's directory.
pub(super) fn state_path(file: &str, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = std::env::var_os("STATE_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(file));
    base.join(path)
}

/// `url` with the userinfo of its authority (`user:password@`) replaced by `***@`, so no
/// message (from `check`, a rejected reload, a log line) shows a password written into it.
pub(super) fn redact_userinfo(url: &str) -> String {
    let (prefix, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{prefix}***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// `mqtt://host[:port]` / `mqtts://host[:port]` → (tls, host, port).
fn broker_url(url: &str) -> Result<(bool, String, u16), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else {
        return Err("the scheme must be mqtt:// or mqtts://".into());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.split('/').next().is_some_and(|a| a.contains('@')) {
        return Err(
            "a user name or password in the URL is not used (and would be shown in logs)".into(),
        );
    }
    if rest.contains('/') {
        return Err("a broker URL has no path".into());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("port {p:?} is not a number from 1 to 65535"))?;
            if port == 0 {
                return Err("port 0 is not a broker port".into());
            }
            (h, port)
        }
        _ => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return Err("missing or invalid host".into());
    }
    Ok((tls, host.to_string(), port))
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

#[cfg(test)]
mod tests {
    use super::redact_userinfo;

    #[test]
    fn userinfo_is_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_userinfo("mqtts://user:pw@broker:8883"),
            "mqtts://***@broker:8883"
        );
        assert_eq!(redact_userinfo("mqtt://a@b@host"), "mqtt://***@host");
        assert_eq!(redact_userinfo("mqtt://pw@host/x@y"), "mqtt://***@host/x@y");
        assert_eq!(redact_userinfo("mqtt://host/x@y"), "mqtt://host/x@y");
        assert_eq!(redact_userinfo("user:pw@host"), "***@host");
        assert_eq!(redact_userinfo("mqtt://host:1883"), "mqtt://host:1883");
    }
}
