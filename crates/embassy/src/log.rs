//! Where log lines go: the `log` facade, `defmt`, or nowhere.

use core::fmt;

use aimdb_core::LogLevel;

/// Emits one line through the backends the crate was built with.
#[allow(unused_variables)]
pub(crate) fn emit(level: LogLevel, target: &str, message: fmt::Arguments<'_>) {
    #[cfg(feature = "log")]
    {
        let level = match level {
            LogLevel::Trace => ::log::Level::Trace,
            LogLevel::Debug => ::log::Level::Debug,
            LogLevel::Info => ::log::Level::Info,
            LogLevel::Warn => ::log::Level::Warn,
            LogLevel::Error => ::log::Level::Error,
        };
        ::log::log!(target: "aimdb", level, "{target}: {message}");
    }
    #[cfg(feature = "defmt")]
    {
        let message = defmt::Display2Format(&message);
        match level {
            LogLevel::Trace => defmt::trace!("{}: {}", target, message),
            LogLevel::Debug => defmt::debug!("{}: {}", target, message),
            LogLevel::Info => defmt::info!("{}: {}", target, message),
            LogLevel::Warn => defmt::warn!("{}: {}", target, message),
            LogLevel::Error => defmt::error!("{}: {}", target, message),
        }
    }
}
