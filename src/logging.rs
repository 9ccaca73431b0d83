//! Logging setup: `tracing` to stderr, as text or JSON. Under systemd (`JOURNAL_STREAM` set)
//! lines carry no timestamp (the journal adds its own) and start with the syslog priority
//! prefix journald reads (`<3>` error, `<4>` warn, `<6>` info, `<7>` debug and trace), so
//! `journalctl -p warning` shows the daemon's warnings and errors.

use std::io::{IsTerminal, Write};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `LEVEL target: message key=value`.
    Text,
    /// One JSON object per line.
    Json,
}

/// The levels `--log-level` takes on its own (a bare word is otherwise a target name, which
/// would silently turn logging off).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Checks `--log-level`: a level, or a filter whose bare words are levels
/// (`aimdbd=debug,info`). `warning` or `verbose` is refused with a hint.
pub(crate) fn check_level(level: &str) -> Result<(), String> {
    for part in level.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains('=') || part.contains('[') || part.contains("::") {
            continue;
        }
        if !LEVELS.contains(&part.to_ascii_lowercase().as_str()) {
            let hint = match part.to_ascii_lowercase().as_str() {
                "warning" => "\n  hint: did you mean \"warn\"?".to_string(),
                "verbose" | "all" => "\n  hint: did you mean \"debug\" or \"trace\"?".to_string(),
                "err" | "fatal" | "critical" => "\n  hint: did you mean \"error\"?".to_string(),
                "none" | "quiet" => "\n  hint: did you mean \"off\"?".to_string(),
                _ => String::new(),
            };
            return Err(format!(
                "invalid --log-level {level:?}: {part:?} is not a level (one of {}){hint}",
                LEVELS.join(", ")
            ));
        }
    }
    Ok(())
}

/// Installs the global subscriber. `level` is a level (`info`) or a filter
/// (`aimdbd=debug,info`); `RUST_LOG`, if set, wins. Returns an error for an invalid filter.
pub(crate) fn init(level: &str, format: LogFormat) -> Result<(), String> {
    check_level(level)?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => EnvFilter::try_new(f),
        _ => EnvFilter::try_new(level),
    }
    .map_err(|e| format!("invalid --log-level {level:?}: {e}"))?;
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!journald && std::io::stderr().is_terminal())
        .with_writer(Stderr { journald });
    let result = match (format, journald) {
        (LogFormat::Text, false) => builder.try_init(),
        (LogFormat::Text, true) => builder.without_time().try_init(),
        (LogFormat::Json, false) => builder.json().try_init(),
        (LogFormat::Json, true) => builder.json().without_time().try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// Stderr, with the journald priority prefix when under systemd.
#[derive(Clone, Copy)]
struct Stderr {
    journald: bool,
}

/// One event's writer: the prefix goes before its first byte.
struct Line {
    prefix: Option<&'static [u8]>,
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if let Some(p) = self.prefix.take() {
            err.write_all(p)?;
        }
        err.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The syslog priority prefix of `level`.
fn priority(level: &Level) -> &'static [u8] {
    match *level {
        Level::ERROR => b"<3>",
        Level::WARN => b"<4>",
        Level::INFO => b"<6>",
        _ => b"<7>",
    }
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line { prefix: None }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            prefix: self.journald.then(|| priority(meta.level())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_filters_pass_and_words_that_are_not_levels_are_refused() {
        for ok in [
            "info",
            "WARN",
            "aimdbd=debug,info",
            "off",
            "aimdbd::mqtt=trace",
        ] {
            assert!(check_level(ok).is_ok(), "{ok}");
        }
        let e = check_level("warning").unwrap_err();
        assert!(e.contains("did you mean \"warn\""), "{e}");
        assert!(check_level("verbose").unwrap_err().contains("debug"));
        assert!(check_level("info,loud").is_err());
    }
}
