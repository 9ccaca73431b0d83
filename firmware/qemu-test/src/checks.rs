//! The checks the on-target test runs. Each panics on failure (the panic handler turns that into
//! a failing exit code).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

use aimdb_core::{AimDbBuilder, BufferCfg, RecvError, TimeOps};
use aimdb_embassy::EmbassyAdapter;
use aimdb_node::drivers::{NoLed, SimulatedHumidity, SimulatedTemperature};
use aimdb_node::{run_node, Exit, Network, Node, NodeConfig, NodeStats};
use cortex_m_semihosting::hprintln;

/// A graph with all three buffers, a transform, a join-free tap chain and timers:
///
/// `tick` (spmc_ring, source every 5 ms) → `doubled` (single_latest, transform) → tap;
/// `tick` → tap (every value in order); `cmd` (mailbox, written from outside) → tap.
pub async fn graph_with_all_buffers(rt: EmbassyAdapter) {
    let in_order = Arc::new(AtomicU32::new(0));
    let last_doubled = Arc::new(AtomicU32::new(0));
    let commands = Arc::new(AtomicUsize::new(0));
    let mut b = AimDbBuilder::new().runtime(rt);
    let seen = in_order.clone();
    b.configure::<u32>("tick", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 64 })
            .source(|ctx, p| async move {
                for i in 1..=40u32 {
                    p.produce(i);
                    ctx.time().sleep(Duration::from_millis(5)).await;
                }
            })
            .tap(move |_ctx, mut c| async move {
                let mut expected = 1;
                while let Ok(v) = c.recv().await {
                    assert_eq!(v, expected, "ring delivers in order");
                    expected += 1;
                    seen.store(v, Ordering::SeqCst);
                }
            });
    });
    let last = last_doubled.clone();
    b.configure::<u32>("doubled", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u32, _>("tick", |t| t.map(|v| v * 2))
            .tap(move |_ctx, mut c| async move {
                loop {
                    match c.recv().await {
                        Ok(v) => last.store(v, Ordering::SeqCst),
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            });
    });
    let n = commands.clone();
    b.configure::<u32>("cmd", |r| {
        r.buffer(BufferCfg::Mailbox)
            .tap(move |_ctx, mut c| async move {
                while let Ok(v) = c.recv().await {
                    assert_eq!(v, 7);
                    n.fetch_add(1, Ordering::SeqCst);
                }
            });
    });
    let db = match b.build() {
        Ok(db) => db,
        Err(e) => panic!("graph must build: {e}"),
    };
    let handle = db.handle();
    let cmd = match handle.producer::<u32>("cmd") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let started = rt.now();
    let stop = async move {
        rt.sleep(Duration::from_millis(100)).await;
        cmd.produce(7);
        // Long enough for all 40 ticks at 5 ms.
        rt.sleep(Duration::from_millis(400)).await;
    };
    if let Err(e) = db.run_until(stop).await {
        panic!("run: {e}");
    }
    let elapsed = rt.duration_between(started, rt.now());
    assert!(elapsed >= Duration::from_millis(500), "timers: {elapsed:?}");
    assert_eq!(in_order.load(Ordering::SeqCst), 40, "every tick tapped");
    assert_eq!(
        last_doubled.load(Ordering::SeqCst),
        80,
        "transform's latest value"
    );
    assert_eq!(commands.load(Ordering::SeqCst), 1, "mailbox consumed once");
    assert_eq!(handle.live_tasks(), 0);
    hprintln!(
        "  ring/latest/mailbox graph with transform and timers: ok ({} ms)",
        elapsed.as_millis()
    );
}

/// A network with no broker: every connection attempt fails at once.
struct NoBroker;

impl Network for NoBroker {
    type Error = &'static str;
    type Connection<'a> = Unreachable;

    async fn connect(&mut self) -> Result<Unreachable, &'static str> {
        Err("no network on this board")
    }
}

/// A connection that is never made.
pub enum Unreachable {}

impl embedded_io_async::ErrorType for Unreachable {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for Unreachable {
    async fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        match *self {}
    }
}

impl embedded_io_async::Write for Unreachable {
    async fn write(&mut self, _: &[u8]) -> Result<usize, Self::Error> {
        match *self {}
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        match *self {}
    }
}

/// Heap the board firmware (`board-f429`) gives the node app; the node must fit in it.
const BOARD_HEAP: usize = 24 * 1024;

/// The node app itself (graph, sources, threshold, command tap, MQTT session with backoff) runs
/// on the MCU target without a broker, stops cleanly, and its peak heap use (sampled every
/// millisecond with `heap_used`) fits the board's heap.
pub async fn node_app_without_broker(rt: EmbassyAdapter, heap_used: fn() -> usize) {
    let mut cfg = match NodeConfig::new("qemu-node") {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    cfg.sample_period_ms = 20;
    cfg.reconnect_min_ms = 20;
    cfg.reconnect_max_ms = 40;
    let node = Node::new(
        cfg,
        SimulatedTemperature::new(36.0, 2.0),
        SimulatedHumidity::default(),
        NoLed,
    );
    let stats: Arc<NodeStats> = node.stats.clone();
    let base = heap_used();
    let peak = AtomicUsize::new(0);
    let done = core::sync::atomic::AtomicBool::new(false);
    let sample = async {
        while !done.load(Ordering::SeqCst) {
            peak.fetch_max(heap_used().saturating_sub(base), Ordering::SeqCst);
            rt.sleep(Duration::from_millis(1)).await;
        }
    };
    let run = async {
        let stop = rt.sleep(Duration::from_millis(300));
        let exit = run_node(rt, node, &mut NoBroker, stop).await;
        done.store(true, Ordering::SeqCst);
        exit
    };
    let (exit, ()) = embassy_futures::join::join(run, sample).await;
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        peak <= BOARD_HEAP,
        "node peak heap {peak} B exceeds the board's {BOARD_HEAP} B"
    );
    assert_eq!(exit, Ok(Exit::Stopped));
    let failures = NodeStats::get(&stats.connect_failures);
    assert!(failures >= 2, "reconnect with backoff: {failures} attempts");
    assert_eq!(NodeStats::get(&stats.sensor_errors), 0);
    hprintln!(
        "  node app without a broker: ok ({} connection attempts, peak heap {} B of the board's {} B)",
        failures,
        peak,
        BOARD_HEAP
    );
}
