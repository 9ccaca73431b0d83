//! The admin endpoint's client, shared by `ctl`, `ctl watch` ([`super::sse`]) and `ctl top`:
//! where the endpoint is, and one HTTP/1.0 request to it.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::AdminToken;

/// Where and how to reach the endpoint.
pub(super) struct Target {
    pub(super) addr: String,
    pub(super) token: Option<AdminToken>,
}

/// One HTTP/1.0 request (the server closes the connection after the response, and never uses
/// chunked encoding for HTTP/1.0), with the bearer token when there is one and
/// `Content-Type: application/json` when there is a body.
pub(super) async fn request(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let addr = target.addr.as_str();
    let io = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
        if let Some(token) = &target.token {
            head.push_str(&format!("Authorization: Bearer {}\r\n", token.expose()));
        }
        if body.is_some() {
            head.push_str("Content-Type: application/json\r\n");
        }
        let body = body.unwrap_or("");
        let req = format!("{head}Content-Length: {}\r\n\r\n{body}", body.len());
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
