//! [`Scanner`]: walks a file's syntax tree, tracking whether it is inside async code, and records
//! blocking calls found there.

use super::awaits::*;
use super::*;

pub(super) struct Scanner<'a> {
    pub(super) imports: HashMap<String, Vec<String>>,
    pub(super) lines: &'a [&'a str],
    pub(super) ctx: Vec<Ctx>,
    /// Expressions that are awaited (directly, as arguments of an awaited call, or as the
    /// futures of `select!`/`join!`).
    pub(super) awaited: HashSet<SpanKey>,
    /// Local names bound to std stdout/stderr/stdin handles.
    pub(super) std_handles: HashSet<String>,
    /// Local names and parameters bound to blocking std I/O objects (a `std::fs::File`, a
    /// `std::io::BufWriter`/`BufReader`/`LineWriter`, a `std::net::TcpStream`).
    pub(super) io_handles: HashSet<String>,
    /// Local names bound to a `Command` being built.
    pub(super) commands: HashSet<String>,
    pub(super) findings: Vec<Finding>,
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
    pub(super) fn resolve(&self, path: &syn::Path) -> Vec<String> {
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
            ["std", "thread", "sleep" | "park" | "park_timeout"]
            | ["thread", "sleep" | "park" | "park_timeout"] => Some(Kind::Sleep),
            ["std", "io", "read_to_string"] | ["io", "read_to_string"] => Some(Kind::BlockingIo),
            [.., "block_on"] => Some(Kind::BlockOn),
            ["reqwest", "blocking", ..] | ["ureq", ..] | ["postgres", ..] => {
                Some(Kind::BlockingClient)
            }
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
            "block_on" => Some(Kind::BlockOn),
            "get_connection" | "get_connection_with_timeout" => Some(Kind::BlockingClient),
            "status" | "output"
                if m.args.is_empty()
                    && (receiver_mentions(&m.receiver, "Command")
                        || self.is_named(&m.receiver, &self.commands)) =>
            {
                Some(Kind::Process)
            }
            "write_all" | "write" | "flush" | "write_fmt" | "read_line" | "read_to_string"
            | "read_to_end" | "read_exact" | "read" | "sync_all" | "sync_data"
                if self.is_named(&m.receiver, &self.io_handles) =>
            {
                Some(Kind::BlockingIo)
            }
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

    /// `m.lock()`, `m.read()`, `m.write()`, their `try_` forms (no arguments, not awaited),
    /// possibly unwrapped or recovered from poisoning with a `match`.
    fn is_guard(&self, e: &Expr) -> bool {
        match e {
            Expr::Try(t) => self.is_guard(&t.expr),
            Expr::Paren(p) => self.is_guard(&p.expr),
            Expr::MethodCall(m) => match m.method.to_string().as_str() {
                "unwrap" | "expect" | "unwrap_or_else" | "unwrap_or_default" | "ok" => {
                    self.is_guard(&m.receiver)
                }
                "lock" | "read" | "write" | "try_lock" | "try_read" | "try_write" => {
                    m.args.is_empty() && !self.is_awaited(m.span())
                }
                _ => false,
            },
            // Poison recovery: `match m.lock() { Ok(g) => g, Err(p) => p.into_inner() }`.
            Expr::Match(mm) => self.is_guard(&mm.expr),
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
                } else if self.is_named(first, &self.io_handles) {
                    self.report(mac.span(), Kind::BlockingIo);
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

impl<'ast> Visit<'ast> for Scanner<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        let ctx = if f.sig.asyncness.is_some() {
            Ctx::Async
        } else {
            Ctx::Sync
        };
        if ctx == Ctx::Async {
            self.note_io_params(f.sig.inputs.iter());
        }
        self.with_ctx(ctx, |s| visit::visit_item_fn(s, f));
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        let ctx = if f.sig.asyncness.is_some() {
            Ctx::Async
        } else {
            Ctx::Sync
        };
        if ctx == Ctx::Async {
            self.note_io_params(f.sig.inputs.iter());
        }
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
            // `m.lock().push(f().await)`: the guard temporary lives to the end of the
            // statement, so across the await in the arguments.
            if self.has_temp_guard(&m.receiver) && m.args.iter().any(contains_own_await) {
                self.report(m.span(), Kind::LockAcrossAwait);
            }
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
            if self.in_async() && self.is_io_source(&init.expr) {
                self.io_handles.insert(p.ident.to_string());
            }
            if self.in_async()
                && receiver_mentions(&init.expr, "Command")
                && !self.is_awaited(init.expr.span())
            {
                self.commands.insert(p.ident.to_string());
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
