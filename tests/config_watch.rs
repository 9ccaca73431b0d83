//! `--watch-config`: saving the config file reloads it, as SIGHUP does — once per save (the
//! watcher waits until the file is quiet), whether the editor writes the file in place or renames
//! a new one over it; a broken save keeps the running graph. Without the flag, an edit changes
//! nothing until SIGHUP.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{config_head, free_port, message, wait_until, Daemon, TestDir};

/// A simulated temperature record called `key`.
fn record(key: &str) -> String {
    format!(
        r#"
[[record]]
key = "{key}"
type = "Temperature"
buffer = {{ kind = "single_latest" }}
source = {{ kind = "simulate", period_ms = 50 }}
"#
    )
}

fn reloads(d: &Daemon) -> usize {
    d.log_lines()
        .iter()
        .filter(|l| message(l) == "reloaded: new graph running")
        .count()
}

fn has(d: &Daemon, key: &str) -> bool {
    d.http("GET", &format!("/api/records/{key}"), "")
        .is_some_and(|(s, _)| s == 200)
}

/// Starts `aimdbd --watch-config` on `config` and waits until the watch is set up.
fn start_watching(dir: &Path, port: u16, config: &str) -> Daemon {
    let program = Path::new(env!("CARGO_BIN_EXE_aimdbd"));
    let d = Daemon::spawn_cmd(dir, port, config, None, &[], program, |c| {
        c.arg("--watch-config");
    });
    d.wait_ready();
    wait_until("the watch is set up", || {
        d.logged("--watch-config: a change of")
    });
    d
}

/// Saves `text` as an editor that writes a new file and renames it over the old one does.
fn save_by_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.swp");
    std::fs::write(&tmp, text).expect("write the new file");
    std::fs::rename(&tmp, path).expect("rename it into place");
}

/// Saves `text` in place in two writes 100 ms apart, as a slow editor or a copy over the network
/// does: in between, the file is cut in the middle of a record.
fn save_slowly(path: &Path, text: &str) {
    use std::io::Write;
    let (first, rest) = text.split_at(text.len() - record("sensor.temp2").len() / 2);
    let mut f = std::fs::File::create(path).expect("open the config");
    f.write_all(first.as_bytes()).expect("write");
    f.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(100));
    f.write_all(rest.as_bytes()).expect("write the rest");
}

#[test]
fn a_saved_edit_is_applied_once_and_a_broken_one_keeps_the_graph() {
    let dir = TestDir::new("watch-config");
    let port = free_port();
    let head = config_head(port);
    let mut d = start_watching(dir.path(), port, &(head.clone() + &record("sensor.temp")));
    let path = d.dir.join("aimdbd.toml");

    // Written in place, slowly (half, a pause, the rest): one reload, of the whole file.
    save_slowly(
        &path,
        &(head.clone() + &record("sensor.temp") + &record("sensor.temp2")),
    );
    wait_until("the edit is applied", || has(&d, "sensor.temp2"));
    assert!(d.logged("config file changed: reloading"));
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !d.logged("reload rejected"),
        "a half-written file was reloaded"
    );
    assert_eq!(reloads(&d), 1, "one save, one reload");

    // Renamed over it: the watch survives the new inode; the record goes again.
    save_by_rename(&path, &(head.clone() + &record("sensor.temp")));
    wait_until("the second edit is applied", || !has(&d, "sensor.temp2"));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(reloads(&d), 2, "one save, one reload");

    // A broken save is rejected; the running graph stays.
    std::fs::write(
        &path,
        head + &record("sensor.temp") + "\n[[record]]\nkey = 3\n",
    )
    .expect("break the config");
    wait_until("the broken edit is rejected", || {
        d.logged("reload rejected (the new config is invalid)")
    });
    assert!(has(&d, "sensor.temp"), "the old graph still runs");
    let (status, _) = d.http("GET", "/readyz", "").expect("admin answers");
    assert_eq!(status, 200);
    assert_eq!(reloads(&d), 2);

    assert_eq!(d.stop(), Some(0));
}

#[test]
fn without_the_flag_an_edit_waits_for_sighup() {
    let dir = TestDir::new("no-watch-config");
    let port = free_port();
    let head = config_head(port);
    let mut d = Daemon::start(dir.path(), port, &(head.clone() + &record("sensor.temp")));
    std::fs::write(
        d.dir.join("aimdbd.toml"),
        head + &record("sensor.temp") + &record("sensor.temp2"),
    )
    .expect("edit the config");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!d.logged("reloading"), "nothing watches the file");
    assert!(!has(&d, "sensor.temp2"));
    d.signal("-HUP");
    wait_until("SIGHUP applies the edit", || has(&d, "sensor.temp2"));
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_linked_config_is_followed_and_a_save_of_the_same_text_reloads_nothing() {
    use std::os::unix::fs::symlink;
    let dir = TestDir::new("watch-config-link");
    let port = free_port();
    let head = config_head(port);
    let one = head.clone() + &record("sensor.temp");
    let two = one.clone() + &record("sensor.temp2");
    // The config is a link into another directory, as config management lays it out; the
    // harness writes the config through it.
    let released = dir.path().join("released");
    std::fs::create_dir_all(&released).expect("mkdir");
    std::fs::write(released.join("v1.toml"), "").expect("v1");
    symlink(released.join("v1.toml"), dir.path().join("aimdbd.toml")).expect("link");
    let mut d = start_watching(dir.path(), port, &one);

    // The same text saved again: nothing to reload.
    std::fs::write(released.join("v1.toml"), &one).expect("save the same text");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(reloads(&d), 0, "the same text reloads nothing");

    // The target edited where it is (not through the link): seen in its own directory.
    std::fs::write(released.join("v1.toml"), &two).expect("edit the target");
    wait_until("the target's edit is applied", || has(&d, "sensor.temp2"));
    assert_eq!(reloads(&d), 1);

    // The link swapped to a file in a third directory (ln -sfn: a new link renamed over it).
    let next = dir.path().join("next");
    std::fs::create_dir_all(&next).expect("mkdir");
    std::fs::write(next.join("v2.toml"), &one).expect("v2");
    symlink(next.join("v2.toml"), dir.path().join("aimdbd.toml.new")).expect("new link");
    std::fs::rename(
        dir.path().join("aimdbd.toml.new"),
        dir.path().join("aimdbd.toml"),
    )
    .expect("swap the link");
    wait_until("the swapped link is applied", || !has(&d, "sensor.temp2"));
    assert_eq!(reloads(&d), 2);

    // ... and the new target's directory is watched from then on.
    std::fs::write(next.join("v2.toml"), &two).expect("edit the new target");
    wait_until("the new target's edit is applied", || {
        has(&d, "sensor.temp2")
    });
    assert_eq!(reloads(&d), 3);
    assert_eq!(d.stop(), Some(0));
}
