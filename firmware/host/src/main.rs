//! `aimdb-node-host`: run the sensor node's app on this machine against an MQTT broker.
//!
//! ```text
//! aimdb-node-host --broker 127.0.0.1:1883 --node node-1 [--period-ms 2000] [--heartbeat-ms 10000]
//!                 [--alert-above 35] [--temp-base 21] [--temp-swing 3] [--keep-alive-s 15]
//!                 [--log-level info]
//! ```
//!
//! SIGINT/SIGTERM stop it cleanly (drain, `offline`, disconnect; exit 0). Exit 0 too after a
//! `Reboot` command (a supervisor restarts it), 1 on a runtime failure, 2 on bad arguments.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use aimdb_node::{Exit, NodeConfig, NodeStats};
use aimdb_node_host::{logger, run, HostLed, HostOptions};
use anyhow::{anyhow, Context, Result};
use clap::Parser;

/// Run the aimdb sensor node's app on the host (Embassy std executor, std TCP, simulated sensors).
#[derive(Parser, Debug)]
#[command(name = "aimdb-node-host", version)]
struct Args {
    /// MQTT broker, HOST:PORT.
    #[arg(long)]
    broker: String,
    /// Node id: one topic level of aimdb/<node>/...
    #[arg(long)]
    node: String,
    /// Initial sensor sample period in milliseconds.
    #[arg(long, default_value_t = 2000)]
    period_ms: u32,
    /// Heartbeat period in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    heartbeat_ms: u32,
    /// Local alert threshold (°C): temperatures above it raise alert.temp.indoor.
    #[arg(long, default_value_t = 35.0)]
    alert_above: f32,
    /// Centre of the simulated temperature (°C).
    #[arg(long, default_value_t = 21.0)]
    temp_base: f32,
    /// Amplitude of the simulated temperature (°C); 0 for a constant reading.
    #[arg(long, default_value_t = 3.0)]
    temp_swing: f32,
    /// MQTT keep-alive in seconds (the broker sends the will after 1.5 times this).
    #[arg(long, default_value_t = 15)]
    keep_alive_s: u16,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long, default_value = "info", value_parser = parse_level)]
    log_level: log::LevelFilter,
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s:?}: expected off, error, warn, info, debug or trace"))
}

fn resolve(broker: &str) -> Result<SocketAddr> {
    broker
        .to_socket_addrs()
        .with_context(|| format!("--broker {broker}: not HOST:PORT"))?
        .next()
        .ok_or_else(|| anyhow!("--broker {broker}: no address"))
}

fn main() -> Result<()> {
    let args = Args::parse();
    logger::init(args.log_level);
    let mut config = NodeConfig::new(&args.node).map_err(|e| anyhow!("--node: {e}"))?;
    config.sample_period_ms = args.period_ms;
    config.heartbeat_period_ms = args.heartbeat_ms;
    config.alert.above = Some(args.alert_above);
    config.keep_alive_s = args.keep_alive_s;
    config.seed = std::process::id();
    config
        .validate()
        .map_err(|e| anyhow!("invalid settings: {e}"))?;
    let opts = HostOptions {
        broker: resolve(&args.broker)?,
        config,
        temp_base: args.temp_base,
        temp_swing: args.temp_swing,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let stats = Arc::new(NodeStats::default());
    let exit = run(opts, HostLed::default(), stats.clone(), stop)?;
    log_stats(&stats);
    match exit {
        Exit::Stopped => log::info!(target: "aimdb", "stopped"),
        Exit::Reboot => log::info!(target: "aimdb", "reboot requested: exiting"),
    }
    Ok(())
}

/// One line of the node's counters, at exit.
fn log_stats(s: &NodeStats) {
    let get = NodeStats::get;
    log::info!(
        target: "aimdb",
        "stats: {} published, {} lagged, {} encode errors; commands {} received, {} malformed, \
         {} refused (version/schema), {} applied; {} connects, {} failed",
        get(&s.published),
        get(&s.lagged),
        get(&s.encode_errors),
        get(&s.commands_received),
        get(&s.commands_malformed),
        get(&s.commands_refused),
        get(&s.commands_applied),
        get(&s.connects),
        get(&s.connect_failures),
    );
}
