//! A minimal client of the admin endpoint's server-sent events (`/api/records/KEY/stream`):
//! one HTTP/1.0 request (so the body is the raw event stream, closed by the server at its end),
//! then events parsed line by line as the SSE format defines them (`event:`, `data:`, `id:`,
//! comments, a blank line ends an event).

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::admin_client::Target;

/// The longest line accepted: a record value as JSON is far smaller.
const MAX_LINE: usize = 16 * 1024 * 1024;

/// One event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SseEvent {
    /// `event:` (`message` if absent).
    pub(super) event: String,
    /// `data:` lines, joined with `\n`.
    pub(super) data: String,
}

/// Why a stream could not be opened.
pub(super) enum OpenError {
    /// The endpoint answered with this status and message: retrying will not help.
    Refused(u16, String),
    /// The endpoint could not be reached, or the answer was cut off.
    Unreachable(String),
}

/// An open stream.
pub(super) struct Events {
    reader: BufReader<TcpStream>,
}

/// Requests `path` as an event stream.
pub(super) async fn open(target: &Target, path: &str) -> Result<Events, OpenError> {
    let addr = target.addr.as_str();
    let unreachable = |e: std::io::Error| {
        OpenError::Unreachable(format!(
            "{addr}: {e} (is aimdbd running with [admin] listen = {addr:?}?)"
        ))
    };
    let mut stream = TcpStream::connect(addr).await.map_err(unreachable)?;
    let mut head = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
    if let Some(token) = &target.token {
        head.push_str(&format!("Authorization: Bearer {}\r\n", token.expose()));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(unreachable)?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .await
        .map_err(unreachable)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| OpenError::Unreachable(format!("{addr}: malformed HTTP status line")))?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.map_err(unreachable)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    if status != 200 {
        let mut body = String::new();
        let _ = reader.read_to_string(&mut body).await;
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| body.trim().to_owned());
        return Err(OpenError::Refused(status, message));
    }
    Ok(Events { reader })
}

impl Events {
    /// The next event; `Ok(None)` when the server closed the stream.
    pub(super) async fn next(&mut self) -> Result<Option<SseEvent>, String> {
        let mut event = SseEvent::default();
        let mut any = false;
        loop {
            let mut line = String::new();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64)
                .read_line(&mut line)
                .await
                .map_err(|e| format!("the stream broke: {e}"))?;
            if n == 0 {
                return Ok(None);
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if any {
                    if event.event.is_empty() {
                        event.event = "message".into();
                    }
                    return Ok(Some(event));
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // a comment: keep-alive
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            any = true;
            match field {
                "event" => event.event = value.to_string(),
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                }
                _ => {}
            }
        }
    }
}
