//! Shared measuring and reporting for aimdb's benchmarks.
//!
//! Every benchmark measures its subject and a baseline in the same process, interleaved over
//! several rounds, and prints both throughputs and their ratio. The machines are shared and noisy,
//! so each figure is the median of the rounds, and no benchmark ever asserts on time.

use std::time::{Duration, Instant};

pub mod mqtt;

/// Rounds per measurement; the median is reported.
pub const ROUNDS: usize = 7;

/// One measured throughput.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Operations per second (median of the rounds).
    pub ops_per_sec: f64,
}

/// Runs `round` [`ROUNDS`] times; each call performs `ops` operations and returns how long they
/// took. Returns the median throughput.
pub fn measure(ops: u64, mut round: impl FnMut() -> Duration) -> Throughput {
    let mut rates: Vec<f64> = (0..ROUNDS)
        .map(|_| ops as f64 / round().as_secs_f64().max(1e-9))
        .collect();
    rates.sort_by(f64::total_cmp);
    Throughput {
        ops_per_sec: rates[rates.len() / 2],
    }
}

/// Like two [`measure`]s, but with the subject's and the baseline's rounds alternating, so that
/// a change in the machine's load during the run hits both alike. Returns (subject, baseline,
/// median of the per-round ratios subject/baseline).
pub fn measure_interleaved(
    ops: u64,
    mut subject: impl FnMut() -> Duration,
    mut baseline: impl FnMut() -> Duration,
) -> (Throughput, Throughput, f64) {
    let rate = |d: Duration| ops as f64 / d.as_secs_f64().max(1e-9);
    let mut pairs: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|_| (rate(subject()), rate(baseline())))
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = median(pairs.iter().map(|(s, b)| s / b).collect());
    let s = median(pairs.iter().map(|p| p.0).collect());
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let b = pairs[pairs.len() / 2].1;
    (
        Throughput { ops_per_sec: s },
        Throughput { ops_per_sec: b },
        ratio,
    )
}

/// Prints one result line of a [`measure_interleaved`] pair: subject, baseline, and the median
/// per-round ratio.
pub fn report_ratio(
    name: &str,
    subject: Throughput,
    baseline_name: &str,
    baseline: Throughput,
    ratio: f64,
) {
    println!(
        "{name:<44} {:>12}  | {baseline_name:<32} {:>12}  | ratio {ratio:>5.2} (median of per-round ratios)",
        fmt_rate(subject.ops_per_sec),
        fmt_rate(baseline.ops_per_sec),
    );
}

/// Times `f` once.
pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Prints one result line: subject, baseline and the ratio subject/baseline.
pub fn report(name: &str, subject: Throughput, baseline_name: &str, baseline: Throughput) {
    println!(
        "{name:<44} {:>12}  | {baseline_name:<32} {:>12}  | ratio {:>5.2}",
        fmt_rate(subject.ops_per_sec),
        fmt_rate(baseline.ops_per_sec),
        subject.ops_per_sec / baseline.ops_per_sec
    );
}

/// Formats a rate as e.g. `5.21 M/s`.
pub fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.0} /s")
    }
}

/// True when invoked by `cargo test --benches` / `--all-targets` (libtest passes no `--bench`):
/// benchmarks then run a single tiny round so that test runs stay fast.
pub fn quick_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}
