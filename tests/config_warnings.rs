//! What `aimdbd check` warns about: valid configs that cannot work as written. Each warning is
//! `FILE:LINE:COL: warning: ...` with a `  hint:` line, on stderr, and `check` still exits 0
//! (warnings never change the exit code; errors exit 78). The daemon logs the same warnings at
//! start, once, except the admin port probe, which only `check` makes. Real binary throughout.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{free_port, Daemon, TestDir};

fn check(config: &Path) -> Output {
    check_cmd(config, Command::new(env!("CARGO_BIN_EXE_aimdbd")))
}

fn check_cmd(config: &Path, mut cmd: Command) -> Output {
    cmd.args(["check", "--config"])
        .arg(config)
        .env_remove("RUST_LOG")
        .env_remove("STATE_DIRECTORY")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("run aimdbd")
}

/// The `  warning:` lines of stderr and the hint after each, as they are printed.
fn warnings(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(": warning: ") || l.starts_with("  hint: "))
        .map(str::to_string)
        .collect()
}

const LINK_HINT: &str =
    "  hint: add an [mqtt] table with the broker (url = \"mqtt://HOST:PORT\"), or remove the link";

#[test]
fn links_with_no_mqtt_table_are_warned_at_their_url() {
    let dir = TestDir::new("warn-links");
    let config = dir.join("aimdbd.toml");
    std::fs::write(
        &config,
        "[node]\nid = \"gw-1\"\n\n[[record]]\nkey = \"a\"\ntype = \"json\"\nlink_to = [{ url = \"mqtt://gw-1/out\", codec = \"json\" }]\n\n[[record]]\nkey = \"b\"\ntype = \"json\"\n\n[[record.link_from]]\nurl = \"mqtt://gw-1/in\"\n",
    )
    .expect("config");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file = config.display();
    assert_eq!(
        warnings(&out),
        [
            format!("{file}:7:20: warning: record \"a\": link_to \"mqtt://gw-1/out\" is not connected: there is no [mqtt] table, so its values are dropped, not published"),
            LINK_HINT.to_string(),
            format!("{file}:14:7: warning: record \"b\": link_from \"mqtt://gw-1/in\" is not connected: there is no [mqtt] table, so nothing is received from it"),
            LINK_HINT.to_string(),
        ]
    );
    // With an [mqtt] table there is nothing to say.
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(
        &config,
        text.replace(
            "\n\n[[record]]\nkey = \"a\"",
            "\n[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\n\n[[record]]\nkey = \"a\"",
        ),
    )
    .expect("config");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(warnings(&out), Vec::<String>::new());
}

#[test]
fn the_daemon_logs_an_unbridged_link_once_at_start_with_its_place() {
    let dir = TestDir::new("warn-links-daemon");
    let port = free_port();
    let config = support::config_head(port)
        + "[[record]]\nkey = \"t\"\ntype = \"json\"\nlink_to = [{ url = \"mqtt://out/t\", codec = \"json\" }]\n";
    let mut d = Daemon::start(dir.path(), port, &config);
    assert_eq!(d.stop(), Some(0));
    let lines = d.log_lines();
    let warned: Vec<_> = lines
        .iter()
        .filter(|l| support::message(l).contains("no [mqtt] table") && l["level"] == "WARN")
        .collect();
    assert_eq!(warned.len(), 1, "one warning: {warned:?}");
    let want = format!(
        "{}:11:20: warning: record \"t\": link_to \"mqtt://out/t\" is not connected",
        dir.join("aimdbd.toml").display()
    );
    assert!(
        support::message(warned[0]).starts_with(&want),
        "{want} in {warned:?}"
    );
    assert_eq!(
        warned[0]["fields"]["hint"],
        LINK_HINT.trim_start().trim_start_matches("hint: ")
    );
}

#[test]
fn a_store_directory_that_does_not_exist_is_a_warning() {
    let dir = TestDir::new("warn-store-dir");
    let config = dir.join("aimdbd.toml");
    std::fs::write(
        &config,
        "[node]\nid = \"gw-1\"\n\n[store]\npath = \"missing/history.db\"\n",
    )
    .expect("config");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        warnings(&out),
        [
            format!(
                "{}:5:8: warning: [store] path: directory {} does not exist; the history store would be down (nothing stored)",
                config.display(),
                dir.join("missing").display()
            ),
            "  hint: relative paths are resolved against $STATE_DIRECTORY, which the unit's StateDirectory=aimdbd creates (/var/lib/aimdbd) and sets; without it, against the config file's directory. Run by hand: create the directory (mkdir -p), writable by the user aimdbd runs as, or write an absolute path".to_string(),
        ]
    );
    // The directory made, nothing to say; $STATE_DIRECTORY decides where a relative path goes.
    std::fs::create_dir(dir.join("missing")).expect("mkdir");
    let out = check(&config);
    assert_eq!(warnings(&out), Vec::<String>::new(), "{out:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .args(["check", "--config"])
        .arg(&config)
        .env("STATE_DIRECTORY", dir.join("state"))
        .output()
        .expect("run aimdbd");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let w = warnings(&out);
    assert!(
        w.first().is_some_and(|l| l.contains(&format!(
            "directory {} does not exist",
            dir.join("state/missing").display()
        ))),
        "{w:?}"
    );
}

/// A command that runs `aimdbd` as a user who may not write `dir` (owned by the test's user,
/// mode 0755): `nobody` through `setpriv` when the test runs as root, else the test's user
/// with `dir` made read-only.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn as_user_who_cannot_write(dir: &Path) -> Command {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid takes no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_aimdbd"));
        cmd
    } else {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        Command::new(env!("CARGO_BIN_EXE_aimdbd"))
    }
}

#[test]
fn state_directories_this_user_cannot_write_are_warnings() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("warn-state-unwritable");
    let config = dir.join("aimdbd.toml");
    std::fs::write(
        &config,
        "[node]\nid = \"gw-1\"\n\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\noutbox = \"disk\"\n\n[store]\nretention = \"1d\"\n",
    )
    .expect("config");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = check_cmd(&config, as_user_who_cannot_write(dir.path()));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let file = config.display();
    let shown = dir.path().display();
    let hint = "  hint: make it writable by the user aimdbd runs as (chown or chmod), or leave the path relative and let the unit's StateDirectory= provide the directory";
    assert_eq!(
        warnings(&out),
        [
            format!("{file}:6:10: warning: [mqtt] outbox: directory {shown} is not writable by this user; the disk outbox would keep values in memory only (lost on restart)"),
            hint.to_string(),
            format!("{file}:8:1: warning: [store] path: directory {shown} is not writable by this user; the history store would be down (nothing stored)"),
            hint.to_string(),
        ]
    );
    // The same config for a user who may write there: no warning.
    let out = check(&config);
    assert_eq!(warnings(&out), Vec::<String>::new(), "{out:?}");
}

#[test]
fn an_admin_port_taken_is_a_warning_in_check_and_the_daemons_own_error_at_start() {
    let dir = TestDir::new("warn-admin-port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = taken.local_addr().expect("addr").port();
    let text = support::config_head(port);
    let config = dir.join("aimdbd.toml");
    std::fs::write(&config, &text).expect("config");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        warnings(&out),
        [
            format!("{}:6:10: warning: [admin] listen 127.0.0.1:{port}: cannot listen there now: Address already in use (os error 98); the daemon would not start", config.display()),
            format!("  hint: another process listens on port {port} (`ss -ltnp 'sport = :{port}'` names it); if it is aimdbd running this config, that is expected, else choose a free port"),
        ]
    );
    // The daemon does not probe: it fails to bind, with its own error, and exits 1.
    let mut d = Daemon::spawn(dir.path(), port, &text, None, &[]);
    assert_eq!(d.wait_exit(), Some(1));
    assert!(
        d.logged(&format!("admin endpoint on 127.0.0.1:{port}")),
        "{:?}",
        d.log_lines()
    );
    assert!(!d.logged("cannot listen there now"), "{:?}", d.log_lines());
    drop(taken);
    let out = check(&config);
    assert_eq!(warnings(&out), Vec::<String>::new(), "{out:?}");
}

#[test]
fn warnings_are_not_printed_for_a_config_with_errors_which_exits_78() {
    let dir = TestDir::new("warn-with-errors");
    let config = dir.join("aimdbd.toml");
    std::fs::write(
        &config,
        "[node]\nid = \"gw-1\"\n\n[[record]]\nkey = \"a\"\ntype = \"jsno\"\nlink_to = [{ url = \"mqtt://gw-1/out\" }]\n",
    )
    .expect("config");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:6:8: record \"a\": unknown type",
            config.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
}
