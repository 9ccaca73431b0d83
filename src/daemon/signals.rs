//! Unix signals the daemon acts on: SIGINT/SIGTERM (drain and exit), SIGHUP (reload); and,
//! with `--watch-config`, a changed config file (reload, see [`super::watch`]).

use tokio::signal::unix::{signal, Signal as Stream, SignalKind};

use super::watch::ConfigWatch;

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// SIGINT or SIGTERM: drain and exit; its name.
    Terminate(&'static str),
    /// SIGHUP: re-read the config.
    Reload,
    /// The config file changed (`--watch-config`): re-read it, as for SIGHUP.
    ConfigChanged,
}

/// The daemon's signal streams, installed once at start.
pub(crate) struct Signals {
    term: Stream,
    int: Stream,
    hup: Stream,
    watch: Option<ConfigWatch>,
}

impl Signals {
    /// Installs the handlers (from here on these signals no longer kill the process).
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            watch: None,
        })
    }

    /// From now on a change of the watched config file is a [`Signal::ConfigChanged`].
    pub(super) fn watch(&mut self, watch: ConfigWatch) {
        self.watch = Some(watch);
    }

    /// The next signal (or config change).
    pub(crate) async fn next(&mut self) -> Signal {
        let changed = async {
            match &mut self.watch {
                Some(w) => w.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => Signal::Terminate("SIGTERM"),
            _ = self.int.recv() => Signal::Terminate("SIGINT"),
            _ = self.hup.recv() => Signal::Reload,
            () = changed => Signal::ConfigChanged,
        }
    }

    /// The next SIGINT or SIGTERM (SIGHUP and config changes are ignored while draining).
    pub(crate) async fn next_terminate(&mut self) -> &'static str {
        loop {
            if let Signal::Terminate(name) = self.next().await {
                return name;
            }
        }
    }
}
