//! The directories of the state files: `[store] path` and, with `[mqtt] outbox = "disk"`,
//! `outbox_path`. A directory that does not exist or that this user cannot write is a warning,
//! not an error: the unit's `StateDirectory=` creates `/var/lib/aimdbd` when the service
//! starts, so `aimdbd check` run by hand before the first start may not find it yet.
//!
//! What the daemon does meanwhile: the history store opens no database (it is `down`, logged,
//! and nothing is stored); the disk outbox creates its missing directory if it may, else it
//! keeps values in memory only.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::super::{MqttConfig, Outbox, Problem, StoreConfig};
use crate::mqtt::config::RawMqtt;
use crate::store::config::RawStore;

/// Says how a relative path is resolved, and what to do by hand.
const HINT_MISSING: &str = "relative paths are resolved against $STATE_DIRECTORY, which the unit's StateDirectory=aimdbd creates (/var/lib/aimdbd) and sets; without it, against the config file's directory. Run by hand: create the directory (mkdir -p), writable by the user aimdbd runs as, or write an absolute path";
/// What to do about a directory this user cannot write.
const HINT_UNWRITABLE: &str = "make it writable by the user aimdbd runs as (chown or chmod), or leave the path relative and let the unit's StateDirectory= provide the directory";

/// Pushes a warning for each state file whose directory is missing or not writable.
pub(super) fn directories(
    raw_store: Option<&Spanned<RawStore>>,
    store: Option<&StoreConfig>,
    raw_mqtt: Option<&Spanned<RawMqtt>>,
    mqtt: Option<&MqttConfig>,
    push: &mut impl FnMut(Problem),
) {
    if let (Some(raw), Some(store)) = (raw_store, store) {
        let span = raw
            .get_ref()
            .path
            .as_ref()
            .map_or(raw.span(), Spanned::span);
        if let Some((message, hint)) = problem(&store.path, false) {
            push(
                Problem::at(
                    span,
                    format!(
                        "[store] path: {message}; the history store would be down (nothing stored)"
                    ),
                )
                .with_hint(hint),
            );
        }
    }
    if let (Some(raw), Some(mqtt)) = (raw_mqtt, mqtt.filter(|m| m.outbox == Outbox::Disk)) {
        let r = raw.get_ref();
        let (field, span) = match (&r.outbox_path, &r.outbox) {
            (Some(p), _) => ("outbox_path", p.span()),
            (None, Some(o)) => ("outbox", o.span()),
            (None, None) => ("outbox", raw.span()),
        };
        if let Some((message, hint)) = problem(&mqtt.outbox_path, true) {
            push(
                Problem::at(
                    span,
                    format!("[mqtt] {field}: {message}; the disk outbox would keep values in memory only (lost on restart)"),
                )
                .with_hint(hint),
            );
        }
    }
}

/// What is wrong with the directory of `file` (and `file` itself, if it exists), if anything.
/// `created`: the daemon creates a missing directory, so only one it cannot create is a
/// problem.
fn problem(file: &Path, created: bool) -> Option<(String, &'static str)> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Shown absolute: `.` says little to someone reading a log.
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    match std::fs::metadata(&dir) {
        Ok(m) if !m.is_dir() => Some((
            format!("{} is not a directory", dir.display()),
            HINT_MISSING,
        )),
        Ok(_) if !writable(&dir) => Some((
            format!("directory {} is not writable by this user", dir.display()),
            HINT_UNWRITABLE,
        )),
        Ok(_) if file.exists() && !writable(file) => Some((
            format!("{} is not writable by this user", file.display()),
            HINT_UNWRITABLE,
        )),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !created {
                return Some((
                    format!("directory {} does not exist", dir.display()),
                    HINT_MISSING,
                ));
            }
            let ancestor = dir.ancestors().skip(1).find(|a| a.is_dir())?;
            (!writable(ancestor)).then(|| {
                (
                    format!(
                        "directory {} does not exist and cannot be created ({} is not writable by this user)",
                        dir.display(),
                        ancestor.display()
                    ),
                    HINT_MISSING,
                )
            })
        }
        Err(e) => Some((
            format!("cannot look at {}: {e}", dir.display()),
            HINT_MISSING,
        )),
    }
}

/// Whether this process may create and change files in `path` (a directory: write and
/// search; a file: write), as the kernel decides for its real user (`access(2)`).
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mode = if path.is_dir() {
        libc::W_OK | libc::X_OK
    } else {
        libc::W_OK
    };
    // SAFETY: `c` is a NUL-terminated string that outlives the call; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_a_problem_unless_the_daemon_creates_it() {
        let dir = std::env::temp_dir().join(format!("aimdbd-state-dirs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(problem(&dir.join("h.db"), false), None);
        let missing = dir.join("nope/h.db");
        let (m, _) = problem(&missing, false).expect("missing");
        assert!(m.ends_with("nope does not exist"), "{m}");
        assert_eq!(
            problem(&missing, true),
            None,
            "created under a writable one"
        );
        std::fs::write(dir.join("file"), "").expect("file");
        let (m, _) = problem(&dir.join("file/h.db"), true).expect("not a dir");
        assert!(m.ends_with("file is not a directory"), "{m}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
