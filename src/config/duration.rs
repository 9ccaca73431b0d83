//! Human durations in configs: `"500ms"`, `"10s"`, `"5m"`, `"1h"`, `"7d"`, `"2w"`.

use std::time::Duration;

/// Parses a duration: a whole number followed by one unit (`ms`, `s`, `m`, `h`, `d`, `w`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a duration; write a whole number and a unit, e.g. \"500ms\", \"10s\", \"1h\", \"7d\""
        ));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: the number is too large"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        "" => {
            return Err(format!(
                "{text:?} has no unit; add one of ms, s, m, h, d, w"
            ))
        }
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?}; use one of ms, s, m, h, d, w"
            ))
        }
    };
    n.checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-1d",
            "7 d",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
