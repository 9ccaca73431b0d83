//! Security, with the real `aimdbd` and a real Mosquitto: `mqtts://` with mutual TLS against a
//! Mosquitto TLS listener (CA, server and client certificates generated here with the `openssl`
//! CLI), and without `ca_file` against the system trust store (`SSL_CERT_FILE`); username +
//! `password_file` against a Mosquitto password file; a wrong password is a
//! clear error line, retried with backoff; a wrong CA is a clear TLS error. Secrets never appear
//! in the log or the admin API.

mod support;

use std::path::Path;
use std::process::Command;

use support::mosquitto::Mosquitto;
use support::{config_head, wait_until, Daemon, TestDir};

fn run(dir: &Path, tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("`{tool}` is needed ({e}); run ./scripts/setup.sh"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>.crt/.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    run(
        dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A certificate `<name>.crt/.key` signed by CA `ca`, with extensions `ext`.
fn make_cert(dir: &Path, ca: &str, name: &str, ext: &str) {
    run(
        dir,
        "openssl",
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext file");
    run(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

const RECORDS: &str = r#"
[[record]]
key = "echo"
type = "json"
link_from = [{ url = "mqtt://in/echo", codec = "json", qos = 1 }]
link_to = [{ url = "mqtt://out/echo", codec = "json", qos = 1, retain = true }]
"#;

fn connected(d: &Daemon) -> bool {
    d.http("GET", "/metrics", "")
        .is_some_and(|(_, b)| b.contains("aimdbd_mqtt_connected 1"))
}

/// mosquitto_pub/sub with extra args (TLS files or credentials).
fn pub_sub_roundtrip(port: u16, args: &[&str], dir: &Path) -> String {
    let port = port.to_string();
    let mut base = vec!["-h", "127.0.0.1", "-p", port.as_str(), "-q", "1"];
    base.extend_from_slice(args);
    let mut p = base.clone();
    p.extend_from_slice(&["-t", "in/echo", "-m", r#"{"hello":"tls"}"#]);
    run(dir, "mosquitto_pub", &p);
    let mut s = base;
    s.extend_from_slice(&["-t", "out/echo", "-C", "1", "-W", "20"]);
    let out = Command::new("mosquitto_sub")
        .args(&s)
        .current_dir(dir)
        .output()
        .expect("mosquitto_sub (./scripts/setup.sh)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn mutual_tls_bridges_and_a_wrong_ca_is_a_clear_error() {
    let dir = TestDir::new("mqtt-tls");
    let p = dir.path();
    make_ca(p, "ca");
    make_ca(p, "other-ca");
    make_cert(
        p,
        "ca",
        "server",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    make_cert(p, "ca", "client", "extendedKeyUsage=clientAuth\n");
    let d = |f: &str| p.join(f).display().to_string();
    let broker =
        Mosquitto::start_with(
            p,
            &format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            d("ca.crt"), d("server.crt"), d("server.key")
        ),
        );
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"mqtts://127.0.0.1:{}\"\nca_file = \"ca.crt\"\ncert_file = \"client.crt\"\nkey_file = \"client.key\"\n{RECORDS}",
        config_head(admin),
        broker.port
    );
    let daemon = Daemon::start(p, admin, &config);
    wait_until("connected over TLS", || connected(&daemon));
    let tls = [
        "--cafile",
        "ca.crt",
        "--cert",
        "client.crt",
        "--key",
        "client.key",
    ];
    let got = pub_sub_roundtrip(broker.port, &tls, p);
    assert_eq!(got, r#"{"hello":"tls"}"#, "bridged over mutual TLS");
    drop(daemon);

    // No ca_file: the system trust store, which SSL_CERT_FILE points at (rustls-native-certs).
    let system_dir = p.join("system");
    std::fs::create_dir_all(&system_dir).expect("dir");
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"mqtts://127.0.0.1:{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n{RECORDS}",
        config_head(admin),
        broker.port,
        d("client.crt"),
        d("client.key")
    );
    let ca = d("ca.crt");
    let daemon = Daemon::spawn(&system_dir, admin, &config, None, &[("SSL_CERT_FILE", &ca)]);
    daemon.wait_ready();
    wait_until("connected with the system trust store", || {
        connected(&daemon)
    });
    drop(daemon);

    // Trusting another CA: a clear TLS error, retried, never connected.
    let wrong_dir = p.join("wrong");
    std::fs::create_dir_all(&wrong_dir).expect("dir");
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"mqtts://127.0.0.1:{}\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\nreconnect_min = \"50ms\"\n{RECORDS}",
        config_head(admin),
        broker.port,
        d("other-ca.crt"), d("client.crt"), d("client.key")
    );
    let daemon = Daemon::start(&wrong_dir, admin, &config);
    wait_until("TLS failures are logged and retried", || {
        daemon
            .log_lines()
            .iter()
            .filter(|l| support::message(l).contains("TLS with the broker failed"))
            .count()
            >= 2
    });
    let line = daemon
        .log_lines()
        .into_iter()
        .find(|l| support::message(l).contains("TLS with the broker failed"))
        .expect("a TLS error line");
    eprintln!("{}", support::message(&line));
    assert!(support::message(&line).contains("ca_file"), "{line}");
    assert!(!connected(&daemon));
    let key = std::fs::read_to_string(p.join("client.key")).expect("key");
    let key_body = key.lines().nth(1).expect("a base64 line");
    let log = std::fs::read_to_string(wrong_dir.join("log.jsonl")).expect("log");
    assert!(!log.contains(key_body), "key material never logged");
}

#[test]
fn username_and_password_file_and_a_wrong_password_is_a_clear_retried_error() {
    let dir = TestDir::new("mqtt-auth");
    let p = dir.path();
    run(
        p,
        "mosquitto_passwd",
        &["-b", "-c", "passwd", "gw", "s3cret-pass"],
    );
    let broker = Mosquitto::start_with(
        p,
        &format!(
            "allow_anonymous false\npassword_file {}\n",
            p.join("passwd").display()
        ),
    );
    std::fs::write(p.join("password.txt"), "s3cret-pass\n").expect("password file");
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nusername = \"gw\"\npassword_file = \"password.txt\"\n{RECORDS}",
        config_head(admin),
        broker.port
    );
    let daemon = Daemon::start(p, admin, &config);
    wait_until("connected with a password", || connected(&daemon));
    let creds = ["-u", "gw", "-P", "s3cret-pass"];
    assert_eq!(
        pub_sub_roundtrip(broker.port, &creds, p),
        r#"{"hello":"tls"}"#
    );
    for path in ["/api/records", "/api/graph", "/metrics"] {
        let (_, body) = daemon.http("GET", path, "").expect(path);
        assert!(!body.contains("s3cret-pass"), "{path} shows the password");
    }
    drop(daemon);

    let wrong_dir = p.join("wrong");
    std::fs::create_dir_all(&wrong_dir).expect("dir");
    std::fs::write(wrong_dir.join("password.txt"), "not-the-password\n").expect("password file");
    let admin = support::free_port();
    let config = format!(
        "{}[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nusername = \"gw\"\npassword_file = \"password.txt\"\nreconnect_min = \"50ms\"\n{RECORDS}",
        config_head(admin),
        broker.port
    );
    let daemon = Daemon::start(&wrong_dir, admin, &config);
    wait_until("the refusal is logged and retried", || {
        daemon
            .log_lines()
            .iter()
            .filter(|l| support::message(l).contains("refused the credentials"))
            .count()
            >= 2
    });
    assert!(!connected(&daemon));
    assert_eq!(
        daemon.http("GET", "/healthz", "").map(|r| r.0),
        Some(200),
        "runs on"
    );
    let log = std::fs::read_to_string(wrong_dir.join("log.jsonl")).expect("log");
    assert!(
        !log.contains("not-the-password") && !log.contains("s3cret-pass"),
        "{log}"
    );
}
