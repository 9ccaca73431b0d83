//! The process metrics every Prometheus client exports (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
//! `process_max_fds`, `process_start_time_seconds`), read from `/proc/self` on Linux. On other
//! systems, and for any value that cannot be read, the family is left out (no made-up zero).
//! Reading is blocking (procfs): call [`encode`] off the async workers.

use prometheus_client::encoding::DescriptorEncoder;

use super::exposition::{self, Encoded};

/// One process metric: name, kind, help, value.
type Sample = (&'static str, &'static str, &'static str, Value);

/// A process metric's value: counts and sizes are whole numbers (and printed so).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum Value {
    Whole(u64),
    Real(f64),
}

/// Writes the process metrics that could be read.
pub(crate) fn encode(enc: &mut DescriptorEncoder<'_>) -> Encoded {
    for (name, kind, help, value) in read() {
        match (kind, value) {
            ("counter", Value::Whole(v)) => exposition::counter(enc, name, help, v)?,
            ("counter", Value::Real(v)) => exposition::counter(enc, name, help, v)?,
            (_, Value::Whole(v)) => exposition::gauge(enc, name, help, v)?,
            (_, Value::Real(v)) => exposition::gauge(enc, name, help, v)?,
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn read() -> Vec<Sample> {
    Vec::new()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn read() -> Vec<Sample> {
    let mut samples = Vec::with_capacity(6);
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| Stat::parse(&s));
    // SAFETY: sysconf only reads a system constant; it takes no pointers.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if let (Some(st), true) = (&stat, ticks > 0) {
        let ticks = ticks as f64;
        samples.push((
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            Value::Real((st.utime + st.stime) as f64 / ticks),
        ));
        if let Some(boot) = boot_time() {
            samples.push((
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                Value::Real(boot + st.starttime as f64 / ticks),
            ));
        }
    }
    if let (Some(st), true) = (&stat, page > 0) {
        samples.push((
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            Value::Whole(
                st.rss_pages
                    .saturating_mul(u64::try_from(page).unwrap_or(0)),
            ),
        ));
    }
    if let Some(st) = &stat {
        samples.push((
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            Value::Whole(st.vsize),
        ));
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        samples.push((
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            Value::Whole(u64::try_from(dir.count()).unwrap_or(u64::MAX)),
        ));
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `rlimit` into the struct we own and pass by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        samples.push((
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            Value::Whole(lim.rlim_cur),
        ));
    }
    samples
}

/// The fields of `/proc/self/stat` used here (proc(5)).
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Stat {
    utime: u64,
    stime: u64,
    /// Clock ticks after boot.
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
impl Stat {
    /// Parses the one line of `/proc/<pid>/stat`. The command name (field 2) is in parentheses
    /// and may itself hold spaces and parentheses, so fields are counted from its last `)`.
    fn parse(line: &str) -> Option<Stat> {
        let rest = &line[line.rfind(')')? + 1..];
        // rest's first field is field 3 (state).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let at = |field: usize| -> Option<u64> { f.get(field - 3)?.parse().ok() };
        Some(Stat {
            utime: at(14)?,
            stime: at(15)?,
            starttime: at(22)?,
            vsize: at(23)?,
            rss_pages: at(24)?,
        })
    }
}

/// Boot time in seconds since the epoch (`btime` of `/proc/stat`).
#[cfg(target_os = "linux")]
fn boot_time() -> Option<f64> {
    static BOOT: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|v| v as f64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123456 987654321 777 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                utime: 250,
                stime: 50,
                starttime: 123456,
                vsize: 987654321,
                rss_pages: 777,
            })
        );
        assert_eq!(Stat::parse("12 (x) S 1 2"), None, "too short");
        assert_eq!(Stat::parse("no parenthesis"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reports_every_family() {
        let names: Vec<_> = read().into_iter().map(|s| s.0).collect();
        for want in [
            "process_cpu_seconds_total",
            "process_start_time_seconds",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_open_fds",
            "process_max_fds",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
    }
}
