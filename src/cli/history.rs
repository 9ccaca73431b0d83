//! `aimdbd history KEY [--since 1h] [--limit N]`: parsed; the store is a later issue.

use clap::Args;

use crate::exit;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Record key.
    key: String,
    /// How far back (`1h`, `7d`).
    #[arg(long, default_value = "1h")]
    since: String,
    /// At most this many values.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

pub fn history(args: &HistoryArgs) -> u8 {
    if let Err(e) = crate::config::parse_duration(&args.since) {
        eprintln!("aimdbd history: --since: {e}");
        return exit::CONFIG;
    }
    eprintln!(
        "aimdbd history {} (since {}, limit {}): not yet available; the history store is not built yet",
        args.key, args.since, args.limit
    );
    exit::RUNTIME
}
