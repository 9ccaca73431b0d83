//! `aimdb-node-host`: the sensor node's application (`aimdb-node`) on the host, exactly as on the
//! board but for the edges: Embassy's std executor instead of the Cortex-M one, a std TCP stream
//! ([`TcpNetwork`]) instead of embassy-net, simulated sensors, a logging LED ([`HostLed`]), and
//! the system clock as wall clock.
//!
//! Use the binary (`aimdb-node-host --broker 127.0.0.1:1883 --node node-1`) or, in-process,
//! [`run`] on a thread of its own.

mod drivers;
pub mod logger;
mod transport;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aimdb_embassy::EmbassyAdapter;
use aimdb_node::drivers::{SimulatedHumidity, SimulatedTemperature};
use aimdb_node::{run_node, Exit, Node, NodeConfig, NodeError, NodeStats};
use embassy_executor::{Executor, Spawner};

pub use drivers::HostLed;
pub use transport::TcpNetwork;

// Engine tasks of the node (it needs about 8); the pool is shared by every node running in
// this process.
aimdb_embassy::task_pool!(engine_tasks, 32);

/// What to run.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The broker's address.
    pub broker: SocketAddr,
    /// The node's settings.
    pub config: NodeConfig,
    /// Centre of the simulated temperature, °C.
    pub temp_base: f32,
    /// Amplitude of the simulated temperature, °C.
    pub temp_swing: f32,
}

type Outcome = Arc<Mutex<Option<Result<Exit, NodeError>>>>;

#[embassy_executor::task(pool_size = 4)]
async fn node_task(
    spawner: Spawner,
    opts: HostOptions,
    led: HostLed,
    stats: Arc<NodeStats>,
    stop: Arc<AtomicBool>,
    outcome: Outcome,
    done: Arc<AtomicBool>,
) {
    let rt = EmbassyAdapter::new(spawner.make_send(), engine_tasks)
        .with_wall_clock(|| SystemTime::now().duration_since(UNIX_EPOCH).ok());
    let mut net = TcpNetwork::new(opts.broker);
    let mut node = Node::new(
        opts.config,
        SimulatedTemperature::new(opts.temp_base, opts.temp_swing),
        SimulatedHumidity::default(),
        led,
    );
    node.stats = stats;
    let stopped = async {
        while !stop.load(Ordering::SeqCst) {
            embassy_time::Timer::after_millis(50).await;
        }
    };
    let result = run_node(rt, node, &mut net, stopped).await;
    *outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    done.store(true, Ordering::SeqCst);
}

/// Runs the node on a new Embassy std executor on the calling thread until `stop` is set (checked
/// every 50 ms; then it drains, publishes `offline` and disconnects) or a `Reboot` command
/// arrives. Blocks.
/// `stats` is updated while it runs; `led` shows the LED.
pub fn run(
    opts: HostOptions,
    led: HostLed,
    stats: Arc<NodeStats>,
    stop: Arc<AtomicBool>,
) -> Result<Exit, NodeError> {
    let executor: &'static mut Executor = Box::leak(Box::new(Executor::new()));
    let outcome: Outcome = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let (outcome2, done2) = (outcome.clone(), done.clone());
    let mut refused = None;
    executor.run_until(
        |spawner| match node_task(spawner, opts, led, stats, stop, outcome2, done2.clone()) {
            Ok(token) => spawner.spawn(token),
            Err(_) => {
                refused = Some(());
                done2.store(true, Ordering::SeqCst);
            }
        },
        || done.load(Ordering::SeqCst),
    );
    if refused.is_some() {
        return Err(NodeError::Graph(aimdb_core::BuildError::Spawn(
            aimdb_core::SpawnError::PoolFull,
        )));
    }
    let result = outcome.lock().unwrap_or_else(|e| e.into_inner()).take();
    result.unwrap_or(Err(NodeError::Ended))
}
