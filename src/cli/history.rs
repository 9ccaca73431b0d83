//! `aimdbd history KEY [--since T] [--until T] [--limit N] [--format table|json|csv]`: stored
//! values of a record, read-only, straight from the database file (the daemon may run or not).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::config;
use crate::engine;
use crate::exit;
use crate::store::persist::now_ms;
use crate::store::query::{self, HistoryPage, HistoryQuery};
use crate::store::{schema, StoreError};

#[derive(Debug, Args)]
pub(super) struct HistoryArgs {
    /// Record key.
    key: String,
    /// Oldest values to show: a duration back from now (`90s`, `1h`, `7d`) or an RFC 3339 time
    /// (`2025-01-31T12:00:00Z`, `2025-01-31T13:00:00+01:00`). Default: from the oldest.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Show values stored before this time (same forms as --since, or `now`). Default: all.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// At most this many values: the newest of the range, printed oldest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Database file (default: the `[store] path` of --config).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns.
    Table,
    /// One JSON array of {time, ts_ms, node, source, value}.
    Json,
    /// Comma-separated with a header line.
    Csv,
}

pub(super) fn history(config: Option<PathBuf>, args: &HistoryArgs) -> u8 {
    let now = now_ms();
    let bound = |name: &str, t: &Option<String>| {
        t.as_deref()
            .map(|t| query::parse_time(t, now).map_err(|e| format!("--{name}: {e}")))
            .transpose()
    };
    let q = match (bound("since", &args.since), bound("until", &args.until)) {
        (Ok(since_ms), Ok(until_ms)) if args.limit > 0 => HistoryQuery {
            key: args.key.clone(),
            since_ms,
            until_ms,
            limit: args.limit,
        },
        (Err(e), _) | (_, Err(e)) => return usage(&e),
        _ => return usage("--limit must be at least 1"),
    };
    let path = match database_path(config, args.db.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match read(&path, &q) {
        Ok(Some(page)) => {
            print(&page, args.format);
            if page.truncated {
                eprintln!(
                    "aimdbd history: older values in the range were left out (--limit {})",
                    q.limit
                );
            }
            exit::OK
        }
        Ok(None) => exit::RUNTIME,
        Err(e) => {
            eprintln!("aimdbd history: {e}");
            if matches!(e, StoreError::Missing { .. }) {
                eprintln!("  hint: under systemd the database is in $STATE_DIRECTORY (/var/lib/aimdbd); pass --db FILE");
            }
            exit::RUNTIME
        }
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("aimdbd history: {message}");
    exit::CONFIG
}

/// `--db`, or the `[store] path` of the config.
fn database_path(config: Option<PathBuf>, db: Option<&Path>) -> Result<PathBuf, u8> {
    if let Some(db) = db {
        return Ok(db.to_path_buf());
    }
    let Some(file) = config else {
        return Err(usage("give --config FILE (its [store] path) or --db FILE"));
    };
    let cfg = config::load_blocking(&file, engine::catalog()).map_err(|e| {
        eprintln!("{e}");
        exit::CONFIG
    })?;
    crate::store::path_of(&cfg).ok_or_else(|| {
        usage(&format!(
            "{} has no [store]: this daemon keeps no history",
            file.display()
        ))
    })
}

/// The page, or `None` (after saying why) when the key has no history at all.
fn read(path: &Path, q: &HistoryQuery) -> Result<Option<HistoryPage>, StoreError> {
    let conn = schema::open_reader(path)?;
    let page = query::query(&conn, path, q)?;
    if !page.values.is_empty() {
        return Ok(Some(page));
    }
    let keys = query::keys(&conn, path)?;
    if keys.contains(&q.key) {
        return Ok(Some(page));
    }
    let hint = aimdb_core::graph::closest_match(&q.key, keys.iter().map(String::as_str))
        .map(|k| format!("; did you mean {k:?}?"))
        .unwrap_or_else(|| format!("; keys with history: {}", keys.join(", ")));
    eprintln!(
        "aimdbd history: no history for {:?} in {}{hint}",
        q.key,
        path.display()
    );
    Ok(None)
}

fn print(page: &HistoryPage, format: Format) {
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&page.values).unwrap_or_default();
            println!("{text}");
        }
        Format::Csv => {
            println!("time,ts_ms,node,source,value");
            for v in &page.values {
                println!(
                    "{},{},{},{},{}",
                    v.time,
                    v.ts_ms,
                    csv_field(&v.node),
                    csv_field(&v.source),
                    csv_field(&v.value.to_string())
                );
            }
        }
        Format::Table => {
            let rows: Vec<[String; 4]> = page
                .values
                .iter()
                .map(|v| {
                    [
                        v.time.clone(),
                        v.node.clone(),
                        v.source.clone(),
                        v.value.to_string(),
                    ]
                })
                .collect();
            let header = ["TIME", "NODE", "SOURCE", "VALUE"].map(String::from);
            let width = |i: usize| {
                rows.iter()
                    .chain(std::iter::once(&header))
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1, w2) = (width(0), width(1), width(2));
            for r in std::iter::once(&header).chain(&rows) {
                println!("{:<w0$}  {:<w1$}  {:<w2$}  {}", r[0], r[1], r[2], r[3]);
            }
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("gw-1"), "gw-1");
        assert_eq!(
            csv_field(r#"{"a":1,"b":"x"}"#),
            r#""{""a"":1,""b"":""x""}""#
        );
    }
}
