//! `/metrics` keeps its contract, with the real `aimdbd` and a real Mosquitto: with `[mqtt]` (a
//! disk outbox), `[store]` and `[sparkplug]` configured, the page is the Prometheus text format
//! 0.0.4 (its content type, no OpenMetrics `# EOF`), it passes the format check the other tests
//! use, every counter family is named with exactly one `_total`, and every `aimdbd_*` family the
//! docs (docs/*.md) and the example alert rules (deploy/prometheus/) name is on it.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::mosquitto::Mosquitto;
use support::prometheus::check_prometheus;
use support::{config_head, http_raw, wait_until, Daemon, TestDir};

/// Every `aimdbd_*` metric name in the docs and the example rules, as families: a histogram's
/// `_bucket`/`_sum`/`_count` series count as their family; prefixes (`aimdbd_mqtt_*`) are left
/// out.
fn documented() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["docs", "deploy/prometheus"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("docs dir"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md" || x == "yml"))
        .collect();
    files.sort();
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("doc");
        for (at, _) in text.match_indices("aimdbd_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.ends_with('_') {
                continue;
            }
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| f.ends_with("_seconds")))
                .map_or(name.clone(), str::to_string);
            names.insert(family);
        }
    }
    names
}

#[test]
fn every_documented_family_is_on_a_page_in_the_0_0_4_format() {
    let dir = TestDir::new("metrics-names");
    let broker = Mosquitto::start(dir.path());
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"
outbox_path = "outbox.db"

[store]
path = "history.db"

[sparkplug]
group_id = "plant"

[[record]]
key = "sensor.x"
type = "Temperature"
persist = true
sparkplug = true
link_from = [{{ url = "mqtt://aimdb/+/sensor.x", codec = "json", qos = 1 }}]
link_to = [{{ url = "mqtt://out/sensor.x", codec = "json", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url(),
    );
    let mut d = Daemon::start(dir.path(), admin, &config);
    wait_until("the bridge and the Sparkplug session are connected", || {
        d.metric("aimdbd_mqtt_connected") == Some(1.0)
            && d.metric("aimdbd_sparkplug_connected") == Some(1.0)
    });
    let (status, head, page) = http_raw(
        admin,
        &format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{admin}\r\nConnection: close\r\n\r\n"),
    )
    .expect("/metrics answers");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.lines().any(|l| l
            .to_ascii_lowercase()
            .starts_with("content-type: text/plain; version=0.0.4; charset=utf-8")),
        "{head}"
    );
    // A chunked body would carry chunk sizes; the page is sent whole.
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    assert!(!page.contains("# EOF"), "not OpenMetrics");
    check_prometheus(&page).unwrap_or_else(|e| panic!("{e}\n{page}"));

    let mut families = BTreeSet::new();
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
        if kind == "counter" {
            assert!(
                name.ends_with("_total") && !name.ends_with("_total_total"),
                "counter {name}"
            );
        }
        families.insert(name.to_string());
    }
    let missing: Vec<_> = documented()
        .into_iter()
        .filter(|n| !families.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "documented but not on /metrics: {missing:?}\n{page}"
    );
    d.signal("-TERM");
    assert_eq!(d.wait_exit(), Some(0));
}
