//! The running daemon: start the graph, then act on signals until told to stop.
//!
//! - SIGINT/SIGTERM: `/readyz` turns 503, `STOPPING=1`, sources stop, taps/transforms/links
//!   drain (bounded by `[node] shutdown_timeout`), per-record counters are logged, the history
//!   store writes what is queued (same bound), exit 0. A
//!   second SIGINT/SIGTERM while draining exits at once with 130.
//! - SIGHUP: see [`reload`]. With `--watch-config`, a changed config file does the same (see
//!   [`watch`]).

mod lock;
mod notify;
mod reload;
mod signals;
mod watch;

pub use lock::{InUse, StateLocks};
pub use notify::notify;
pub use signals::{Signal, Signals};

use std::path::PathBuf;
use std::sync::Arc;

use crate::admin::{self, AdminState, Phase};
use crate::config::Config;
use crate::engine::{self, DrainOutcome, RunningGraph};
use crate::exit;
use crate::mqtt;
use crate::sparkplug::Sparkplug;
use crate::store::Store;

/// Runs the daemon for the validated `config` read from `path` (reloading it when it changes
/// if `watch_config`); returns the exit code.
pub async fn run(path: PathBuf, config: Config, watch_config: bool) -> u8 {
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return exit::RUNTIME;
        }
    };
    if watch_config {
        match watch::ConfigWatch::start(&path).await {
            Ok(w) => {
                signals.watch(w);
                tracing::info!(
                    "--watch-config: a change of {} reloads it, as SIGHUP does",
                    path.display()
                );
            }
            Err(e) => tracing::error!(
                "--watch-config: {e}; the daemon runs without it (reload with SIGHUP: systemctl reload aimdbd)"
            ),
        }
    }
    let state = AdminState::new();
    log_warnings(&config);
    if let Some(a) = &config.admin {
        if let Err(e) = admin::serve(a, state.clone()).await {
            tracing::error!("admin endpoint on {}: {e}", a.listen);
            return exit::RUNTIME;
        }
        tracing::info!("admin endpoint on http://{}", a.listen);
    }
    let mut store = Store::open(&config).await;
    state.set_store(store.status());
    let mut config = Arc::new(config);
    let mut bridge = mqtt::Bridge::for_daemon(&config).await;
    let mut graph = match engine::build_for_daemon(&config, store.persist(), bridge.clone()) {
        Ok(db) => {
            store.before_start(&config, &db).await;
            if let Some(b) = &bridge {
                b.spawn();
            }
            RunningGraph::start(db)
        }
        Err(e) => {
            tracing::error!("{e}");
            store.shutdown(config.shutdown_timeout).await;
            return exit::RUNTIME;
        }
    };
    state.publish(graph.handle().clone(), config.clone());
    let mut sparkplug = Sparkplug::start(&config, graph.handle().clone());
    state.set_phase(Phase::Ready);
    notify(&format!(
        "READY=1\nSTATUS=running {} records",
        config.records.len()
    ));
    // Pings start after READY=1: the watchdog guards a running daemon, not its start-up.
    notify::spawn_watchdog();
    tracing::info!(records = config.records.len(), node = %config.node_id, "graph running");

    let name = loop {
        let signal = signals.next().await;
        match signal {
            Signal::Terminate(name) => break name,
            Signal::Reload | Signal::ConfigChanged => {
                let before = config.clone();
                let current = reload::Current {
                    config: &mut config,
                    store: &mut store,
                    bridge: &mut bridge,
                };
                let cause = match signal {
                    Signal::ConfigChanged => "config file changed",
                    _ => "SIGHUP",
                };
                graph = reload::reload(&path, cause, graph, current, &state).await;
                if !Arc::ptr_eq(&before, &config) {
                    sparkplug = Sparkplug::reloaded(sparkplug, &config, graph.handle()).await;
                }
            }
        }
    };
    tracing::info!(
        "{name}: draining (at most {:?}; a second signal exits at once)",
        config.shutdown_timeout
    );
    state.set_phase(Phase::Draining);
    notify("STOPPING=1");
    tokio::spawn(async move {
        let again = signals.next_terminate().await;
        tracing::error!("{again} while draining: exiting now, undrained values are lost");
        std::process::exit(exit::SECOND_SIGNAL);
    });
    let handle = graph.handle().clone();
    let started = tokio::time::Instant::now();
    let outcome = graph.drain(config.shutdown_timeout).await;
    if let Some(s) = sparkplug {
        s.close(mqtt_budget(config.shutdown_timeout, started)).await;
    }
    let lost_in_outboxes = match bridge {
        Some(b) => b.close(mqtt_budget(config.shutdown_timeout, started)).await,
        None => 0,
    };
    log_stats(&handle, &config);
    store.shutdown(config.shutdown_timeout).await;
    match outcome {
        DrainOutcome::Drained if lost_in_outboxes == 0 => {
            tracing::info!("drained; exiting");
            exit::OK
        }
        DrainOutcome::Drained => {
            tracing::error!(
                lost = lost_in_outboxes,
                code = exit::UNDRAINED,
                "drained, but values were lost (see above); exiting with {}",
                exit::UNDRAINED
            );
            exit::UNDRAINED
        }
        DrainOutcome::TimedOut { live_tasks } => {
            tracing::error!(
                live_tasks,
                lost_in_outboxes,
                code = exit::UNDRAINED,
                "drain timed out after {:?}: values the abandoned tasks had not taken are lost (record stats above: produced vs delivered); exiting with {}",
                config.shutdown_timeout,
                exit::UNDRAINED
            );
            exit::UNDRAINED
        }
        DrainOutcome::Failed(e) => {
            tracing::error!("graph failed: {e}");
            exit::RUNTIME
        }
    }
}

/// What is left, of 3/4 of `timeout` since `started`, for the MQTT session to send what its
/// outboxes hold before it says `offline`.
pub(crate) fn mqtt_budget(
    timeout: std::time::Duration,
    started: tokio::time::Instant,
) -> std::time::Duration {
    timeout.mul_f32(0.75).saturating_sub(started.elapsed())
}

/// Logs every record's counters (one line each), e.g. at shutdown.
pub fn log_stats(handle: &aimdb_core::DbHandle<crate::Rt>, config: &Config) {
    for r in &config.records {
        if let Some(s) = handle.stats(&r.key) {
            tracing::info!(
                record = %r.key,
                produced = s.produced,
                delivered = s.delivered,
                lagged = s.lagged,
                dropped = s.dropped,
                "record stats"
            );
        }
    }
}

/// Logs the config's warnings (the lines `aimdbd check` prints), one log line each.
pub fn log_warnings(config: &Config) {
    for w in &config.warnings {
        let (line, hint) = w.split_once("\n  hint: ").unwrap_or((w, ""));
        tracing::warn!(hint, "{line}");
    }
}
