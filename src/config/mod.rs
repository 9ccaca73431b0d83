//! Config loading: TOML text → [`Config`], or a [`ConfigError`] listing every mistake with its
//! `FILE:LINE:COL`.
//!
//! Three passes, each collecting problems rather than stopping at the first: TOML syntax and
//! shape (every syntax error; every unknown field and wrong value type, see [`shape`]), then each
//! section and record on its own (types, buffers, components, links, durations), then the graph
//! across records (duplicate keys, unknown inputs, input types, cycles).

mod diagnostic;
mod duration;
mod fields;
mod model;
mod raw;
mod secret;
mod shape;
mod validate;

use std::path::Path;

pub use diagnostic::{
    closest, cut_long_values, line_column, unknown_field_hint, ConfigError, Lines, Located, Problem,
};
pub use duration::parse_duration;
pub use fields::field_names;
pub use model::*;
pub use secret::{AdminToken, CREDENTIAL_PREFIX};

/// Parses and validates config `text`; `file` names it in messages and anchors relative paths.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    validate::validate(file, text).map_err(|problems| ConfigError::invalid(file, text, problems))
}

/// Reads and validates the config at `path`, without blocking the async runtime (validation
/// reads the files it names, such as `[admin] token_file`, so it runs on a blocking thread).
pub async fn load(path: &Path) -> Result<Config, ConfigError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || load_blocking(&owned))
        .await
        .unwrap_or_else(|e| {
            Err(ConfigError::Read {
                file: path.display().to_string(),
                reason: format!("validation stopped: {e}"),
            })
        })
}

/// [`load`] for synchronous callers (the `check`, `graph` commands), outside any async runtime.
pub fn load_blocking(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    parse(&file, &text)
}
