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
//! The writer's queue is bounded: at most [`QUEUE`] inserts or [`QUEUE_BYTES`] payload bytes
//! not yet committed ([`DiskOutbox::has_room`]). What happens at the bound:
//!
//! | the value's link | writer queue full |
//! |---|---|
//! | `outbox_full = "block"` | the link waits for room before it hands the value over (as for room in its outbox), so the insert is always queued: nothing it accepts is lost, and the bound is passed by at most one value per such link |
//! | `outbox_full = "drop_oldest"` / `"drop_newest"` | the insert is refused ([`DiskOutbox::insert`] is false): the value is kept in the memory outbox only and accepted upstream at once, counted in `aimdbd_mqtt_outbox_disk_skipped_total` and logged; it is sent as usual but lost if the daemon stops first |
//!
//! Deletes, registrations and the close are always queued: deletes follow inserts one for one
//! and rows already on disk, so they are bounded by what the outboxes hold.
//!
//! Schema: `link(id, record, topic)` names each link by its record key and topic, two columns
//! (unique together), so no key or topic can make two links share an id; `message(link, seq,
//! payload)` holds the values. Links are registered as graphs bring them
//! ([`DiskOutbox::register`], which also returns what each kept from earlier runs); rows of
//! links not registered are kept (and reported), so a reload or restart that brings the link
//! back delivers them.
//!
//! Files written before 0.x had `link(id, name)` with `name = <record>\u{1f}<topic>` (two links
//! could collide there); they are migrated in place at open, ids kept, by splitting `name` at
//! its first U+001F — exact for every key `check` accepts, since keys cannot hold control
//! characters.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use aimdb_core::Acceptor;

use crate::mqtt::metrics::MqttMetrics;
use rusqlite::{params, Connection};
use tokio::sync::{oneshot, Notify};

/// Inserts the writer may have queued or in its open transaction, at most (two batches: one
/// being committed while the next fills).
pub(crate) const QUEUE: usize = 2 * BATCH;

/// Payload bytes the writer may have queued or in its open transaction, at most.
pub(crate) const QUEUE_BYTES: usize = 16 << 20;

/// Operations applied in one transaction, at most.
const BATCH: usize = 4096;

/// One operation for the outbox thread.
enum Op {
    Insert {
        link: i64,
        seq: u64,
        payload: Vec<u8>,
        /// The link's hold and the record position of the value, accepted once committed.
        acceptor: Option<Acceptor>,
        pos: u64,
    },
    Delete {
        link: i64,
        seq: u64,
    },
    Register(
        Vec<(String, String)>,
        oneshot::Sender<Result<Registered, String>>,
    ),
    Close(oneshot::Sender<()>),
}

/// The handle to the outbox thread. Dropping it without [`DiskOutbox::close`] still lets the
/// thread commit what it was sent, but nobody waits for it.
#[derive(Debug)]
pub(crate) struct DiskOutbox {
    tx: mpsc::Sender<Op>,
    queue: Arc<Queued>,
}

/// What the writer has not committed yet: inserts and their payload bytes (see [`QUEUE`]).
#[derive(Debug, Default)]
struct Queued {
    inserts: AtomicUsize,
    bytes: AtomicUsize,
}

impl Queued {
    fn has_room(&self) -> bool {
        self.inserts.load(Ordering::Acquire) < QUEUE
            && self.bytes.load(Ordering::Acquire) < QUEUE_BYTES
    }
}

/// Values a link kept on disk: `(seq, payload)`, oldest first.
pub(super) type Kept = Vec<(u64, Vec<u8>)>;

/// What [`DiskOutbox::register`] found.
#[derive(Debug, Default)]
pub(crate) struct Registered {
    /// For each link (in the order given): its row id and the values kept from earlier runs,
    /// oldest first.
    pub(crate) links: Vec<(i64, Kept)>,
    /// Values kept for links not registered (not configured now).
    pub(crate) orphans: u64,
}

impl DiskOutbox {
    /// Opens (creating if needed) the outbox file at `path` on a new thread. Resolves once the
    /// file is open.
    /// The file never grows past `max_bytes` (`[mqtt] outbox_max_file_bytes`): values that
    /// would pass it are kept in memory only (logged, counted); free pages are given back after
    /// a drain, and the WAL is truncated after checkpoints. Failed transactions are counted in
    /// `metrics`; `room` is notified whenever the writer's queue shrinks (see the module docs).
    pub(crate) fn open(
        path: PathBuf,
        max_bytes: u64,
        metrics: Arc<MqttMetrics>,
        room: Arc<Notify>,
    ) -> oneshot::Receiver<Result<DiskOutbox, String>> {
        let (reply, opened) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("aimdbd-outbox".into())
            .spawn(move || {
                let (tx, rx) = mpsc::channel();
                let queue = Arc::new(Queued::default());
                match open_db(&path, max_bytes) {
                    Ok(conn) => {
                        let outbox = DiskOutbox {
                            tx,
                            queue: queue.clone(),
                        };
                        if reply.send(Ok(outbox)).is_ok() {
                            let writer = Writer {
                                path: &path,
                                metrics: &metrics,
                                queue: &queue,
                                room: &room,
                            };
                            run(conn, rx, &writer);
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

    /// Registers links named `names` (record key, topic); resolves with their row ids and what
    /// each kept from earlier runs (an error: they are kept in memory only).
    pub(crate) fn register(
        &self,
        names: Vec<(String, String)>,
    ) -> oneshot::Receiver<Result<Registered, String>> {
        let (reply, registered) = oneshot::channel();
        if let Err(mpsc::SendError(Op::Register(_, reply))) =
            self.tx.send(Op::Register(names, reply))
        {
            let _ = reply.send(Err("the disk outbox thread ended".into()));
        }
        registered
    }

    /// Whether the writer's queue is below its bound (see the module docs).
    pub(crate) fn has_room(&self) -> bool {
        self.queue.has_room()
    }

    /// Records that link `link` (a row id) holds `payload` as `seq`, for the value at record
    /// position `pos`; `acceptor` accepts it once committed. Never blocks. A link that waited
    /// for [`DiskOutbox::has_room`] passes `waited` and its insert is always queued; otherwise
    /// a full queue refuses it: false, nothing sent, `acceptor` not taken (the module docs say
    /// what the caller does then).
    pub(crate) fn insert(
        &self,
        link: i64,
        seq: u64,
        payload: &[u8],
        pos: u64,
        acceptor: Option<Acceptor>,
        waited: bool,
    ) -> bool {
        if !waited && !self.queue.has_room() {
            return false;
        }
        self.queue.inserts.fetch_add(1, Ordering::AcqRel);
        self.queue.bytes.fetch_add(payload.len(), Ordering::AcqRel);
        let sent = self.tx.send(Op::Insert {
            link,
            seq,
            payload: payload.to_vec(),
            acceptor,
            pos,
        });
        if sent.is_err() {
            // The thread is gone (it logged why): nothing will commit this, and the value stays
            // in memory as after a failed transaction.
            self.queue.inserts.fetch_sub(1, Ordering::AcqRel);
            self.queue.bytes.fetch_sub(payload.len(), Ordering::AcqRel);
        }
        true
    }

    /// Records that link `link` (a row id) no longer holds `seq`. Never blocks.
    pub(crate) fn delete(&self, link: i64, seq: u64) {
        let _ = self.tx.send(Op::Delete { link, seq });
    }

    /// Commits everything sent so far and closes the file; resolves when done (or at once if
    /// the thread is gone).
    pub(crate) async fn close(self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Op::Close(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// WAL bytes kept after a checkpoint (it is truncated to this).
const WAL_LIMIT: i64 = 8 << 20;

/// Opens the file: WAL, incremental auto-vacuum (an older file is vacuumed once to switch), the
/// WAL truncated after checkpoints, and the file bounded at `max_bytes`.
fn open_db(path: &Path, max_bytes: u64) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Before any table exists (a new file) this takes effect at once; an older file needs one
    // VACUUM to switch.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if vacuum != 2 {
        conn.execute_batch("VACUUM;")?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT)?;
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pages = i64::try_from(max_bytes).unwrap_or(i64::MAX) / page.max(512);
    conn.query_row(
        &format!("PRAGMA max_page_count = {}", pages.max(16)),
        [],
        |_| Ok(()),
    )?;
    migrate_link_names(&conn)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS link (
             id INTEGER PRIMARY KEY, record TEXT NOT NULL, topic TEXT NOT NULL,
             UNIQUE (record, topic));
         CREATE TABLE IF NOT EXISTS message (
             link INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB NOT NULL,
             PRIMARY KEY (link, seq)) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// Registers `names`, adding their ids to `known`; returns what they kept, and the values of
/// links not in `known`.
fn register(
    conn: &Connection,
    names: &[(String, String)],
    known: &mut HashSet<i64>,
) -> rusqlite::Result<Registered> {
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
    let mut links = Vec::with_capacity(ids.len());
    {
        let mut stmt =
            conn.prepare("SELECT seq, payload FROM message WHERE link = ?1 ORDER BY seq")?;
        for id in ids {
            let rows = stmt.query_map(params![id], |r| {
                Ok((
                    u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    r.get::<_, Vec<u8>>(1)?,
                ))
            })?;
            links.push((id, rows.collect::<rusqlite::Result<Vec<_>>>()?));
            known.insert(id);
        }
    }
    let mut orphans = 0u64;
    let mut stmt = conn.prepare("SELECT link, count(*) FROM message GROUP BY link")?;
    let counts = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for c in counts {
        let (link, n) = c?;
        if !known.contains(&link) {
            orphans += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(Registered { links, orphans })
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

/// What the outbox thread reports to.
struct Writer<'a> {
    path: &'a Path,
    metrics: &'a MqttMetrics,
    queue: &'a Queued,
    room: &'a Notify,
}

/// Applies one batch in a transaction. On failure (logged at each power of two of `failures`,
/// counted in the disk failures metric) its values stay in memory only; when the file is full,
/// the batch's deletes are applied alone, so the file drains as the broker acknowledges.
fn commit(conn: &mut Connection, batch: &[Op], writer: &Writer<'_>, failures: &mut u64) {
    let Err(e) = apply(conn, batch, true) else {
        return;
    };
    *failures += 1;
    let full = is_full(&e);
    writer.metrics.disk_failures.fetch_add(1, Ordering::Relaxed);
    if failures.is_power_of_two() {
        let why = if full {
            " (the file reached [mqtt] outbox_max_file_bytes)"
        } else {
            ""
        };
        tracing::error!(
            path = %writer.path.display(),
            failures = *failures,
            "disk outbox write failed: {e}{why}; these values stay in memory only (and are acknowledged upstream as such)"
        );
    }
    if full {
        let _ = apply(conn, batch, false);
    }
}

/// The outbox thread's loop: one transaction per batch of queued operations.
fn run(mut conn: Connection, rx: mpsc::Receiver<Op>, writer: &Writer<'_>) {
    let Writer {
        path,
        metrics: _,
        queue,
        room,
    } = *writer;
    let mut failures = 0u64;
    let mut known = HashSet::new();
    let mut shrunk = None;
    // Per hold in the batch (usually one per link): the highest position inserted.
    let mut committed: Vec<(Acceptor, u64)> = Vec::new();
    loop {
        let first = match rx.recv_timeout(SHRINK_EVERY) {
            Ok(op) => op,
            // Idle: a good moment to give free pages back.
            Err(mpsc::RecvTimeoutError::Timeout) => {
                give_back_space(&conn, &mut shrunk);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // Registrations (and a close) run after the batch's transaction, in the thread's order.
        let mut registrations = Vec::new();
        let mut closing = None;
        let batch: Vec<Op> = batch
            .into_iter()
            .filter_map(|op| match op {
                Op::Register(names, reply) => {
                    registrations.push((names, reply));
                    None
                }
                Op::Close(done) => {
                    closing = Some(done);
                    None
                }
                op => Some(op),
            })
            .collect();
        for op in &batch {
            if let Op::Insert {
                acceptor: Some(a),
                pos,
                ..
            } = op
            {
                match committed.iter_mut().find(|(c, _)| c.same_hold(a)) {
                    Some((_, p)) => *p = (*p).max(*pos),
                    None => committed.push((a.clone(), *pos)),
                }
            }
        }
        commit(&mut conn, &batch, writer, &mut failures);
        give_back_space(&conn, &mut shrunk);
        // Committed (or given up: held in memory only, as logged) — the links upstream may
        // acknowledge these values, and the queue has room for as many.
        for (acceptor, pos) in committed.drain(..) {
            acceptor.accept(pos);
        }
        let (inserts, bytes) = batch.iter().fold((0, 0), |(n, b), op| match op {
            Op::Insert { payload, .. } => (n + 1, b + payload.len()),
            _ => (n, b),
        });
        if inserts > 0 {
            queue.inserts.fetch_sub(inserts, Ordering::AcqRel);
            queue.bytes.fetch_sub(bytes, Ordering::AcqRel);
            room.notify_waiters();
        }
        for (names, reply) in registrations {
            let r = register(&conn, &names, &mut known).map_err(|e| {
                format!(
                    "cannot register links in the disk outbox {}: {e}",
                    path.display()
                )
            });
            let _ = reply.send(r);
        }
        if let Some(done) = closing {
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

/// Whether `e` says the database reached its size bound (`max_page_count`) or the disk is full.
fn is_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// Free pages past which the file is shrunk (incremental vacuum): 1 MiB of 4 KiB pages.
const SHRINK_AT: i64 = 256;

/// Shortest time between two shrinks.
const SHRINK_EVERY: Duration = Duration::from_secs(5);

/// Hands free pages back to the file system once there are many (after an outage drained), so
/// the file does not stay at its peak size — at most once per [`SHRINK_EVERY`], since moving
/// pages under a steady flood would slow every commit (and so every acknowledgement upstream).
fn give_back_space(conn: &Connection, last: &mut Option<std::time::Instant>) {
    if last.is_some_and(|t| t.elapsed() < SHRINK_EVERY) {
        return;
    }
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap_or(0);
    if free >= SHRINK_AT {
        *last = Some(std::time::Instant::now());
        // One page per step: the statement must run until it is done.
        let vacuumed = conn
            .prepare("PRAGMA incremental_vacuum")
            .and_then(|mut st| {
                let mut rows = st.query([])?;
                while rows.next()?.is_some() {}
                Ok(())
            });
        if let Err(e) = vacuumed {
            tracing::debug!("disk outbox: incremental vacuum failed: {e}");
        }
    }
}

/// Applies the batch's inserts (when `inserts`) and deletes in one transaction.
fn apply(conn: &mut Connection, batch: &[Op], inserts: bool) -> rusqlite::Result<()> {
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
            match *op {
                Op::Insert {
                    link,
                    seq,
                    ref payload,
                    ..
                } => {
                    if deleted.contains(&(link, seq)) {
                        skipped.insert((link, seq));
                    } else if inserts {
                        insert.execute(params![
                            link,
                            i64::try_from(seq).unwrap_or(i64::MAX),
                            payload
                        ])?;
                    }
                }
                Op::Delete { link, seq } => {
                    if !skipped.contains(&(link, seq)) {
                        delete.execute(params![link, i64::try_from(seq).unwrap_or(i64::MAX)])?;
                    }
                }
                Op::Close(_) | Op::Register(..) => {}
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_and_register(path: &Path, links: &[(String, String)]) -> (Vec<i64>, Registered) {
        let conn = open_db(path, 1 << 30).unwrap();
        let r = register(&conn, links, &mut HashSet::new()).unwrap();
        (r.links.iter().map(|l| l.0).collect(), r)
    }

    fn names(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(r, t)| (r.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn a_full_writer_queue_refuses_what_cannot_wait_and_takes_what_waited() {
        let dir = std::env::temp_dir().join(format!("aimdbd-disk-q-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("queue.db");
        let _ = std::fs::remove_file(&path);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let room = Arc::new(Notify::new());
        let metrics = Arc::new(MqttMetrics::default());
        let disk = DiskOutbox::open(path.clone(), 1 << 30, metrics, room.clone())
            .blocking_recv()
            .unwrap()
            .unwrap();
        let link = disk
            .register(names(&[("r", "t")]))
            .blocking_recv()
            .unwrap()
            .unwrap()
            .links[0]
            .0;
        // Another connection holds the write lock: the writer cannot commit, so nothing leaves
        // its queue until the lock is released.
        let blocker = Connection::open(&path).unwrap();
        blocker.execute_batch("BEGIN IMMEDIATE;").unwrap();
        let mut seq = 0u64;
        while disk.has_room() {
            seq += 1;
            assert!(disk.insert(link, seq, b"v", seq, None, false));
            assert!(seq <= QUEUE as u64, "the queue is bounded");
        }
        assert_eq!(seq, QUEUE as u64);
        assert!(
            !disk.insert(link, seq + 1, b"v", seq + 1, None, false),
            "refused at the bound"
        );
        assert!(
            disk.insert(link, seq + 2, b"v", seq + 2, None, true),
            "a value whose link waited for room is always queued"
        );
        let notified = room.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        blocker.execute_batch("COMMIT;").unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), notified)
                .await
                .expect("room is notified once the writer commits");
        });
        assert!(disk.has_room());
        rt.block_on(disk.close());
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            rows,
            i64::try_from(QUEUE).unwrap() + 1,
            "every queued value is on disk"
        );
        let refused: i64 = conn
            .query_row(
                "SELECT count(*) FROM message WHERE seq = ?1",
                params![i64::try_from(seq + 1).unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(refused, 0, "the refused value was never written");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_file_is_bounded_and_gives_free_pages_back() {
        let dir = std::env::temp_dir().join(format!("aimdbd-disk-s-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("size.db");
        let _ = std::fs::remove_file(&path);
        let mut conn = open_db(&path, 2 << 20).unwrap();
        let r = register(&conn, &names(&[("r", "t")]), &mut HashSet::new()).unwrap();
        let link = r.links[0].0;
        let pages =
            |c: &Connection| -> i64 { c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap() };
        let insert = |seq: u64| Op::Insert {
            link,
            seq,
            payload: vec![7; 100 * 1024],
            acceptor: None,
            pos: seq,
        };
        for seq in 1..=10 {
            apply(&mut conn, &[insert(seq)], true).unwrap();
        }
        let full = (11..=40)
            .map(|seq| apply(&mut conn, &[insert(seq)], true))
            .find_map(Result::err)
            .expect("4 MB cannot fit a 2 MiB file");
        assert!(is_full(&full), "{full}");
        assert!(pages(&conn) * 4096 <= 2 << 20);
        let deletes: Vec<Op> = (1..=40).map(|seq| Op::Delete { link, seq }).collect();
        apply(&mut conn, &deletes, false).unwrap();
        give_back_space(&conn, &mut None);
        assert!(
            pages(&conn) < 64,
            "free pages given back: {} pages",
            pages(&conn)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn links_whose_joined_names_would_collide_get_distinct_ids() {
        let dir = std::env::temp_dir().join(format!("aimdbd-disk-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("collide.db");
        let _ = std::fs::remove_file(&path);
        let links = names(&[("a\u{1f}b", "c"), ("a", "b\u{1f}c")]);
        let ids = open_and_register(&path, &links).0;
        assert_ne!(ids[0], ids[1]);
        let again = open_and_register(&path, &links).0;
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
        let (ids, r) = open_and_register(&path, &links);
        assert_eq!(&ids[..2], &[9, 7]);
        assert_eq!(r.links[0].1, vec![(1, vec![2]), (2, vec![3])]);
        assert_eq!(r.links[1].1, vec![(1, vec![1])]);
        assert!(r.links[2].1.is_empty());
        assert_eq!(r.orphans, 0);
        assert_eq!(open_and_register(&path, &links).0, ids, "migrated once");
        // Registered one by one (a reload adding links): the rest count as orphans meanwhile.
        let conn = open_db(&path, 1 << 30).unwrap();
        let mut known = HashSet::new();
        let first = register(&conn, &links[1..2], &mut known).unwrap();
        assert_eq!(
            first.orphans, 2,
            "r.two's two values are not registered yet"
        );
        let second = register(&conn, &links[..1], &mut known).unwrap();
        assert_eq!((second.links[0].0, second.orphans), (9, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
