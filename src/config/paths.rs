//! Paths a config names, resolved the same way for every section: secrets (`password_file`,
//! `ca_file`, `token_file`, ...) relative to the config file or from systemd's credentials,
//! state files (`[store] path`, `[mqtt] outbox_path`, ...) in `$STATE_DIRECTORY`.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::secret;
use crate::diagnostics::Problem;

/// A secret's path (`password_file`, `ca_file`, ..., `token_file`): relative to the config
/// file's directory unless absolute, or `credential:NAME` in `$CREDENTIALS_DIRECTORY`.
pub(crate) fn secret_path(
    file: &str,
    section: &str,
    field: &str,
    value: &Spanned<String>,
    problems: &mut Vec<Problem>,
) -> Option<PathBuf> {
    secret::resolve(&config_dir(file), value.get_ref())
        .map_err(|e| {
            problems.push(
                Problem::at(value.span(), format!("{section} {field}: {}", e.message))
                    .with_hint(e.hint),
            )
        })
        .ok()
}

/// Pushes a problem at `value` unless the file `path` it names can be read.
pub(crate) fn readable(
    file: &str,
    section: &str,
    field: &str,
    value: &Spanned<String>,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> bool {
    match secret::check_readable(&config_dir(file), value.get_ref(), path) {
        Ok(()) => true,
        Err(e) => {
            problems.push(
                Problem::at(value.span(), format!("{section} {field}: {}", e.message))
                    .with_hint(e.hint),
            );
            false
        }
    }
}

fn config_dir(file: &str) -> PathBuf {
    Path::new(file)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A state file's path (`[store] path`, `[mqtt] outbox_path`): absolute as given, else relative
/// to `$STATE_DIRECTORY` if set, else to the config file's directory.
pub(crate) fn state_path(file: &str, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let base = std::env::var_os("STATE_DIRECTORY")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(file));
    base.join(path)
}
