//! Unix signals the daemon acts on: SIGINT/SIGTERM (drain and exit), SIGHUP (reload).

use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT or SIGTERM: drain and exit; its name.
    Terminate(&'static str),
    /// SIGHUP: re-read the config.
    Reload,
}

/// The daemon's signal streams, installed once at start.
pub struct Signals {
    term: Stream,
    int: Stream,
    hup: Stream,
}

impl Signals {
    /// Installs the handlers (from here on these signals no longer kill the process).
    pub fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.term.recv() => Signal::Terminate("SIGTERM"),
            _ = self.int.recv() => Signal::Terminate("SIGINT"),
            _ = self.hup.recv() => Signal::Reload,
        }
    }

    /// The next SIGINT or SIGTERM (SIGHUP is ignored while draining).
    pub async fn next_terminate(&mut self) -> &'static str {
        loop {
            if let Signal::Terminate(name) = self.next().await {
                return name;
            }
        }
    }
}
