//! The scanner behind `tests/no_blocking_in_async.rs` (see that file for the rule and what it
//! reports): findings and their fixes, the allow comment, imports, and the entry point
//! [`scan_source`]. The syntax-tree walk is in `visitor.rs`, the await analysis in `awaits.rs`,
//! the blocking std I/O objects in `io.rs`.

mod awaits;
mod io;
mod visitor;

use std::collections::{HashMap, HashSet};
use std::fmt;

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Block, Expr, ExprCall, ExprMethodCall, Macro, Stmt, Token};

use visitor::Scanner;

/// What kind of blocking a finding is, and how to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    FileIo,
    Sleep,
    StdIo,
    ChannelRecv,
    TokioBlocking,
    ThreadJoin,
    Wait,
    LockAcrossAwait,
    Net,
    Sqlite,
    BlockingIo,
    Process,
    BlockOn,
    BlockingClient,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::FileIo => "blocking file I/O (std::fs)",
            Kind::Sleep => "thread sleep or park",
            Kind::StdIo => "blocking std::io stdout/stderr/stdin",
            Kind::ChannelRecv => "blocking channel receive",
            Kind::TokioBlocking => "Tokio blocking_* call (panics or blocks inside a runtime)",
            Kind::ThreadJoin => "thread join",
            Kind::Wait => "blocking wait (condvar, barrier, child process)",
            Kind::LockAcrossAwait => "lock guard held across .await",
            Kind::Net => "blocking std::net socket / DNS",
            Kind::Sqlite => "blocking SQLite (rusqlite) call",
            Kind::BlockingIo => "blocking std::io read/write on a file, buffered writer or socket",
            Kind::Process => "std::process::Command waited for in place (status/output)",
            Kind::BlockOn => {
                "block_on inside async code (blocks the worker, or panics in a runtime)"
            }
            Kind::BlockingClient => {
                "blocking network client (reqwest::blocking, ureq, postgres, redis)"
            }
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Kind::FileIo => "use tokio::fs, or move the I/O into tokio::task::spawn_blocking or a BackgroundSink",
            Kind::Sleep => "use tokio::time::sleep(..).await, or wait on a tokio primitive instead of parking",
            Kind::StdIo => "use tracing, tokio::io::stdout(), or spawn_blocking",
            Kind::ChannelRecv => "use a tokio channel and .recv().await, or receive on a dedicated thread",
            Kind::TokioBlocking => "use the async form (.recv().await / .send(..).await / .lock().await)",
            Kind::ThreadJoin => "join from spawn_blocking, or signal completion with a tokio oneshot",
            Kind::Wait => "wait with a tokio primitive (Notify, watch, oneshot) or inside spawn_blocking",
            Kind::LockAcrossAwait => "drop the guard before .await (scope it in a block or a sync helper fn), or use tokio::sync::Mutex",
            Kind::Net => "use tokio::net (and tokio::net::lookup_host)",
            Kind::Sqlite => "run SQLite on a dedicated thread: BackgroundSink for writes, spawn_blocking for reads",
            Kind::BlockingIo => "use tokio::fs / tokio::io / tokio::net types, or move the I/O into spawn_blocking or a BackgroundSink",
            Kind::Process => "use tokio::process::Command and .status().await / .output().await",
            Kind::BlockOn => "just .await the future",
            Kind::BlockingClient => "use the async client (reqwest, tokio-postgres, redis's async connection), or spawn_blocking",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) call: String,
    pub(crate) kind: Kind,
    /// An allow comment without a reason was found.
    pub(crate) empty_allow: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}` in async code: {}.\n      fix: {}",
            self.line,
            self.column + 1,
            self.call,
            self.kind.what(),
            self.kind.fix()
        )?;
        if self.empty_allow {
            f.write_str(
                "\n      note: `aimdb: allow-blocking()` needs a reason inside the parentheses",
            )?;
        }
        Ok(())
    }
}

const ALLOW: &str = "aimdb: allow-blocking(";

/// Scans one source file; returns the findings not covered by an allow comment.
pub(crate) fn scan_source(src: &str) -> syn::Result<Vec<Finding>> {
    let file = syn::parse_file(src)?;
    let mut imports = Imports::default();
    imports.visit_file(&file);
    let lines: Vec<&str> = src.lines().collect();
    let mut scanner = Scanner {
        imports: imports.map,
        lines: &lines,
        ctx: vec![Ctx::Sync],
        awaited: HashSet::new(),
        std_handles: HashSet::new(),
        io_handles: HashSet::new(),
        commands: HashSet::new(),
        findings: Vec::new(),
    };
    scanner.visit_file(&file);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for mut f in scanner.findings {
        if !seen.insert((f.line, f.column, f.kind)) {
            continue;
        }
        match allow_reason(&lines, f.line) {
            Some(reason) if !reason.trim().is_empty() => continue,
            Some(_) => f.empty_allow = true,
            None => {}
        }
        out.push(f);
    }
    out.sort_by_key(|f| (f.line, f.column));
    Ok(out)
}

/// The reason of an allow comment on `line` (1-based) or the line before.
fn allow_reason<'a>(lines: &[&'a str], line: usize) -> Option<&'a str> {
    [line, line.saturating_sub(1)]
        .into_iter()
        .filter(|l| *l >= 1 && *l <= lines.len())
        .find_map(|l| {
            let text = lines[l - 1];
            let start = text.find(ALLOW)? + ALLOW.len();
            let rest = &text[start..];
            Some(&rest[..rest.find(')').unwrap_or(rest.len())])
        })
}

/// `use` items of a file: the last segment (or alias) → the full path.
#[derive(Default)]
struct Imports {
    map: HashMap<String, Vec<String>>,
}

impl Imports {
    fn add_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.add_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut full = prefix.clone();
                if name != "self" {
                    full.push(name.clone());
                }
                let key = if name == "self" {
                    prefix.last().cloned().unwrap_or_default()
                } else {
                    name
                };
                self.map.insert(key, full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.map.insert(r.rename.to_string(), full);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.add_tree(prefix, t);
                }
            }
            syn::UseTree::Glob(_) => {}
        }
    }
}

impl<'ast> Visit<'ast> for Imports {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.add_tree(&mut Vec::new(), &u.tree);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Sync,
    Async,
}

type SpanKey = (usize, usize, usize, usize);

fn key(span: Span) -> SpanKey {
    let (s, e) = (span.start(), span.end());
    (s.line, s.column, e.line, e.column)
}
