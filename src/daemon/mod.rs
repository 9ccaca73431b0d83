//! The running daemon: start the graph, then act on signals until told to stop.
//!
//! - SIGINT/SIGTERM: `/readyz` turns 503, `STOPPING=1`, sources stop, taps/transforms/links
//!   drain (bounded by `[node] shutdown_timeout`), per-record counters are logged, the history
//!   store writes what is queued (same bound), exit 0. A
//!   second SIGINT/SIGTERM while draining exits at once with 130.
//! - SIGHUP: see [`reload`]. With `--watch-config`, a changed config file does the same (see
//!   [`watch`]).

mod budget;
mod graph;
mod lock;
mod logs;
mod notify;
mod reload;
mod signals;
mod watch;

use budget::mqtt_budget;
pub(crate) use lock::StateLocks;
use logs::{log_stats, log_warnings};
pub(crate) use notify::notify;
pub(crate) use signals::{Signal, Signals};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::admin::{self, AdminState, Phase};
use crate::config::Config;
use crate::engine::{self, DrainOutcome, Parts};
use crate::exit;
use crate::mqtt;
use crate::sparkplug::Sparkplug;
use crate::store::Store;

/// Runs the daemon for the validated `config` read from `path` (reloading it when it changes
/// if `watch_config`); returns the exit code.
pub(crate) async fn run(path: PathBuf, config: Config, watch_config: bool) -> u8 {
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return exit::RUNTIME;
        }
    };
    if watch_config {
        watch_file(&mut signals, &path).await;
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
    let mut bridge = mqtt::Bridge::for_daemon(&config, state.mqtt_metrics()).await;
    let mut parts = Parts::new();
    let plans = engine::partition(&config);
    if let Err(e) = start(&mut parts, &config, plans, &store, bridge.as_ref()).await {
        tracing::error!("{e}");
        store.shutdown(config.shutdown_timeout).await;
        return exit::RUNTIME;
    }
    state.publish(parts.graphs(&config), config.clone());
    let mut sparkplug = Sparkplug::start(&config, parts.graphs(&config));
    state.set_phase(Phase::Ready);
    notify(&format!(
        "READY=1\nSTATUS=running {} records",
        config.records.len()
    ));
    // Pings start after READY=1: the watchdog guards a running daemon, not its start-up.
    notify::spawn_watchdog();
    tracing::info!(
        records = config.records.len(),
        parts = parts.len(),
        node = %config.node_id,
        "graph running"
    );

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
                reload::reload(&path, cause, &mut parts, current, &state).await;
                if !Arc::ptr_eq(&before, &config) {
                    let graphs = parts.graphs(&config);
                    sparkplug = Sparkplug::reloaded(sparkplug, &config, &graphs).await;
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
    let graphs = parts.graphs(&config);
    let started = tokio::time::Instant::now();
    let outcome = parts.take_all().drain(config.shutdown_timeout).await;
    if let Some(s) = sparkplug {
        s.close(mqtt_budget(config.shutdown_timeout, started)).await;
    }
    let lost_in_outboxes = match bridge {
        Some(b) => b.close(mqtt_budget(config.shutdown_timeout, started)).await,
        None => 0,
    };
    log_stats(&graphs, &config);
    store.shutdown(config.shutdown_timeout).await;
    exit_code(outcome, lost_in_outboxes, config.shutdown_timeout)
}

/// Builds the graph's `plans`, seeds it from history, starts the MQTT session and then the
/// graph.
async fn start(
    parts: &mut Parts,
    config: &Config,
    plans: Vec<engine::PartPlan>,
    store: &Store,
    bridge: Option<&Arc<mqtt::Bridge>>,
) -> Result<(), engine::EngineError> {
    let built = graph::build(parts, config, plans, store.persist(), bridge)?;
    engine::restore::restore(store, config, &graph::dbs(&built)).await;
    if let Some(b) = bridge {
        b.spawn();
    }
    graph::start(parts, built, bridge.map(|b| &**b)).await;
    Ok(())
}

/// `--watch-config`: a change of the file at `path` reloads it, as SIGHUP does; without a
/// watch (logged) the daemon runs on.
async fn watch_file(signals: &mut Signals, path: &Path) {
    match watch::ConfigWatch::start(path).await {
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

/// The exit code of a drain that ended with `outcome` and `lost_in_outboxes` values the MQTT
/// outboxes could not send (`timeout`: the drain's bound), logged.
fn exit_code(outcome: DrainOutcome, lost_in_outboxes: usize, timeout: Duration) -> u8 {
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
            timeout,
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
