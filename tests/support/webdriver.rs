//! A small W3C WebDriver client for headless Chromium through `chromedriver`, over blocking
//! HTTP/1.1 on a loopback socket (std + serde_json, no async runtime, no new crate): start the
//! driver, open a session, navigate, run scripts, find elements, type, click, take screenshots.
//! Included by path (`#[path = "support/webdriver.rs"]`) by the tests that drive a browser.
//!
//! Chromium and chromedriver come from Debian's `chromium` and `chromium-driver` packages
//! (`scripts/setup.sh` installs them); when either is missing the test fails, naming the script.
//! The browser is kept off the network: every host name but `localhost` fails to resolve and
//! every non-loopback request goes to a dead proxy on loopback.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The browser and its driver, as Debian installs them.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key of an element reference in W3C WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `chromedriver` on a free loopback port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver (its log in `dir/chromedriver.log`) and waits until it is ready.
    pub(crate) fn start(dir: &Path, port: u16) -> Self {
        for (bin, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: run scripts/setup.sh (it installs Debian's `{package}`)"
            );
        }
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = Self { child, port };
        let start = Instant::now();
        loop {
            if let Ok(v) = call(port, "GET", "/status", None) {
                if v["ready"] == true {
                    return driver;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not get ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new headless browser session (profile in `dir/chrome-profile`), closed on drop.
    pub(crate) fn session(&self, dir: &Path) -> Session {
        let profile = dir.join("chrome-profile");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,900",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--hide-scrollbars",
            // Nothing leaves the machine: no name but localhost resolves, and whatever is not
            // loopback (Chromium bypasses proxies for loopback) goes to a closed local port.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
            "--proxy-server=127.0.0.1:9",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let answer = call(self.port, "POST", "/session", Some(&caps))
            .unwrap_or_else(|e| panic!("no browser session: {e}"));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {answer}"))
            .to_string();
        Session {
            port: self.port,
            id,
        }
    }
}

/// One browser session; deleted (the browser closed) on drop.
pub(crate) struct Session {
    port: u16,
    id: String,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = call(self.port, "DELETE", &format!("/session/{}", self.id), None);
    }
}

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        call(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    /// Navigates to `url` (returns when the page has loaded).
    pub(crate) fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({ "url": url })))
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page; its result.
    pub(crate) fn run(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// Runs `script` until it returns something truthy (not `null`, `false`, `0`, `""` or an
    /// empty array), at most `bound`; that result. Fails the test with `what` and the last
    /// result (or error) otherwise.
    pub(crate) fn wait_for(&self, what: &str, bound: Duration, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let got = self.run(script, &[]);
            if let Ok(v) = &got {
                if truthy(v) {
                    return v.clone();
                }
            }
            assert!(
                start.elapsed() < bound,
                "timed out after {bound:?} waiting for {what}; last: {got:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element matching CSS `selector` (its WebDriver reference).
    pub(crate) fn find(&self, selector: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(&json!({ "using": "css selector", "value": selector })),
            )
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"));
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element reference in {v}"))
            .to_string()
    }

    /// Types `text` into element `el` (as keystrokes).
    pub(crate) fn type_into(&self, el: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(&json!({ "text": text })),
        )
        .unwrap_or_else(|e| panic!("type into {el}: {e}"));
    }

    /// Clears the input `el`.
    pub(crate) fn clear(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/clear"), Some(&json!({})))
            .unwrap_or_else(|e| panic!("clear {el}: {e}"));
    }

    /// Clicks element `el`.
    pub(crate) fn click(&self, el: &str) {
        self.cmd("POST", &format!("/element/{el}/click"), Some(&json!({})))
            .unwrap_or_else(|e| panic!("click {el}: {e}"));
    }

    /// The browser console's messages since the last call (chromedriver's log endpoint):
    /// `[{level, message}]`.
    pub(crate) fn console(&self) -> Vec<Value> {
        self.cmd("POST", "/se/log", Some(&json!({ "type": "browser" })))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// A PNG of the viewport.
    pub(crate) fn screenshot(&self) -> Vec<u8> {
        let v = self
            .cmd("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        base64_decode(v.as_str().expect("base64 PNG")).expect("valid base64")
    }
}

/// JavaScript's truthiness, plus: an empty array is not.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

/// One WebDriver command: `method path` with a JSON body; the answer's `value`, or the error
/// it reports (or why there was no answer).
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    // Read the head, then the body by its length (chromedriver may keep the connection open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("no HTTP head".into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut content = raw[split + 4..].to_vec();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|l| l.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while content.len() < len {
                let n = s.read(&mut buf).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("short body".into());
                }
                content.extend_from_slice(&buf[..n]);
            }
            content.truncate(len);
        }
        None => {
            s.read_to_end(&mut content).map_err(|e| e.to_string())?;
            if head.contains("transfer-encoding: chunked") {
                content = dechunk(&content).ok_or("bad chunked body")?;
            }
        }
    }
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let v: Value = serde_json::from_slice(&content).map_err(|e| format!("{e}: {head}"))?;
    if status == 200 {
        Ok(v["value"].clone())
    } else {
        Err(format!("HTTP {status}: {}", v["value"]))
    }
}

/// The body of a chunked transfer encoding.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..nl]).ok()?.split(';').next()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        b = &b[nl + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[test]
fn base64_decodes() {
    assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
    assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
    assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
}
