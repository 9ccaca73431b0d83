//! aimdb sensor-node firmware for the NUCLEO-F429ZI: the `aimdb-node` app on embassy-stm32 and
//! embassy-net. This file only wires hardware to the portable app:
//!
//! - clocks: 180 MHz from the ST-LINK's 8 MHz MCO (HSE bypass);
//! - Ethernet (RMII, on-board LAN8742A PHY), DHCP, one TCP socket to the broker;
//! - the hardware RNG seeds the network stack and the reconnect jitter;
//! - the independent watchdog (IWDG, 8 s) is fed by a task every second, so a stalled executor
//!   resets the board; a panic resets it at once;
//! - LD2 (blue, PB7) is the status LED; temperature and humidity are simulated (no sensor is
//!   wired on a bare NUCLEO).
//!
//! Compile-time settings (environment variables when building): `AIMDB_NODE_ID` (default
//! `f429-1`), `AIMDB_BROKER` (IPv4 `a.b.c.d:port`, default `192.168.1.10:1883`).
#![no_std]
#![no_main]

extern crate alloc;

mod net;

use core::mem::MaybeUninit;
use core::net::SocketAddrV4;
use core::str::FromStr;

use aimdb_embassy::EmbassyAdapter;
use aimdb_node::drivers::{SimulatedHumidity, SimulatedTemperature, StatusLed};
use aimdb_node::{run_node, Exit, Node, NodeConfig};
use embassy_executor::Spawner;
use embassy_net::{IpAddress, IpEndpoint, StackResources};
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue};
use embassy_stm32::gpio::{Level, Output, Speed};
use embassy_stm32::peripherals::{ETH, ETH_SMA, IWDG, RNG};
use embassy_stm32::rng::Rng;
use embassy_stm32::time::Hertz;
use embassy_stm32::wdg::IndependentWatchdog;
use embassy_stm32::{bind_interrupts, eth, rng, Config};
use embassy_time::Timer;
use embedded_alloc::LlffHeap as Heap;
use static_cell::StaticCell;

use crate::net::EthNetwork;

const NODE_ID: &str = match option_env!("AIMDB_NODE_ID") {
    Some(id) => id,
    None => "f429-1",
};
const BROKER: &str = match option_env!("AIMDB_BROKER") {
    Some(b) => b,
    None => "192.168.1.10:1883",
};
/// Heap for the record graph (records, buffers, boxed tasks, links, MQTT packets received).
const HEAP_SIZE: usize = 24 * 1024;
/// Locally administered MAC address (set bit 1 of the first octet).
const MAC: [u8; 6] = [0x02, 0xa1, 0xdb, 0x00, 0x04, 0x29];

#[global_allocator]
static HEAP: Heap = Heap::empty();

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    HASH_RNG => rng::InterruptHandler<RNG>;
});

aimdb_embassy::task_pool!(engine_tasks, 10);

type Device = Ethernet<'static, ETH, GenericPhy<embassy_stm32::eth::Sma<'static, ETH_SMA>>>;

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn watchdog_task(mut wdg: IndependentWatchdog<'static, IWDG>) -> ! {
    loop {
        wdg.pet();
        Timer::after_secs(1).await;
    }
}

/// LD2 as the node's status LED.
struct BoardLed(Output<'static>);

impl StatusLed for BoardLed {
    fn set(&mut self, on: bool) {
        self.0.set_level(if on { Level::High } else { Level::Low });
    }
}

fn clocks() -> Config {
    use embassy_stm32::rcc::{
        AHBPrescaler, APBPrescaler, Hse, HseMode, Pll, PllMul, PllPDiv, PllPreDiv, PllSource,
        Sysclk,
    };
    let mut config = Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.pll_src = PllSource::HSE;
    config.rcc.pll = Some(Pll {
        prediv: PllPreDiv::DIV4,
        mul: PllMul::MUL180,
        divp: Some(PllPDiv::DIV2), // 8 / 4 * 180 / 2 = 180 MHz
        divq: None,
        divr: None,
    });
    config.rcc.ahb_pre = AHBPrescaler::DIV1;
    config.rcc.apb1_pre = APBPrescaler::DIV4;
    config.rcc.apb2_pre = APBPrescaler::DIV2;
    config.rcc.sys = Sysclk::PLL1_P;
    config
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation; HEAP_MEM is used by nothing else.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }
    let p = embassy_stm32::init(clocks());

    let mut wdg = IndependentWatchdog::new(p.IWDG, 8_000_000);
    wdg.unleash();
    spawner.spawn(watchdog_task(wdg).expect("watchdog task slot"));

    let mut rng = Rng::new(p.RNG, Irqs);
    let seed = rng.next_u64();

    static PACKETS: StaticCell<PacketQueue<4, 4>> = StaticCell::new();
    // In place: a PacketQueue is 12 KiB, too big for a stack temporary.
    let packets = PACKETS.uninit();
    PacketQueue::init(packets);
    // SAFETY: `PacketQueue::init` zeroes the queue in place, which its documentation guarantees
    // is a valid, empty queue.
    let packets = unsafe { packets.assume_init_mut() };
    let device = Ethernet::new(
        packets, p.ETH, Irqs, p.PA1, p.PA7, p.PC4, p.PC5, p.PG13, p.PB13, p.PG11, MAC, p.ETH_SMA,
        p.PA2, p.PC1,
    );
    static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(net_task(runner).expect("network task slot"));

    let broker = SocketAddrV4::from_str(BROKER).expect("AIMDB_BROKER must be a.b.c.d:port");
    let broker = IpEndpoint::new(IpAddress::Ipv4(*broker.ip()), broker.port());
    let mut net = EthNetwork::new(stack, broker);

    let mut config = NodeConfig::new(NODE_ID).expect("AIMDB_NODE_ID must be a topic level");
    config.seed = seed as u32;
    let led = BoardLed(Output::new(p.PB7, Level::Low, Speed::Low));
    let node = Node::new(
        config,
        SimulatedTemperature::new(22.0, 4.0),
        SimulatedHumidity::default(),
        led,
    );
    let rt = EmbassyAdapter::new(spawner.make_send(), engine_tasks);
    // Runs until a Reboot command: then it has drained and said `offline`.
    match run_node(rt, node, &mut net, core::future::pending()).await {
        Ok(Exit::Reboot | Exit::Stopped) | Err(_) => cortex_m::peripheral::SCB::sys_reset(),
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // A node in the field restarts rather than hangs; the broker has published its will.
    cortex_m::peripheral::SCB::sys_reset()
}
