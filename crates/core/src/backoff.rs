//! [`Backoff`]: reconnect delays for connectors, on the gateway and on the node alike.
//!
//! The ceiling starts at `min` and doubles per failed attempt up to `max`; each delay is drawn
//! uniformly from `[ceiling / 2, ceiling]` ("equal jitter"), so peers that lost the same broker do
//! not reconnect in lockstep, and below `max` a delay never shrinks from one attempt to the next.
//! [`Backoff::reset`] (after a successful connection) starts again at `min`. The jitter comes
//! from a small xorshift generator seeded by the caller (the clock and pid on a host, the
//! hardware RNG on an MCU); it needs no allocation and no `std`.

use core::time::Duration;

/// Reconnect delays for one session.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Delays from `min` (at least 1 ms) up to `max`; `seed` feeds the jitter (any value).
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            attempt: 0,
            // xorshift never leaves 0; mix the seed so that small seeds differ at once.
            rng: (seed ^ 0x9e37_79b9_7f4a_7c15) | 1,
        }
    }

    /// The delay before the next attempt; each call counts one failed attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let span = u64::try_from((ceiling - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = match span {
            0 => 0,
            s => self.next_random() % s.saturating_add(1),
        };
        half + Duration::from_nanos(jitter)
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to the shortest delay (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: plenty for jitter.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_within_the_jitter_band_and_reset() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for seed in [0, 1, 7, u64::MAX] {
            let mut b = Backoff::new(min, max, seed);
            let mut last = Duration::ZERO;
            for n in 0..12u32 {
                let d = b.next_delay();
                let ceiling = (min * (1 << n)).min(max);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "attempt {n}: {d:?} not in [{:?}, {ceiling:?}]",
                    ceiling / 2
                );
                assert!(d >= last || ceiling == max, "attempt {n}: {d:?} < {last:?}");
                last = d;
            }
            assert_eq!(b.attempts(), 12);
            b.reset();
            assert!(b.next_delay() <= min);
        }
    }

    #[test]
    fn different_seeds_give_different_delays() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        let a: [Duration; 4] = core::array::from_fn({
            let mut b = Backoff::new(min, max, 1);
            move |_| b.next_delay()
        });
        let b: [Duration; 4] = core::array::from_fn({
            let mut b = Backoff::new(min, max, 2);
            move |_| b.next_delay()
        });
        assert_ne!(a, b);
    }
}
