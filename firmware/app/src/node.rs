//! [`run_node`]: the whole node, given a runtime, a network and drivers.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;

use aimdb_core::{BuildError, Runtime};
use embassy_futures::join::join;
use embassy_futures::select::{select, Either};

use crate::config::{ConfigError, NodeConfig};
use crate::control::Control;
use crate::drivers::{HumiditySensor, StatusLed, TemperatureSensor};
use crate::graph::{self, Drivers, GraphBuildError, Shared};
use crate::mqtt::session::Session;
use crate::mqtt::{Bridge, MqttConnector};
use crate::network::Network;
use crate::stats::NodeStats;

/// Why the node stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `stop` completed; the node drained and announced `offline`.
    Stopped,
    /// A `Reboot` command arrived; the node drained and announced `offline`. The board resets.
    Reboot,
}

/// Why the node could not start.
#[derive(Debug)]
pub enum NodeError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The graph could not be built or started (e.g. the task pool is too small).
    Graph(BuildError),
    /// The node's task ended without a result (a host harness whose executor stopped first).
    Ended,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Config(e) => write!(f, "invalid node config: {e}"),
            NodeError::Graph(e) => write!(f, "cannot start the record graph: {e}"),
            NodeError::Ended => f.write_str("the node task ended without a result"),
        }
    }
}

impl core::error::Error for NodeError {}

/// A node: its settings, its drivers, and the state it shares with its caller.
pub struct Node<T, H, L> {
    /// Settings; validated by [`run_node`].
    pub config: NodeConfig,
    /// Temperature driver (owned by the `sensor.temp.indoor` source).
    pub temperature: T,
    /// Humidity driver (owned by the `sensor.humidity.indoor` source).
    pub humidity: H,
    /// Status LED (owned by the command tap).
    pub led: L,
    /// Counters; clone the `Arc` before [`run_node`] to read them while it runs.
    pub stats: Arc<NodeStats>,
    /// Sample period, LED state, reboot request; clone the `Arc` to watch them.
    pub control: Arc<Control>,
}

impl<T, H, L> Node<T, H, L> {
    /// A node with fresh counters and the config's initial sample period.
    pub fn new(config: NodeConfig, temperature: T, humidity: H, led: L) -> Self {
        let control = Arc::new(Control::new(config.sample_period_ms));
        Self {
            config,
            temperature,
            humidity,
            led,
            stats: Arc::default(),
            control,
        }
    }
}

/// Runs the node until `stop` completes or a `Reboot` command arrives: builds the record graph
/// on `rt`, runs it, and carries its records over MQTT through `net` (reconnecting with backoff
/// while the broker is away). Then drains: sources stop, what the records hold is published
/// (bounded by `drain_timeout_ms`), `offline` is announced, the connection is closed.
///
/// The engine needs about 8 task slots of the runtime's pool (4 sources and
/// transforms, 1 tap, 1 connector task, plus headroom).
pub async fn run_node<R, N, T, H, L>(
    rt: R,
    node: Node<T, H, L>,
    net: &mut N,
    stop: impl Future<Output = ()>,
) -> Result<Exit, NodeError>
where
    R: Runtime,
    N: Network,
    T: TemperatureSensor,
    H: HumiditySensor,
    L: StatusLed,
{
    let Node {
        config: cfg,
        temperature,
        humidity,
        led,
        stats,
        control,
    } = node;
    cfg.validate().map_err(NodeError::Config)?;
    let bridge = Arc::new(Bridge::<R>::new());
    let shared = Shared {
        control: control.clone(),
        stats: stats.clone(),
    };
    let drivers = Drivers {
        temperature,
        humidity,
        led,
    };
    let graph::Graph { db, announcement } = graph::build(
        rt.clone(),
        &cfg,
        drivers,
        &shared,
        MqttConnector::new(bridge.clone()),
    )
    .map_err(|e| match e {
        GraphBuildError::Config(e) => NodeError::Config(e),
        GraphBuildError::Build(e) => NodeError::Graph(e),
    })?;
    let handle = db.handle();
    let shutdown = handle.shutdown_signal().clone();
    let session = Session {
        rt: &rt,
        cfg: &cfg,
        bridge: &bridge,
        shutdown: &shutdown,
        stats: &stats,
        announcement: &announcement,
    };
    let graph = async {
        let result = db.run_until(stop_or_shutdown(stop, &shutdown)).await;
        if result.is_err() {
            // The graph did not start: let the session end too.
            shutdown.raise();
        }
        result
    };
    let (result, ()) = join(graph, session.run(net)).await;
    result.map_err(NodeError::Graph)?;
    Ok(if control.reboot_requested() {
        Exit::Reboot
    } else {
        Exit::Stopped
    })
}

async fn stop_or_shutdown<F: aimdb_core::MutexFamily>(
    stop: impl Future<Output = ()>,
    shutdown: &aimdb_core::lifecycle::ShutdownSignal<F>,
) {
    match select(stop, shutdown.wait()).await {
        Either::First(()) | Either::Second(()) => {}
    }
}
