//! The blocking rule, enforced: no blocking call inside async code anywhere in the workspace.
//!
//! An `async fn` (or `async` block) that blocks stalls its Tokio worker, and with it every other
//! task on that worker: MQTT keep-alives, taps, the admin endpoint. This test parses every `.rs`
//! file of the workspace (skipping `target/` directories) with `syn` and reports, inside async
//! bodies:
//!
//! * file I/O: `std::fs::…` / `fs::…` calls (unless `fs` is imported from an async crate, or the
//!   call is awaited);
//! * `std::thread::sleep` / `thread::sleep`, `thread::park` / `park_timeout`;
//! * `std::io` stdout/stderr/stdin used through the blocking `Write`/`BufRead` methods;
//! * `std::io::Write`/`Read` methods (`write_all`, `flush`, `read_to_string`, …, and `write!` /
//!   `writeln!`) on a `std::fs::File`, `std::io::BufWriter`/`BufReader`/`LineWriter` or
//!   `std::net::TcpStream`, whether made in the async body or passed in as a parameter of that
//!   type; `std::io::read_to_string(r)`;
//! * `std::process::Command`'s `.status()` / `.output()` not awaited (Tokio's are awaited);
//! * `block_on` (`futures::executor::block_on`, `pollster::block_on`, `Runtime::block_on`);
//! * blocking clients: `reqwest::blocking::…`, `ureq::…`, `postgres::…` calls and redis's
//!   `.get_connection()`;
//! * blocking channel receives: `.recv()` not awaited (crossbeam/std), `.recv_timeout()`,
//!   `.recv_deadline()`; Tokio's `.blocking_recv()`, `.blocking_send()`, `.blocking_lock()`,
//!   `.blocking_read()`, `.blocking_write()`; thread `.join()` and condvar/process `.wait*()` not
//!   awaited;
//! * a `Mutex`/`RwLock` guard (`let g = m.lock()`, `.read()`, `.write()`, their `try_` forms,
//!   not awaited; also recovered from poisoning with a `match`) that is still alive at a later
//!   `.await` in the same block, a guard temporary in a `match`/`if let` scrutinee whose arms
//!   await, or a guard temporary in a statement that awaits (`m.lock().push(f().await)`);
//! * `std::net` sockets and `.to_socket_addrs()` (DNS);
//! * `rusqlite::…` and `Connection::…` calls, and rusqlite-only methods (`execute_batch`,
//!   `query_row`, `prepare_cached`, `pragma_update`).
//!
//! Closures passed to `spawn_blocking`, `block_in_place`, `std::thread::spawn`,
//! `thread::Builder::spawn` and `BackgroundSink::spawn` are exempt: they run off the async
//! workers. A non-async closure elsewhere inside async code is checked (it usually runs right
//! there, e.g. in an iterator adapter). A nested non-async `fn` item is not async code.
//!
//! An audited exception carries `// aimdb: allow-blocking(<reason>)` on the line of the call or
//! the line before; the reason must not be empty.
//!
//! Clippy's `await_holding_lock` and `await_holding_refcell_ref` (denied in the workspace's
//! `[lints]`) catch guards across `.await` by type, where this check cannot see them.
//!
//! It is a syntactic check, deliberately simple: it does not resolve types, so it can be fooled
//! (a blocking call behind a helper function is not seen) and can be wrong (a custom `recv()` that
//! is not blocking); the allow comment handles the latter. Unit tests below pin what it catches.

mod blocking_scan;

use std::path::{Path, PathBuf};

use blocking_scan::{scan_source, Kind};

/// Every `.rs` file under `root`, skipping `target/` and hidden directories.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if ft.is_file() && name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_blocking_calls_in_async_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = rust_files(root);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("crates/tokio/src/concurrency/background_sink/mod.rs")),
        "the walk found none of the workspace's sources under {}",
        root.display()
    );
    let mut report = Vec::new();
    for file in &files {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let src = match std::fs::read_to_string(file) {
            Ok(s) => s,
            Err(e) => {
                report.push(format!("{shown}: cannot read: {e}"));
                continue;
            }
        };
        match scan_source(&src) {
            Ok(findings) => report.extend(findings.iter().map(|f| format!("{shown}:{f}"))),
            Err(e) => {
                let at = e.span().start();
                report.push(format!(
                    "{shown}:{}:{}: cannot parse: {e}",
                    at.line,
                    at.column + 1
                ));
            }
        }
    }
    assert!(
        report.is_empty(),
        "{} blocking call(s) in async code (an async fn must never block its Tokio worker):\n\n{}\n\n\
         Move the call into tokio::task::spawn_blocking, a BackgroundSink, or a dedicated thread, or \
         use the async equivalent. If it is audited and harmless, mark it with \
         `// aimdb: allow-blocking(<reason>)` on the line or the line before.",
        report.len(),
        report.join("\n")
    );
}

// --- the scanner's own tests: what it catches, and what it must leave alone ---

fn kinds(src: &str) -> Vec<Kind> {
    scan_source(src)
        .unwrap_or_else(|e| panic!("snippet does not parse: {e}"))
        .into_iter()
        .map(|f| f.kind)
        .collect()
}

#[test]
fn flags_std_fs_in_async_fn_and_block() {
    assert_eq!(
        kinds(r#"async fn f() { let s = std::fs::read_to_string("x"); }"#),
        [Kind::FileIo]
    );
    assert_eq!(
        kinds(r#"use std::fs; async fn f() { fs::write("a", b"b").unwrap(); }"#),
        [Kind::FileIo]
    );
    assert_eq!(
        kinds(r#"use std::fs::File; async fn f() { let f = File::open("a"); }"#),
        [Kind::FileIo]
    );
    assert_eq!(
        kinds(r#"fn f() -> impl Future { async { std::fs::remove_file("a") } }"#),
        [Kind::FileIo]
    );
    assert_eq!(
        kinds(r#"impl S { async fn g(&self) { std::fs::create_dir_all("d").ok(); } }"#),
        [Kind::FileIo]
    );
}

#[test]
fn leaves_tokio_fs_and_sync_code_alone() {
    assert!(
        kinds(r#"use tokio::fs; async fn f() { fs::write("a", b"b").await.unwrap(); }"#).is_empty()
    );
    assert!(kinds(r#"fn f() { std::fs::write("a", b"b").unwrap(); }"#).is_empty());
    assert!(kinds(r#"async fn f() { fn helper() { std::fs::read("x"); } }"#).is_empty());
}

#[test]
fn flags_thread_sleep() {
    assert_eq!(
        kinds("async fn f() { std::thread::sleep(D); }"),
        [Kind::Sleep]
    );
    assert_eq!(
        kinds("use std::thread; async fn f() { thread::sleep(D); }"),
        [Kind::Sleep]
    );
    assert!(kinds("use std::thread; fn f() { thread::sleep(D); }").is_empty());
    assert!(kinds("async fn f() { tokio::time::sleep(D).await; }").is_empty());
}

#[test]
fn flags_blocking_receives_but_not_awaited_ones() {
    assert_eq!(
        kinds("async fn f(rx: R) { let v = rx.recv(); }"),
        [Kind::ChannelRecv]
    );
    assert_eq!(
        kinds("async fn f(rx: R) { let v = rx.recv_timeout(D); }"),
        [Kind::ChannelRecv]
    );
    assert_eq!(
        kinds("async fn f(rx: R) { let v = rx.blocking_recv(); }"),
        [Kind::TokioBlocking]
    );
    assert_eq!(
        kinds("async fn f(tx: T) { tx.blocking_send(1).ok(); }"),
        [Kind::TokioBlocking]
    );
    assert!(kinds("async fn f(rx: R) { while let Some(v) = rx.recv().await {} }").is_empty());
    assert!(
        kinds("async fn f(rx: R) { let v = tokio::time::timeout(D, rx.recv()).await; }").is_empty()
    );
    assert!(kinds(
        "async fn f(rx: R, s: S) { tokio::select! { biased; _ = s.changed() => {}, v = rx.recv() => { g(v) } } }"
    )
    .is_empty());
    assert_eq!(
        kinds("async fn f(rx: R, s: S) { tokio::select! { _ = s.changed() => { rx.recv_timeout(D); } } }"),
        [Kind::ChannelRecv]
    );
}

#[test]
fn flags_thread_join_and_condvar_wait() {
    assert_eq!(
        kinds("async fn f(h: H) { h.join().ok(); }"),
        [Kind::ThreadJoin]
    );
    assert_eq!(
        kinds("async fn f(c: C, g: G) { let g = c.wait(g); }"),
        [Kind::Wait]
    );
    assert!(kinds("async fn f(b: B) { b.wait().await; }").is_empty());
    assert!(kinds(r#"async fn f(v: V) { v.join(","); }"#).is_empty());
}

#[test]
fn flags_a_lock_guard_alive_across_await() {
    assert_eq!(
        kinds("async fn f(m: M) { let g = m.lock(); other().await; }"),
        [Kind::LockAcrossAwait]
    );
    assert_eq!(
        kinds("async fn f(m: M) { let mut g = m.lock().unwrap(); g.push(1); if x { other().await; } }"),
        [Kind::LockAcrossAwait]
    );
    assert_eq!(
        kinds(
            "async fn f(m: M) { match m.lock().get(&1) { Some(v) => other(v).await, None => {} } }"
        ),
        [Kind::LockAcrossAwait]
    );
    assert_eq!(
        kinds("async fn f(m: M) { if let Some(v) = m.lock().get(&1) { other(v).await; } }"),
        [Kind::LockAcrossAwait]
    );
}

#[test]
fn leaves_short_lived_guards_alone() {
    assert!(
        kinds("async fn f(m: M) { let g = m.lock(); g.push(1); drop(g); other().await; }")
            .is_empty()
    );
    assert!(
        kinds("async fn f(m: M) { { let g = m.lock(); g.push(1); } other().await; }").is_empty()
    );
    assert!(kinds("async fn f(m: M) { let g = m.lock().await; other().await; }").is_empty());
    assert!(kinds("async fn f(m: M) { let v = m.lock().clone(); other().await; }").is_empty());
    assert!(kinds("async fn f(m: M) { let _ = m.lock(); other().await; }").is_empty());
    assert!(kinds("async fn f(m: M) { m.lock().push(1); other().await; }").is_empty());
    // The await belongs to a future built here but run elsewhere.
    assert!(
        kinds("async fn f(m: M) { let g = m.lock(); spawn(async move { other().await }); }")
            .is_empty()
    );
}

#[test]
fn flags_std_io_handles() {
    assert_eq!(
        kinds(r#"async fn f() { std::io::stdout().write_all(b"x").unwrap(); }"#),
        [Kind::StdIo]
    );
    assert_eq!(
        kinds(
            r#"use std::io::{self, Write}; async fn f() { let mut out = io::stderr().lock(); out.flush().ok(); }"#
        ),
        [Kind::StdIo]
    );
    assert_eq!(
        kinds(r#"async fn f() { let mut o = std::io::stdout(); writeln!(o, "x").ok(); }"#),
        [Kind::StdIo]
    );
    assert!(
        kinds(r#"async fn f() { tokio::io::stdout().write_all(b"x").await.unwrap(); }"#).is_empty()
    );
    assert!(kinds(r#"async fn f(buf: B) { buf.write_all(b"x").unwrap(); }"#).is_empty());
}

#[test]
fn flags_std_net_and_sqlite() {
    assert_eq!(
        kinds("async fn f() { let s = std::net::TcpStream::connect(A); }"),
        [Kind::Net]
    );
    assert_eq!(
        kinds(r#"async fn f() { let a = "h:1".to_socket_addrs(); }"#),
        [Kind::Net]
    );
    assert!(
        kinds("async fn f() { let a = std::net::SocketAddr::from(([127, 0, 0, 1], 1)); }")
            .is_empty()
    );
    assert!(kinds("async fn f() { let s = tokio::net::TcpStream::connect(A).await; }").is_empty());
    assert_eq!(
        kinds(r#"async fn f() { let c = rusqlite::Connection::open("db"); }"#),
        [Kind::Sqlite]
    );
    assert_eq!(
        kinds("use rusqlite::Connection; async fn f() { Connection::open_in_memory(); }"),
        [Kind::Sqlite]
    );
    assert_eq!(
        kinds(r#"async fn f(c: C) { c.execute_batch("VACUUM").ok(); }"#),
        [Kind::Sqlite]
    );
}

#[test]
fn exempts_closures_that_run_off_the_async_workers() {
    assert!(
        kinds(r#"async fn f() { tokio::task::spawn_blocking(|| std::fs::read("x")).await; }"#)
            .is_empty()
    );
    assert!(
        kinds("async fn f() { std::thread::spawn(move || std::thread::sleep(D)); }").is_empty()
    );
    assert!(kinds(
        "async fn f() { std::thread::Builder::new().name(n).spawn(move || rx.recv()); }"
    )
    .is_empty());
    assert!(kinds(
        r#"async fn f() { BackgroundSink::spawn(cfg, |b: &mut Vec<u8>| std::fs::write("x", b)); }"#
    )
    .is_empty());
    assert!(kinds("async fn f(h: H) { h.spawn_blocking(move || c.wait(g)).await; }").is_empty());
    // Other closures run where they are written.
    assert_eq!(
        kinds(
            "async fn f(ps: P) { let v: Vec<_> = ps.iter().map(|p| std::fs::read(p)).collect(); }"
        ),
        [Kind::FileIo]
    );
}

#[test]
fn looks_inside_macros() {
    assert_eq!(
        kinds(r#"async fn f() { assert!(std::fs::metadata("x").is_ok()); }"#),
        [Kind::FileIo]
    );
    assert_eq!(
        kinds("async fn f() { tokio::join!(a(), async { std::thread::sleep(D) }); }"),
        [Kind::Sleep]
    );
    assert!(kinds(r#"fn f() { assert!(std::fs::metadata("x").is_ok()); }"#).is_empty());
}

#[test]
fn an_allow_comment_with_a_reason_suppresses_a_finding() {
    let same_line = "async fn f() {\n    std::thread::sleep(D); // aimdb: allow-blocking(startup, before the runtime serves)\n}";
    assert!(kinds(same_line).is_empty());
    let line_before =
        "async fn f() {\n    // aimdb: allow-blocking(test fixture)\n    std::thread::sleep(D);\n}";
    assert!(kinds(line_before).is_empty());
    let two_lines_before =
        "async fn f() {\n    // aimdb: allow-blocking(too far)\n\n    std::thread::sleep(D);\n}";
    assert_eq!(kinds(two_lines_before), [Kind::Sleep]);
    let no_reason = "async fn f() {\n    std::thread::sleep(D); // aimdb: allow-blocking()\n}";
    let findings = scan_source(no_reason).expect("parses");
    assert_eq!(findings.len(), 1);
    assert!(findings[0].empty_allow);
}

#[test]
fn a_finding_names_the_line_the_call_and_the_fix() {
    let src = "async fn f() {\n    let x = 1;\n    std::thread::sleep(D);\n}";
    let findings = scan_source(src).expect("parses");
    assert_eq!(findings.len(), 1);
    let text = findings[0].to_string();
    assert!(
        text.starts_with("3:5: `std::thread::sleep(D)` in async code"),
        "{text}"
    );
    assert!(text.contains("tokio::time::sleep"), "{text}");
}

#[test]
fn flags_std_io_write_and_read_on_files_and_sockets() {
    // A handle opened in the async body (the open itself is file I/O too).
    assert_eq!(
        kinds(
            r#"use std::fs::File; async fn f() { let mut o = File::create("a").unwrap(); o.write_all(b"x").unwrap(); }"#
        ),
        [Kind::FileIo, Kind::BlockingIo]
    );
    // Handles passed in: a parameter typed as a std file, buffered writer or socket.
    assert_eq!(
        kinds(r#"async fn f(o: &mut std::fs::File) { o.write_all(b"x").unwrap(); }"#),
        [Kind::BlockingIo]
    );
    assert_eq!(
        kinds(
            r#"use std::io::BufWriter; async fn f(mut o: BufWriter<W>) { writeln!(o, "x").unwrap(); }"#
        ),
        [Kind::BlockingIo]
    );
    assert_eq!(
        kinds(
            r#"use std::net::TcpStream; async fn f(s: &mut TcpStream) { s.write_all(b"x").unwrap(); }"#
        ),
        [Kind::BlockingIo]
    );
    assert_eq!(
        kinds("async fn f() { let mut w = std::io::BufWriter::new(w0); w.flush().unwrap(); }"),
        [Kind::BlockingIo]
    );
    assert_eq!(
        kinds("async fn f(r: R) { let s = std::io::read_to_string(r); }"),
        [Kind::BlockingIo]
    );
    // Tokio's types, and awaited calls, are async.
    assert!(kinds(
        r#"use tokio::net::TcpStream; async fn f(s: &mut TcpStream) { s.write_all(b"x").await.unwrap(); }"#
    )
    .is_empty());
    assert!(kinds(
        r#"use tokio::io::BufWriter; async fn f(mut o: BufWriter<W>) { o.write_all(b"x").await.unwrap(); }"#
    )
    .is_empty());
}

#[test]
fn flags_process_status_and_output() {
    assert_eq!(
        kinds(r#"async fn f() { let s = std::process::Command::new("ls").status(); }"#),
        [Kind::Process]
    );
    assert_eq!(
        kinds(
            r#"use std::process::Command; async fn f() { let o = Command::new("ls").arg("-l").output().unwrap(); }"#
        ),
        [Kind::Process]
    );
    assert!(kinds(
        r#"use tokio::process::Command; async fn f() { let o = Command::new("ls").output().await; }"#
    )
    .is_empty());
}

#[test]
fn flags_block_on_and_thread_park() {
    assert_eq!(
        kinds("async fn f() { futures::executor::block_on(g()); }"),
        [Kind::BlockOn]
    );
    assert_eq!(
        kinds("use futures::executor::block_on; async fn f() { block_on(g()); }"),
        [Kind::BlockOn]
    );
    assert_eq!(
        kinds("async fn f(h: H) { h.block_on(g()); }"),
        [Kind::BlockOn]
    );
    assert_eq!(
        kinds("async fn f() { std::thread::park(); }"),
        [Kind::Sleep]
    );
    assert_eq!(
        kinds("use std::thread; async fn f() { thread::park_timeout(D); }"),
        [Kind::Sleep]
    );
}

#[test]
fn flags_blocking_clients() {
    assert_eq!(
        kinds(r#"async fn f() { let r = reqwest::blocking::get("http://x"); }"#),
        [Kind::BlockingClient]
    );
    assert_eq!(
        kinds(r#"async fn f() { let r = ureq::get("http://x").call(); }"#),
        [Kind::BlockingClient]
    );
    assert_eq!(
        kinds(r#"async fn f() { let c = postgres::Client::connect(URL, NoTls); }"#),
        [Kind::BlockingClient]
    );
    assert_eq!(
        kinds(r#"use redis::Commands; async fn f(c: C) { let mut con = c.get_connection(); }"#),
        [Kind::BlockingClient]
    );
    assert!(kinds(r#"async fn f() { let r = reqwest::get("http://x").await; }"#).is_empty());
    assert!(
        kinds(r#"async fn f() { let c = tokio_postgres::connect(URL, NoTls).await; }"#).is_empty()
    );
}

#[test]
fn flags_guards_held_across_await_as_temporaries_try_lock_and_poison_recovery() {
    // The guard temporary lives to the end of the statement, across the await in it.
    assert_eq!(
        kinds("async fn f(m: M) { m.lock().push(g().await); }"),
        [Kind::LockAcrossAwait]
    );
    assert_eq!(
        kinds("async fn f(m: M) { m.lock().unwrap().insert(k, g().await); }"),
        [Kind::LockAcrossAwait]
    );
    // `try_lock` guards, bound or in an `if let`.
    assert_eq!(
        kinds("async fn f(m: M) { let g = m.try_lock().unwrap(); other().await; }"),
        [Kind::LockAcrossAwait]
    );
    assert_eq!(
        kinds("async fn f(m: M) { if let Ok(g) = m.try_lock() { other(g).await; } }"),
        [Kind::LockAcrossAwait]
    );
    // A guard recovered from poisoning with a `match`.
    assert_eq!(
        kinds(
            "async fn f(m: M) { let g = match m.lock() { Ok(g) => g, Err(p) => p.into_inner() }; other().await; }"
        ),
        [Kind::LockAcrossAwait]
    );
    // Still fine: the guard's statement ends before the await.
    assert!(kinds("async fn f(m: M) { let v = g().await; m.lock().push(v); }").is_empty());
    assert!(kinds(
        "async fn f(m: M) { { let g = match m.lock() { Ok(g) => g, Err(p) => p.into_inner() }; g.push(1); } other().await; }"
    )
    .is_empty());
}
