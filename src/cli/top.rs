//! `aimdbd ctl top`: every record's rate, lag, drops and links, refreshed live in the terminal
//! (ratatui on crossterm: any terminal, also over SSH), like `vector top`.
//!
//! Contract:
//! - Every `--interval` (default 1 s) it reads `/api/records` (record counters) and `/metrics`
//!   (link counters, connection and store state) and shows rates over the last interval.
//! - `q`, `Esc` or `Ctrl-C` quits and restores the terminal, also when the daemon goes away (the
//!   view then says so and keeps retrying).
//! - `--once` prints one plain-text table (two readings one interval apart) and exits: for
//!   scripts, pipes and terminals without a TTY.
//! - Nothing here runs inside async code: the loop is synchronous and calls the async HTTP
//!   client through `block_on`, so reading keys and drawing never block a Tokio worker.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;
use serde_json::Value;

use super::admin_client::{request, Target};

/// Counters of one record at one reading.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RecordCounters {
    pub(super) key: String,
    pub(super) type_name: String,
    pub(super) buffer: String,
    pub(super) produced: u64,
    pub(super) lagged: u64,
    pub(super) dropped: u64,
    pub(super) readers: u64,
    pub(super) links_in: usize,
    pub(super) links_out: usize,
    /// MQTT messages in (decoded) and out (acknowledged), link errors, outbox depth and drops.
    pub(super) mqtt_in: u64,
    pub(super) mqtt_out: u64,
    pub(super) link_errors: u64,
    pub(super) outbox_depth: u64,
    pub(super) outbox_dropped: u64,
}

/// One reading of the daemon.
#[derive(Clone, Debug, Default)]
pub(super) struct Reading {
    pub(super) records: Vec<RecordCounters>,
    pub(super) mqtt_connected: Option<bool>,
    pub(super) store_up: Option<bool>,
    pub(super) ready: bool,
}

/// A row of the view: a reading, with rates against the one before.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ViewRow {
    pub(super) now: RecordCounters,
    /// Values produced per second.
    pub(super) rate: f64,
    /// MQTT messages per second, in and out.
    pub(super) in_rate: f64,
    pub(super) out_rate: f64,
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The label `name` of a Prometheus series line's `{...}`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &labels[start..];
    Some(&rest[..rest.find('"')?])
}

/// Parses `/api/records` and the `/metrics` page into a reading.
pub(super) fn parse(records: &str, metrics: &str, ready: bool) -> Result<Reading, String> {
    let list: Value =
        serde_json::from_str(records).map_err(|e| format!("/api/records is not JSON: {e}"))?;
    let mut rows: Vec<RecordCounters> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| RecordCounters {
            key: r["key"].as_str().unwrap_or("?").to_string(),
            type_name: r["type"].as_str().unwrap_or("?").to_string(),
            buffer: r["buffer"].as_str().unwrap_or("?").replace("capacity=", ""),
            produced: u(&r["stats"]["produced"]),
            lagged: u(&r["stats"]["lagged"]),
            dropped: u(&r["stats"]["dropped"]),
            readers: u(&r["stats"]["readers"]),
            links_in: r["links_from"].as_array().map_or(0, Vec::len),
            links_out: r["links_to"].as_array().map_or(0, Vec::len),
            ..RecordCounters::default()
        })
        .collect();
    let index: BTreeMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.clone(), i))
        .collect();
    let mut reading = Reading {
        ready,
        ..Reading::default()
    };
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        match name {
            "aimdbd_mqtt_connected" => reading.mqtt_connected = Some(value > 0.0),
            "aimdbd_store_up" => reading.store_up = Some(value > 0.0),
            _ => {}
        }
        let Some(&i) = label(labels, "record").and_then(|r| index.get(r)) else {
            continue;
        };
        // Counters are integers well below 2^53; a float that is not one reads as 0.
        let n = if value.is_finite() && value >= 0.0 {
            format!("{value:.0}").parse::<u64>().unwrap_or(0)
        } else {
            0
        };
        let row = &mut rows[i];
        match (name, label(labels, "direction")) {
            ("aimdbd_mqtt_messages_total", Some("in")) => row.mqtt_in += n,
            ("aimdbd_mqtt_messages_total", Some("out")) => row.mqtt_out += n,
            ("aimdbd_mqtt_link_errors_total", _) => row.link_errors += n,
            ("aimdbd_mqtt_outbox_depth", _) => row.outbox_depth += n,
            ("aimdbd_mqtt_outbox_dropped_total", _) => row.outbox_dropped += n,
            _ => {}
        }
    }
    reading.records = rows;
    Ok(reading)
}

/// The rows of `now`, with rates against `before` taken `secs` earlier.
pub(super) fn view(before: Option<&Reading>, now: &Reading, secs: f64) -> Vec<ViewRow> {
    let secs = secs.max(1e-3);
    now.records
        .iter()
        .map(|r| {
            let prev = before.and_then(|b| b.records.iter().find(|p| p.key == r.key));
            let rate = |f: fn(&RecordCounters) -> u64| {
                prev.map_or(0.0, |p| f(r).saturating_sub(f(p)) as f64 / secs)
            };
            ViewRow {
                rate: rate(|c| c.produced),
                in_rate: rate(|c| c.mqtt_in),
                out_rate: rate(|c| c.mqtt_out),
                now: r.clone(),
            }
        })
        .collect()
}

const HEADER: [&str; 10] = [
    "RECORD",
    "TYPE",
    "BUFFER",
    "VALUES/s",
    "READERS",
    "LAGGED",
    "DROPPED",
    "LINKS in/out",
    "MQTT in/s out/s",
    "OUTBOX depth/dropped, ERRORS",
];

fn cells(r: &ViewRow) -> [String; 10] {
    let c = &r.now;
    [
        c.key.clone(),
        c.type_name.clone(),
        c.buffer.clone(),
        format!("{:.1}", r.rate),
        c.readers.to_string(),
        c.lagged.to_string(),
        c.dropped.to_string(),
        format!("{}/{}", c.links_in, c.links_out),
        format!("{:.1} {:.1}", r.in_rate, r.out_rate),
        format!("{}/{}, {}", c.outbox_depth, c.outbox_dropped, c.link_errors),
    ]
}

fn status_line(reading: &Reading, error: Option<&str>) -> String {
    let yes_no = |v: Option<bool>, yes: &str, no: &str| match v {
        Some(true) => yes.to_string(),
        Some(false) => no.to_string(),
        None => "-".to_string(),
    };
    match error {
        Some(e) => format!("not reachable: {e} (retrying; q quits)"),
        None => format!(
            "{} records | {} | mqtt {} | store {} | q quits",
            reading.records.len(),
            if reading.ready { "ready" } else { "not ready" },
            yes_no(reading.mqtt_connected, "connected", "disconnected"),
            yes_no(reading.store_up, "up", "down"),
        ),
    }
}

/// Draws one frame.
pub(super) fn draw(f: &mut Frame<'_>, reading: &Reading, rows: &[ViewRow], error: Option<&str>) {
    let [top, table] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(f.area());
    f.render_widget(Paragraph::new(Line::from(status_line(reading, error))), top);
    let widths = [
        Constraint::Min(16),
        Constraint::Length(16),
        Constraint::Length(16),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(12),
        Constraint::Length(15),
        Constraint::Length(28),
    ];
    let t = Table::new(rows.iter().map(|r| Row::new(cells(r))), widths)
        .header(Row::new(HEADER).style(Style::default().add_modifier(Modifier::BOLD)))
        .block(Block::bordered().title(" aimdbd top "));
    f.render_widget(t, table);
}

/// The plain-text table of `--once`.
pub(super) fn text(reading: &Reading, rows: &[ViewRow]) -> String {
    let all: Vec<[String; 10]> = std::iter::once(HEADER.map(str::to_string))
        .chain(rows.iter().map(cells))
        .collect();
    let widths: Vec<usize> = (0..10)
        .map(|i| all.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = status_line(reading, None);
    out.push('\n');
    for r in &all {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn read(rt: &tokio::runtime::Runtime, target: &Target) -> Result<Reading, String> {
    rt.block_on(async {
        let (status, records) = request(target, "GET", "/api/records", None).await?;
        if status != 200 {
            return Err(format!(
                "/api/records answered {status}: {}",
                records.trim()
            ));
        }
        let (_, metrics) = request(target, "GET", "/metrics", None).await?;
        let (ready, _) = request(target, "GET", "/readyz", None).await?;
        parse(&records, &metrics, ready == 200)
    })
}

/// `ctl top`; see the module doc.
pub(super) fn top(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    interval: Duration,
    once: bool,
) -> Result<(), String> {
    if once {
        let first = read(rt, target)?;
        let start = Instant::now();
        std::thread::sleep(interval);
        let now = read(rt, target)?;
        let rows = view(Some(&first), &now, start.elapsed().as_secs_f64());
        print!("{}", text(&now, &rows));
        return Ok(());
    }
    let mut terminal = ratatui::try_init().map_err(|e| format!("cannot open the terminal: {e}"))?;
    let result = live(rt, target, interval, &mut terminal);
    ratatui::restore();
    result
}

fn live(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    interval: Duration,
    terminal: &mut ratatui::DefaultTerminal,
) -> Result<(), String> {
    let mut last: Option<(Instant, Reading)> = None;
    loop {
        let taken = Instant::now();
        let (reading, error) = match read(rt, target) {
            Ok(r) => (r, None),
            Err(e) => (last.clone().map(|l| l.1).unwrap_or_default(), Some(e)),
        };
        let rows = view(
            last.as_ref().map(|l| &l.1),
            &reading,
            last.as_ref()
                .map_or(1.0, |l| taken.duration_since(l.0).as_secs_f64()),
        );
        terminal
            .draw(|f| draw(f, &reading, &rows, error.as_deref()))
            .map_err(|e| format!("cannot draw: {e}"))?;
        if error.is_none() {
            last = Some((taken, reading));
        }
        // Keys until the next reading.
        let until = taken + interval;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if !event::poll(left).map_err(|e| e.to_string())? {
                break;
            }
            if let Event::Key(k) = event::read().map_err(|e| e.to_string())? {
                let quit = k.kind == KeyEventKind::Press
                    && (matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)
                        || (k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL)));
                if quit {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    const RECORDS: &str = r#"[
      {"key":"sensor.temp","type":"Temperature","buffer":"spmc_ring(64)","links_from":[{}],"links_to":[{},{}],
       "stats":{"produced":100,"delivered":90,"lagged":3,"dropped":1,"readers":2}},
      {"key":"note","type":"json","buffer":"single_latest","links_from":[],"links_to":[],
       "stats":{"produced":5,"lagged":0,"dropped":0,"readers":0}}
    ]"#;

    fn metrics(msgs_in: u64) -> String {
        format!(
            "# HELP x\naimdbd_mqtt_connected 1\naimdbd_store_up 0\n\
             aimdbd_mqtt_messages_total{{direction=\"in\",record=\"sensor.temp\",topic=\"a\"}} {msgs_in}\n\
             aimdbd_mqtt_messages_total{{direction=\"out\",record=\"sensor.temp\",topic=\"b\"}} 7\n\
             aimdbd_mqtt_outbox_depth{{direction=\"out\",record=\"sensor.temp\",topic=\"b\"}} 4\n\
             aimdbd_mqtt_link_errors_total{{direction=\"in\",record=\"nope\",topic=\"a\"}} 9\n"
        )
    }

    #[test]
    fn readings_parse_and_rates_are_deltas() {
        let a = parse(RECORDS, &metrics(10), true).unwrap();
        assert_eq!(a.mqtt_connected, Some(true));
        assert_eq!(a.store_up, Some(false));
        let t = &a.records[0];
        assert_eq!(
            (t.mqtt_in, t.mqtt_out, t.outbox_depth, t.link_errors),
            (10, 7, 4, 0)
        );
        assert_eq!((t.links_in, t.links_out), (1, 2));
        let b = parse(
            &RECORDS.replace("\"produced\":100", "\"produced\":150"),
            &metrics(30),
            true,
        )
        .unwrap();
        let rows = view(Some(&a), &b, 2.0);
        assert_eq!(rows[0].rate, 25.0);
        assert_eq!(rows[0].in_rate, 10.0);
        assert_eq!(rows[1].rate, 0.0);
        assert!(parse("nope", "", true).is_err());
    }

    #[test]
    fn the_frame_shows_every_record_and_its_counters() {
        let a = parse(RECORDS, &metrics(10), true).unwrap();
        let rows = view(None, &a, 1.0);
        let mut terminal = Terminal::new(TestBackend::new(160, 8)).unwrap();
        terminal.draw(|f| draw(f, &a, &rows, None)).unwrap();
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        for want in [
            "sensor.temp",
            "Temperature",
            "note",
            "mqtt connected",
            "store down",
            "RECORD",
            "1/2",
            "4/0, 0",
        ] {
            assert!(screen.contains(want), "{want:?} missing:\n{screen}");
        }
        let plain = text(&a, &rows);
        assert!(
            plain.lines().nth(2).unwrap().starts_with("sensor.temp"),
            "{plain}"
        );
    }
}
