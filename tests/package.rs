//! The Debian package (`[package.metadata.deb]` in Cargo.toml), built with `cargo deb` and taken
//! apart with the Debian tools.
//!
//! The package is built once for this file from the `aimdbd` this test run already built
//! (`cargo deb --no-build --profile dev --fast`: no second, release build; the release package
//! of docs/OPERATIONS.md differs only in its binary), after `aimdbd generate --out
//! target/generated` wrote the man pages and completions it packages. cargo-deb and lintian come
//! from `scripts/setup.sh`; without them these tests fail and say so.
//!
//! * `the_package_holds_the_binary_unit_conffile_docs_man_pages_and_completions`: `dpkg-deb -c`
//!   lists exactly the expected places (a man page per visible command of `aimdbd --help`),
//!   nothing in /usr/local, /var or /etc/systemd.
//! * `the_control_fields_and_conffiles`: `dpkg-deb -f` / `-e`: version, dependencies, a
//!   synopsis of one line, and `conffiles` = /etc/aimdbd/aimdbd.toml.
//! * `the_packaged_files_are_the_sources_and_run`: `dpkg-deb -x`: the conffile is
//!   config/aimdbd.toml, the unit is deploy/aimdbd.service, whose `ExecStartPre`/`ExecStart`
//!   binary, config and `Documentation=` are in the package; the packaged binary is stripped,
//!   prints its version and `check`s the packaged conffile; the man page and bash completion
//!   parse.
//! * `install_enables_nothing_upgrade_keeps_the_conffile_and_state_purge_removes_them`: real
//!   `dpkg --root` install, reinstall (the upgrade path of every maintainer script), remove and
//!   purge in a scratch root, `systemctl` and `deb-systemd-invoke` stubbed.
//! * `on_a_systemd_host_install_reloads_and_upgrade_restarts_only_a_running_service`: the
//!   maintainer scripts as on a booted systemd (its `/run/systemd/system` in the scratch root).
//! * `lintian_reports_no_errors`: and every warning it reports is one docs/OPERATIONS.md accepts.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;
use std::time::Instant;

use support::TestDir;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CONFFILE: &str = "/etc/aimdbd/aimdbd.toml";
const UNIT: &str = "/usr/lib/systemd/system/aimdbd.service";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `cmd` and returns its output if it exits 0; fails the test with the output otherwise,
/// and names scripts/setup.sh if the program is missing.
fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{shown}: not found ({e}); scripts/setup.sh installs what these tests need")
        }
        Err(e) => panic!("{shown}: {e}"),
    };
    assert!(
        out.status.success(),
        "{shown}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("utf-8 output")
}

/// The .deb, built on first use.
static DEB: LazyLock<PathBuf> = LazyLock::new(build_package);

fn build_package() -> PathBuf {
    let start = Instant::now();
    let cargo = env!("CARGO");
    let probe = Command::new(cargo)
        .args(["deb", "--version"])
        .output()
        .expect("cargo");
    assert!(
        probe.status.success(),
        "cargo-deb is missing: run scripts/setup.sh (it installs cargo-deb and lintian)\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    // cargo-deb finds `target/release/aimdbd` of its assets in TARGET_DIR/PROFILE_DIR: point it
    // at the binary this run built.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_aimdbd"));
    let profile_dir = bin.parent().expect("the profile dir");
    let target_dir = profile_dir.parent().expect("the target dir");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(dir) => dir,
        None => panic!("no profile dir in {}", bin.display()),
    };
    let generated = root().join("target/generated");
    let _ = fs::remove_dir_all(&generated);
    run(Command::new(&bin)
        .args(["generate", "--out"])
        .arg(&generated));
    let out_dir = target_dir.join("package-test");
    let _ = fs::remove_dir_all(&out_dir);
    fs::create_dir_all(&out_dir).expect("the package's output dir");
    run(Command::new(cargo)
        .args([
            "deb",
            "--no-build",
            "--offline",
            "--fast",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .arg("--output")
        .arg(&out_dir)
        .env("CARGO_TARGET_DIR", target_dir));
    let debs: Vec<PathBuf> = fs::read_dir(&out_dir)
        .expect("the output dir")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one .deb in {}: {debs:?}", out_dir.display());
    let deb = debs[0].clone();
    let name = deb.file_name().and_then(|n| n.to_str()).expect("a name");
    assert!(
        name.starts_with(&format!("aimdbd_{VERSION}-1_")),
        "aimdbd_VERSION-1_ARCH.deb: {name}"
    );
    eprintln!(
        "built {} in {:.1} s",
        deb.display(),
        start.elapsed().as_secs_f64()
    );
    deb
}

/// `dpkg-deb -c`: (mode, absolute path) of every entry, directories without a trailing `/`.
fn contents() -> Vec<(String, String)> {
    stdout(Command::new("dpkg-deb").arg("-c").arg(&*DEB))
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 6, "dpkg-deb -c line: {line}");
            let path = fields[5].trim_start_matches('.').trim_end_matches('/');
            (fields[0].to_string(), path.to_string())
        })
        .filter(|(_, path)| !path.is_empty())
        .collect()
}

/// The visible commands of `aimdbd --help` (its `Commands:` list, without `help`).
fn visible_commands() -> Vec<String> {
    let help = stdout(Command::new(env!("CARGO_BIN_EXE_aimdbd")).arg("--help"));
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    assert!(commands.iter().any(|c| c == "check"), "{help}");
    commands
}

#[test]
fn the_package_holds_the_binary_unit_conffile_docs_man_pages_and_completions() {
    let entries = contents();
    let mode_of = |path: &str| {
        entries
            .iter()
            .find(|(_, p)| p == path)
            .map(|(m, _)| m.as_str())
    };
    let mut expected = vec![
        ("/usr/bin/aimdbd", "-rwxr-xr-x"),
        (UNIT, "-rw-r--r--"),
        (CONFFILE, "-rw-r--r--"),
        ("/usr/share/man/man1/aimdbd.1.gz", "-rw-r--r--"),
        (
            "/usr/share/bash-completion/completions/aimdbd",
            "-rw-r--r--",
        ),
        ("/usr/share/zsh/vendor-completions/_aimdbd", "-rw-r--r--"),
        (
            "/usr/share/fish/vendor_completions.d/aimdbd.fish",
            "-rw-r--r--",
        ),
        ("/usr/share/doc/aimdbd/copyright", "-rw-r--r--"),
        ("/usr/share/doc/aimdbd/changelog.Debian.gz", "-rw-r--r--"),
        ("/usr/share/doc/aimdbd/README.md", "-rw-r--r--"),
        ("/usr/share/doc/aimdbd/OPERATIONS.md", "-rw-r--r--"),
        ("/usr/share/doc/aimdbd/CONFIG.md", "-rw-r--r--"),
    ];
    let pages: Vec<String> = visible_commands()
        .iter()
        .map(|c| format!("/usr/share/man/man1/aimdbd-{c}.1.gz"))
        .collect();
    expected.extend(pages.iter().map(|p| (p.as_str(), "-rw-r--r--")));
    for (path, mode) in expected {
        assert_eq!(
            mode_of(path),
            Some(mode),
            "{path} in the package: {entries:#?}"
        );
    }
    assert!(
        mode_of("/usr/share/man/man1/aimdbd-generate.1.gz").is_none(),
        "the hidden `generate` has no man page"
    );
    // The binary's line tables (`[profile.release] debug`), split out by cargo-deb.
    assert!(
        entries.iter().any(|(mode, p)| {
            mode == "-rw-r--r--"
                && p.starts_with("/usr/lib/debug/.build-id/")
                && p.ends_with(".debug")
        }),
        "the debug symbols in /usr/lib/debug/.build-id/: {entries:#?}"
    );
    let allowed = [
        "/usr/bin",
        "/usr/lib/debug/.build-id",
        "/usr/lib/systemd/system",
        "/usr/share",
        "/etc/aimdbd",
    ];
    for (_, path) in &entries {
        let inside = allowed
            .iter()
            .any(|a| path.starts_with(&format!("{a}/")) || path == a);
        let parent = allowed.iter().any(|a| a.starts_with(&format!("{path}/")));
        assert!(
            inside || parent,
            "{path}: only the binary, its debug symbols, the unit, /usr/share and /etc/aimdbd \
             (nothing in /usr/local, /var or /etc/systemd: installing enables nothing)"
        );
    }
}

#[test]
fn the_control_fields_and_conffiles() {
    let field = |name: &str| {
        stdout(Command::new("dpkg-deb").arg("-f").arg(&*DEB).arg(name))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "aimdbd");
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    assert!(field("Depends").contains("libc6"), "{}", field("Depends"));
    assert_eq!(field("Section"), "net");
    let description = field("Description");
    let synopsis = description.lines().next().unwrap_or_default();
    assert!(
        !synopsis.is_empty() && synopsis.len() <= 79,
        "a one-line synopsis (Cargo.toml's description): {description}"
    );
    assert!(
        description.contains("neither enabled") && description.contains("started"),
        "the description says installing starts nothing: {description}"
    );

    // The binary checked here is the dev profile's, which cargo-deb would strip even without
    // `separate-debug-symbols`; a release one with `[profile.release] debug` it ships unstripped
    // (lintian: unstripped-binary-or-object) unless told to split the symbols out.
    let manifest: toml::Table = read(&root().join("Cargo.toml"))
        .parse()
        .expect("Cargo.toml");
    let release_debug = manifest
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.get("debug"));
    let deb_meta = &manifest["package"]["metadata"]["deb"];
    let splits = ["separate-debug-symbols", "dbgsym"]
        .iter()
        .any(|k| deb_meta.get(k).and_then(toml::Value::as_bool) == Some(true));
    let no_debug = |v: &toml::Value| {
        matches!(v.as_bool(), Some(false))
            || matches!(v.as_integer(), Some(0))
            || matches!(v.as_str(), Some("none"))
    };
    assert!(
        release_debug.is_none_or(no_debug) || splits,
        "[profile.release] debug = {release_debug:?}: set separate-debug-symbols (or dbgsym) in \
         [package.metadata.deb]"
    );

    let dir = TestDir::new("package-control");
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&*DEB)
        .arg(dir.join("DEBIAN")));
    assert_eq!(
        read(&dir.join("DEBIAN/conffiles"))
            .lines()
            .collect::<Vec<_>>(),
        [CONFFILE],
        "conffiles"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let path = dir.join("DEBIAN").join(script);
        let mode = fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{script} is executable");
        run(Command::new("sh").arg("-n").arg(&path));
    }
}

/// `KEY=VALUE` lines of a unit's `[Service]` section.
fn service_lines(unit: &str) -> Vec<(String, String)> {
    let mut section = "";
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
        } else if section == "[Service]" {
            if let Some((k, v)) = line.split_once('=') {
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    out
}

/// A path of the package inside the extracted tree `tree`.
fn inside(tree: &Path, path: &str) -> PathBuf {
    tree.join(path.trim_start_matches('/'))
}

#[test]
fn the_packaged_files_are_the_sources_and_run() {
    let dir = TestDir::new("package-files");
    let tree = dir.join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&*DEB).arg(&tree));

    assert_eq!(
        read(&inside(&tree, CONFFILE)),
        read(&root().join("config/aimdbd.toml")),
        "the conffile is config/aimdbd.toml"
    );
    let unit = read(&inside(&tree, UNIT));
    assert_eq!(
        unit,
        read(&root().join("deploy/aimdbd.service")),
        "the unit is deploy/aimdbd.service"
    );
    for key in ["ExecStartPre", "ExecStart"] {
        let value = service_lines(&unit)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key}="));
        let words: Vec<&str> = value.split_whitespace().collect();
        assert_eq!(
            words[0], "/usr/bin/aimdbd",
            "{key}= runs the packaged binary"
        );
        let config = words
            .iter()
            .skip_while(|w| **w != "--config")
            .nth(1)
            .unwrap_or_else(|| panic!("{key}=: --config FILE"));
        assert_eq!(*config, CONFFILE, "{key}= reads the conffile");
    }
    let docs: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("Documentation="))
        .flat_map(str::split_whitespace)
        .collect();
    for doc in &docs {
        let path = if let Some(path) = doc.strip_prefix("file://") {
            path.to_string()
        } else if let Some(page) = doc.strip_prefix("man:").and_then(|p| p.strip_suffix("(1)")) {
            format!("/usr/share/man/man1/{page}.1.gz")
        } else {
            panic!("Documentation={doc}: file:// or man:NAME(1)")
        };
        assert!(
            inside(&tree, &path).is_file(),
            "Documentation={doc}: {path} is in the package"
        );
    }

    // The packaged binary (stripped by cargo-deb) runs, and `check`s the packaged conffile as
    // the unit's ExecStartPre does, with the unit's $STATE_DIRECTORY.
    let bin = inside(&tree, "/usr/bin/aimdbd");
    let sections = stdout(Command::new("readelf").arg("-S").arg("--wide").arg(&bin));
    assert!(
        !sections.contains(".debug_info") && !sections.contains(".debug_line"),
        "the packaged binary is stripped (lintian: unstripped-binary-or-object):\n{sections}"
    );
    let version = stdout(Command::new(&bin).arg("--version"));
    assert_eq!(version.trim(), format!("aimdbd {VERSION}"));
    let state = inside(&tree, "/var/lib/aimdbd");
    fs::create_dir_all(&state).expect("state dir");
    let check = run(Command::new(&bin)
        .arg("check")
        .arg("--config")
        .arg(inside(&tree, CONFFILE))
        .env("STATE_DIRECTORY", &state));
    let graph = String::from_utf8_lossy(&check.stdout);
    assert!(
        graph.contains("sensor.temp.indoor"),
        "check prints the graph: {graph}"
    );

    let man = stdout(
        Command::new("gzip")
            .arg("-dc")
            .arg(inside(&tree, "/usr/share/man/man1/aimdbd.1.gz")),
    );
    assert!(man.contains("\n.TH aimdbd 1 "), "a section-1 page: {man}");
    for needle in [".SH SYNOPSIS", ".SH EXAMPLES", CONFFILE, "/var/lib/aimdbd"] {
        assert!(man.contains(needle), "aimdbd(1) has {needle}:\n{man}");
    }
    run(Command::new("bash").arg("-n").arg(inside(
        &tree,
        "/usr/share/bash-completion/completions/aimdbd",
    )));
}

/// Executables that log their arguments instead of reaching the host's systemd.
struct Stubs {
    dir: PathBuf,
    log: PathBuf,
}

impl Stubs {
    fn new(dir: &TestDir) -> Self {
        let stubs = Self {
            dir: dir.join("stubs"),
            log: dir.join("stub-calls.log"),
        };
        fs::create_dir_all(&stubs.dir).expect("stubs dir");
        for name in ["systemctl", "deb-systemd-invoke"] {
            let path = stubs.dir.join(name);
            let script = format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\n",
                stubs.log.display()
            );
            fs::write(&path, script).expect("stub");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        fs::write(&stubs.log, "").expect("log");
        stubs
    }

    /// `PATH` with the stubs first.
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The calls logged since the last `take`.
    fn take(&self) -> Vec<String> {
        let calls = read(&self.log).lines().map(str::to_string).collect();
        fs::write(&self.log, "").expect("log");
        calls
    }
}

/// Every path under `dir` whose name mentions aimdbd (symlinks not followed).
fn aimdbd_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.expect("an entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("aimdbd"))
        {
            out.push(path.clone());
        }
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            out.extend(aimdbd_entries(&path));
        }
    }
    out
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn install_enables_nothing_upgrade_keeps_the_conffile_and_state_purge_removes_them() {
    let dir = TestDir::new("package-dpkg");
    let root_fs = dir.join("root");
    for sub in ["info", "updates", "triggers"] {
        fs::create_dir_all(root_fs.join("var/lib/dpkg").join(sub)).expect("dpkg admin dir");
    }
    fs::write(root_fs.join("var/lib/dpkg/status"), "").expect("dpkg status");
    // dpkg runs the maintainer scripts outside the root (--force-script-chrootless) with
    // DPKG_ROOT set: the purge must only remove state under it.
    let control = dir.join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&*DEB).arg(&control));
    for line in read(&control.join("postrm")).lines() {
        if line.trim_start().starts_with("rm ") {
            assert!(
                line.contains("${DPKG_ROOT:-}/"),
                "postrm honours DPKG_ROOT: {line}"
            );
        }
    }
    let stubs = Stubs::new(&dir);
    let dpkg = |args: &[&str], what: &str| {
        let out = run(Command::new("dpkg")
            .arg(format!("--root={}", root_fs.display()))
            .args([
                "--force-script-chrootless",
                "--force-not-root",
                "--force-depends",
                "--log=/dev/null",
            ])
            .args(args)
            .env("PATH", stubs.path()));
        let calls = stubs.take();
        for call in &calls {
            assert!(
                !call.contains(" start") && !call.contains(" restart") && !call.contains("enable"),
                "{what}: nothing started or enabled: {calls:?}"
            );
        }
        out
    };
    let at = |path: &str| inside(&root_fs, path);
    let wants = at("/etc/systemd/system/multi-user.target.wants/aimdbd.service");
    let deb = DEB.to_str().expect("utf-8 path");

    // Install: the files, and no unit enabled.
    dpkg(&["--install", deb], "install");
    assert!(at("/usr/bin/aimdbd").is_file() && at(UNIT).is_file() && at(CONFFILE).is_file());
    assert_eq!(
        aimdbd_entries(&at("/etc/systemd")),
        Vec::<PathBuf>::new(),
        "installing enables nothing"
    );
    assert!(
        !at("/var/lib/aimdbd").exists(),
        "no state before the first start"
    );

    // The operator edits the conffile and enables the unit; the service ran, with
    // DynamicUser=yes's layout of its state.
    let edited = format!("{}# edited by the operator\n", read(&at(CONFFILE)));
    fs::write(at(CONFFILE), &edited).expect("edit the conffile");
    fs::create_dir_all(wants.parent().expect("wants dir")).expect("wants dir");
    std::os::unix::fs::symlink(UNIT, &wants).expect("enable");
    fs::create_dir_all(at("/var/lib/private/aimdbd")).expect("state dir");
    fs::write(at("/var/lib/private/aimdbd/aimdbd.db"), "history").expect("state");
    std::os::unix::fs::symlink("private/aimdbd", at("/var/lib/aimdbd")).expect("state link");

    // Upgrade (a reinstall runs every script's upgrade path): edited conffile, enablement
    // and state kept.
    dpkg(&["--install", deb], "upgrade");
    assert_eq!(
        read(&at(CONFFILE)),
        edited,
        "upgrade keeps the edited conffile"
    );
    assert!(
        !at("/etc/aimdbd/aimdbd.toml.dpkg-dist").exists()
            && !at("/etc/aimdbd/aimdbd.toml.dpkg-new").exists()
    );
    assert!(
        fs::symlink_metadata(&wants).is_ok(),
        "an enabled unit stays enabled"
    );
    assert_eq!(
        read(&at("/var/lib/aimdbd/aimdbd.db")),
        "history",
        "upgrade keeps the state"
    );

    // Remove: the program goes, the conffile and the state stay.
    dpkg(&["--remove", "aimdbd"], "remove");
    assert!(!at("/usr/bin/aimdbd").exists() && !at(UNIT).exists());
    assert_eq!(read(&at(CONFFILE)), edited, "remove keeps the conffile");
    assert_eq!(
        read(&at("/var/lib/aimdbd/aimdbd.db")),
        "history",
        "remove keeps the state"
    );

    // Purge: the conffile, the state (both the symlink and its target) and the enablement go.
    dpkg(&["--purge", "aimdbd"], "purge");
    assert!(
        !at(CONFFILE).exists() && !at("/etc/aimdbd").exists(),
        "purge removes the conffile"
    );
    assert!(
        fs::symlink_metadata(at("/var/lib/aimdbd")).is_err()
            && !at("/var/lib/private/aimdbd").exists(),
        "purge removes the state"
    );
    assert_eq!(
        aimdbd_entries(&at("/etc/systemd")),
        Vec::<PathBuf>::new(),
        "purge removes the enablement and the mask"
    );

    // Without DynamicUser (a drop-in), the state is a plain /var/lib/aimdbd: purged too.
    dpkg(&["--install", deb], "install again");
    fs::create_dir_all(at("/var/lib/aimdbd")).expect("state dir");
    fs::write(at("/var/lib/aimdbd/aimdbd.db"), "history").expect("state");
    dpkg(&["--purge", "aimdbd"], "purge again");
    assert!(
        !at("/var/lib/aimdbd").exists(),
        "purge removes a plain state dir"
    );
}

#[test]
fn on_a_systemd_host_install_reloads_and_upgrade_restarts_only_a_running_service() {
    let dir = TestDir::new("package-systemd");
    let root_fs = dir.join("root");
    let booted = inside(&root_fs, "/run/systemd/system");
    fs::create_dir_all(&booted).expect("run dir");
    let control = dir.join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&*DEB).arg(&control));
    let stubs = Stubs::new(&dir);
    // The scripts test `[ -d /run/systemd/system ]` for a booted systemd: point them at ours.
    let script = |name: &str| {
        let text = read(&control.join(name));
        assert!(
            text.contains("/run/systemd/system"),
            "{name} checks for systemd"
        );
        let path = dir.join(name);
        fs::write(
            &path,
            text.replace("/run/systemd/system", &booted.display().to_string()),
        )
        .expect("script");
        path
    };
    let (postinst, prerm, postrm) = (script("postinst"), script("prerm"), script("postrm"));
    let call = |script: &Path, args: &[&str]| {
        run(Command::new("sh")
            .arg(script)
            .args(args)
            .env("DPKG_ROOT", &root_fs)
            .env("PATH", stubs.path()));
        stubs.take()
    };
    let reload = "systemctl --system daemon-reload".to_string();
    let old = format!("{VERSION}-1");

    assert_eq!(
        call(&postinst, &["configure"]),
        std::slice::from_ref(&reload),
        "install: daemon-reload, neither enable nor start"
    );
    assert_eq!(
        call(&prerm, &["upgrade", &old]),
        Vec::<String>::new(),
        "upgrade: not stopped before"
    );
    assert_eq!(
        call(&postinst, &["configure", &old]),
        [
            reload.clone(),
            "deb-systemd-invoke try-restart aimdbd.service".to_string()
        ],
        "upgrade: restarted if running, not started if stopped"
    );
    assert_eq!(
        call(&prerm, &["remove"]),
        ["deb-systemd-invoke stop aimdbd.service"],
        "remove: stopped"
    );
    assert_eq!(
        call(&postrm, &["remove"]),
        [reload],
        "remove: daemon-reload"
    );
}

#[test]
fn lintian_reports_no_errors() {
    let out = Command::new("lintian")
        .arg(&*DEB)
        .output()
        .unwrap_or_else(|e| panic!("lintian: {e}; run scripts/setup.sh (it installs lintian)"));
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("lintian:\n{report}");
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
    assert!(
        out.status.success(),
        "lintian: {}\n{report}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let ops = read(&root().join("docs/OPERATIONS.md"));
    for line in report.lines().filter(|l| l.starts_with("W: ")) {
        let tag = line
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("W: PACKAGE: TAG ...: {line}"));
        assert!(
            ops.contains(&format!("`{tag}`")),
            "lintian warning `{tag}` is not among those docs/OPERATIONS.md accepts: {line}"
        );
    }
}
