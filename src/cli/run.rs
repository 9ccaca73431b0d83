//! `aimdbd [run] --config FILE [--watch-config]`: validate, then run until SIGINT/SIGTERM.

use std::path::PathBuf;

use crate::config;
use crate::daemon;
use crate::engine;
use crate::exit;
use crate::logging::{self, LogFormat};

pub(super) fn run(path: PathBuf, level: &str, format: LogFormat, watch: bool) -> u8 {
    if let Err(e) = logging::init(level, format) {
        eprintln!("aimdbd: {e}");
        return exit::CONFIG;
    }
    let cfg = match config::load_blocking(&path, engine::catalog()) {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            return exit::CONFIG;
        }
    };
    // Held until the daemon exits: one daemon per store and outbox file.
    let _locks = match daemon::StateLocks::take(&cfg) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}");
            return exit::RUNTIME;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the Tokio runtime: {e}");
            return exit::RUNTIME;
        }
    };
    let code = rt.block_on(daemon::run(path, cfg, watch));
    // Abandoned tasks (a drain that timed out, the admin server) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}
