//! On-target test on QEMU `mps2-an386` (Cortex-M4F, thumbv7em-none-eabihf code):
//!
//! 1. the core's conformance suite (all 16 cases, the same the host runs) on the Embassy adapter;
//! 2. a graph with all three buffers, a transform and timers;
//! 3. the node app (aimdb-node) without a broker;
//! 4. versioned frames: the node's encoder and decoder, and an announcement line;
//! 5. no heap memory left in use once every graph and node has ended.
//!
//! Output goes to the host through semihosting; the exit code is the verdict: 0 when every
//! check passed, 1 on a failed check, a panic or a HardFault.
//!
//! ```sh
//! cd firmware && cargo run -p aimdb-qemu-test --release
//! ```
#![no_std]
#![no_main]

extern crate alloc;

mod checks;
mod time_driver;

use core::mem::MaybeUninit;

use aimdb_embassy::EmbassyAdapter;
use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use embassy_executor::Spawner;
use embedded_alloc::LlffHeap as Heap;

/// Heap for the engine (records, tasks, links) and the test data.
// The conformance suite's drain case alone holds a 4096-value ring of u64 (64 KiB).
const HEAP_SIZE: usize = 112 * 1024;

#[global_allocator]
static HEAP: Heap = Heap::empty();

aimdb_embassy::task_pool!(engine_tasks, 16);

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    {
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation; HEAP_MEM is used by nothing else.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        fail("core peripherals taken twice");
    };
    time_driver::init(peripherals.SYST);
    let rt = EmbassyAdapter::new(spawner.make_send(), engine_tasks);

    hprintln!("aimdb on-target test (mps2-an386, Cortex-M4F)");
    // The same case list the host adapters run (`conformance_tests!` in aimdb-core).
    aimdb_core::conformance_tests!(await_each rt, |case: &str| hprintln!(
        "  conformance {}: ok",
        case
    ));
    checks::graph_with_all_buffers(rt).await;
    checks::node_app_without_broker(rt, || HEAP.used()).await;
    checks::versioned_frames();
    let leaked = HEAP.used();
    hprintln!(
        "heap: {} of {} bytes in use after the run",
        leaked,
        HEAP_SIZE
    );
    if leaked != 0 {
        fail("every graph and node has ended, but heap memory is still in use");
    }
    hprintln!("all on-target checks passed");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

fn fail(why: &str) -> ! {
    hprintln!("FAILED: {}", why);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAILED: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAILED: HardFault at pc={:#010x}", frame.pc());
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
