//! Logging as an operator meets it: under systemd (`JOURNAL_STREAM` set) every line starts with
//! the syslog priority prefix journald reads, so `journalctl -p warning` works; a `--log-level`
//! that is not a level (`warning`, `verbose`) is a config error (exit 78) with a hint, instead
//! of a filter that silently turns logging off.

mod support;

use std::process::{Command, Stdio};

use support::{config_head, free_port, Daemon, TestDir};

#[test]
fn under_journald_lines_carry_their_priority() {
    let dir = TestDir::new("log-journald");
    let port = free_port();
    // A link with no [mqtt]: a warning at start.
    let config = config_head(port)
        + "[[record]]\nkey = \"t\"\ntype = \"json\"\nlink_to = [{ url = \"mqtt://out/t\", codec = \"json\" }]\n";
    let mut d = Daemon::spawn(
        dir.path(),
        port,
        &config,
        None,
        &[("JOURNAL_STREAM", "8:12345")],
    );
    d.wait_ready();
    assert_eq!(d.stop(), Some(0));
    let log = std::fs::read_to_string(dir.join("log.jsonl")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| l.starts_with(p)),
            "every line has a priority prefix: {l}"
        );
    }
    let priority = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .map(|l| &l[..3])
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{log}"))
    };
    assert_eq!(priority("graph running"), "<6>");
    assert_eq!(priority("no [mqtt] table"), "<4>");
    assert!(
        !log.contains("\"timestamp\""),
        "the journal adds its own time"
    );
}

#[test]
fn a_log_level_that_is_not_a_level_is_a_config_error_with_a_hint() {
    let dir = TestDir::new("log-level");
    let path = dir.join("aimdbd.toml");
    std::fs::write(&path, config_head(free_port())).expect("config");
    for (level, hint) in [
        ("warning", "did you mean \"warn\""),
        ("verbose", "\"debug\""),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
            .args(["--log-level", level, "--config"])
            .arg(&path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("run aimdbd");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{level}: {err}");
        assert!(err.contains("is not a level"), "{level}: {err}");
        assert!(err.contains(hint), "{level}: {err}");
    }
}
