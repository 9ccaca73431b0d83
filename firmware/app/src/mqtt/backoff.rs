//! Reconnect delays: exponential with full jitter, so many nodes that lost the broker at once do
//! not come back in lockstep.

use core::time::Duration;

/// Delay before the next connection attempt. The ceiling doubles per failure from `min` up to
/// `max`; each delay is drawn uniformly from `[ceiling / 2, ceiling]` ("equal jitter").
#[derive(Debug, Clone)]
pub struct Backoff {
    min_ms: u32,
    max_ms: u32,
    ceiling_ms: u32,
    rng: u32,
}

impl Backoff {
    /// Delays between `min_ms` / 2 and `max_ms`; `seed` feeds the jitter (0 is replaced).
    pub fn new(min_ms: u32, max_ms: u32, seed: u32) -> Self {
        let min_ms = min_ms.max(1);
        Self {
            min_ms,
            max_ms: max_ms.max(min_ms),
            ceiling_ms: min_ms,
            rng: if seed == 0 { 0x2545_f491 } else { seed },
        }
    }

    /// The next delay; raises the ceiling for the one after.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling_ms;
        self.ceiling_ms = ceiling.saturating_mul(2).min(self.max_ms);
        let half = ceiling / 2;
        let jitter = self.next_random() % (ceiling - half + 1);
        Duration::from_millis(u64::from(half + jitter))
    }

    /// Back to the shortest delay (after a successful connection).
    pub fn reset(&mut self) {
        self.ceiling_ms = self.min_ms;
    }

    /// xorshift32: cheap, good enough for jitter.
    fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_reset() {
        let mut b = Backoff::new(100, 1000, 7);
        let ceilings = [100u64, 200, 400, 800, 1000, 1000];
        for c in ceilings {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= c / 2 && d <= c, "{d} not in [{}, {c}]", c / 2);
        }
        b.reset();
        assert!(b.next_delay().as_millis() <= 100);
    }
}
