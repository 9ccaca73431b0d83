//! A password written into the broker URL (`mqtts://user:pw@host`) is never echoed, with the
//! real `aimdbd`: not by `check`, not by a start that refuses the config, not by a reload
//! that rejects it.

mod support;

use std::process::Command;

use support::{config_head, wait_until, Daemon, TestDir};

const SECRET: &str = "hunter2-secret";

fn url() -> String {
    format!("mqtts://gw-1:{SECRET}@broker.lan:8883")
}

#[test]
fn check_and_a_refused_start_do_not_echo_the_password() {
    let dir = TestDir::new("url-redaction-check");
    let path = dir.join("aimdbd.toml");
    std::fs::write(
        &path,
        format!("[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"{}\"\n", url()),
    )
    .expect("config");
    for args in [&["check", "--config"][..], &["--config"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
            .args(args)
            .arg(&path)
            .env_remove("RUST_LOG")
            .output()
            .expect("run aimdbd");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(78), "{args:?}: {all}");
        assert!(!all.contains(SECRET), "{args:?} echoed the password: {all}");
        assert!(
            all.contains("mqtts://***@broker.lan:8883"),
            "{args:?}: {all}"
        );
        assert!(
            all.contains("username and password_file"),
            "{args:?}: {all}"
        );
    }
}

#[test]
fn a_rejected_reload_does_not_log_the_password() {
    let dir = TestDir::new("url-redaction-reload");
    let admin = support::free_port();
    let d = Daemon::start(dir.path(), admin, &config_head(admin));
    let bad = format!("{}[mqtt]\nurl = \"{}\"\n", config_head(admin), url());
    std::fs::write(dir.join("aimdbd.toml"), bad).expect("config");
    d.signal("-HUP");
    wait_until("the reload is rejected", || {
        d.http("GET", "/metrics", "")
            .is_some_and(|(_, m)| m.contains("aimdbd_reloads_total{result=\"rejected\"} 1"))
    });
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    assert!(log.contains("***@broker.lan:8883"), "{log}");
    assert!(!log.contains(SECRET), "the log shows the password: {log}");
}
