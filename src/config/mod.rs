//! Config loading: TOML text → [`Config`], or a [`ConfigError`] listing every mistake with its
//! `FILE:LINE:COL`.
//!
//! Three passes, each collecting problems rather than stopping at the first: TOML syntax and
//! shape (every syntax error; every unknown field and wrong value type, see [`shape`]), then each
//! section and record on its own (types, buffers, components, links, durations), then the graph
//! across records (duplicate keys, unknown inputs, input types, cycles), by core's one graph
//! validator (`aimdb_core::graph::check_graph`), whose issues by index are placed at the key or
//! input they are about.

mod codec;
pub(crate) mod duration;
pub(crate) mod model;
pub(crate) mod paths;
mod ranges;
mod raw;
pub(crate) mod secret;
mod shape;
mod validate;

use std::path::Path;

use crate::catalog::Catalog;

pub(crate) use crate::admin::config::AdminConfig;
#[cfg(test)]
pub(crate) use crate::diagnostics::line_column;
pub use crate::diagnostics::ConfigError;
pub(crate) use crate::diagnostics::{closest, cut_long_values, Lines, Located, Problem};
pub(crate) use crate::fields::field_names;
pub(crate) use crate::mqtt::config::{MqttConfig, Outbox, OutboxFull};
pub use crate::store::StoreConfig;
pub(crate) use codec::LinkCodec;
pub(crate) use duration::parse_duration;
pub use model::Config;
pub(crate) use model::*;
pub(crate) use secret::AdminToken;
pub(crate) use validate::Probes;

/// Parses and validates config `text`, its record types and components resolved in `catalog`
/// (the engine's: [`crate::engine::catalog`]); `file` names it in messages and anchors relative
/// paths.
pub fn parse(file: &str, text: &str, catalog: &Catalog) -> Result<Config, ConfigError> {
    parse_with(file, text, catalog, Probes::default())
}

/// [`parse`], with `probes` on top.
pub(crate) fn parse_with(
    file: &str,
    text: &str,
    catalog: &Catalog,
    probes: Probes,
) -> Result<Config, ConfigError> {
    validate::validate(file, text, catalog, probes)
        .map_err(|problems| ConfigError::invalid(file, text, problems))
}

/// Reads and validates the config at `path`, without blocking the async runtime (validation
/// reads the files it names, such as `[admin] token_file`, so it runs on a blocking thread).
pub(crate) async fn load(path: &Path, catalog: &'static Catalog) -> Result<Config, ConfigError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || load_blocking(&owned, catalog))
        .await
        .unwrap_or_else(|e| {
            Err(ConfigError::Read {
                file: path.display().to_string(),
                reason: format!("validation stopped: {e}"),
            })
        })
}

/// [`load`] for synchronous callers (the `check`, `graph` commands), outside any async runtime.
pub(crate) fn load_blocking(path: &Path, catalog: &Catalog) -> Result<Config, ConfigError> {
    load_blocking_with(path, catalog, Probes::default())
}

/// [`load_blocking`], with `probes` on top (`aimdbd check`).
pub(crate) fn load_blocking_with(
    path: &Path,
    catalog: &Catalog,
    probes: Probes,
) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ConfigError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| invalid_utf8(&file, e.as_bytes()))?;
    parse_with(&file, &text, catalog, probes)
}

/// Most invalid UTF-8 sequences reported for one file.
const MAX_UTF8_PROBLEMS: usize = 20;

/// A config that is not UTF-8: each invalid sequence (up to [`MAX_UTF8_PROBLEMS`]) at its
/// line, column and byte offset.
fn invalid_utf8(file: &str, bytes: &[u8]) -> ConfigError {
    let mut problems = Vec::new();
    let mut pos = 0;
    while let Err(e) = std::str::from_utf8(&bytes[pos..]) {
        if problems.len() == MAX_UTF8_PROBLEMS {
            break;
        }
        let at = pos + e.valid_up_to();
        let len = e.error_len().unwrap_or(bytes.len() - at).max(1);
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let column = 1 + String::from_utf8_lossy(&bytes[line_start..at])
            .chars()
            .count();
        let shown: Vec<String> = bytes[at..at + len]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        problems.push(Located {
            line,
            column,
            problem: Problem::nowhere(format!(
                "invalid UTF-8 at byte offset {at} (byte{} {})",
                if len == 1 { "" } else { "s" },
                shown.join(" ")
            ))
            .with_hint("a config is UTF-8 text: save it as UTF-8 (a file in Latin-1: `iconv -f latin1 -t utf-8 FILE`)"),
        });
        pos = at + len;
    }
    ConfigError::Invalid {
        file: file.to_string(),
        problems,
    }
}
