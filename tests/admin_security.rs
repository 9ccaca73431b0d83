//! The admin endpoint on a shared machine, with the real `aimdbd` and hostile local clients:
//! a cross-site `POST` with `text/plain` (what any web page can send without a preflight), a
//! foreign `Origin`, a foreign `Host` (DNS rebinding), a missing or wrong bearer token — each
//! refused with its status and the record left untouched — while a legitimate `aimdbd ctl set`
//! still works and its value is stored with `source = "admin"`. Beyond loopback the token guards
//! every request, and listening there without one is warned about by `check` and at start. A
//! reload applies a rotated token at once.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use support::{http_raw, wait_until, Daemon, TestDir, BOUND};

const TOKEN: &str = "test-token-0123456789abcdef";

/// A JSON record without a writer, persisted, behind `[admin]` lines `admin`.
fn config(admin: &str) -> String {
    format!(
        "[node]\nid = \"test-gw\"\n\n[admin]\n{admin}\n\n[store]\npath = \"h.db\"\n\n\
         [[record]]\nkey = \"node.cmd\"\ntype = \"json\"\nbuffer = {{ kind = \"single_latest\" }}\npersist = true\n"
    )
}

/// One request as written, with `Content-Length` for `body`; (status, head, body).
fn send(port: u16, method: &str, headers: &[&str], body: &str) -> (u16, String, String) {
    let mut req = format!("{method} /api/records/node.cmd HTTP/1.0\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    http_raw(port, &req).expect("an answer")
}

fn value(d: &Daemon) -> serde_json::Value {
    d.get_json("/api/records/node.cmd").expect("GET the record")["value"].clone()
}

fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .arg("ctl")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run aimdbd ctl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn cfg_arg(dir: &Path) -> String {
    dir.join("aimdbd.toml").display().to_string()
}

#[test]
fn hostile_local_clients_are_refused_and_ctl_set_still_works() {
    let dir = TestDir::new("admin-hostile");
    let port = support::free_port();
    let d = Daemon::start(
        dir.path(),
        port,
        &config(&format!("listen = \"127.0.0.1:{port}\"")),
    );
    let host = format!("Host: 127.0.0.1:{port}");
    let reboot = r#""reboot""#;

    // What a web page sends with fetch(url, {method: "POST", mode: "no-cors", body}).
    let (status, _, body) = send(
        port,
        "POST",
        &[
            &host,
            "Origin: https://evil.example",
            "Content-Type: text/plain;charset=UTF-8",
        ],
        reboot,
    );
    assert_eq!(status, 403, "cross-site POST: {body}");
    assert!(body.contains("cross-origin"), "{body}");
    // The same without Origin (an old browser, a form, a local script): not JSON.
    let (status, _, body) = send(port, "POST", &[&host, "Content-Type: text/plain"], reboot);
    assert_eq!(status, 415, "{body}");
    assert!(body.contains("application/json"), "{body}");
    let (status, _, _) = send(port, "POST", &[&host], reboot);
    assert_eq!(status, 415, "no Content-Type at all");
    // JSON, but from another origin — another local site too.
    for origin in ["https://evil.example", "http://localhost:8080", "null"] {
        let (status, _, body) = send(
            port,
            "POST",
            &[
                &host,
                &format!("Origin: {origin}"),
                "Content-Type: application/json",
            ],
            reboot,
        );
        assert_eq!(status, 403, "Origin {origin}: {body}");
    }
    // DNS rebinding: evil.example resolves to 127.0.0.1, the browser says so in Host.
    let rebound = format!("Host: evil.example:{port}");
    let (status, _, body) = send(port, "GET", &[&rebound], "");
    assert_eq!(status, 421, "rebound read: {body}");
    assert!(body.contains("allowed_hosts"), "{body}");
    let (status, _, _) = send(
        port,
        "POST",
        &[&rebound, "Content-Type: application/json"],
        reboot,
    );
    assert_eq!(status, 421, "rebound write");
    assert_eq!(value(&d), serde_json::Value::Null, "nothing was written");

    // Legitimate clients: a same-origin page, and ctl.
    let (status, _, body) = send(
        port,
        "POST",
        &[
            &format!("Host: localhost:{port}"),
            &format!("Origin: http://localhost:{port}"),
            "Content-Type: application/json; charset=utf-8",
        ],
        r#""identify""#,
    );
    assert_eq!(status, 200, "same-origin JSON write: {body}");
    let out = ctl(&["-c", &cfg_arg(dir.path()), "set", "node.cmd", r#""blink""#]);
    assert!(out.status.success(), "ctl set: {}", stderr(&out));
    assert_eq!(value(&d), "blink");
    wait_until("both writes are stored as admin writes", || {
        d.get_json("/api/records/node.cmd/history")
            .and_then(|h| h["values"].as_array().cloned())
            .is_some_and(|v| v.len() == 2 && v.iter().all(|r| r["source"] == "admin"))
    });
}

#[test]
fn a_token_guards_writes_on_loopback() {
    let dir = TestDir::new("admin-token");
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).expect("token");
    let port = support::free_port();
    let d = Daemon::start(
        dir.path(),
        port,
        &config(&format!(
            "listen = \"127.0.0.1:{port}\"\ntoken_file = \"token\""
        )),
    );
    let host = format!("Host: 127.0.0.1:{port}");
    let json = "Content-Type: application/json";
    let (status, head, body) = send(port, "POST", &[&host, json], r#""reboot""#);
    assert_eq!(status, 401, "no token: {body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{head}"
    );
    let wrong = format!("Authorization: Bearer {TOKEN}x");
    let (status, _, body) = send(port, "POST", &[&host, json, &wrong], r#""reboot""#);
    assert_eq!(status, 401, "wrong token: {body}");
    assert!(body.contains("wrong bearer token"), "{body}");
    let good = format!("Authorization: Bearer {TOKEN}");
    let (status, _, _) = send(
        port,
        "POST",
        &[&host, "Content-Type: text/plain", &good],
        "\"x\"",
    );
    assert_eq!(status, 415, "a token does not make text/plain a write");
    assert_eq!(value(&d), serde_json::Value::Null);
    // Reads stay open on loopback.
    assert_eq!(send(port, "GET", &[&host], "").0, 200);

    let (status, _, body) = send(port, "POST", &[&host, json, &good], r#""identify""#);
    assert_eq!(status, 200, "{body}");
    // ctl: the token from the config (-c), or from --token-file; without one a clear error.
    let out = ctl(&["-c", &cfg_arg(dir.path()), "set", "node.cmd", r#""blink""#]);
    assert!(out.status.success(), "ctl -c: {}", stderr(&out));
    assert_eq!(value(&d), "blink");
    let addr = format!("127.0.0.1:{port}");
    let token_file = dir.join("token").display().to_string();
    let out = ctl(&[
        "--admin",
        &addr,
        "--token-file",
        &token_file,
        "set",
        "node.cmd",
        "\"b2\"",
    ]);
    assert!(out.status.success(), "ctl --token-file: {}", stderr(&out));
    let out = ctl(&["--admin", &addr, "set", "node.cmd", "\"nope\""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("HTTP 401") && stderr(&out).contains("--token-file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(value(&d), "b2");

    // A reload reads token_file again: the new token works at once, the old one no more.
    let rotated = "rotated-token-0123456789abcdef";
    std::fs::write(dir.join("token"), rotated).expect("token");
    d.signal("-HUP");
    wait_until("reloaded", || d.logged("reloaded: new graph running"));
    let (status, _, _) = send(port, "POST", &[&host, json, &good], r#""old""#);
    assert_eq!(status, 401, "the old token after the reload");
    let new = format!("Authorization: Bearer {rotated}");
    let (status, _, body) = send(port, "POST", &[&host, json, &new], r#""new""#);
    assert_eq!(status, 200, "the new token after the reload: {body}");
}

#[test]
fn beyond_loopback_the_token_guards_every_request() {
    let dir = TestDir::new("admin-lan");
    std::fs::write(dir.join("token"), TOKEN).expect("token");
    let port = support::free_port();
    let cfg = config(&format!(
        "listen = \"0.0.0.0:{port}\"\ntoken_file = \"token\"\nallowed_hosts = [\"gw-1.lan\"]"
    ));
    let d = Daemon::spawn(dir.path(), port, &cfg, None, &[]);
    let host = format!("Host: 127.0.0.1:{port}");
    let good = format!("Authorization: Bearer {TOKEN}");
    let get = |path: &str, headers: &[&str]| {
        let mut req = format!("GET {path} HTTP/1.0\r\n");
        for h in headers {
            req.push_str(&format!("{h}\r\n"));
        }
        req.push_str("\r\n");
        http_raw(port, &req).map(|r| r.0)
    };
    let start = Instant::now();
    while get("/readyz", &[&host, &good]) != Some(200) {
        assert!(start.elapsed() < BOUND, "not ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for path in [
        "/metrics",
        "/healthz",
        "/api/records",
        "/api/records/node.cmd",
    ] {
        assert_eq!(get(path, &[&host]), Some(401), "{path} without a token");
        assert_eq!(
            get(path, &[&host, &good]),
            Some(200),
            "{path} with the token"
        );
    }
    // A LAN address is an IP literal (no rebinding); a configured name passes; others do not.
    assert_eq!(
        get("/healthz", &[&format!("Host: 192.168.7.7:{port}"), &good]),
        Some(200)
    );
    assert_eq!(get("/healthz", &["Host: gw-1.lan", &good]), Some(200));
    assert_eq!(
        get("/healthz", &[&format!("Host: evil.example:{port}"), &good]),
        Some(421)
    );
    // ctl -c reaches 0.0.0.0 on loopback, with the config's token.
    let out = ctl(&["-c", &cfg_arg(dir.path()), "health"]);
    assert!(out.status.success(), "ctl health: {}", stderr(&out));
    drop(d);
}

#[test]
fn check_and_start_warn_beyond_loopback_without_a_token() {
    let dir = TestDir::new("admin-warn");
    let port = support::free_port();
    let cfg = config(&format!("listen = \"0.0.0.0:{port}\""));
    std::fs::write(dir.join("aimdbd.toml"), &cfg).expect("config");
    let out = support::aimdbd(&["check", "--config", &cfg_arg(dir.path())]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error: {err}");
    assert!(
        err.contains(&format!("aimdbd.toml:5:10: warning: [admin] listen 0.0.0.0:{port} is beyond loopback and there is no token_file")),
        "{err}"
    );
    assert!(err.contains("hint: set [admin] token_file"), "{err}");
    let d = Daemon::start(dir.path(), port, &cfg);
    assert!(d.logged("is beyond loopback and there is no token_file"));
    // Without a token the endpoint stays usable (the operator was warned), JSON writes only.
    assert_eq!(
        d.http("POST", "/api/records/node.cmd", "\"x\"")
            .map(|r| r.0),
        Some(200)
    );
}

#[test]
fn check_warns_about_a_token_file_every_user_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("admin-token-mode");
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).expect("token");
    let cfg = config("listen = \"127.0.0.1:9464\"\ntoken_file = \"token\"");
    std::fs::write(dir.join("aimdbd.toml"), cfg).expect("config");
    let check = |mode| {
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let out = support::aimdbd(&["check", "--config", &cfg_arg(dir.path())]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    let err = check(0o644);
    assert!(
        err.contains("aimdbd.toml:6:14: warning: [admin] token_file")
            && err.contains("readable by every user"),
        "{err}"
    );
    assert!(!check(0o600).contains("warning"));
}
