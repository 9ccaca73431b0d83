//! The shipped systemd unit's syscall sandbox, applied to the real `aimdbd`.
//!
//! No systemd runs here, so the test does what systemd does with `deploy/aimdbd.service`: it
//! reads the unit's `SystemCallFilter=` lines in order, expands the named groups with the
//! contents systemd 252 gives them (`tests/sandbox/systemd-252-syscall-groups.txt`, from
//! `systemd-analyze syscall-filter`), follows systemd's rules (the first line without `~` starts
//! an allow-list that implicitly holds `@default`; a later `~` line takes calls out of it;
//! names the architecture does not have are ignored), and installs the result as a seccomp
//! filter whose action for a denied call is the unit's `SystemCallErrorNumber=` (absent: kill
//! the process, as systemd does) — in the forked child, right before it execs `aimdbd`. Run as
//! root, the child first switches to an unprivileged user (65534), as `DynamicUser=yes` does.
//!
//! * `the_shipped_unit_runs_the_shipped_config_with_a_store`: `aimdbd check` (the unit's
//!   `ExecStartPre`) passes, then the daemon on `config/aimdbd.toml` (with its `[store]`, a real
//!   Mosquitto) reaches ready, stores history, logs that the writer keeps the default priority
//!   (its `setpriority` was denied with EPERM), and drains on SIGTERM with exit 0.
//! * `without_an_error_number_the_filter_kills_the_daemon`: the same unit with
//!   `SystemCallErrorNumber=` removed kills the daemon with SIGSYS — the crash of issue #14, and
//!   the proof that the filter above is really in force.
//! * `setpriority_is_the_only_call_the_unit_denies_on_these_paths`: killing on any denied call
//!   but allowing `setpriority`, the same run succeeds — nothing else is silently refused.
//! * `credentials_come_through_the_credentials_directory`: `password_file` and `token_file` as
//!   `credential:NAME` under the same filter, as `LoadCredential=` hands them over.
//! * `the_source_install_unit_names_what_the_install_steps_install`: the unit names the Debian
//!   package's paths (tests/package.rs checks the package); rewritten by the source install's
//!   `sudo sed -i` line in docs/OPERATIONS.md, its binaries (`ExecStartPre`, `ExecStart`), config
//!   and `Documentation=` files are where that section's `sudo install` lines put them.
//!
//! Not modelled: the other seccomp-based settings (`RestrictAddressFamilies=`,
//! `MemoryDenyWriteExecute=`, `RestrictNamespaces=`, `LockPersonality=`, `RestrictRealtime=`,
//! `SystemCallArchitectures=` beyond seccompiler's own architecture check), and the
//! mount/user sandbox (`ProtectSystem=`, `DynamicUser=`, ...).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use support::mosquitto::Mosquitto;
use support::{Daemon, TestDir, BOUND};

const GROUPS: &str = "tests/sandbox/systemd-252-syscall-groups.txt";
const SIGSYS: i32 = 31;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `KEY=VALUE` lines of the unit's `[Service]` section, in order.
fn service_directives(unit: &str) -> Vec<(String, String)> {
    let mut section = "";
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "continued lines are not modelled by this test: {line}"
        );
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]" {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=VALUE: {line}"));
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// systemd's groups: `@name` → entries (syscall names and nested `@groups`).
fn groups() -> HashMap<String, Vec<String>> {
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    let mut current = None;
    for line in read(GROUPS).lines() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            assert!(entry.starts_with('@'), "{GROUPS}: a group name: {line}");
            groups.insert(entry.to_string(), Vec::new());
            current = Some(entry.to_string());
        } else {
            let group = current.as_ref().expect("an entry after a group name");
            groups
                .get_mut(group)
                .expect("group")
                .push(entry.to_string());
        }
    }
    groups
}

fn expand(name: &str, groups: &HashMap<String, Vec<String>>, out: &mut BTreeSet<String>) {
    if name.starts_with('@') {
        let entries = groups
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not a systemd 252 group ({GROUPS})"));
        for e in entries {
            expand(e, groups, out);
        }
    } else {
        out.insert(name.to_string());
    }
}

/// What a denied call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denied {
    Errno(u32),
    Kill,
}

/// A unit's syscall filter, resolved the way systemd resolves it.
#[derive(Debug)]
struct Sandbox {
    allow_list: bool,
    calls: BTreeSet<String>,
    denied: Denied,
}

impl Sandbox {
    fn of_unit(unit: &str) -> Self {
        let groups = groups();
        let mut filter: Option<(bool, BTreeSet<String>)> = None;
        let mut denied = Denied::Kill;
        for (key, value) in service_directives(unit) {
            match key.as_str() {
                "SystemCallFilter" => {
                    if value.is_empty() {
                        filter = None;
                        continue;
                    }
                    let (invert, list) = match value.strip_prefix('~') {
                        Some(rest) => (true, rest),
                        None => (false, value.as_str()),
                    };
                    let (allow_list, calls) = filter.get_or_insert_with(|| {
                        let mut calls = BTreeSet::new();
                        if !invert {
                            // systemd: "Accept default syscalls if we are on an allow list".
                            expand("@default", &groups, &mut calls);
                        }
                        (!invert, calls)
                    });
                    for word in list.split_whitespace() {
                        assert!(
                            !word.contains(':'),
                            "per-entry error numbers ({word}) are not modelled by this test"
                        );
                        let mut names = BTreeSet::new();
                        expand(word, &groups, &mut names);
                        if *allow_list != invert {
                            calls.extend(names);
                        } else {
                            calls.retain(|c| !names.contains(c));
                        }
                    }
                }
                "SystemCallErrorNumber" => {
                    denied = match value.as_str() {
                        "" | "kill" => Denied::Kill,
                        "EPERM" => Denied::Errno(libc::EPERM as u32),
                        "EACCES" => Denied::Errno(libc::EACCES as u32),
                        "ENOSYS" => Denied::Errno(libc::ENOSYS as u32),
                        other => panic!("SystemCallErrorNumber={other} is not modelled here"),
                    }
                }
                _ => {}
            }
        }
        let (allow_list, calls) = filter.expect("the unit has SystemCallFilter= lines");
        Self {
            allow_list,
            calls,
            denied,
        }
    }

    /// The seccomp BPF program for this machine's architecture.
    fn program(&self) -> BpfProgram {
        let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = self
            .calls
            .iter()
            .filter_map(|name| syscalls::Sysno::from_str(name).ok())
            .map(|nr| (i64::from(nr.id()), Vec::new()))
            .collect();
        assert!(rules.len() > 100, "only {} syscalls resolved", rules.len());
        let denied = match self.denied {
            Denied::Errno(e) => SeccompAction::Errno(e),
            Denied::Kill => SeccompAction::KillProcess,
        };
        let (mismatch, matched) = if self.allow_list {
            (denied, SeccompAction::Allow)
        } else {
            (SeccompAction::Allow, denied)
        };
        let arch = TargetArch::try_from(std::env::consts::ARCH).expect("a seccompiler arch");
        SeccompFilter::new(rules, mismatch, matched, arch)
            .and_then(BpfProgram::try_from)
            .expect("a BPF program")
    }
}

/// The unprivileged user the daemon runs as here when the test runs as root, as the unit's
/// `DynamicUser=yes` does (root would make SQLite `fchown` its journal files, which
/// `~@privileged` denies and a service user never calls).
const SERVICE_UID: u32 = 65534;

/// Whether this test runs as root.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// Lets the service user write `dir` (its state directory here) and returns the `aimdbd` it
/// can run: as root, a hard link (or copy) of the binary inside `dir`, since the build's
/// target directory may sit where that user cannot reach it (e.g. under /root).
fn open_to_service_user(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let built = PathBuf::from(env!("CARGO_BIN_EXE_aimdbd"));
    if !is_root() {
        return built;
    }
    let copy = dir.join("aimdbd-bin");
    if std::fs::hard_link(&built, &copy).is_err() {
        std::fs::copy(&built, &copy).expect("copy aimdbd for the service user");
    }
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    copy
}

/// Installs `program` in the child `cmd` forks, right before it execs (as systemd does), after
/// switching to [`SERVICE_UID`] when running as root.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn sandboxed(cmd: &mut Command, program: BpfProgram) {
    if is_root() {
        cmd.uid(SERVICE_UID).gid(SERVICE_UID);
    }
    // SAFETY: the hook runs in the forked child before exec; it only calls prctl and seccomp
    // (async-signal-safe system calls) on a program built before the fork, and allocates
    // nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            seccompiler::apply_filter(&program).map_err(|_| std::io::Error::last_os_error())
        });
    }
}

/// `config/aimdbd.toml` as shipped, with the admin port and the broker of this test.
fn shipped_config(admin: u16, broker: u16) -> String {
    let text = read("config/aimdbd.toml");
    assert!(
        text.contains("\n[store]\n"),
        "the shipped config has a [store]"
    );
    let out = text
        .replace(
            "listen = \"127.0.0.1:9464\"",
            &format!("listen = \"127.0.0.1:{admin}\""),
        )
        .replace(
            "url = \"mqtt://127.0.0.1:1883\"",
            &format!("url = \"mqtt://127.0.0.1:{broker}\""),
        );
    assert!(out.contains(&format!(":{admin}\"")) && out.contains(&format!(":{broker}\"")));
    out
}

/// Waits until `/readyz` answers 200; fails at once, naming the signal, if the daemon dies.
fn wait_ready_alive(d: &mut Daemon) {
    wait_alive(d, "ready", |d| {
        d.http("GET", "/readyz", "").is_some_and(|(s, _)| s == 200)
    });
}

/// Polls `f` until it holds; fails at once, naming the signal, if the daemon dies first.
fn wait_alive(d: &mut Daemon, what: &str, mut f: impl FnMut(&Daemon) -> bool) {
    let start = Instant::now();
    loop {
        if let Some(status) = d.child.try_wait().expect("wait") {
            panic!(
                "aimdbd exited before {what} ({status}; signal {:?}{}); log:\n{}",
                status.signal(),
                if status.signal() == Some(SIGSYS) {
                    ": SIGSYS, a system call the unit denies killed it"
                } else {
                    ""
                },
                std::fs::read_to_string(d.dir.join("log.jsonl")).unwrap_or_default()
            );
        }
        if f(d) {
            return;
        }
        assert!(start.elapsed() < BOUND, "not {what} within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn seccomp_mode(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:").map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn the_shipped_unit_runs_the_shipped_config_with_a_store() {
    let unit = read("deploy/aimdbd.service");
    let sandbox = Sandbox::of_unit(&unit);
    assert!(sandbox.allow_list && !sandbox.calls.contains("setpriority"));
    let dir = TestDir::new("sandbox-unit");
    let aimdbd = open_to_service_user(dir.path());
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = shipped_config(admin, broker.port);
    let state = dir.path().to_str().expect("utf-8 dir");

    // ExecStartPre: `aimdbd check` under the same filter.
    std::fs::write(dir.join("aimdbd.toml"), &config).expect("config");
    let mut check = Command::new(&aimdbd);
    check
        .args(["check", "--config"])
        .arg(dir.join("aimdbd.toml"))
        .env("STATE_DIRECTORY", state)
        .env_remove("RUST_LOG");
    sandboxed(&mut check, sandbox.program());
    let out = check.output().expect("run aimdbd check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "aimdbd check under the unit's filter: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let program = sandbox.program();
    let mut d = Daemon::spawn_cmd(
        dir.path(),
        admin,
        &config,
        None,
        &[("STATE_DIRECTORY", state)],
        &aimdbd,
        |cmd| {
            // An operator may add it to ExecStart=: inotify is in the unit's @system-service.
            cmd.arg("--watch-config");
            sandboxed(cmd, program);
        },
    );
    wait_ready_alive(&mut d);
    assert_eq!(
        seccomp_mode(d.child.id()),
        "2",
        "a seccomp filter is in force"
    );
    assert!(
        d.logged("--watch-config: a change of"),
        "the config watch works under the unit's filter"
    );
    wait_alive(&mut d, "the history writer gave up on nice 10", |d| {
        d.logged("history writer keeps the default CPU priority")
    });
    assert!(
        d.logged("Operation not permitted"),
        "setpriority was denied with EPERM"
    );
    wait_alive(&mut d, "history is stored", |d| {
        d.get_json("/api/records/sensor.temp.indoor/history")
            .and_then(|v| v["values"].as_array().map(|a| !a.is_empty()))
            .unwrap_or(false)
    });
    wait_alive(&mut d, "the bridge is connected", |d| {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    let code = d.stop();
    assert_eq!(
        code,
        Some(0),
        "drains and exits 0 under the filter: {:?}",
        d.child.try_wait()
    );
    assert!(d.logged("drained; exiting"));
    assert!(
        dir.join("aimdbd.db").exists(),
        "the store in $STATE_DIRECTORY"
    );
}

#[test]
fn without_an_error_number_the_filter_kills_the_daemon() {
    let unit: String = read("deploy/aimdbd.service")
        .lines()
        .filter(|l| !l.starts_with("SystemCallErrorNumber="))
        .map(|l| format!("{l}\n"))
        .collect();
    let sandbox = Sandbox::of_unit(&unit);
    assert_eq!(sandbox.denied, Denied::Kill);
    let dir = TestDir::new("sandbox-kill");
    let aimdbd = open_to_service_user(dir.path());
    let admin = support::free_port();
    // No broker: the bridge retries in the background; the store is what matters here.
    let config = shipped_config(admin, support::free_port());
    let state = dir.path().to_str().expect("utf-8 dir");
    let program = sandbox.program();
    let mut d = Daemon::spawn_cmd(
        dir.path(),
        admin,
        &config,
        None,
        &[("STATE_DIRECTORY", state)],
        &aimdbd,
        |cmd| sandboxed(cmd, program),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = d.child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < BOUND,
            "aimdbd was not killed under a killing filter: the sandbox is not in force"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.signal(), Some(SIGSYS), "killed by SIGSYS: {status}");
    assert!(
        d.logged("graph running"),
        "as in issue #14: killed once the graph runs and the history writer starts"
    );
}

#[test]
fn setpriority_is_the_only_call_the_unit_denies_on_these_paths() {
    // Kill on any denied call, but allow setpriority: if anything else the daemon does (start,
    // store, broker connection, admin requests, drain) were denied, it would die here.
    let unit: String = read("deploy/aimdbd.service")
        .lines()
        .filter(|l| !l.starts_with("SystemCallErrorNumber="))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut sandbox = Sandbox::of_unit(&unit);
    sandbox.calls.insert("setpriority".into());
    let dir = TestDir::new("sandbox-only-setpriority");
    let aimdbd = open_to_service_user(dir.path());
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = shipped_config(admin, broker.port);
    let state = dir.path().to_str().expect("utf-8 dir");
    let program = sandbox.program();
    let mut d = Daemon::spawn_cmd(
        dir.path(),
        admin,
        &config,
        None,
        &[("STATE_DIRECTORY", state)],
        &aimdbd,
        |cmd| sandboxed(cmd, program),
    );
    wait_ready_alive(&mut d);
    wait_alive(&mut d, "history is stored and the bridge connected", |d| {
        d.get_json("/api/records/sensor.temp.indoor/history")
            .and_then(|v| v["values"].as_array().map(|a| !a.is_empty()))
            .unwrap_or(false)
            && d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    assert!(
        !d.logged("history writer keeps the default CPU priority"),
        "setpriority was allowed here"
    );
    assert_eq!(d.stop(), Some(0), "drained under a killing filter");
}

#[test]
fn credentials_come_through_the_credentials_directory() {
    let sandbox = Sandbox::of_unit(&read("deploy/aimdbd.service"));
    let dir = TestDir::new("sandbox-credentials");
    let p = dir.path();
    let aimdbd = open_to_service_user(p);
    let out = Command::new("mosquitto_passwd")
        .args(["-b", "-c", "passwd", "gw", "cred-pass-1"])
        .current_dir(p)
        .output()
        .expect("`mosquitto_passwd` is needed; run ./scripts/setup.sh");
    assert!(out.status.success(), "mosquitto_passwd");
    let broker = Mosquitto::start_with(
        p,
        &format!(
            "allow_anonymous false\npassword_file {}\n",
            p.join("passwd").display()
        ),
    );
    let creds = p.join("credentials");
    std::fs::create_dir_all(&creds).expect("dir");
    std::fs::write(creds.join("mqtt-password"), "cred-pass-1\n").expect("password");
    let token = "sandbox-token-0123456789";
    std::fs::write(creds.join("admin-token"), format!("{token}\n")).expect("token");
    let admin = support::free_port();
    let config = format!(
        "[node]\nid = \"gw-cred\"\n\n[admin]\nlisten = \"127.0.0.1:{admin}\"\ntoken_file = \"credential:admin-token\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nusername = \"gw\"\npassword_file = \"credential:mqtt-password\"\n\n\
         [[record]]\nkey = \"note\"\ntype = \"json\"\nbuffer = {{ kind = \"single_latest\" }}\n\
         link_to = [{{ url = \"mqtt://gw-cred/note\", codec = \"json\", qos = 1 }}]\n",
        broker.port
    );
    let program = sandbox.program();
    let creds_dir = creds.to_str().expect("utf-8");
    let mut d = Daemon::spawn_cmd(
        p,
        admin,
        &config,
        None,
        &[("CREDENTIALS_DIRECTORY", creds_dir)],
        &aimdbd,
        |cmd| sandboxed(cmd, program),
    );
    wait_ready_alive(&mut d);
    wait_alive(&mut d, "connected with the credential password", |d| {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
    });
    assert_eq!(
        d.http("POST", "/api/records/note", "\"x\"").map(|r| r.0),
        Some(401),
        "the credential token guards writes"
    );
    let set = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .arg("ctl")
        .arg("--admin")
        .arg(format!("127.0.0.1:{admin}"))
        .arg("--token-file")
        .arg(creds.join("admin-token"))
        .args(["set", "note", "\"hello\""])
        .output()
        .expect("ctl");
    assert!(
        set.status.success(),
        "ctl set with the token: {}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert_eq!(d.stop(), Some(0));

    // Outside systemd there is no $CREDENTIALS_DIRECTORY: a config error with its place.
    let out = Command::new(env!("CARGO_BIN_EXE_aimdbd"))
        .arg("check")
        .arg("--config")
        .arg(p.join("aimdbd.toml"))
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("aimdbd.toml:6:14: [admin] token_file")
            && stderr.contains("aimdbd.toml:11:17: [mqtt] password_file")
            && stderr.contains("CREDENTIALS_DIRECTORY"),
        "{stderr}"
    );
}

/// The targets of `sudo install ... TARGET` lines in docs/OPERATIONS.md.
fn installed_paths() -> Vec<String> {
    read("docs/OPERATIONS.md")
        .lines()
        .filter(|l| l.trim_start().starts_with("sudo install "))
        .filter_map(|l| l.split('#').next())
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect()
}

/// The `s|FROM|TO|` substitutions of the source install's `sudo sed -i ... aimdbd.service` line
/// in docs/OPERATIONS.md, in order.
fn source_install_rewrites() -> Vec<(String, String)> {
    let ops = read("docs/OPERATIONS.md");
    let line = ops
        .lines()
        .find(|l| l.trim_start().starts_with("sudo sed -i ") && l.contains("aimdbd.service"))
        .expect("docs/OPERATIONS.md: a `sudo sed -i ... aimdbd.service` line");
    let rewrites: Vec<(String, String)> = line
        .split("'s|")
        .skip(1)
        .map(|expr| {
            let mut parts = expr.split('|');
            match (parts.next(), parts.next()) {
                (Some(from), Some(to)) => (from.to_string(), to.to_string()),
                _ => panic!("not s|FROM|TO|: {expr}"),
            }
        })
        .collect();
    assert!(!rewrites.is_empty(), "s|FROM|TO| expressions: {line}");
    rewrites
}

#[test]
fn the_source_install_unit_names_what_the_install_steps_install() {
    let unit = read("deploy/aimdbd.service");
    let rewrites = source_install_rewrites();
    let rewrite = |path: &str| {
        rewrites
            .iter()
            .fold(path.to_string(), |p, (from, to)| p.replace(from, to))
    };
    let directives = service_directives(&unit);
    let installed = installed_paths();
    for key in ["ExecStartPre", "ExecStart"] {
        let line = directives
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key}="));
        let mut words = line.split_whitespace();
        let binary = words.next().expect("a binary");
        assert_eq!(binary, "/usr/bin/aimdbd", "{key}=: the package's binary");
        let local = rewrite(binary);
        assert!(
            installed.contains(&local),
            "{key}={binary}, rewritten {local}, is installed by docs/OPERATIONS.md: {installed:?}"
        );
        let config = words
            .skip_while(|w| *w != "--config")
            .nth(1)
            .unwrap_or_else(|| panic!("{key}=: --config FILE"));
        assert!(
            installed.iter().any(|p| *p == rewrite(config)),
            "the unit's config {config} is installed: {installed:?}"
        );
    }
    let docs: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Documentation="))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        docs.iter().any(|d| d.starts_with("file://")),
        "Documentation=file://..."
    );
    for doc in docs {
        if doc.starts_with("man:") {
            continue; // the man pages: tests/package.rs
        }
        let path = doc
            .strip_prefix("file://")
            .unwrap_or_else(|| panic!("Documentation={doc}: file:// or man: only"));
        let local = rewrite(path);
        assert!(
            installed.contains(&local),
            "Documentation={doc}, rewritten {local}, is installed by docs/OPERATIONS.md: {installed:?}"
        );
        let name = Path::new(path).file_name().expect("a file name");
        assert!(
            root().join("docs").join(name).exists(),
            "docs/{name:?} exists"
        );
    }
}
