//! embassy-time on SysTick: a 1 kHz interrupt from the 25 MHz core clock of QEMU's mps2-an386,
//! and an `embassy_time_queue_utils::Queue` of pending timers behind a critical section.
//!
//! The tick rate is the board's (`tick-hz-32_768`, so the whole firmware workspace builds with one
//! embassy-time configuration); the clock advances by 32.768 ticks per millisecond, so timers
//! fire with 1 ms resolution.
//!
//! QEMU has no model of the STM32 timers embassy-stm32's time driver uses, so the on-target test
//! brings this small driver of its own. Each tick advances the clock and wakes expired timers.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;
use critical_section::Mutex;
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// Core clock of mps2-an386 in QEMU.
const CORE_HZ: u32 = 25_000_000;
/// SysTick interrupts per second.
const INTERRUPT_HZ: u32 = 1_000;

/// embassy-time ticks at `millis` milliseconds since start.
fn ticks_at(millis: u64) -> u64 {
    millis * embassy_time_driver::TICK_HZ / 1_000
}

struct SysTickDriver {
    millis: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| ticks_at(self.millis.borrow(cs).get()))
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow_ref_mut(cs);
            queue.schedule_wake(at, waker);
            let now = ticks_at(self.millis.borrow(cs).get());
            if at <= now {
                // Already due: wake now rather than at the next tick.
                queue.next_expiration(now);
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    millis: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts the 1 kHz interrupt.
pub fn init(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / INTERRUPT_HZ - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let millis = DRIVER.millis.borrow(cs);
        millis.set(millis.get() + 1);
        DRIVER
            .queue
            .borrow_ref_mut(cs)
            .next_expiration(ticks_at(millis.get()));
    });
}
