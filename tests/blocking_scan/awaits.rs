//! Where `.await` happens: whether a statement or expression awaits, and the futures of
//! `select!`/`join!` macros.

use super::*;

pub(super) fn receiver_mentions(e: &Expr, ident: &str) -> bool {
    match e {
        Expr::MethodCall(m) => receiver_mentions(&m.receiver, ident),
        Expr::Call(c) => receiver_mentions(&c.func, ident),
        Expr::Path(p) => p.path.segments.iter().any(|s| s.ident == ident),
        _ => false,
    }
}

pub(super) fn is_drop_of(stmt: &Stmt, name: &str) -> bool {
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
pub(super) fn contains_own_await<T: AwaitSearch>(node: &T) -> bool {
    let mut f = AwaitFinder { found: false };
    node.search(&mut f);
    f.found
}

pub(super) trait AwaitSearch {
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

pub(super) struct AwaitFinder {
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

pub(super) fn tokens_contain_await(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => i == "await",
        TokenTree::Group(g) => tokens_contain_await(g.stream()),
        _ => false,
    })
}

/// `tokio::select!` branches: `[biased;] pat = future [, if cond] => handler [,]` and
/// `else => handler`. Returns every expression, flagged `true` for the futures.
pub(super) fn parse_select(input: ParseStream) -> syn::Result<Vec<(Expr, bool)>> {
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
