//! [`Backoff`]: reconnect delays that double per failed attempt, with jitter.
//!
//! Attempt `n` (from 0) waits a random time in `[b/2, b]` where `b = min(min · 2ⁿ, max)`
//! ("equal jitter"): daemons that lost the same broker do not reconnect in lockstep, and below
//! `max` the delay never shrinks from one attempt to the next. [`Backoff::reset`] (after a
//! successful connection) starts again at `min`.

use std::time::Duration;

/// Reconnect delays for one session.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Delays from `min` up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Self {
            min,
            max: max.max(min),
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// The delay before the next attempt; each call counts one failed attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let base = self.min.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        let jitter_ns = half.as_nanos() as u64;
        let r = if jitter_ns == 0 {
            0
        } else {
            self.next_random() % (jitter_ns + 1)
        };
        half + Duration::from_nanos(r)
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
    fn delays_grow_stay_in_bounds_and_reset() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        let mut b = Backoff::new(min, max);
        let mut last = Duration::ZERO;
        for n in 0..12u32 {
            let d = b.next_delay();
            let base = (min * (1 << n)).min(max);
            assert!(
                d >= base / 2 && d <= base,
                "attempt {n}: {d:?} not in [{:?}, {base:?}]",
                base / 2
            );
            assert!(d >= last || base == max, "attempt {n}: {d:?} < {last:?}");
            last = d;
        }
        assert_eq!(b.attempts(), 12);
        b.reset();
        assert!(b.next_delay() <= min);
    }
}
