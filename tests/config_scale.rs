//! `aimdbd check` stays linear-ish on generated configs of 20 000 records, with the real
//! binary: all records valid (a 20 000-long transform chain), each with an unknown type, each
//! with an unknown transform input. Each case used to take 10 s to many minutes (a scan of the
//! whole text per mistake, a scan of every record per topological step, a "did you mean" over
//! every key per unknown input).
//!
//! Timing does not gate the tests here beyond a hang guard (30 s in a debug build, for
//! well under a second in release): what they show is that each case finishes, is complete
//! (every mistake reported), and how long it took (printed).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const N: usize = 20_000;
const GUARD: Duration = Duration::from_secs(30);

fn write(name: &str, record: impl Fn(usize) -> String) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aimdbd-config-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut text = String::from("[node]\nid = \"gw-1\"\n\n");
    for i in 0..N {
        let _ = writeln!(text, "[[record]]\nkey = \"r{i}\"\n{}", record(i));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("config");
    path
}

/// Runs `check` on `path` (killed after [`GUARD`]); exit code and stderr.
fn check(path: &PathBuf) -> (Option<i32>, String) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["check", "--config"])
        .arg(path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aimdbd");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            eprintln!("{}: {:?}", path.display(), start.elapsed());
            return (status.code(), reader.join().unwrap_or_default());
        }
        if start.elapsed() > GUARD {
            let _ = child.kill();
            panic!("check on {} ran longer than {GUARD:?}", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_chain_of_20000_valid_records_checks() {
    let path = write("chain.toml", |i| {
        if i == 0 {
            "type = \"Temperature\"\nsource = { kind = \"simulate\", period_ms = 1000 }\n".into()
        } else {
            format!(
                "type = \"Temperature\"\ntransform = {{ kind = \"moving_average\", input = \"r{}\", window = 4 }}\n",
                i - 1
            )
        }
    });
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn twenty_thousand_unknown_types_are_all_reported() {
    let path = write("types.toml", |_| "type = \"Temprature\"\n".into());
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(78));
    assert!(
        stderr.contains(&format!("{N} problems found")),
        "{}",
        &stderr[stderr.len().saturating_sub(300)..]
    );
}

#[test]
fn twenty_thousand_unknown_inputs_are_all_reported() {
    let path = write("inputs.toml", |i| {
        format!("type = \"Temperature\"\ntransform = {{ kind = \"moving_average\", input = \"r{i}x\", window = 4 }}\n")
    });
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(78));
    assert!(
        stderr.contains(&format!("{N} problems found")),
        "{}",
        &stderr[stderr.len().saturating_sub(300)..]
    );
    assert!(
        stderr.contains("; did you mean \"r"),
        "the first ones still get a hint"
    );
}

#[test]
fn twenty_thousand_duplicate_keys_are_all_reported() {
    // Each record sets `key` twice; finding a first definition costs a parse of the text, so
    // only the first few name its line (this took minutes when every one did).
    let path = write("duplicates.toml", |i| {
        format!("key = \"s{i}\"\ntype = \"Temperature\"\n")
    });
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(78));
    assert!(
        stderr.contains(&format!("{N} problems found")),
        "{}",
        &stderr[stderr.len().saturating_sub(300)..]
    );
    let file = path.display();
    assert!(
        stderr.contains(&format!(
            "{file}:6:1: duplicate key `key` (first defined on line 5)\n"
        )),
        "the first ones name the line: {}",
        &stderr[..stderr.len().min(600)]
    );
    let last = 5 * N + 1;
    assert!(
        stderr.contains(&format!("{file}:{last}:1: duplicate key `key`\n")),
        "the last one without: {}",
        &stderr[stderr.len().saturating_sub(600)..]
    );
}

#[test]
fn twenty_thousand_duplicate_tables_at_the_end_are_all_reported() {
    // The worst place for the first-definition search: every duplicate at the end of a long
    // file, so each extra parse reads nearly all of it.
    let mut text = std::fs::read_to_string(write("dup-tables.toml", |_| {
        "type = \"Temperature\"\n".into()
    }))
    .expect("config");
    for i in 0..N {
        let _ = writeln!(text, "[store]\npath = \"h{i}.db\"");
    }
    let path = std::env::temp_dir()
        .join(format!("aimdbd-config-scale-{}", std::process::id()))
        .join("dup-tables.toml");
    std::fs::write(&path, text).expect("config");
    let (code, stderr) = check(&path);
    assert_eq!(code, Some(78));
    assert!(
        stderr.contains("duplicate key `store` (first defined on line"),
        "{}",
        &stderr[..stderr.len().min(600)]
    );
    assert!(
        stderr.contains("problems found"),
        "{}",
        &stderr[stderr.len().saturating_sub(300)..]
    );
}
