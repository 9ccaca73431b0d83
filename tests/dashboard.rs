//! The dashboard (`GET /`) in a real browser: headless Chromium, driven through chromedriver's
//! W3C WebDriver API, loads the page from the real `aimdbd` (a simulated source, a transform,
//! MQTT links to a real Mosquitto, a history store) and shows every record of the config, the
//! broker and the store; values produced after the page loaded (through the admin API and
//! through an inbound MQTT link) appear on it; the page's own write asks for the token (a wrong
//! one is refused, the right one works); the page works through a tunnel on another port named
//! in `allowed_hosts`. `AIMDB_SCREENSHOT=PATH` writes a screenshot (scripts/screenshot.sh).
//! Without a browser: the page and its assets obey the admin access rules and carry their
//! security headers.

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use rumqttc::QoS;
use serde_json::{json, Value};
use support::mosquitto::{Mosquitto, TestClient};
use support::{free_port, http_raw, Daemon, TestDir};

const TOKEN: &str = "dashboard-token-0123456789abcdef";
/// How long the page may take to show something. Generous: the machine is shared.
const SHOW: Duration = Duration::from_secs(20);
const KEYS: [&str; 4] = [
    "sensor.temp.indoor",
    "alert.temp.indoor",
    "service.note",
    "manual.input",
];

fn config(admin: u16, tunnel: u16, broker: &str) -> String {
    format!(
        r#"[node]
id = "gw-dash"
shutdown_timeout = "10s"

[admin]
listen = "127.0.0.1:{admin}"
token_file = "token"
# The SSH-tunnel case: the browser's Host is localhost and the tunnel's local port.
allowed_hosts = ["localhost:{tunnel}"]

[mqtt]
url = "{broker}"

[store]
path = "history.db"

[[record]]
key = "sensor.temp.indoor"
type = "Temperature"
buffer = {{ kind = "spmc_ring", capacity = 64 }}
source = {{ kind = "simulate", period_ms = 100, min = 18.0, max = 38.0, seed = 7 }}
link_to = [{{ url = "mqtt://aimdb/gw-dash/sensor.temp.indoor", codec = "json", qos = 0 }}]
persist = true

[[record]]
key = "alert.temp.indoor"
type = "TemperatureAlert"
buffer = {{ kind = "single_latest" }}
transform = {{ kind = "threshold", input = "sensor.temp.indoor", above = 35.0, hysteresis = 0.5 }}
link_to = [{{ url = "mqtt://gw-dash/alert/temp.indoor", codec = "json", qos = 1, retain = true }}]
persist = true

[[record]]
key = "service.note"
type = "json"
buffer = {{ kind = "single_latest" }}
link_from = [{{ url = "mqtt://gw-dash/in/note", codec = "json", qos = 1 }}]

[[record]]
key = "manual.input"
type = "json"
buffer = {{ kind = "spmc_ring", capacity = 16 }}
persist = true
"#
    )
}

/// `POST /api/records/KEY` with the bearer token.
fn produce(port: u16, key: &str, body: &str) {
    let answer = http_raw(
        port,
        &format!(
            "POST /api/records/{key} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(answer.as_ref().map(|a| a.0), Some(200), "{answer:?}");
}

/// A stand-in for `ssh -L TUNNEL:127.0.0.1:ADMIN`: forwards every connection to `tunnel` on
/// loopback to the endpoint (threads end with the test process).
fn tunnel(listener: TcpListener, admin: u16) {
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", admin)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone(), server.try_clone()),
                (server.try_clone(), client.try_clone()),
            ]
            .into_iter()
            .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
            {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
}

/// The text of the value line of record `key`'s node.
fn value_of(key: &str) -> String {
    format!(
        "return document.querySelector('#graph [data-record=\"{key}\"] text.value')?.textContent"
    )
}

/// A script returning the value line of `key` once it contains `want`, else null.
fn value_shows(key: &str, want: &str) -> String {
    format!(
        "const t = document.querySelector('#graph [data-record=\"{key}\"] text.value')?.textContent;\n\
         return t && t.includes('{want}') ? t : null"
    )
}

#[test]
#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn the_dashboard_shows_the_graph_and_live_values_in_a_browser() {
    let started = Instant::now();
    let dir = TestDir::new("dashboard");
    let driver = webdriver::Driver::start(dir.path(), free_port());
    let broker = Mosquitto::start(dir.path());
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).expect("token");
    let admin = free_port();
    let tunnel_listener = TcpListener::bind("127.0.0.1:0").expect("tunnel port");
    let tunnel_port = tunnel_listener.local_addr().expect("addr").port();
    let d = Daemon::start(
        dir.path(),
        admin,
        &config(admin, tunnel_port, &broker.url()),
    );
    let browser = driver.session(dir.path());
    browser.goto(&format!("http://127.0.0.1:{admin}/"));

    // The graph: every record of the config is a node, and so are the source, the transform,
    // the three links, the broker and the store.
    let shown = browser.wait_for(
        "every record in the graph",
        SHOW,
        &format!(
            "const keys = [...document.querySelectorAll('#graph [data-record]')].map(e => e.getAttribute('data-record'));\n\
             return keys.length >= {} ? keys : null",
            KEYS.len()
        ),
    );
    let mut shown: Vec<String> = serde_json::from_value(shown).expect("keys");
    shown.sort();
    let mut want: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(shown, want, "one node per record");
    let parts = browser
        .run(
            "const n = s => document.querySelectorAll('#graph ' + s).length;\n\
             return [n('[data-node=\"broker\"]'), n('[data-node=\"store\"]'), n('[data-source]'),\n\
                     n('[data-transform]'), n('[data-link=\"in\"]'), n('[data-link=\"out\"]')]",
            &[],
        )
        .expect("count nodes");
    assert_eq!(
        parts,
        json!([1, 1, 1, 1, 1, 2]),
        "broker, store, source, transform, links in/out"
    );

    // Live: the simulated reading and its rate, link and store health.
    browser.wait_for(
        "the simulated reading",
        SHOW,
        &value_shows("sensor.temp.indoor", "celsius"),
    );
    let rate = browser.wait_for(
        "the rate of the simulated record",
        SHOW,
        "const t = document.querySelector('#graph [data-record=\"sensor.temp.indoor\"] text.rate')?.textContent;\n\
         return t && parseFloat(t) > 0 ? t : null",
    );
    assert!(rate.as_str().is_some_and(|r| r.ends_with("/s")), "{rate}");
    browser.wait_for(
        "the broker, the links and the store healthy",
        SHOW,
        "const ok = [...document.querySelectorAll('#graph [data-link], #graph [data-node]')];\n\
         return ok.length === 5 && ok.every(g => g.classList.contains('ok'))\n\
           && document.querySelector('#graph [data-node=\"store\"]').textContent.includes('up')",
    );

    // Values produced after the page loaded: through the API, and through the inbound link.
    produce(admin, "manual.input", r#"{"n": 424242}"#);
    browser.wait_for(
        "the value produced through the API",
        SHOW,
        &value_shows("manual.input", "424242"),
    );
    let mqtt = TestClient::connect(broker.port, "dash-test", &[]);
    mqtt.publish(
        "gw-dash/in/note",
        QoS::AtLeastOnce,
        false,
        r#"{"text":"hello"}"#,
    );
    browser.wait_for(
        "the value received on the inbound link",
        SHOW,
        &value_shows("service.note", "hello"),
    );
    browser.wait_for(
        "the inbound link counting it",
        SHOW,
        "return document.querySelector('#graph [data-link=\"in\"]').textContent.includes('1 received')",
    );

    // The chart of the selected record: its stored history, then live values.
    browser.click(&browser.find("#graph [data-record=\"sensor.temp.indoor\"]"));
    browser.wait_for(
        "a chart of the selected record",
        SHOW,
        "const p = document.querySelector('#chart polyline')?.getAttribute('points');\n\
         return document.getElementById('detail-key').textContent === 'sensor.temp.indoor'\n\
           && p && p.split(' ').length >= 10",
    );
    // Nothing broke so far: no script error, nothing the CSP blocked, no failed request.
    let console = browser.console();
    let bad: Vec<&Value> = console
        .iter()
        .filter(|m| m["level"] == "SEVERE" || m["level"] == "WARNING")
        .collect();
    assert!(bad.is_empty(), "console: {bad:?}");
    if let Ok(path) = std::env::var("AIMDB_SCREENSHOT") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::write(&path, browser.screenshot()).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
    }

    // The page's own write goes through the same checks: on loopback with a token the POST
    // answers 401, the page asks for the token, a wrong one is refused, the right one works.
    browser.click(&browser.find("#graph [data-record=\"manual.input\"]"));
    let input = browser.find("#send-value");
    browser.wait_for(
        "the send form of a record without writer",
        SHOW,
        "return !document.getElementById('send-form').hidden",
    );
    browser.clear(&input);
    browser.type_into(&input, r#"{"n": 515151}"#);
    browser.click(&browser.find("#send-form button"));
    browser.wait_for(
        "the token form",
        SHOW,
        "return !document.getElementById('token-form').hidden",
    );
    let token = browser.find("#token");
    browser.type_into(&token, "wrong-token-0123456789abcdef");
    browser.click(&browser.find("#token-form button"));
    browser.wait_for(
        "the wrong token refused",
        SHOW,
        "return !document.getElementById('token-form').hidden\n\
           && document.getElementById('token-error').textContent.includes('wrong bearer token')",
    );
    browser.type_into(&browser.find("#token"), TOKEN);
    browser.click(&browser.find("#token-form button"));
    browser.wait_for(
        "the value sent with the token",
        SHOW,
        "return document.getElementById('token-form').hidden\n\
           && document.getElementById('send-result').textContent === 'sent'",
    );
    browser.wait_for(
        "the value sent from the page",
        SHOW,
        &value_shows("manual.input", "515151"),
    );
    let kept = browser
        .run(
            "return sessionStorage.getItem('aimdbd.token') === arguments[0]",
            &[Value::from(TOKEN)],
        )
        .expect("sessionStorage");
    assert_eq!(kept, true, "the token is kept for the session");
    support::wait_until("the page's value is stored with source = admin", || {
        d.get_json("/api/records/manual.input/history")
            .and_then(|h| h["values"].as_array().cloned())
            .is_some_and(|v| {
                v.iter()
                    .any(|v| v["value"]["n"] == 515151 && v["source"] == "admin")
            })
    });

    // Through a tunnel on another local port, named in allowed_hosts.
    tunnel(tunnel_listener, admin);
    browser.goto(&format!("http://localhost:{tunnel_port}/"));
    browser.wait_for(
        "the graph through the tunnel",
        SHOW,
        "return document.querySelectorAll('#graph [data-record]').length === 4",
    );
    browser.wait_for(
        "live values through the tunnel",
        SHOW,
        &value_shows("manual.input", "515151"),
    );
    let before = browser
        .run(&value_of("sensor.temp.indoor"), &[])
        .expect("value");
    browser.wait_for(
        "the simulated reading moving through the tunnel",
        SHOW,
        &format!(
            "const t = document.querySelector('#graph [data-record=\"sensor.temp.indoor\"] text.value')?.textContent;\n\
             return t && t.includes('celsius') && t !== {before} ? t : null"
        ),
    );
    eprintln!("dashboard test took {:?}", started.elapsed());
}

/// `GET path` with extra header lines (a `Host` among them replaces the endpoint's); the
/// status and the head.
fn get(port: u16, path: &str, extra: &str) -> (u16, String) {
    let host = if extra.contains("Host:") {
        String::new()
    } else {
        format!("Host: 127.0.0.1:{port}\r\n")
    };
    let (status, head, _) =
        http_raw(port, &format!("GET {path} HTTP/1.0\r\n{host}{extra}\r\n")).expect("an answer");
    (status, head.to_ascii_lowercase())
}

#[test]
fn the_page_obeys_the_admin_access_rules_and_sends_its_security_headers() {
    let dir = TestDir::new("dashboard-access");
    std::fs::write(dir.join("token"), TOKEN).expect("token");
    let port = free_port();
    // Beyond loopback: every request needs the token, the page too.
    let cfg = format!(
        "[node]\nid = \"gw-dash\"\n\n[admin]\nlisten = \"0.0.0.0:{port}\"\ntoken_file = \"token\"\n\n\
         [[record]]\nkey = \"feed\"\ntype = \"json\"\nbuffer = {{ kind = \"single_latest\" }}\n"
    );
    let d = Daemon::spawn(dir.path(), port, &cfg, None, &[]);
    d.wait_answering();
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    for path in ["/", "/ui/app.js", "/ui/style.css", "/api/stream"] {
        assert_eq!(get(port, path, "").0, 401, "{path} without the token");
        assert_eq!(
            get(
                port,
                path,
                "Authorization: Bearer wrong-token-0123456789\r\n"
            )
            .0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            get(port, path, &format!("{auth}Host: evil.example:{port}\r\n")).0,
            421,
            "{path} under a foreign Host (DNS rebinding)"
        );
        assert_eq!(
            get(
                port,
                path,
                &format!("{auth}Origin: http://evil.example\r\n")
            )
            .0,
            403,
            "{path} from a foreign origin"
        );
    }

    let (status, head) = get(port, "/", &auth);
    assert_eq!(status, 200, "{head}");
    for want in [
        "content-type: text/html; charset=utf-8",
        "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'",
        "frame-ancestors 'none'",
        "x-content-type-options: nosniff",
        "cache-control: no-cache",
        "etag: \"",
    ] {
        assert!(head.contains(want), "{want} in {head}");
    }
    let (status, head) = get(port, "/ui/app.js", &auth);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/javascript"),
        "modules need a JavaScript type under nosniff: {head}"
    );
    // Revalidation: the same ETag answers 304 without a body.
    let etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("etag")
        .to_string();
    let (status, _) = get(
        port,
        "/ui/app.js",
        &format!("{auth}If-None-Match: {etag}\r\n"),
    );
    assert_eq!(status, 304);
    assert_eq!(get(port, "/ui/nothing.js", &auth).0, 404);
    assert_eq!(get(port, "/ui/..%2Fmod.rs", &auth).0, 404);

    // The assets are what the page needs and no more: small, no inline script, no remote URL.
    let mut page = String::new();
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n").expect("request");
    s.read_to_string(&mut page).expect("page");
    let (_, body) = page.split_once("\r\n\r\n").expect("a body");
    assert!(
        !body.contains("<script>") && !body.contains("http"),
        "{body}"
    );
}
