//! The CLI as a shell user meets it: output piped into a reader that closes early
//! (`aimdbd types | head -1`) ends quietly, as other Unix tools do, never with a panic; and
//! `graph --format dot` renders with Graphviz as one label line per field.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use support::TestDir;

const CONFIG: &str = r#"[node]
id = "gw"

[[record]]
key = "x"
type = "Temperature"
source = { kind = "simulate", period_ms = 100 }

[[record]]
key = "y"
type = "Temperature"
transform = { kind = "moving_average", input = "x", window = 4 }
link_to = [{ url = "mqtt://out/y", codec = "json" }]
"#;

fn config(dir: &TestDir) -> String {
    let path = dir.join("aimdbd.toml");
    std::fs::write(&path, CONFIG).expect("config");
    path.display().to_string()
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = TestDir::new("cli-pipe");
    let cfg = config(&dir);
    for args in [
        vec!["types"],
        vec!["graph", "-c", &cfg],
        vec!["graph", "-c", &cfg, "--format", "dot"],
        vec!["check", "-c", &cfg],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run aimdbd");
        // The reader goes away before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: no panic exit");
    }
}

#[test]
fn dot_labels_render_as_lines() {
    let dir = TestDir::new("cli-dot");
    let cfg = config(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["graph", "-c", &cfg, "--format", "dot"])
        .output()
        .expect("run aimdbd");
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        dot.contains(r#"[label="x\nTemperature\nspmc_ring(capacity=64)"]"#),
        "{dot}"
    );
    let mut graphviz = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` is needed: run ./scripts/setup.sh");
    graphviz
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("write");
    let svg = graphviz.wait_with_output().expect("dot -Tsvg");
    assert!(svg.status.success(), "dot accepts the output");
    let svg = String::from_utf8_lossy(&svg.stdout);
    for line in [
        "x",
        "Temperature",
        "spmc_ring(capacity=64)",
        "moving_average",
        "mqtt://out/y",
    ] {
        assert!(
            svg.contains(&format!(">{line}</text>")),
            "{line:?} is a line of its own in the SVG:\n{svg}"
        );
    }
    assert!(!svg.contains("\\n"), "no literal \\n in the rendering");
}
