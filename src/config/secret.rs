//! Files holding secrets and keys: `[mqtt] password_file`, `ca_file`, `cert_file`, `key_file`
//! and `[admin] token_file`.
//!
//! Each is a path relative to the config file's directory (or absolute), or
//! `credential:NAME`: the file `NAME` in `$CREDENTIALS_DIRECTORY`, where systemd puts what a
//! unit's `LoadCredential=NAME:/etc/credstore/...` names (readable by the service's
//! `DynamicUser`, unlike a root-only file). The name is resolved when the config is validated,
//! so a `credential:` path outside systemd (no `$CREDENTIALS_DIRECTORY`) is a config error with
//! its `FILE:LINE:COL`, not a failed read later.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The prefix that names a systemd credential instead of a path.
pub(crate) const CREDENTIAL_PREFIX: &str = "credential:";

/// Why a secret's path could not be resolved: a message and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathError {
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) hint: &'static str,
}

/// Resolves `value` of a secret field: `credential:NAME` → `$CREDENTIALS_DIRECTORY/NAME`;
/// anything else → a path relative to `config_dir` unless absolute.
pub(super) fn resolve(config_dir: &Path, value: &str) -> Result<PathBuf, PathError> {
    let Some(name) = value.strip_prefix(CREDENTIAL_PREFIX) else {
        let path = Path::new(value);
        return Ok(if path.is_absolute() {
            path.to_path_buf()
        } else {
            config_dir.join(path)
        });
    };
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(PathError {
            message: format!("credential name {name:?} is not a file name"),
            hint: "write credential:NAME with the NAME of the unit's LoadCredential=NAME:PATH",
        });
    }
    match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir).join(name)),
        _ => Err(PathError {
            message: format!(
                "{value:?} needs $CREDENTIALS_DIRECTORY, which is not set (systemd sets it for a unit with LoadCredential=)"
            ),
            hint: "run under systemd with LoadCredential=NAME:PATH, or set CREDENTIALS_DIRECTORY=DIR to check the file by hand",
        }),
    }
}

/// Why a secret's file cannot be read, as a message (`cannot read PATH: ...`) and a hint that
/// says where the file is looked for and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unreadable {
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) hint: String,
}

/// Checks that `path` (resolved from `value` by [`resolve`]; relative paths against
/// `config_dir`) exists and can be opened for reading by this process. Directories are
/// refused; FIFOs, sockets and devices are not opened (a FIFO would block) and pass.
pub(super) fn check_readable(
    config_dir: &Path,
    value: &str,
    path: &Path,
) -> Result<(), Unreadable> {
    let shown = path.display();
    let credential = value.strip_prefix(CREDENTIAL_PREFIX);
    let meta = std::fs::metadata(path);
    let result = match &meta {
        Ok(m) if m.is_dir() => Err(("it is a directory".to_string(), None)),
        Ok(m) if !m.is_file() => Ok(()),
        _ => std::fs::File::open(path)
            .map(drop)
            .map_err(|e| (e.to_string(), Some(e.kind()))),
    };
    let Err((reason, kind)) = result else {
        return Ok(());
    };
    let hint = match (kind, credential) {
        (Some(std::io::ErrorKind::NotFound), Some(name)) => format!(
            "systemd puts the credential {name} in $CREDENTIALS_DIRECTORY for a unit with LoadCredential={name}:PATH; add that line to the unit (or a drop-in), with the PATH of an existing file"
        ),
        (Some(std::io::ErrorKind::NotFound), None) if Path::new(value).is_relative() => format!(
            "a relative path is relative to the config file's directory ({}); put the file there or write its absolute path",
            if config_dir.as_os_str().is_empty() { Path::new(".") } else { config_dir }.display()
        ),
        (Some(std::io::ErrorKind::NotFound), None) => {
            "put the file there or correct the path".to_string()
        }
        (Some(std::io::ErrorKind::PermissionDenied), _) => {
            "make it readable by the user aimdbd runs as (e.g. chgrp that group and chmod 0640), or hand it over with LoadCredential=NAME:PATH in the unit and write credential:NAME (a DynamicUser= service cannot read a root-only file)".to_string()
        }
        _ => "name a file that holds it".to_string(),
    };
    Err(Unreadable {
        message: format!("cannot read {shown}: {reason}"),
        hint,
    })
}

/// The shortest bearer token accepted: guessing must not be an option.
pub(super) const MIN_TOKEN_LEN: usize = 16;
/// The longest bearer token accepted (it travels in a header).
pub(super) const MAX_TOKEN_LEN: usize = 4096;

/// The admin endpoint's bearer token (`[admin] token_file`). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AdminToken(Arc<str>);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// The token from `text` (a file's contents): surrounding whitespace (a trailing newline)
    /// is ignored; it must be 16 to 4096 visible ASCII characters.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let token = text.trim();
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "the token is {} characters long; at least {MIN_TOKEN_LEN} are needed",
                token.len()
            ));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(format!(
                "the token is longer than {MAX_TOKEN_LEN} characters"
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "the token must be visible ASCII without spaces (it is sent in an HTTP header)"
                    .into(),
            );
        }
        Ok(Self(Arc::from(token)))
    }

    /// Reads the token from `path` (blocking: call it outside async code). Reads at most a few
    /// KiB, so a wrong path such as a device cannot stall or exhaust the process.
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(2 * MAX_TOKEN_LEN as u64).read_to_string(&mut text))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The token, for a client to send.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the token, in time that does not depend on where they differ.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let want = self.0.as_bytes();
        if presented.len() != want.len() {
            return false;
        }
        want.iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_config_relative_and_absolute_paths_stay() {
        let dir = Path::new("/etc/aimdbd");
        assert_eq!(
            resolve(dir, "pw.txt"),
            Ok(PathBuf::from("/etc/aimdbd/pw.txt"))
        );
        assert_eq!(resolve(dir, "/run/pw"), Ok(PathBuf::from("/run/pw")));
    }

    #[test]
    fn credential_names_must_be_file_names() {
        for bad in [
            "credential:",
            "credential:../x",
            "credential:a/b",
            "credential:..",
        ] {
            assert!(resolve(Path::new("."), bad).is_err(), "{bad}");
        }
    }

    #[test]
    #[allow(unsafe_code)] // audited: see the SAFETY comment
    fn unreadable_files_say_why_and_where_they_are_looked_for() {
        let dir = std::env::temp_dir().join(format!("aimdbd-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("pw.txt");
        std::fs::write(&file, "pw\n").expect("write");
        assert_eq!(check_readable(&dir, "pw.txt", &file), Ok(()));

        let missing = check_readable(&dir, "nope.txt", &dir.join("nope.txt")).expect_err("missing");
        assert!(missing.message.starts_with("cannot read "), "{missing:?}");
        assert!(missing.message.contains("No such file"), "{missing:?}");
        assert!(
            missing
                .hint
                .contains("relative to the config file's directory"),
            "{missing:?}"
        );
        let cred = check_readable(&dir, "credential:pw", &dir.join("pw")).expect_err("missing");
        assert!(cred.hint.contains("LoadCredential=pw:PATH"), "{cred:?}");
        let is_dir = check_readable(&dir, ".", &dir).expect_err("a directory");
        assert!(is_dir.message.ends_with("it is a directory"), "{is_dir:?}");

        // Root reads every file: the permission check only means something for other users.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            let denied = check_readable(&dir, "pw.txt", &file).expect_err("unreadable");
            assert!(denied.message.contains("ermission denied"), "{denied:?}");
            assert!(denied.hint.contains("LoadCredential="), "{denied:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens_are_trimmed_checked_and_compared_whole() {
        let t = AdminToken::parse("0123456789abcdef\n").expect("token");
        assert!(t.matches(b"0123456789abcdef"));
        assert!(!t.matches(b"0123456789abcdeX"));
        assert!(!t.matches(b"0123456789abcde"));
        assert!(AdminToken::parse("short").is_err());
        assert!(AdminToken::parse("0123456789 abcdef").is_err());
        assert_eq!(format!("{t:?}"), "AdminToken(<redacted>)");
    }
}
