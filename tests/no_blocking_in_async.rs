//! The blocking rule, enforced: no blocking call inside async code anywhere in the workspace.
//!
//! An `async fn` (or `async` block) that blocks stalls its Tokio worker, and with it every other
//! task on that worker: MQTT keep-alives, taps, the admin endpoint. This test parses every `.rs`
//! file of the workspace (skipping `target/` directories) with `syn` and reports, inside async
//! bodies:
//!
//! * file I/O: `std::fs::…` / `fs::…` calls (unless `fs` is imported from an async crate, or the
//!   call is awaited);
//! * `std::thread::sleep` / `thread::sleep`;
//! * `std::io` stdout/stderr/stdin used through the blocking `Write`/`BufRead` methods;
//! * blocking channel receives: `.recv()` not awaited (crossbeam/std), `.recv_timeout()`,
//!   `.recv_deadline()`; Tokio's `.blocking_recv()`, `.blocking_send()`, `.blocking_lock()`,
//!   `.blocking_read()`, `.blocking_write()`; thread `.join()` and condvar/process `.wait*()` not
//!   awaited;
//! * a `Mutex`/`RwLock` guard (`let g = m.lock()`, `.read()`, `.write()`, not awaited) that is
//!   still alive at a later `.await` in the same block, or a guard temporary in a `match`/`if let`
//!   scrutinee whose arms await;
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
//! It is a syntactic check, deliberately simple: it does not resolve types, so it can be fooled
//! (a blocking call behind a helper function is not seen) and can be wrong (a custom `recv()` that
//! is not blocking); the allow comment handles the latter. Unit tests below pin what it catches.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Block, Expr, ExprCall, ExprMethodCall, Macro, Stmt, Token};

/// What kind of blocking a finding is, and how to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
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
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::FileIo => "blocking file I/O (std::fs)",
            Kind::Sleep => "thread sleep",
            Kind::StdIo => "blocking std::io stdout/stderr/stdin",
            Kind::ChannelRecv => "blocking channel receive",
            Kind::TokioBlocking => "Tokio blocking_* call (panics or blocks inside a runtime)",
            Kind::ThreadJoin => "thread join",
            Kind::Wait => "blocking wait (condvar, barrier, child process)",
            Kind::LockAcrossAwait => "lock guard held across .await",
            Kind::Net => "blocking std::net socket / DNS",
            Kind::Sqlite => "blocking SQLite (rusqlite) call",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            Kind::FileIo => "use tokio::fs, or move the I/O into tokio::task::spawn_blocking or a BackgroundSink",
            Kind::Sleep => "use tokio::time::sleep(..).await",
            Kind::StdIo => "use tracing, tokio::io::stdout(), or spawn_blocking",
            Kind::ChannelRecv => "use a tokio channel and .recv().await, or receive on a dedicated thread",
            Kind::TokioBlocking => "use the async form (.recv().await / .send(..).await / .lock().await)",
            Kind::ThreadJoin => "join from spawn_blocking, or signal completion with a tokio oneshot",
            Kind::Wait => "wait with a tokio primitive (Notify, watch, oneshot) or inside spawn_blocking",
            Kind::LockAcrossAwait => "drop the guard before .await (scope it in a block or a sync helper fn), or use tokio::sync::Mutex",
            Kind::Net => "use tokio::net (and tokio::net::lookup_host)",
            Kind::Sqlite => "run SQLite on a dedicated thread: BackgroundSink for writes, spawn_blocking for reads",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    line: usize,
    column: usize,
    call: String,
    kind: Kind,
    /// An allow comment without a reason was found.
    empty_allow: bool,
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
fn scan_source(src: &str) -> syn::Result<Vec<Finding>> {
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

struct Scanner<'a> {
    imports: HashMap<String, Vec<String>>,
    lines: &'a [&'a str],
    ctx: Vec<Ctx>,
    /// Expressions that are awaited (directly, as arguments of an awaited call, or as the
    /// futures of `select!`/`join!`).
    awaited: HashSet<SpanKey>,
    /// Local names bound to std stdout/stderr/stdin handles.
    std_handles: HashSet<String>,
    findings: Vec<Finding>,
}

impl Scanner<'_> {
    fn in_async(&self) -> bool {
        self.ctx.last() == Some(&Ctx::Async)
    }

    fn with_ctx(&mut self, ctx: Ctx, f: impl FnOnce(&mut Self)) {
        self.ctx.push(ctx);
        f(self);
        self.ctx.pop();
    }

    fn is_awaited(&self, span: Span) -> bool {
        self.awaited.contains(&key(span))
    }

    fn report(&mut self, span: Span, kind: Kind) {
        let start = span.start();
        self.findings.push(Finding {
            line: start.line,
            column: start.column,
            call: self.text(span),
            kind,
            empty_allow: false,
        });
    }

    /// The source text of `span` (first line only, shortened).
    fn text(&self, span: Span) -> String {
        let (s, e) = (span.start(), span.end());
        let Some(line) = s.line.checked_sub(1).and_then(|l| self.lines.get(l)) else {
            return String::new();
        };
        let chars: Vec<char> = line.chars().collect();
        let end = if e.line == s.line {
            e.column.min(chars.len())
        } else {
            chars.len()
        };
        let mut t: String = chars[s.column.min(end)..end].iter().collect();
        if e.line != s.line {
            t.push('…');
        }
        if t.chars().count() > 80 {
            t = t.chars().take(79).collect::<String>() + "…";
        }
        t
    }

    /// Path segments with the first one resolved through the file's `use` items.
    fn resolve(&self, path: &syn::Path) -> Vec<String> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        match segs.first().and_then(|f| self.imports.get(f)) {
            Some(full) if !full.is_empty() => full
                .iter()
                .cloned()
                .chain(segs[1..].iter().cloned())
                .collect(),
            _ => segs,
        }
    }

    fn check_call_path(&mut self, call: &ExprCall, path: &[String]) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let kind = match p.as_slice() {
            ["std", "fs", ..] | ["fs", _, ..] => Some(Kind::FileIo),
            ["std", "thread", "sleep"] | ["thread", "sleep"] => Some(Kind::Sleep),
            ["std" | "core", "net", t, ..] | ["net", t, ..]
                if matches!(*t, "TcpStream" | "TcpListener" | "UdpSocket") =>
            {
                Some(Kind::Net)
            }
            ["rusqlite", ..] => Some(Kind::Sqlite),
            [.., "Connection", _] => Some(Kind::Sqlite),
            _ => None,
        };
        if let Some(kind) = kind {
            self.report(call.span(), kind);
        }
    }

    /// True for an expression that yields a std stdout/stderr/stdin handle (or its lock).
    fn is_std_handle(&self, e: &Expr) -> bool {
        match e {
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => {
                    let r = self.resolve(&p.path);
                    let r: Vec<&str> = r.iter().map(String::as_str).collect();
                    matches!(
                        r.as_slice(),
                        ["std", "io", "stdout" | "stderr" | "stdin"]
                            | ["io", "stdout" | "stderr" | "stdin"]
                    )
                }
                _ => false,
            },
            Expr::MethodCall(m) if m.method == "lock" && m.args.is_empty() => {
                self.is_std_handle(&m.receiver)
            }
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.std_handles.contains(&i.to_string())),
            Expr::Reference(r) => self.is_std_handle(&r.expr),
            Expr::Paren(p) => self.is_std_handle(&p.expr),
            _ => false,
        }
    }

    fn check_method(&mut self, m: &ExprMethodCall) {
        let name = m.method.to_string();
        let awaited = self.is_awaited(m.span());
        let kind = match name.as_str() {
            "recv_timeout" | "recv_deadline" => Some(Kind::ChannelRecv),
            "blocking_recv" | "blocking_send" | "blocking_lock" | "blocking_read"
            | "blocking_write" => Some(Kind::TokioBlocking),
            _ if awaited => None,
            "recv" if m.args.is_empty() => Some(Kind::ChannelRecv),
            "join" if m.args.is_empty() => Some(Kind::ThreadJoin),
            "wait" | "wait_timeout" | "wait_while" | "wait_until" | "wait_for"
            | "wait_timeout_while" => Some(Kind::Wait),
            "to_socket_addrs" => Some(Kind::Net),
            "execute_batch" | "query_row" | "prepare_cached" | "pragma_update" => {
                Some(Kind::Sqlite)
            }
            "write_all" | "write" | "flush" | "write_fmt" | "read_line" | "read_to_string"
            | "read_to_end"
                if self.is_std_handle(&m.receiver) =>
            {
                Some(Kind::StdIo)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            self.report(m.span(), kind);
        }
    }

    /// Lock guards bound with `let` that are still alive at a later `.await` of the same block.
    fn check_guards(&mut self, block: &Block) {
        for (i, stmt) in block.stmts.iter().enumerate() {
            let Stmt::Local(local) = stmt else { continue };
            let Some(init) = &local.init else { continue };
            if !self.is_guard(&init.expr) {
                continue;
            }
            let name = match &local.pat {
                syn::Pat::Wild(_) => continue, // `let _ = m.lock();` drops at once
                syn::Pat::Ident(p) => Some(p.ident.to_string()),
                syn::Pat::Type(t) => match &*t.pat {
                    syn::Pat::Ident(p) => Some(p.ident.to_string()),
                    _ => None,
                },
                _ => None,
            };
            for later in &block.stmts[i + 1..] {
                if name.as_deref().is_some_and(|n| is_drop_of(later, n)) {
                    break;
                }
                if contains_own_await(later) {
                    self.report(local.span(), Kind::LockAcrossAwait);
                    break;
                }
            }
        }
    }

    /// `m.lock()`, `m.read()`, `m.write()` (no arguments, not awaited), possibly unwrapped.
    fn is_guard(&self, e: &Expr) -> bool {
        match e {
            Expr::Try(t) => self.is_guard(&t.expr),
            Expr::Paren(p) => self.is_guard(&p.expr),
            Expr::MethodCall(m) => match m.method.to_string().as_str() {
                "unwrap" | "expect" | "unwrap_or_else" | "unwrap_or_default" => {
                    self.is_guard(&m.receiver)
                }
                "lock" | "read" | "write" => m.args.is_empty() && !self.is_awaited(m.span()),
                _ => false,
            },
            _ => false,
        }
    }

    /// A guard temporary somewhere in a receiver chain (`m.lock().get(..)`), which lives as long
    /// as the enclosing `match`/`if let`.
    fn has_temp_guard(&self, e: &Expr) -> bool {
        match e {
            Expr::MethodCall(m) => self.is_guard(e) || self.has_temp_guard(&m.receiver),
            Expr::Field(f) => self.has_temp_guard(&f.base),
            Expr::Index(i) => self.has_temp_guard(&i.expr),
            Expr::Try(t) => self.has_temp_guard(&t.expr),
            Expr::Unary(u) => self.has_temp_guard(&u.expr),
            Expr::Reference(r) => self.has_temp_guard(&r.expr),
            Expr::Paren(p) => self.has_temp_guard(&p.expr),
            _ => false,
        }
    }

    fn is_exempt_call(&self, func: &Expr) -> bool {
        let Expr::Path(p) = func else { return false };
        let r = self.resolve(&p.path);
        let last = r.last().map(String::as_str);
        matches!(last, Some("spawn_blocking" | "block_in_place"))
            || r.iter().any(|s| s == "BackgroundSink")
            || (last == Some("spawn") && r.len() >= 2 && r[r.len() - 2] == "thread")
    }

    fn is_exempt_method(&self, m: &ExprMethodCall) -> bool {
        m.method == "spawn_blocking"
            || (m.method == "spawn" && receiver_mentions(&m.receiver, "Builder"))
    }

    /// Visits a macro's arguments when they parse as expressions (`select!` and `join!` get
    /// their own grammar); otherwise scans its tokens.
    fn visit_macro_body(&mut self, mac: &Macro) {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let exprs = match name.as_str() {
            "select" => parse_select.parse2(mac.tokens.clone()).ok().map(|exprs| {
                for (e, is_future) in &exprs {
                    if *is_future {
                        self.awaited.insert(key(e.span()));
                    }
                }
                exprs.into_iter().map(|(e, _)| e).collect::<Vec<_>>()
            }),
            _ => Punctuated::<Expr, Token![,]>::parse_terminated
                .parse2(mac.tokens.clone())
                .ok()
                .map(|p| p.into_iter().collect()),
        };
        let Some(exprs) = exprs else {
            self.scan_tokens(mac.tokens.clone());
            return;
        };
        if matches!(name.as_str(), "join" | "try_join") {
            for e in &exprs {
                self.awaited.insert(key(e.span()));
            }
        }
        if matches!(name.as_str(), "write" | "writeln") {
            if let Some(first) = exprs.first() {
                if self.is_std_handle(first) {
                    self.report(mac.span(), Kind::StdIo);
                }
            }
        }
        for e in &exprs {
            self.visit_expr(e);
        }
    }

    /// Fallback for macro bodies that are not expressions: look for the obvious paths.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, tt) in tts.iter().enumerate() {
            match tt {
                TokenTree::Group(g) => self.scan_tokens(g.stream()),
                TokenTree::Ident(id) => {
                    let next_is_path =
                        matches!(tts.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                    let after = |n: usize| match tts.get(i + n) {
                        Some(TokenTree::Ident(x)) => x.to_string(),
                        _ => String::new(),
                    };
                    let prev_dot =
                        i > 0 && matches!(&tts[i - 1], TokenTree::Punct(p) if p.as_char() == '.');
                    let name = id.to_string();
                    // `fs` imported from elsewhere than std (tokio::fs) is async.
                    let fs_is_std = self
                        .imports
                        .get("fs")
                        .and_then(|p| p.first())
                        .is_none_or(|c| c == "std");
                    let kind = if name == "fs" && next_is_path && fs_is_std {
                        Some(Kind::FileIo)
                    } else if name == "thread" && next_is_path && after(3) == "sleep" {
                        Some(Kind::Sleep)
                    } else if prev_dot && matches!(name.as_str(), "recv_timeout" | "recv_deadline")
                    {
                        Some(Kind::ChannelRecv)
                    } else if prev_dot && name.starts_with("blocking_") {
                        Some(Kind::TokioBlocking)
                    } else {
                        None
                    };
                    if let Some(kind) = kind {
                        self.report(id.span(), kind);
                    }
                }
                _ => {}
            }
        }
    }
}

fn receiver_mentions(e: &Expr, ident: &str) -> bool {
    match e {
        Expr::MethodCall(m) => receiver_mentions(&m.receiver, ident),
        Expr::Call(c) => receiver_mentions(&c.func, ident),
        Expr::Path(p) => p.path.segments.iter().any(|s| s.ident == ident),
        _ => false,
    }
}

fn is_drop_of(stmt: &Stmt, name: &str) -> bool {
    let Stmt::Expr(Expr::Call(c), _) = stmt else {
        return false;
    };
    let Expr::Path(f) = &*c.func else {
        return false;
    };
    f.path.segments.last().is_some_and(|s| s.ident == "drop")
        && c.args.len() == 1
        && matches!(&c.args[0], Expr::Path(a) if a.path.is_ident(name))
}

/// True if `node` awaits in the current async body (not in nested async blocks or closures).
fn contains_own_await<T: AwaitSearch>(node: &T) -> bool {
    let mut f = AwaitFinder { found: false };
    node.search(&mut f);
    f.found
}

trait AwaitSearch {
    fn search(&self, f: &mut AwaitFinder);
}

impl AwaitSearch for Stmt {
    fn search(&self, f: &mut AwaitFinder) {
        f.visit_stmt(self);
    }
}

impl AwaitSearch for Expr {
    fn search(&self, f: &mut AwaitFinder) {
        f.visit_expr(self);
    }
}

impl AwaitSearch for Block {
    fn search(&self, f: &mut AwaitFinder) {
        f.visit_block(self);
    }
}

struct AwaitFinder {
    found: bool,
}

impl<'ast> Visit<'ast> for AwaitFinder {
    fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
        self.found = true;
    }
    fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_macro(&mut self, mac: &'ast Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        if matches!(name.as_deref(), Some("select" | "join" | "try_join"))
            || tokens_contain_await(mac.tokens.clone())
        {
            self.found = true;
        }
    }
}

fn tokens_contain_await(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == "await",
        TokenTree::Group(g) => tokens_contain_await(g.stream()),
        _ => false,
    })
}

/// `tokio::select!` branches: `[biased;] pat = future [, if cond] => handler [,]` and
/// `else => handler`. Returns every expression, flagged `true` for the futures.
fn parse_select(input: ParseStream) -> syn::Result<Vec<(Expr, bool)>> {
    let mut out = Vec::new();
    if input.peek(syn::Ident) && input.fork().parse::<syn::Ident>()? == "biased" {
        input.parse::<syn::Ident>()?;
        input.parse::<Token![;]>()?;
    }
    while !input.is_empty() {
        if input.peek(Token![else]) {
            input.parse::<Token![else]>()?;
        } else {
            syn::Pat::parse_single(input)?;
            input.parse::<Token![=]>()?;
            out.push((input.call(Expr::parse_without_eager_brace)?, true));
            if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                out.push((input.call(Expr::parse_without_eager_brace)?, false));
            }
        }
        input.parse::<Token![=>]>()?;
        let handler: Expr = input.parse()?;
        let is_block = matches!(handler, Expr::Block(_));
        out.push((handler, false));
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        } else if !is_block && !input.is_empty() {
            return Err(input.error("expected `,` after select! branch"));
        }
    }
    Ok(out)
}

impl<'ast> Visit<'ast> for Scanner<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let ctx = if f.sig.asyncness.is_some() {
            Ctx::Async
        } else {
            Ctx::Sync
        };
        self.with_ctx(ctx, |s| visit::visit_item_fn(s, f));
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        let ctx = if f.sig.asyncness.is_some() {
            Ctx::Async
        } else {
            Ctx::Sync
        };
        self.with_ctx(ctx, |s| visit::visit_impl_item_fn(s, f));
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        let ctx = if f.sig.asyncness.is_some() {
            Ctx::Async
        } else {
            Ctx::Sync
        };
        self.with_ctx(ctx, |s| visit::visit_trait_item_fn(s, f));
    }

    fn visit_expr_async(&mut self, e: &'ast syn::ExprAsync) {
        self.with_ctx(Ctx::Async, |s| visit::visit_expr_async(s, e));
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        // A plain closure inherits the context it is written in (exempt calls push `Sync`).
        let ctx = if c.asyncness.is_some() {
            Ctx::Async
        } else {
            self.ctx.last().copied().unwrap_or(Ctx::Sync)
        };
        self.with_ctx(ctx, |s| visit::visit_expr_closure(s, c));
    }

    fn visit_expr_await(&mut self, e: &'ast syn::ExprAwait) {
        self.awaited.insert(key(e.base.span()));
        match &*e.base {
            Expr::Call(c) => {
                for a in &c.args {
                    self.awaited.insert(key(a.span()));
                }
            }
            Expr::MethodCall(m) => {
                for a in &m.args {
                    self.awaited.insert(key(a.span()));
                }
            }
            _ => {}
        }
        visit::visit_expr_await(self, e);
    }

    fn visit_expr_call(&mut self, c: &'ast ExprCall) {
        if self.in_async() && !self.is_awaited(c.span()) {
            if let Expr::Path(p) = &*c.func {
                let path = self.resolve(&p.path);
                self.check_call_path(c, &path);
            }
        }
        if self.is_exempt_call(&c.func) {
            self.visit_expr(&c.func);
            self.with_ctx(Ctx::Sync, |s| {
                for a in &c.args {
                    s.visit_expr(a);
                }
            });
        } else {
            visit::visit_expr_call(self, c);
        }
    }

    fn visit_expr_method_call(&mut self, m: &'ast ExprMethodCall) {
        if self.in_async() {
            self.check_method(m);
        }
        if self.is_exempt_method(m) {
            self.visit_expr(&m.receiver);
            self.with_ctx(Ctx::Sync, |s| {
                for a in &m.args {
                    s.visit_expr(a);
                }
            });
        } else {
            visit::visit_expr_method_call(self, m);
        }
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let (Some(init), syn::Pat::Ident(p)) = (&l.init, &l.pat) {
            if self.is_std_handle(&init.expr) {
                self.std_handles.insert(p.ident.to_string());
            }
        }
        visit::visit_local(self, l);
    }

    fn visit_block(&mut self, b: &'ast Block) {
        if self.in_async() {
            self.check_guards(b);
        }
        visit::visit_block(self, b);
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        if self.in_async()
            && self.has_temp_guard(&m.expr)
            && m.arms.iter().any(|a| contains_own_await(&*a.body))
        {
            self.report(m.expr.span(), Kind::LockAcrossAwait);
        }
        visit::visit_expr_match(self, m);
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        if let Expr::Let(l) = &*e.cond {
            if self.in_async() && self.has_temp_guard(&l.expr) && contains_own_await(&e.then_branch)
            {
                self.report(l.expr.span(), Kind::LockAcrossAwait);
            }
        }
        visit::visit_expr_if(self, e);
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        if let Expr::Let(l) = &*e.cond {
            if self.in_async() && self.has_temp_guard(&l.expr) && contains_own_await(&e.body) {
                self.report(l.expr.span(), Kind::LockAcrossAwait);
            }
        }
        visit::visit_expr_while(self, e);
    }

    fn visit_macro(&mut self, mac: &'ast Macro) {
        if self.in_async() {
            self.visit_macro_body(mac);
        }
    }
}

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
