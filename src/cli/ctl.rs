//! `aimdbd ctl [--admin ADDR] [--token-file FILE] records | get KEY | watch KEY | set KEY JSON |
//! graph | nodes | sparkplug | health`: a small HTTP/1.0 client of the admin endpoint over a Tokio TCP
//! stream (`watch` reads the record's server-sent events, see [`super::sse`]).
//!
//! With `-c FILE` the address and the bearer token come from the config's `[admin]` (`listen`,
//! `token_file`); `--admin` and `--token-file` win over it. Writes are sent as
//! `application/json`, as the endpoint requires.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::admin_client::{request, Target};
use crate::config::{self, AdminToken};
use crate::engine;
use crate::exit;

/// The admin address when neither `--admin` nor a config names one.
const DEFAULT_ADMIN: &str = "127.0.0.1:9464";

#[derive(Debug, Args)]
pub(super) struct CtlArgs {
    /// Admin endpoint address (default: `[admin] listen` of `-c FILE`, else 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    admin: Option<String>,
    /// File with the bearer token (default: `[admin] token_file` of `-c FILE`, if any).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Every record with its counters.
    Records,
    /// The latest value of a record.
    Get { key: String },
    /// Print each value of a record as it is produced, one JSON line each, starting with the
    /// newest (streamed; Ctrl-C stops; reconnects across reloads).
    Watch { key: String },
    /// Write a value (JSON) into a record.
    Set { key: String, json: String },
    /// The running graph.
    Graph,
    /// Every node that announced its record types, and the version spoken with each.
    Nodes,
    /// The Sparkplug edge node's alias table (docs/SPARKPLUG.md).
    Sparkplug,
    /// Health and readiness.
    Health,
    /// Every record's rate, lag, drops and links, refreshed live (q quits).
    Top {
        /// Seconds between readings.
        #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
        interval: f64,
        /// Print one plain-text table (two readings one interval apart) and exit.
        #[arg(long)]
        once: bool,
    },
}

impl Target {
    /// From the flags, then the config `config` (if given), then the default.
    fn resolve(args: &CtlArgs, config: Option<&Path>) -> Result<Self, (u8, String)> {
        let cfg = match config {
            Some(path) => Some(
                config::load_blocking(path, engine::catalog())
                    .map_err(|e| (exit::CONFIG, e.to_string()))?,
            ),
            None => None,
        };
        let admin = cfg.as_ref().and_then(|c| c.admin.as_ref());
        if cfg.is_some() && admin.is_none() && args.admin.is_none() {
            return Err((
                exit::CONFIG,
                format!(
                    "{}: has no [admin] table, so no endpoint to talk to",
                    config.map(|p| p.display().to_string()).unwrap_or_default()
                ),
            ));
        }
        let addr = match (&args.admin, admin) {
            (Some(a), _) => a.clone(),
            (None, Some(a)) => reachable(a.listen).to_string(),
            (None, None) => DEFAULT_ADMIN.to_string(),
        };
        let token = match (&args.token_file, admin) {
            (Some(path), _) => Some(
                AdminToken::read(path).map_err(|e| (exit::CONFIG, format!("--token-file {e}")))?,
            ),
            (None, Some(a)) => a.token.clone(),
            (None, None) => None,
        };
        Ok(Self { addr, token })
    }
}

/// `0.0.0.0:P` / `[::]:P` (listen on every address) is reached on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, listen.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, listen.port()).into(),
        _ => listen,
    }
}

pub(super) fn ctl(args: &CtlArgs, config: Option<&Path>) -> u8 {
    let target = match Target::resolve(args, config) {
        Ok(t) => t,
        Err((code, e)) => {
            eprintln!("aimdbd ctl: {e}");
            return code;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aimdbd ctl: {e}");
            return exit::RUNTIME;
        }
    };
    let result = match &args.command {
        CtlCommand::Top { interval, once } => match Duration::try_from_secs_f64(*interval) {
            Ok(d) if d >= Duration::from_millis(100) => super::top::top(&rt, &target, d, *once),
            _ => Err(format!("--interval {interval}: give at least 0.1 seconds")),
        },
        _ => rt.block_on(run(args, &target)),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("aimdbd ctl: {e}");
            exit::RUNTIME
        }
    }
}

/// `/api/nodes` as a table: one line per node and record type.
fn nodes_table(body: &str) -> Result<String, String> {
    let nodes: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("/api/nodes is not JSON: {e}"))?;
    let mut out = format!(
        "{:<24} {:<18} {:<12} {:<8} {:<8} {}\n",
        "NODE", "TYPE", "ANNOUNCED", "OURS", "SPEAK", "STATUS"
    );
    for node in nodes.as_array().into_iter().flatten() {
        let name = node["node"].as_str().unwrap_or("?");
        for t in node["types"].as_array().into_iter().flatten() {
            let versions: Vec<String> = t["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v[0].as_u64().map(|n| format!("v{n}")))
                .collect();
            let v = |f: &str| t[f].as_u64().map_or("-".to_string(), |n| format!("v{n}"));
            let status = match (t["ours"].is_null(), t["mismatch"].as_bool()) {
                (true, _) => "unknown type",
                (false, Some(true)) => "MISMATCH",
                _ => "ok",
            };
            out.push_str(&format!(
                "{name:<24} {:<18} {:<12} {:<8} {:<8} {status}\n",
                t["type"].as_str().unwrap_or("?"),
                versions.join(","),
                v("ours"),
                v("speak"),
            ));
        }
    }
    Ok(out)
}

async fn run(args: &CtlArgs, target: &Target) -> Result<(), String> {
    let t = target;
    match &args.command {
        CtlCommand::Records => print_ok(request(t, "GET", "/api/records", None).await?),
        CtlCommand::Graph => print_ok(request(t, "GET", "/api/graph", None).await?),
        CtlCommand::Nodes => {
            let (status, body) = request(t, "GET", "/api/nodes", None).await?;
            if status != 200 {
                return print_ok((status, body));
            }
            print!("{}", nodes_table(&body)?);
            Ok(())
        }
        CtlCommand::Sparkplug => {
            let (status, body) = request(t, "GET", "/api/sparkplug", None).await?;
            if status != 200 {
                return print_ok((status, body));
            }
            print!("{}", crate::sparkplug::table::render(&body)?);
            Ok(())
        }
        CtlCommand::Get { key } => print_ok(request(t, "GET", &record_path(key), None).await?),
        CtlCommand::Set { key, json } => {
            serde_json::from_str::<serde_json::Value>(json)
                .map_err(|e| format!("JSON argument: {e}"))?;
            print_ok(request(t, "POST", &record_path(key), Some(json)).await?)
        }
        CtlCommand::Health => {
            let (_, health) = request(t, "GET", "/healthz", None).await?;
            let (status, ready) = request(t, "GET", "/readyz", None).await?;
            println!("health: {}  ready: {}", health.trim(), ready.trim());
            if status == 200 {
                Ok(())
            } else {
                Err("not ready".into())
            }
        }
        CtlCommand::Watch { key } => watch(t, key).await,
        CtlCommand::Top { .. } => Err("top runs outside the async client".into()),
    }
}

/// How many times in a row `watch` tries to (re)open the stream before it gives up.
const WATCH_ATTEMPTS: u32 = 40;

/// `ctl watch`: prints each value as the stream delivers it; after the record closes (a
/// reload) or the connection drops, reopens the stream, not printing the newest value again if
/// it was the last one printed.
async fn watch(t: &Target, key: &str) -> Result<(), String> {
    let path = format!("{}/stream", record_path(key));
    let mut last: Option<String> = None;
    let mut failures = 0u32;
    loop {
        match super::sse::open(t, &path).await {
            Ok(mut events) => {
                failures = 0;
                while let Some(ev) = events.next().await? {
                    match ev.event.as_str() {
                        "latest" if last.as_deref() == Some(ev.data.as_str()) => {}
                        "latest" | "value" => {
                            println!("{}", ev.data);
                            last = Some(ev.data);
                        }
                        "lag" => eprintln!("aimdbd ctl watch: fell behind: {}", ev.data),
                        "end" => break,
                        _ => {}
                    }
                }
            }
            Err(super::sse::OpenError::Refused(status, message)) => {
                return Err(format!("{status}: {message}"))
            }
            Err(super::sse::OpenError::Unreachable(e)) => {
                failures += 1;
                if failures >= WATCH_ATTEMPTS {
                    return Err(e);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn record_path(key: &str) -> String {
    let safe: String = key
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("/api/records/{safe}")
}

fn print_ok((status, body): (u16, String)) -> Result<(), String> {
    if (200..300).contains(&status) {
        let pretty = serde_json::from_str::<serde_json::Value>(&body)
            .map(|v| format!("{v:#}"))
            .unwrap_or(body);
        println!("{}", pretty.trim_end());
        Ok(())
    } else {
        // The admin endpoint answers errors as `{"error": MESSAGE}`; print the message.
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.trim().to_owned());
        let hint = if status == 401 {
            " (pass --token-file FILE, or -c CONFIG to use its [admin] token_file)"
        } else {
            ""
        };
        Err(format!("HTTP {status}: {message}{hint}"))
    }
}
