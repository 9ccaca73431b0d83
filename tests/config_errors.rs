//! `aimdbd check` on every good config (exit 0, graph printed) and on a corpus of broken ones
//! (exit 78, `FILE:LINE:COL:` and the problem named, no panic). Each `tests/configs/broken/X.toml`
//! has a sibling `X.expect` with lines `LINE:COL substring` (a line of stderr starts with
//! `FILE:LINE:COL: ` and contains the substring) and `hint: substring` (the line after the one
//! matched just before is `  hint: ...` and contains it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .arg("check")
        .arg("--config")
        .arg(path)
        .env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("run aimdbd")
}

fn assert_no_panic(path: &Path, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{}: panicked:\n{stderr}",
        path.display()
    );
}

fn good_configs() -> Vec<PathBuf> {
    let mut v = vec![root().join("config/aimdbd.toml")];
    for dir in ["config/examples", "tests/configs/good"] {
        if let Ok(entries) = std::fs::read_dir(root().join(dir)) {
            v.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "toml")),
            );
        }
    }
    v
}

#[test]
fn every_good_config_checks_and_prints_its_graph() {
    let configs = good_configs();
    assert!(configs.len() >= 3, "config/aimdbd.toml and the examples");
    for path in configs {
        let out = check(&path);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}:\n{stderr}", path.display());
        assert!(stdout.contains("writer:"), "graph printed: {stdout}");
        assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    }
}

#[test]
fn every_broken_config_exits_78_with_file_line_column_and_the_problem() {
    let dir = root().join("tests/configs/broken");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 25, "corpus has {} configs", cases.len());
    let mut failures = Vec::new();
    for path in &cases {
        let expect_path = path.with_extension("expect");
        let expect = std::fs::read_to_string(&expect_path)
            .unwrap_or_else(|_| panic!("{} needs a sibling .expect", path.display()));
        let out = check(path);
        assert_no_panic(path, &out);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        if out.status.code() != Some(78) {
            failures.push(format!(
                "{}: exit {:?}\n{stderr}",
                path.display(),
                out.status.code()
            ));
            continue;
        }
        let lines: Vec<&str> = stderr.lines().collect();
        // Where the last `LINE:COL` expectation matched, for the `hint:` lines after it.
        let mut matched: Option<usize> = None;
        for line in expect.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(want) = line.strip_prefix("hint: ") {
                let hint = matched.and_then(|i| lines.get(i + 1));
                if !hint.is_some_and(|h| h.starts_with("  hint: ") && h.contains(want)) {
                    failures.push(format!(
                        "{}: want `  hint: ...{want}...` after the line before it in the .expect, got:\n{stderr}",
                        path.display()
                    ));
                }
                continue;
            }
            let (at, substring) = line.split_once(' ').expect("`LINE:COL substring`");
            let prefix = format!("{}:{at}: ", path.display());
            matched = lines
                .iter()
                .position(|l| l.starts_with(&prefix) && l.contains(substring));
            if matched.is_none() {
                failures.push(format!(
                    "{}: want a line `{prefix}...{substring}...`, got:\n{stderr}",
                    path.display()
                ));
            }
        }
        assert!(!stderr.contains("Error {"), "no debug dump: {stderr}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn several_mistakes_are_all_reported_in_one_pass() {
    let path = root().join("tests/configs/many_mistakes.toml");
    let out = check(&path);
    assert_no_panic(&path, &out);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "4:20: [node] shutdown_timeout",
        "7:13: [store] retention",
        "11:8: record \"sensor.temp\": unknown type \"Temprature\"",
        "17:43: record \"alert\": transform input \"sensor.tmp\" is not a record; did you mean \"sensor.temp\"?",
        "18:49: record \"alert\": unknown codec \"cbor\"",
        "18:63: record \"alert\": qos 5",
        "21:7: record \"alert\": duplicate key",
        "23:43: record \"alert\": buffer capacity 0",
        "8 problems found",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    assert!(
        stderr.contains("  hint: did you mean \"Temperature\"?"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_a_config_error_not_a_panic() {
    let path = root().join("tests/configs/does-not-exist.toml");
    let out = check(&path);
    assert_no_panic(&path, &out);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the config"));
}

#[test]
fn graph_formats_and_types_print() {
    let cfg = root().join("config/examples/gateway.toml");
    for (format, want) in [
        ("text", "writer:"),
        ("dot", "digraph"),
        ("json", "\"edges\""),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
            .args(["graph", "--format", format, "--config"])
            .arg(&cfg)
            .output()
            .expect("run aimdbd");
        assert_eq!(out.status.code(), Some(0));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(want),
            "{format}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .arg("types")
        .output()
        .expect("run aimdbd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Temperature",
        "json",
        "simulate",
        "heartbeat",
        "threshold",
        "moving_average",
        "dew_point",
        "log",
        "period_ms",
    ] {
        assert!(stdout.contains(want), "types lists {want}: {stdout}");
    }
}

/// A temporary config file, removed on drop.
struct TempConfig(PathBuf);

impl TempConfig {
    fn new(name: &str, text: impl AsRef<[u8]>) -> Self {
        let dir = std::env::temp_dir().join(format!("aimdbd-config-errors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        Self(path)
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_5_mb_string_is_cut_in_the_message_not_echoed_whole() {
    let long = "x".repeat(5 << 20);
    let cfg = TempConfig::new(
        "long-values.toml",
        format!("[node]\nid = \"{long}\"\n\n[[record]]\nkey = \"a\"\ntype = \"{long}\"\n"),
    );
    let out = check(&cfg.0);
    assert_no_panic(&cfg.0, &out);
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.len() < 2000, "{} bytes of stderr", stderr.len());
    let file = cfg.0.display();
    assert!(
        stderr.contains(&format!(
            "{file}:2:6: [node] id \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…\" (5242880 characters) is 5242880 bytes long; at most 32 are allowed"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:6:8: record \"a\": unknown type \"xxxx")),
        "{stderr}"
    );
}

#[test]
fn a_credential_missing_from_the_credentials_directory_is_an_error_with_the_unit_line_to_add() {
    let creds = std::env::temp_dir().join(format!("aimdbd-creds-{}", std::process::id()));
    std::fs::create_dir_all(&creds).expect("credentials dir");
    let cfg = TempConfig::new(
        "credential-missing.toml",
        "[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"mqtt://broker.lan\"\nusername = \"gw\"\npassword_file = \"credential:mqtt-password\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["check", "--config"])
        .arg(&cfg.0)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .expect("run aimdbd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    let want = format!(
        "{}:7:17: [mqtt] password_file: cannot read {}: No such file",
        cfg.0.display(),
        creds.join("mqtt-password").display()
    );
    assert!(stderr.contains(&want), "{want} in:\n{stderr}");
    assert!(
        stderr.contains("  hint: systemd puts the credential mqtt-password in $CREDENTIALS_DIRECTORY for a unit with LoadCredential=mqtt-password:PATH"),
        "{stderr}"
    );
    std::fs::write(creds.join("mqtt-password"), "pw\n").expect("credential");
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["check", "--config"])
        .arg(&cfg.0)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .expect("run aimdbd");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&creds);
}
