//! `[mqtt]`: the broker session's config, owned by the MQTT subsystem: the table as written
//! ([`RawMqtt`]), its defaults and ranges (defined once, here), its checks, and what the
//! session runs with ([`MqttConfig`]). The config loader (`crate::config`) calls [`validate`]
//! with the table it parsed; the session, the outbox and the connector read [`MqttConfig`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::duration::parse_duration;
use crate::config::paths::{readable, secret_path, state_path};
use crate::diagnostics::Problem;

/// `keep_alive_s`: 0 (off) or seconds.
pub(crate) const KEEP_ALIVE_S: (i64, i64) = (0, 65_535);
/// `outbox_capacity`.
pub(crate) const OUTBOX_CAPACITY: (i64, i64) = (1, 10_000_000);
/// `outbox_max_bytes`.
pub(crate) const OUTBOX_MAX_BYTES: (i64, i64) = (64 * 1024, 1 << 40);
/// `outbox_max_file_bytes`.
pub(crate) const OUTBOX_MAX_FILE_BYTES: (i64, i64) = (1 << 20, 1 << 44);
/// `max_packet_size`: up to the largest packet MQTT can carry (remaining length 268 435 455
/// bytes).
pub(crate) const MAX_PACKET_SIZE: (i64, i64) = (1024, 268_435_455);

/// `keep_alive_s` when not given.
const fn default_keep_alive_s() -> i64 {
    30
}
/// `outbox_capacity` when not given.
const fn default_outbox_capacity() -> i64 {
    10_000
}
/// `outbox_max_bytes` when not given: 16 MiB of payloads per link, fit for a small gateway.
const fn default_outbox_max_bytes() -> i64 {
    16 << 20
}
/// `outbox_max_file_bytes` when not given: 1 GiB.
const fn default_outbox_max_file_bytes() -> i64 {
    1 << 30
}
/// `max_packet_size` when not given: 256 KiB.
const fn default_max_packet_size() -> i64 {
    256 * 1024
}
/// `reconnect_min` when not given, in ms.
const fn default_reconnect_min_ms() -> u64 {
    100
}
/// `reconnect_max` when not given, in ms.
const fn default_reconnect_max_ms() -> u64 {
    30_000
}
/// `outbox_path` when not given (in the state directory).
const DEFAULT_OUTBOX_PATH: &str = "outbox.db";

/// `[mqtt]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMqtt {
    pub(crate) url: Spanned<String>,
    pub(crate) client_id: Option<Spanned<String>>,
    pub(crate) keep_alive_s: Option<Spanned<i64>>,
    pub(crate) username: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) ca_file: Option<Spanned<String>>,
    pub(crate) cert_file: Option<Spanned<String>>,
    pub(crate) key_file: Option<Spanned<String>>,
    pub(crate) outbox: Option<Spanned<String>>,
    pub(crate) outbox_path: Option<Spanned<String>>,
    pub(crate) outbox_capacity: Option<Spanned<i64>>,
    pub(crate) outbox_max_bytes: Option<Spanned<i64>>,
    pub(crate) outbox_max_file_bytes: Option<Spanned<i64>>,
    pub(crate) outbox_full: Option<Spanned<String>>,
    pub(crate) max_packet_size: Option<Spanned<i64>>,
    pub(crate) clean_session: Option<Spanned<bool>>,
    pub(crate) reconnect_min: Option<Spanned<String>>,
    pub(crate) reconnect_max: Option<Spanned<String>>,
}

/// Where outbound values wait while the broker is away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outbox {
    /// In memory (lost on restart).
    Memory,
    /// On disk in the state directory.
    Disk,
}

/// What an outbox does with a new value when it already holds `outbox_capacity` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OutboxFull {
    /// Hold back the QoS ≥ 1 inbound links upstream until the outbox has room (the default for
    /// QoS ≥ 1 links of records fed only by QoS ≥ 1 inbound links): nothing is dropped.
    Block,
    /// Discard the oldest value held (the default otherwise: the newest data matters most).
    DropOldest,
    /// Discard the new value (what is held is kept, in order).
    DropNewest,
}

/// `[mqtt]`
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct MqttConfig {
    /// Broker URL (`mqtt://host:port` or `mqtts://host:port`).
    pub(crate) url: String,
    /// Whether the URL asks for TLS.
    pub(crate) tls: bool,
    /// Broker host.
    pub(crate) host: String,
    /// Broker port.
    pub(crate) port: u16,
    /// MQTT client id (default `aimdbd-<node id>`).
    pub(crate) client_id: String,
    /// Keep-alive interval.
    pub(crate) keep_alive_s: u16,
    /// User name, if any.
    pub(crate) username: Option<String>,
    /// Files with secrets and certificates.
    pub(crate) password_file: Option<PathBuf>,
    /// CA bundle for `mqtts://`.
    pub(crate) ca_file: Option<PathBuf>,
    /// Client certificate.
    pub(crate) cert_file: Option<PathBuf>,
    /// Client key.
    pub(crate) key_file: Option<PathBuf>,
    /// Outbox kind (default memory).
    pub(crate) outbox: Outbox,
    /// The disk outbox's SQLite file (default `outbox.db` in the state directory).
    pub(crate) outbox_path: PathBuf,
    /// Values each outbound link may hold unacknowledged (default 10 000).
    pub(crate) outbox_capacity: usize,
    /// Payload bytes each outbound link may hold unacknowledged (default 16 MiB); the outbox is
    /// full at whichever bound comes first.
    pub(crate) outbox_max_bytes: usize,
    /// Largest size of the disk outbox's database file (default 1 GiB); a value that would
    /// pass it is kept in memory only (logged, counted).
    pub(crate) outbox_max_file_bytes: u64,
    /// What a link's outbox does at `outbox_capacity` when neither the link sets `outbox_full`
    /// nor it blocks by default (default drop the oldest).
    pub(crate) outbox_full: OutboxFull,
    /// Largest MQTT packet accepted or sent, in bytes (default 256 KiB).
    pub(crate) max_packet_size: usize,
    /// Whether the broker forgets the session on disconnect (default: true, false when a
    /// `link_from` has QoS ≥ 1).
    pub(crate) clean_session: bool,
    /// First reconnect delay (default 100 ms); doubles per failed attempt, with jitter.
    pub(crate) reconnect_min: Duration,
    /// Longest reconnect delay (default 30 s).
    pub(crate) reconnect_max: Duration,
}

/// Checks `[mqtt]` (of config `file`, whose node is `node_id`); every problem is pushed, and the
/// config is returned only if there was none.
pub(crate) fn validate(
    raw: &Spanned<RawMqtt>,
    node_id: &str,
    file: &str,
    problems: &mut Vec<Problem>,
) -> Option<MqttConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let broker = broker(raw, problems);
    let keep_alive_s: u16 = int_in(
        &raw.keep_alive_s,
        "keep_alive_s",
        KEEP_ALIVE_S,
        default_keep_alive_s(),
        problems,
    );
    let outbox = outbox_kind(raw, problems);
    let outbox_full = outbox_full(raw, problems);
    let outbox_capacity: usize = int_in(
        &raw.outbox_capacity,
        "outbox_capacity",
        OUTBOX_CAPACITY,
        default_outbox_capacity(),
        problems,
    );
    let outbox_max_bytes: usize = int_in(
        &raw.outbox_max_bytes,
        "outbox_max_bytes",
        OUTBOX_MAX_BYTES,
        default_outbox_max_bytes(),
        problems,
    );
    let outbox_max_file_bytes: u64 = int_in(
        &raw.outbox_max_file_bytes,
        "outbox_max_file_bytes",
        OUTBOX_MAX_FILE_BYTES,
        default_outbox_max_file_bytes(),
        problems,
    );
    let max_packet_size: usize = int_in(
        &raw.max_packet_size,
        "max_packet_size",
        MAX_PACKET_SIZE,
        default_max_packet_size(),
        problems,
    );
    let (reconnect_min, reconnect_max) = reconnect(raw, problems);
    check_client_id(raw, problems);
    check_tls_fields(raw, broker.as_ref().ok().map(|b| b.0), problems);
    let outbox_path = outbox_path(raw, file, problems);
    let files = files(raw, file, before, problems);
    let (tls, host, port) = broker.ok()?;
    (problems.len() == before).then(|| MqttConfig {
        url: raw.url.get_ref().clone(),
        tls,
        host,
        port,
        client_id: raw
            .client_id
            .as_ref()
            .map_or_else(|| format!("aimdbd-{node_id}"), |c| c.get_ref().clone()),
        keep_alive_s,
        username: raw.username.as_ref().map(|u| u.get_ref().clone()),
        password_file: files.password_file,
        ca_file: files.ca_file,
        cert_file: files.cert_file,
        key_file: files.key_file,
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

/// `url` → (tls, host, port); a problem (with the credentials redacted) if it is not a broker
/// URL.
fn broker(raw: &RawMqtt, problems: &mut Vec<Problem>) -> Result<(bool, String, u16), ()> {
    let url = raw.url.get_ref();
    broker_url(url).map_err(|e| {
        let shown = redact_userinfo(url);
        let hint = if shown != *url {
            "credentials do not go in the URL: set [mqtt] username and password_file, and write mqtt://HOST:PORT or mqtts://HOST:PORT"
        } else {
            "write mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)"
        };
        problems.push(
            Problem::at(raw.url.span(), format!("[mqtt] url {shown:?}: {e}")).with_hint(hint),
        );
    })
}

/// `outbox`: `"memory"` (the default) or `"disk"`.
fn outbox_kind(raw: &RawMqtt, problems: &mut Vec<Problem>) -> Outbox {
    match raw
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
    }
}

/// `outbox_full`: the policy of links that do not block (`"block"` is per link).
fn outbox_full(raw: &RawMqtt, problems: &mut Vec<Problem>) -> OutboxFull {
    match raw
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
    }
}

/// `reconnect_min` and `reconnect_max`, the first not longer than the second.
fn reconnect(raw: &RawMqtt, problems: &mut Vec<Problem>) -> (Duration, Duration) {
    let min = duration_of(
        &raw.reconnect_min,
        "reconnect_min",
        default_reconnect_min_ms(),
        problems,
    );
    let max = duration_of(
        &raw.reconnect_max,
        "reconnect_max",
        default_reconnect_max_ms(),
        problems,
    );
    if min > max {
        if let Some(r) = raw.reconnect_min.as_ref().or(raw.reconnect_max.as_ref()) {
            problems.push(Problem::at(
                r.span(),
                "[mqtt] reconnect_min must not be longer than reconnect_max",
            ));
        }
    }
    (min, max)
}

/// `client_id`: 1 to 256 bytes.
fn check_client_id(raw: &RawMqtt, problems: &mut Vec<Problem>) {
    if let Some(c) = &raw.client_id {
        if c.get_ref().is_empty() || c.get_ref().len() > 256 {
            problems.push(Problem::at(
                c.span(),
                "[mqtt] client_id must be 1 to 256 bytes",
            ));
        }
    }
}

/// The TLS files need a TLS broker (`tls`: whether the URL, if valid, asks for it), a client
/// certificate needs its key and the other way round, `password_file` needs `username`.
fn check_tls_fields(raw: &RawMqtt, tls: Option<bool>, problems: &mut Vec<Problem>) {
    for (field, value) in [
        ("ca_file", &raw.ca_file),
        ("cert_file", &raw.cert_file),
        ("key_file", &raw.key_file),
    ] {
        if let (Some(v), Some(false)) = (value, tls) {
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
}

/// `outbox_path`, in the state directory unless absolute.
fn outbox_path(raw: &RawMqtt, file: &str, problems: &mut Vec<Problem>) -> PathBuf {
    match &raw.outbox_path {
        Some(p) if p.get_ref().is_empty() => {
            problems.push(Problem::at(
                p.span(),
                "[mqtt] outbox_path must not be empty",
            ));
            PathBuf::new()
        }
        Some(p) => state_path(file, p.get_ref()),
        None => state_path(file, DEFAULT_OUTBOX_PATH),
    }
}

/// The secret and certificate files `[mqtt]` names, resolved.
struct Files {
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

/// Resolves the named files; each that resolved and has no other problem (of those pushed
/// since `before`) must be readable now: the session reads them when it connects, too late for
/// `check` and for a reload to refuse.
fn files(raw: &RawMqtt, file: &str, before: usize, problems: &mut Vec<Problem>) -> Files {
    let mut path_of = |field: &str, p: &Option<Spanned<String>>| {
        p.as_ref()
            .and_then(|p| secret_path(file, "[mqtt]", field, p, problems))
    };
    let files = Files {
        password_file: path_of("password_file", &raw.password_file),
        ca_file: path_of("ca_file", &raw.ca_file),
        cert_file: path_of("cert_file", &raw.cert_file),
        key_file: path_of("key_file", &raw.key_file),
    };
    for (field, value, path) in [
        ("password_file", &raw.password_file, &files.password_file),
        ("ca_file", &raw.ca_file, &files.ca_file),
        ("cert_file", &raw.cert_file, &files.cert_file),
        ("key_file", &raw.key_file, &files.key_file),
    ] {
        if let (Some(v), Some(path)) = (value, path) {
            let reported = problems[before..].iter().any(|p| p.span == Some(v.span()));
            if !reported {
                readable(file, "[mqtt]", field, v, path, problems);
            }
        }
    }
    files
}

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

/// `url` with the userinfo of its authority (`user:password@`) replaced by `***@`, so no
/// message (from `check`, a rejected reload, a log line) shows a password written into it.
fn redact_userinfo(url: &str) -> String {
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
