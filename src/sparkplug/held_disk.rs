//! The disk copy of the store-and-forward queue ([`super::history`]): an SQLite file in the
//! state directory (`sparkplug-held.db`), so that values held while the primary host is away
//! survive a daemon restart, `kill -9` included.
//!
//! The queue in memory stays the one that is sent; the file mirrors it. Every held value is
//! written (by metric **name**, not alias: aliases are assigned anew by the next session) by a
//! thread of its own, fed through a bounded channel, so the session task never waits on the
//! disk; the writer commits in batches and keeps at most the queue's bound (oldest rows
//! deleted). When the queue is sent (or dropped by a reload) the rows go too. At start the
//! session loads the rows into its queue, ahead of anything held since.
//!
//! What is lost: a value the channel had no room for (the disk is far behind; counted in
//! `aimdbd_sparkplug_held_disk_skipped_total`, logged once) is held in memory only, and values
//! written in the last moments before a crash may not be committed. Values forwarded just
//! before a crash may be forwarded again after it (the deletion of sent rows is itself a
//! write): at least once, like the MQTT outbox.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use prost::Message as _;
use rusqlite::{params, Connection};

use super::proto::payload::Metric;
use super::proto::Payload;
use super::stats::stats;

/// Writes waiting for the thread, at most.
const QUEUE: usize = 4096;

/// Writes committed in one transaction, at most.
const BATCH: usize = 512;

enum Cmd {
    /// A held value: its device (`None`: the node) and its metrics, by name.
    Insert(Option<String>, Vec<u8>),
    /// Everything held was sent (or dropped).
    Clear,
}

/// One held value read back: its device and its metrics, by name (no alias).
pub(crate) type Loaded = (Option<String>, Vec<Metric>);

/// The handle of the writer thread.
#[derive(Debug)]
pub(crate) struct HeldDisk {
    tx: Option<SyncSender<Cmd>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    skipped_logged: bool,
}

impl HeldDisk {
    /// Opens (or creates) the file at `path`, keeping at most `max` rows; returns the writer and
    /// the values it holds, oldest first. Blocking: call off the async workers.
    pub(crate) fn open(path: &Path, max: usize) -> Result<(Self, Vec<Loaded>), String> {
        let shown = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| format!("{shown}: {e}"))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             CREATE TABLE IF NOT EXISTS held (
                 id INTEGER PRIMARY KEY,
                 device TEXT,
                 metrics BLOB NOT NULL
             );",
        )
        .map_err(|e| format!("{shown}: {e}"))?;
        let loaded = load(&conn).map_err(|e| format!("{shown}: {e}"))?;
        let (tx, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("sparkplug-held".into())
            .spawn(move || write(conn, &rx, max))
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        Ok((
            Self {
                tx: Some(tx),
                thread: Some(thread),
                path: path.to_path_buf(),
                skipped_logged: false,
            },
            loaded,
        ))
    }

    /// Writes one held value (its metrics carry names). Never blocks: with no room in the
    /// channel the value is kept in memory only, counted and logged once.
    pub(crate) fn insert(&mut self, device: Option<&str>, named: Vec<Metric>) {
        let bytes = Payload {
            metrics: named,
            ..Payload::default()
        }
        .encode_to_vec();
        self.send(Cmd::Insert(device.map(str::to_string), bytes));
    }

    /// Everything held was sent or dropped: the rows go.
    pub(crate) fn clear(&mut self) {
        self.send(Cmd::Clear);
    }

    fn send(&mut self, cmd: Cmd) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(cmd) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                stats().held_disk_skipped();
                if !std::mem::replace(&mut self.skipped_logged, true) {
                    tracing::warn!(
                        path = %self.path.display(),
                        "sparkplug: the store-and-forward file is behind; held values are kept in memory only until it catches up"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!(path = %self.path.display(), "sparkplug: the store-and-forward writer ended; held values are kept in memory only");
                self.tx = None;
            }
        }
    }

    /// Lets the writer commit what it was given and end. Blocking: call off the async workers.
    pub(crate) fn close(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HeldDisk {
    fn drop(&mut self) {
        // Dropped without `close` (a task aborted): the thread commits what it has and ends on
        // its own once the channel is closed.
        self.tx = None;
    }
}

fn load(conn: &Connection) -> rusqlite::Result<Vec<Loaded>> {
    let mut st = conn.prepare("SELECT device, metrics FROM held ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Vec<u8>>(1)?))
    })?;
    let mut out = Vec::new();
    let mut bad = 0usize;
    for row in rows {
        let (device, bytes) = row?;
        match Payload::decode(bytes.as_slice()) {
            Ok(p) => out.push((device, p.metrics)),
            Err(_) => bad += 1,
        }
    }
    if bad > 0 {
        stats().held_dropped(bad);
        tracing::warn!(
            dropped = bad,
            "sparkplug: store-and-forward rows that do not decode were dropped"
        );
    }
    Ok(out)
}

/// The writer thread: commits batches until the channel closes.
fn write(mut conn: Connection, rx: &Receiver<Cmd>, max: usize) {
    let keep = i64::try_from(max).unwrap_or(i64::MAX);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let done = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            for cmd in batch {
                match cmd {
                    Cmd::Insert(device, bytes) => {
                        tx.execute(
                            "INSERT INTO held (device, metrics) VALUES (?1, ?2)",
                            params![device, bytes],
                        )?;
                    }
                    Cmd::Clear => {
                        tx.execute("DELETE FROM held", [])?;
                    }
                }
            }
            tx.execute(
                "DELETE FROM held WHERE id <= (SELECT MAX(id) FROM held) - ?1",
                params![keep],
            )?;
            tx.commit()
        })();
        if let Err(e) = done {
            tracing::error!("sparkplug: cannot write the store-and-forward file: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparkplug::proto::payload::metric::Value;

    fn named(n: u32) -> Vec<Metric> {
        vec![Metric {
            name: Some("feed/celsius".into()),
            value: Some(Value::IntValue(n)),
            is_historical: Some(true),
            ..Metric::default()
        }]
    }

    #[test]
    fn rows_survive_a_reopen_bounded_and_cleared() {
        let dir = std::env::temp_dir().join(format!("aimdbd-held-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("held.db");
        let _ = std::fs::remove_file(&path);
        let (mut disk, loaded) = HeldDisk::open(&path, 3).expect("open");
        assert!(loaded.is_empty());
        for n in 1..=5 {
            disk.insert(if n == 5 { Some("node-7") } else { None }, named(n));
        }
        disk.close();
        let (mut disk, loaded) = HeldDisk::open(&path, 3).expect("reopen");
        let values: Vec<_> = loaded
            .iter()
            .map(|(d, m)| (d.clone(), m[0].value.clone()))
            .collect();
        assert_eq!(
            values,
            vec![
                (None, Some(Value::IntValue(3))),
                (None, Some(Value::IntValue(4))),
                (Some("node-7".to_string()), Some(Value::IntValue(5))),
            ],
            "the newest 3, in order"
        );
        disk.clear();
        disk.close();
        let (disk, loaded) = HeldDisk::open(&path, 3).expect("reopen");
        assert!(loaded.is_empty(), "cleared");
        disk.close();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
