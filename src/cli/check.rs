//! `aimdbd check --config FILE`: validate; print the graph; exit 0 or 78. Warnings (what is
//! valid but cannot work or is risky: an admin endpoint beyond loopback without a token, links
//! with no `[mqtt]`, a state directory missing or not writable, an admin port taken now) go to
//! stderr and do not change the exit code. Only `check` tries the admin port (see
//! [`config::Probes`]). With `--nodes`, also the postcard links against the record types and
//! versions the nodes on the broker announce (see [`super::check_nodes`]). The graph is
//! validated once, by `aimdb_core::graph` while the config loads; `check` builds no graph.

use std::path::PathBuf;
use std::time::Duration;

use crate::config;
use crate::engine;
use crate::exit;
use crate::render;

/// `aimdbd check` options.
#[derive(Debug, clap::Args)]
pub(super) struct CheckArgs {
    /// Also read the nodes' retained schema announcements from the broker and warn about postcard
    /// links whose record type no addressed node speaks in a version this build knows.
    #[arg(long)]
    nodes: bool,
    /// With --nodes: how long to wait for the broker, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    nodes_wait: u64,
}

pub(super) fn check(path: PathBuf, args: &CheckArgs) -> u8 {
    let probes = config::Probes { admin_listen: true };
    let cfg = match config::load_blocking_with(&path, engine::catalog(), probes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return exit::CONFIG;
        }
    };
    for w in &cfg.warnings {
        eprintln!("{w}");
    }
    if args.nodes {
        for w in super::check_nodes::warnings(&cfg, Duration::from_secs(args.nodes_wait)) {
            eprintln!("{w}");
        }
    }
    print!("{}", render::text(&cfg));
    println!("{}: OK", cfg.file);
    exit::OK
}
