//! [`DiskOutbox`]: a SQLite copy of every outbox, so values survive a daemon restart.
//!
//! One dedicated thread (`aimdbd-outbox`) owns the connection; async code only sends it
//! operations over a channel and never waits for SQL, so a slow disk never blocks the graph or
//! the MQTT event loop. The thread applies operations in batches, one transaction each (WAL,
//! `synchronous = NORMAL`). A value is inserted when its link accepts it and deleted when the
//! broker acknowledged it (or it was dropped at capacity); what a crash (not a clean shutdown)
//! catches in the channel or in an uncommitted batch — at most a few milliseconds of values — is
//! lost. [`DiskOutbox::close`] commits everything and closes the file.
//!
//! Schema: `link(id, record, topic)` names each link by its record key and topic, two columns
//! (unique together), so no key or topic can make two links share an id; `message(link, seq,
//! payload)` holds the values. Rows of links no longer configured are kept (and reported at
//! open), so a reload or restart that brings the link back delivers them.
//!
//! Files written before 0.x had `link(id, name)` with `name = <record>\u{1f}<topic>` (two links
//! could collide there); they are migrated in place at open, ids kept, by splitting `name` at
//! its first U+001F — exact for every key `check` accepts, since keys cannot hold control
//! characters.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use aimdb_core::Acceptor;
use rusqlite::{params, Connection};
use tokio::sync::oneshot;

/// One operation for the outbox thread.
enum Op {
    Insert {
        link: i64,
        seq: u64,
        payload: Vec<u8>,
        /// The link's number and the record position of the value, accepted once committed.
        index: usize,
        pos: u64,
    },
    Delete {
        link: i64,
        seq: u64,
    },
    Close(oneshot::Sender<()>),
}

/// The handle to the outbox thread. Dropping it without [`DiskOutbox::close`] still lets the
/// thread commit what it was sent, but nobody waits for it.
#[derive(Debug)]
pub struct DiskOutbox {
    tx: mpsc::Sender<Op>,
    /// Row id of each link, in the order the links were given to [`DiskOutbox::open`].
    ids: Vec<i64>,
}

/// What [`DiskOutbox::open`] found.
pub struct Opened {
    /// The handle.
    pub outbox: DiskOutbox,
    /// For each link (in the order given), the values kept from earlier runs, oldest first.
    pub kept: Vec<Vec<(u64, Vec<u8>)>>,
    /// Values kept for links that are not configured now.
    pub orphans: u64,
}

impl DiskOutbox {
    /// Opens (creating if needed) the outbox file at `path` on a new thread, for links named
    /// `names` (record key, topic). Resolves once the file is open and its kept values are read.
    ///
    /// `acceptors[i]` is link `i`'s hold on its record: the thread accepts a value's position
    /// once the transaction holding it is committed (the value survives a crash from then on).
    pub fn open(
        path: PathBuf,
        names: Vec<(String, String)>,
        acceptors: Vec<Option<Acceptor>>,
    ) -> oneshot::Receiver<Result<Opened, String>> {
        let (reply, opened) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("aimdbd-outbox".into())
            .spawn(move || {
                let (tx, rx) = mpsc::channel();
                match open_db(&path, &names) {
                    Ok((conn, ids, kept, orphans)) => {
                        let outbox = DiskOutbox { tx, ids };
                        if reply
                            .send(Ok(Opened {
                                outbox,
                                kept,
                                orphans,
                            }))
                            .is_ok()
                        {
                            run(conn, rx, &path, &acceptors);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!(
                            "cannot open the disk outbox {}: {e}",
                            path.display()
                        )));
                    }
                }
            });
        if let Err(e) = spawned {
            let (reply, opened2) = oneshot::channel();
            let _ = reply.send(Err(format!("cannot start the outbox thread: {e}")));
            return opened2;
        }
        opened
    }

    /// Records that link number `link` holds `payload` as `seq`, for the value at record
    /// position `pos`. Never blocks.
    pub fn insert(&self, link: usize, seq: u64, payload: &[u8], pos: u64) {
        if let Some(&id) = self.ids.get(link) {
            let _ = self.tx.send(Op::Insert {
                link: id,
                seq,
                payload: payload.to_vec(),
                index: link,
                pos,
            });
        }
    }

    /// Records that link number `link` no longer holds `seq`. Never blocks.
    pub fn delete(&self, link: usize, seq: u64) {
        if let Some(&id) = self.ids.get(link) {
            let _ = self.tx.send(Op::Delete { link: id, seq });
        }
    }

    /// Commits everything sent so far and closes the file; resolves when done (or at once if
    /// the thread is gone).
    pub async fn close(self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

type OpenedDb = (Connection, Vec<i64>, Vec<Vec<(u64, Vec<u8>)>>, u64);

fn open_db(path: &Path, names: &[(String, String)]) -> rusqlite::Result<OpenedDb> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate_link_names(&conn)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS link (
             id INTEGER PRIMARY KEY, record TEXT NOT NULL, topic TEXT NOT NULL,
             UNIQUE (record, topic));
         CREATE TABLE IF NOT EXISTS message (
             link INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
             PRIMARY KEY (link, seq)) WITHOUT ROWID;",
    )?;
    let mut ids = Vec::with_capacity(names.len());
    for (record, topic) in names {
        conn.execute(
            "INSERT INTO link (record, topic) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![record, topic],
        )?;
        ids.push(conn.query_row(
            "SELECT id FROM link WHERE record = ?1 AND topic = ?2",
            params![record, topic],
            |r| r.get::<_, i64>(0),
        )?);
    }
    let mut kept = Vec::with_capacity(ids.len());
    {
        let mut stmt =
            conn.prepare("SELECT seq, payload FROM message WHERE link = ?1 ORDER BY seq")?;
        for id in &ids {
            let rows = stmt.query_map(params![id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })?;
            kept.push(rows.collect::<rusqlite::Result<Vec<_>>>()?);
        }
    }
    let total: i64 = conn.query_row("SELECT count(*) FROM message", [], |r| r.get(0))?;
    let ours: usize = kept.iter().map(Vec::len).sum();
    let orphans = (total as u64).saturating_sub(ours as u64);
    Ok((conn, ids, kept, orphans))
}

/// Rewrites an old `link(id, name)` table as `link(id, record, topic)`, keeping the ids (and so
/// every kept message). One transaction: a crash leaves the old table.
fn migrate_link_names(conn: &Connection) -> rusqlite::Result<()> {
    let old: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('link') WHERE name = 'name'",
        [],
        |r| r.get(0),
    )?;
    if !old {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN IMMEDIATE;
         CREATE TABLE link_v2 (
             id INTEGER PRIMARY KEY, record TEXT NOT NULL, topic TEXT NOT NULL,
             UNIQUE (record, topic));
         INSERT OR IGNORE INTO link_v2 (id, record, topic)
             SELECT id,
                    CASE WHEN instr(name, char(31)) > 0
                         THEN substr(name, 1, instr(name, char(31)) - 1) ELSE name END,
                    CASE WHEN instr(name, char(31)) > 0
                         THEN substr(name, instr(name, char(31)) + 1) ELSE '' END
             FROM link;
         DROP TABLE link;
         ALTER TABLE link_v2 RENAME TO link;
         COMMIT;",
    )?;
    tracing::info!("disk outbox: link table migrated to (record, topic) columns");
    Ok(())
}

/// The outbox thread's loop: one transaction per batch of queued operations.
fn run(mut conn: Connection, rx: mpsc::Receiver<Op>, path: &Path, acceptors: &[Option<Acceptor>]) {
    const BATCH: usize = 4096;
    let mut failures = 0u64;
    let mut committed: Vec<u64> = vec![0; acceptors.len()];
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        for op in &batch {
            if let Op::Insert { index, pos, .. } = op {
                if let Some(c) = committed.get_mut(*index) {
                    *c = (*c).max(*pos);
                }
            }
        }
        let mut closing = None;
        if let Err(e) = apply(&mut conn, batch, &mut closing) {
            failures += 1;
            if failures.is_power_of_two() {
                tracing::error!(
                    path = %path.display(),
                    failures,
                    "disk outbox write failed: {e}; values stay in memory only (and are acknowledged upstream as such)"
                );
            }
        }
        // Committed (or given up: held in memory only, as logged) — the links upstream may
        // acknowledge these values.
        for (acceptor, &pos) in acceptors.iter().zip(&committed) {
            if let Some(a) = acceptor {
                a.accept(pos);
            }
        }
        if let Some(done) = closing {
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

fn apply(
    conn: &mut Connection,
    batch: Vec<Op>,
    closing: &mut Option<oneshot::Sender<()>>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO message (link, seq, payload) VALUES (?1, ?2, ?3)",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM message WHERE link = ?1 AND seq = ?2")?;
        // An insert and its delete in one batch cancel out: skip both.
        let deleted: HashSet<(i64, u64)> = batch
            .iter()
            .filter_map(|op| match op {
                Op::Delete { link, seq } => Some((*link, *seq)),
                _ => None,
            })
            .collect();
        let mut skipped: HashSet<(i64, u64)> = HashSet::new();
        for op in batch {
            match op {
                Op::Insert {
                    link, seq, payload, ..
                } => {
                    if deleted.contains(&(link, seq)) {
                        skipped.insert((link, seq));
                    } else {
                        insert.execute(params![link, seq as i64, payload])?;
                    }
                }
                Op::Delete { link, seq } => {
                    if !skipped.contains(&(link, seq)) {
                        delete.execute(params![link, seq as i64])?;
                    }
                }
                Op::Close(done) => *closing = Some(done),
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn links_whose_joined_names_would_collide_get_distinct_ids() {
        let dir = std::env::temp_dir().join(format!("aimdbd-disk-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("collide.db");
        let _ = std::fs::remove_file(&path);
        let links = names(&[("a\u{1f}b", "c"), ("a", "b\u{1f}c")]);
        let (_, ids, _, _) = open_db(&path, &links).unwrap();
        assert_ne!(ids[0], ids[1]);
        let (_, again, _, _) = open_db(&path, &links).unwrap();
        assert_eq!(ids, again, "stable across opens");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_old_link_table_is_migrated_with_its_ids_and_messages() {
        let dir = std::env::temp_dir().join(format!("aimdbd-disk-m-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("old.db");
        let _ = std::fs::remove_file(&path);
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE link (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                 CREATE TABLE message (link INTEGER NOT NULL, seq INTEGER NOT NULL,
                     payload BLOB NOT NULL, PRIMARY KEY (link, seq)) WITHOUT ROWID;
                 INSERT INTO link (id, name) VALUES (7, 'r.one' || char(31) || 'gw/one'),
                                                    (9, 'r.two' || char(31) || 'gw/two');
                 INSERT INTO message VALUES (7, 1, x'01'), (9, 1, x'02'), (9, 2, x'03');",
            )
            .unwrap();
        }
        let links = names(&[("r.two", "gw/two"), ("r.one", "gw/one"), ("r.new", "t")]);
        let (_, ids, kept, orphans) = open_db(&path, &links).unwrap();
        assert_eq!(&ids[..2], &[9, 7]);
        assert_eq!(kept[0], vec![(1, vec![2]), (2, vec![3])]);
        assert_eq!(kept[1], vec![(1, vec![1])]);
        assert!(kept[2].is_empty());
        assert_eq!(orphans, 0);
        let (_, again, _, _) = open_db(&path, &links).unwrap();
        assert_eq!(ids, again, "migrated once");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
