//! The checks the on-target test runs. Each panics on failure (the panic handler turns that into
//! a failing exit code).

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use core::time::Duration;

use aimdb_core::{AimDbBuilder, BufferCfg, RecvError, TimeOps};
use aimdb_embassy::EmbassyAdapter;
use aimdb_node::drivers::{NoLed, SimulatedHumidity, SimulatedTemperature};
use aimdb_node::wire::{self, WireError};
use aimdb_node::{run_node, Exit, Network, Node, NodeConfig, NodeStats};
use aimdb_records::version::VersionError;
use aimdb_records::{announce, id, NodeCommand, Temperature};
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
    assert!(matches!(exit, Ok(Exit::Stopped)), "{exit:?}");
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

/// The header of a `Temperature` v1 frame: marker, version 1 (LE), the short schema id
/// `fd9743c0` (LE) pinned in `crates/records/tests/golden-schema/Temperature.v1.txt`. The id is
/// hashed at compile time; this checks that the target's build hashes as the host's does.
const TEMPERATURE_V1_HEADER: [u8; 7] = [0xA1, 0x01, 0x00, 0xC0, 0x43, 0x97, 0xFD];

/// A `NodeCommand::SetSamplePeriod { ms: 5000 }` frame as a v1 gateway sends it (schema id
/// `0a2ac3c8`, `NodeCommand.v1.txt`).
const SET_PERIOD_FRAME: [u8; 10] = [0xA1, 0x01, 0x00, 0xC8, 0xC3, 0x2A, 0x0A, 0x00, 0x88, 0x27];

/// Versioned frames in Cortex-M4 code: the node's encoder writes the pinned header, its decoder
/// takes framed and unframed payloads and refuses an unknown version, a foreign schema and a
/// truncated header; the announcement line is the pinned one.
pub fn versioned_frames() {
    let reading = Temperature {
        sensor_id: id("t1").unwrap_or_default(),
        celsius: 21.5,
        timestamp_ms: 1_000,
    };
    let mut buf = [0u8; 64];
    let len = match wire::to_postcard_frame(&reading, &mut buf) {
        Ok(f) => f.len(),
        Err(e) => panic!("encode a frame: {e}"),
    };
    let frame = &buf[..len];
    assert_eq!(frame[..7], TEMPERATURE_V1_HEADER, "frame header");
    let mut bare = [0u8; 64];
    let bare = match wire::to_postcard(&reading, &mut bare) {
        Ok(b) => &*b,
        Err(e) => panic!("encode bare: {e}"),
    };
    assert_eq!(
        frame[7..],
        *bare,
        "a frame is the header, then the postcard value"
    );
    assert!(matches!(wire::from_postcard_frame::<Temperature>(frame), Ok(t) if t == reading));
    assert!(matches!(wire::from_postcard_frame::<Temperature>(bare), Ok(t) if t == reading));
    assert!(matches!(
        wire::from_postcard_frame::<NodeCommand>(&SET_PERIOD_FRAME),
        Ok(NodeCommand::SetSamplePeriod { ms: 5000 })
    ));
    assert!(matches!(
        wire::from_postcard_frame::<NodeCommand>(&SET_PERIOD_FRAME[7..]),
        Ok(NodeCommand::SetSamplePeriod { ms: 5000 })
    ));

    let mut v2 = SET_PERIOD_FRAME;
    v2[1] = 2;
    assert!(matches!(
        wire::from_postcard_frame::<NodeCommand>(&v2),
        Err(VersionError::Unknown {
            version: 2,
            newest: 1
        })
    ));
    let mut foreign = SET_PERIOD_FRAME;
    foreign[3] ^= 0xFF;
    assert!(matches!(
        wire::from_postcard_frame::<NodeCommand>(&foreign),
        Err(VersionError::SchemaMismatch { version: 1, .. })
    ));
    assert!(matches!(
        wire::from_postcard_frame::<NodeCommand>(&SET_PERIOD_FRAME[..5]),
        Err(VersionError::Codec(WireError::Invalid))
    ));

    let mut line: heapless::String<64> = heapless::String::new();
    assert!(announce::write_type::<Temperature, _>(&mut line).is_ok());
    assert_eq!(
        line.as_str(),
        "Temperature 1:fd9743c0\n",
        "announcement line"
    );
    hprintln!(
        "  versioned frames: ok (header {:02x?}, framed + unframed decoded, v2 / foreign schema / truncated refused)",
        TEMPERATURE_V1_HEADER
    );
}
