//! `[node]`, `[mqtt]`, `[admin]` (`[store]` is in `store.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::super::raw::{RawAdmin, RawMqtt, RawNode};
use super::super::{parse_duration, AdminConfig, MqttConfig, Outbox, Problem};

/// `[node]`: the id (required) and the drain timeout.
pub fn node(
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
    if let Err(e) = aimdb_records::topic::validate_segment(id) {
        problems.push(Problem::at(raw.id.span(), format!("[node] id {id:?}: {e}")));
    } else if id.len() > aimdb_records::types::ID_CAPACITY {
        problems.push(Problem::at(
            raw.id.span(),
            format!(
                "[node] id {id:?} is longer than {} bytes",
                aimdb_records::types::ID_CAPACITY
            ),
        ));
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
pub fn mqtt(
    raw: &Spanned<RawMqtt>,
    node_id: &str,
    problems: &mut Vec<Problem>,
) -> Option<MqttConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let url = raw.url.get_ref();
    let parsed = broker_url(url).map_err(|e| {
        problems.push(
            Problem::at(raw.url.span(), format!("[mqtt] url {url:?}: {e}"))
                .with_hint("write mqtt://HOST:PORT or mqtts://HOST:PORT (TLS)"),
        )
    });
    let keep_alive_s = match &raw.keep_alive_s {
        None => 30,
        Some(k) => match u16::try_from(*k.get_ref()) {
            Ok(v) => v,
            Err(_) => {
                problems.push(Problem::at(
                    k.span(),
                    "[mqtt] keep_alive_s must be between 0 and 65535",
                ));
                0
            }
        },
    };
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
    if let Some(c) = &raw.client_id {
        if c.get_ref().is_empty() || c.get_ref().len() > 256 {
            problems.push(Problem::at(
                c.span(),
                "[mqtt] client_id must be 1 to 256 bytes",
            ));
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
        password_file: raw
            .password_file
            .as_ref()
            .map(|p| PathBuf::from(p.get_ref())),
        ca_file: raw.ca_file.as_ref().map(|p| PathBuf::from(p.get_ref())),
        cert_file: raw.cert_file.as_ref().map(|p| PathBuf::from(p.get_ref())),
        key_file: raw.key_file.as_ref().map(|p| PathBuf::from(p.get_ref())),
        outbox,
    })
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

/// `[admin]`.
pub fn admin(raw: &Spanned<RawAdmin>, problems: &mut Vec<Problem>) -> Option<AdminConfig> {
    let listen = &raw.get_ref().listen;
    match listen.get_ref().parse::<SocketAddr>() {
        Ok(addr) => Some(AdminConfig { listen: addr }),
        Err(_) => {
            problems.push(
                Problem::at(listen.span(), format!("[admin] listen {:?} is not an IP:port address", listen.get_ref()))
                    .with_hint("e.g. \"127.0.0.1:9464\"; the endpoint has no authentication, keep it on loopback"),
            );
            None
        }
    }
}
