//! The disk outbox names each link by its record key and topic in two columns, so no key or
//! topic can make two links share their kept values. An outbox file of the older layout (one
//! `name` column, `record U+001F topic`) is migrated at start, with the real `aimdbd` and a real
//! Mosquitto: what it kept goes to each link's own topic.

mod support;

use rusqlite::Connection;
use support::mosquitto::{Mosquitto, TestClient};
use support::{config_head, Daemon, TestDir};

#[test]
fn an_outbox_of_the_old_layout_is_migrated_and_its_values_reach_their_own_topics() {
    let dir = TestDir::new("outbox-links");
    let broker = Mosquitto::start(dir.path());
    let watcher = TestClient::connect(broker.port, "outbox-links-watcher", &["out/#"]);
    {
        let c = Connection::open(dir.join("outbox.db")).expect("old outbox");
        c.execute_batch(
            "CREATE TABLE link (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE message (link INTEGER NOT NULL, seq INTEGER NOT NULL,
                 payload BLOB NOT NULL, PRIMARY KEY (link, seq)) WITHOUT ROWID;
             INSERT INTO link (id, name) VALUES (1, 'a' || char(31) || 'out/a'),
                                                (2, 'b' || char(31) || 'out/b');
             INSERT INTO message VALUES (1, 1, CAST('{\"from\":\"a\",\"n\":1}' AS BLOB)),
                                        (1, 2, CAST('{\"from\":\"a\",\"n\":2}' AS BLOB)),
                                        (2, 1, CAST('{\"from\":\"b\",\"n\":1}' AS BLOB));",
        )
        .expect("old layout");
    }
    let admin = support::free_port();
    let config = format!(
        r#"{head}[mqtt]
url = "{url}"
outbox = "disk"

[[record]]
key = "b"
type = "json"
link_to = [{{ url = "mqtt://out/b", qos = 1 }}]

[[record]]
key = "a"
type = "json"
link_to = [{{ url = "mqtt://out/a", qos = 1 }}]
"#,
        head = config_head(admin),
        url = broker.url()
    );
    let mut d = Daemon::start(dir.path(), admin, &config);
    let a = watcher.wait_for("out/a", 2);
    let b = watcher.wait_for("out/b", 1);
    let text = |r: &support::mosquitto::Received| String::from_utf8_lossy(&r.payload).to_string();
    assert!(
        a.iter().all(|r| text(r).contains("\"from\":\"a\"")),
        "{a:?}"
    );
    assert!(
        b.iter().all(|r| text(r).contains("\"from\":\"b\"")),
        "{b:?}"
    );
    assert!(d.logged("disk outbox: link table migrated"));
    assert_eq!(d.stop(), Some(0));

    let c = Connection::open(dir.join("outbox.db")).expect("outbox");
    let columns: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('link')")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .expect("columns");
    assert_eq!(columns, ["id", "record", "topic"]);
}
