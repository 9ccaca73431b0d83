//! The command line (clap derive); each subcommand is a file.

mod admin_client;
mod check;
mod check_nodes;
mod ctl;
mod generate;
mod graph;
mod history;
mod run;
mod sse;
mod top;
mod types;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::logging::LogFormat;

const EXAMPLES: &str = "\
Examples:
  aimdbd --config /etc/aimdbd/aimdbd.toml        run the daemon
  aimdbd check --config config/aimdbd.toml       validate and print the graph (exit 78 on errors)
  aimdbd graph --config config/aimdbd.toml --format dot | dot -Tsvg > graph.svg
  aimdbd types                                   record types, sources, transforms, taps
  aimdbd ctl get sensor.temp.indoor              latest value, from the admin endpoint
  aimdbd ctl set node.cmd '\"identify\"'           write a value
  aimdbd ctl -c /etc/aimdbd/aimdbd.toml set node.cmd '\"identify\"'   address and token from the config
  aimdbd history sensor.temp.indoor --since 1h -c config/aimdbd.toml --format csv

Exit codes: 0 ok, 1 runtime failure, 78 config error, 130 second signal while draining.";

/// aimdbd: typed data plane for sensor meshes (gateway daemon).
#[derive(Debug, Parser)]
#[command(name = "aimdbd", version, about, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// Config file (TOML); see docs/CONFIG.md.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level or filter (`info`, `debug`, `aimdbd=debug,info`); RUST_LOG wins if set.
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    log_level: String,
    /// Log format; without timestamps when JOURNAL_STREAM is set (systemd adds its own).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Run: reload when the config file changes, as on SIGHUP (off by default).
    #[arg(long, global = true)]
    watch_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the default when no command is given).
    Run,
    /// Validate the config and graph; print the graph. Exit 78 on errors.
    Check(check::CheckArgs),
    /// Print the record graph.
    Graph(graph::GraphArgs),
    /// List the record types, sources, transforms and taps this build knows.
    Types,
    /// Talk to a running daemon's admin endpoint.
    Ctl(ctl::CtlArgs),
    /// Stored values of a record, from the history database (read-only; the daemon may run or not).
    History(history::HistoryArgs),
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

/// Parses the command line, runs the command, returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, None | Some(Command::Run)) {
        quiet_on_closed_pipe();
    }
    let code = match cli.command {
        None | Some(Command::Run) => with_config(cli.config, |path| {
            run::run(path, &cli.log_level, cli.log_format, cli.watch_config)
        }),
        Some(Command::Check(args)) => with_config(cli.config, |path| check::check(path, &args)),
        Some(Command::Graph(args)) => with_config(cli.config, |path| graph::graph(path, &args)),
        Some(Command::Types) => types::types(),
        Some(Command::Ctl(args)) => ctl::ctl(&args, cli.config.as_deref()),
        Some(Command::History(args)) => history::history(cli.config, &args),
        Some(Command::Generate(args)) => generate::generate(&args, &Cli::command()),
    };
    ExitCode::from(code)
}

/// A command whose output is piped into `head` ends quietly when the pipe closes, as other Unix
/// tools do (killed by SIGPIPE), instead of panicking on the write error. Not for the daemon,
/// whose sockets must see EPIPE as an error.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn quiet_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition touches no memory of this process; it
    // runs before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs `command` with the config path, or prints a usage message and returns exit 78.
fn with_config(config: Option<PathBuf>, command: impl FnOnce(PathBuf) -> u8) -> u8 {
    match config {
        Some(path) => command(path),
        None => {
            eprintln!("aimdbd: --config FILE is required (see `aimdbd --help`)");
            crate::exit::CONFIG
        }
    }
}
