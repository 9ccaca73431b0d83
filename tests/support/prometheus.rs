//! A line-by-line check of the Prometheus text exposition format.

/// Checks the Prometheus text format line by line: HELP/TYPE comments, then samples
/// `name{label="value",...} number` whose family has a TYPE (a histogram's `_bucket`, `_sum`
/// and `_count` belong to it; a `_bucket` needs an `le` label).
pub(crate) fn check_prometheus(text: &str) -> Result<usize, String> {
    fn name_ok(n: &str) -> bool {
        let mut cs = n.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut typed = std::collections::BTreeMap::new();
    let mut samples = 0;
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, tail) = (parts.next(), parts.next(), parts.next());
            match (kw, name, tail) {
                (Some("HELP"), Some(n), Some(_)) if name_ok(n) => {}
                (
                    Some("TYPE"),
                    Some(n),
                    Some(kind @ ("counter" | "gauge" | "histogram" | "summary" | "untyped")),
                ) if name_ok(n) => {
                    typed.insert(n.to_string(), kind.to_string());
                }
                _ => return Err(format!("bad comment line: {line}")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line}"))?;
        value
            .parse::<f64>()
            .map_err(|_| format!("bad value: {line}"))?;
        let name = match series.split_once('{') {
            None => series,
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .ok_or(format!("unclosed labels: {line}"))?;
                for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").ok_or(format!("bad label: {line}"))?;
                    if !name_ok(k) || v.trim_end_matches('"').contains('\n') {
                        return Err(format!("bad label: {line}"));
                    }
                }
                name
            }
        };
        let histogram_part = ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
            let family = name.strip_suffix(suffix)?;
            (typed.get(family).map(String::as_str) == Some("histogram")).then_some(*suffix)
        });
        if histogram_part == Some("_bucket") && !series.contains("le=\"") {
            return Err(format!("histogram bucket without le: {line}"));
        }
        if !name_ok(name) || !(typed.contains_key(name) || histogram_part.is_some()) {
            return Err(format!("sample without TYPE or bad name: {line}"));
        }
        samples += 1;
    }
    Ok(samples)
}

/// The value of the sample named exactly `series` (name plus labels as printed).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.rsplit_once(' ').filter(|(s, _)| *s == series))
        .and_then(|(_, v)| v.parse().ok())
}
