//! Host stand-ins for the board's hardware.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aimdb_node::drivers::StatusLed;

/// A status LED that logs each change and keeps its state for tests to read.
#[derive(Debug, Clone, Default)]
pub struct HostLed {
    on: Arc<AtomicBool>,
}

impl HostLed {
    /// Whether the LED is on now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
}

impl StatusLed for HostLed {
    fn set(&mut self, on: bool) {
        if self.on.swap(on, Ordering::Relaxed) != on {
            log::info!(target: "aimdb", "led: {}", if on { "on" } else { "off" });
        }
    }
}
