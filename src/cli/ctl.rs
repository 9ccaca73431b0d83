//! `aimdbd ctl [--admin ADDR] records | get KEY | watch KEY | set KEY JSON | graph | health`:
//! a small HTTP/1.0 client of the admin endpoint over a Tokio TCP stream.

use std::time::Duration;

use clap::{Args, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::exit;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Admin endpoint address (`[admin] listen` of the daemon).
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    admin: String,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Every record with its counters.
    Records,
    /// The latest value of a record.
    Get { key: String },
    /// Print a record's value whenever it changes (polls every second; Ctrl-C stops).
    Watch { key: String },
    /// Write a value (JSON) into a record.
    Set { key: String, json: String },
    /// The running graph.
    Graph,
    /// Health and readiness.
    Health,
}

pub fn ctl(args: &CtlArgs) -> u8 {
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
    match rt.block_on(run(args)) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("aimdbd ctl: {e}");
            exit::RUNTIME
        }
    }
}

async fn run(args: &CtlArgs) -> Result<(), String> {
    let addr = args.admin.as_str();
    match &args.command {
        CtlCommand::Records => print_ok(request(addr, "GET", "/api/records", None).await?),
        CtlCommand::Graph => print_ok(request(addr, "GET", "/api/graph", None).await?),
        CtlCommand::Get { key } => print_ok(request(addr, "GET", &record_path(key), None).await?),
        CtlCommand::Set { key, json } => {
            serde_json::from_str::<serde_json::Value>(json)
                .map_err(|e| format!("JSON argument: {e}"))?;
            print_ok(request(addr, "POST", &record_path(key), Some(json)).await?)
        }
        CtlCommand::Health => {
            let (_, health) = request(addr, "GET", "/healthz", None).await?;
            let (status, ready) = request(addr, "GET", "/readyz", None).await?;
            println!("health: {}  ready: {}", health.trim(), ready.trim());
            if status == 200 {
                Ok(())
            } else {
                Err("not ready".into())
            }
        }
        CtlCommand::Watch { key } => {
            let mut last = None;
            loop {
                let (status, body) = request(addr, "GET", &record_path(key), None).await?;
                if status != 200 {
                    return Err(body);
                }
                if last.as_ref() != Some(&body) {
                    println!("{}", body.trim());
                    last = Some(body);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
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
        Err(format!("HTTP {status}: {message}"))
    }
}

/// One HTTP/1.0 request (the server closes the connection after the response, and never uses
/// chunked encoding for HTTP/1.0).
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let io = async {
        let mut stream = TcpStream::connect(addr).await?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .map_err(|_| format!("{addr}: no answer within 10 s"))?
        .map_err(|e| format!("{addr}: {e} (is aimdbd running with [admin] listen = {addr:?}?)"))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("malformed HTTP response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("malformed HTTP status line")?;
    Ok((status, body.to_string()))
}
