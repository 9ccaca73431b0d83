//! The layering rule, enforced: no import cycles between the files of the daemon (`src/`).
//!
//! A file depends on another when it uses an item defined there: through a private `use`, or a
//! `crate::…`/`super::…`/`self::…`/child-module path in code or in a macro's tokens. Paths are
//! followed through re-exports (`pub use`, `pub(crate) use`) to the file that defines the item,
//! so a `mod.rs` that re-exports its children is a facade, not a dependency; `mod x;` is none
//! either. `#[cfg(test)]` items are left out: a test may use what it tests from anywhere.
//!
//! The test fails with every cycle, each as the files in it and the uses that close it, so a
//! fix can start at the right line. docs/ARCHITECTURE.md draws the layers this keeps.
//!
//! It is a syntactic check: it does not expand macros (their tokens are scanned for paths) and
//! resolves names the way the module tree spells them, without types (`Type::method` is a use
//! of the file defining `Type`). Unit tests below pin what it finds on small trees.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module path from the crate root (`["mqtt", "session"]`).
type ModPath = Vec<String>;

/// One module: the file it lives in, what it defines, what it imports.
#[derive(Default)]
struct Module {
    file: String,
    /// Names of items defined here (functions, types, traits, consts, macros, ...).
    defs: BTreeSet<String>,
    /// Child modules, by name.
    children: BTreeSet<String>,
    /// `name → path` of every `use` (private or re-export), `*` entries as globs.
    imports: BTreeMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

/// A use of a path by a file, before resolution.
struct UseSite {
    module: ModPath,
    path: Vec<String>,
    line: usize,
}

/// The module tree and every use of it.
#[derive(Default)]
struct Crate {
    modules: BTreeMap<ModPath, Module>,
    uses: Vec<UseSite>,
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .map(|m| m.path().is_ident("test"))
                .unwrap_or(false)
    })
}

/// Flattens a use tree into `(local name or "*", full path)` pairs.
fn flatten(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                if let Some(last) = prefix.last() {
                    out.push((last.clone(), prefix.clone()));
                }
            } else {
                let mut full = prefix.clone();
                full.push(name.clone());
                out.push((name, full));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.push((r.rename.to_string(), full));
        }
        syn::UseTree::Glob(_) => out.push(("*".into(), prefix.clone())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix, out);
            }
        }
    }
}

/// Collects the paths used in code (not in `use` items, which are read separately).
struct PathUses<'a> {
    module: &'a ModPath,
    out: &'a mut Vec<UseSite>,
}

impl PathUses<'_> {
    fn push(&mut self, path: Vec<String>, line: usize) {
        self.out.push(UseSite {
            module: self.module.clone(),
            path,
            line,
        });
    }

    /// `crate :: a :: b` (and `super`/`self`) sequences in a macro's tokens.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < tts.len() {
            if let TokenTree::Group(g) = &tts[i] {
                self.scan_tokens(g.stream());
                i += 1;
                continue;
            }
            let TokenTree::Ident(id) = &tts[i] else {
                i += 1;
                continue;
            };
            let head = id.to_string();
            if !matches!(head.as_str(), "crate" | "super" | "self") {
                i += 1;
                continue;
            }
            let line = id.span().start().line;
            let mut path = vec![head];
            let mut j = i + 1;
            while j + 2 < tts.len() + 1 {
                let colons = matches!(
                    (&tts.get(j), &tts.get(j + 1)),
                    (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                        if a.as_char() == ':' && b.as_char() == ':'
                );
                match (colons, tts.get(j + 2)) {
                    (true, Some(TokenTree::Ident(next))) => {
                        path.push(next.to_string());
                        j += 3;
                    }
                    _ => break,
                }
            }
            if path.len() > 1 {
                self.push(path, line);
            }
            i = j;
        }
    }
}

impl<'ast> Visit<'ast> for PathUses<'_> {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() && p.segments.len() > 1 {
            let path = p.segments.iter().map(|s| s.ident.to_string()).collect();
            let line = p
                .segments
                .first()
                .map_or(0, |s| s.ident.span().start().line);
            self.push(path, line);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.scan_tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

impl Crate {
    /// Reads the items of one module (a file, or an inline `mod { }` in one).
    fn add_items(&mut self, module: ModPath, file: &str, items: &[syn::Item]) {
        let mut m = Module {
            file: file.to_string(),
            ..Module::default()
        };
        let mut inline = Vec::new();
        for item in items {
            let (attrs, name): (&[syn::Attribute], Option<String>) = match item {
                syn::Item::Const(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Enum(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Fn(i) => (&i.attrs, Some(i.sig.ident.to_string())),
                syn::Item::Macro(i) => (&i.attrs, i.ident.as_ref().map(ToString::to_string)),
                syn::Item::Static(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Struct(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Trait(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Type(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Union(i) => (&i.attrs, Some(i.ident.to_string())),
                syn::Item::Impl(i) => (&i.attrs, None),
                syn::Item::Mod(i) => (&i.attrs, None),
                syn::Item::Use(i) => (&i.attrs, None),
                _ => (&[], None),
            };
            if is_test_only(attrs) {
                continue;
            }
            if let Some(name) = name {
                m.defs.insert(name);
            }
            match item {
                syn::Item::Mod(i) => {
                    m.children.insert(i.ident.to_string());
                    if let Some((_, items)) = &i.content {
                        let mut child = module.clone();
                        child.push(i.ident.to_string());
                        inline.push((child, items.clone()));
                    }
                }
                syn::Item::Use(u) => {
                    let mut pairs = Vec::new();
                    flatten(&u.tree, &mut Vec::new(), &mut pairs);
                    let private = matches!(u.vis, syn::Visibility::Inherited);
                    let line = u.use_token.span.start().line;
                    for (name, path) in pairs {
                        if private {
                            self.uses.push(UseSite {
                                module: module.clone(),
                                path: path.clone(),
                                line,
                            });
                        }
                        if name == "*" {
                            m.globs.push(path);
                        } else {
                            m.imports.insert(name, path);
                        }
                    }
                }
                _ => {
                    let mut v = PathUses {
                        module: &module,
                        out: &mut self.uses,
                    };
                    v.visit_item(item);
                }
            }
        }
        self.modules.insert(module, m);
        for (child, items) in inline {
            self.add_items(child, file, &items);
        }
    }

    /// The module a path's first segment starts from, and the rest of the path; `None` for a
    /// path outside the crate (another crate, a local variable, a type parameter).
    fn start<'p>(&self, from: &ModPath, path: &'p [String]) -> Option<(ModPath, &'p [String])> {
        let first = path.first()?;
        match first.as_str() {
            "crate" => Some((Vec::new(), &path[1..])),
            "self" => Some((from.clone(), &path[1..])),
            "super" => {
                let mut at = from.clone();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    at.pop();
                    rest = &rest[1..];
                }
                Some((at, rest))
            }
            name => {
                let m = self.modules.get(from)?;
                (m.children.contains(name) || m.defs.contains(name) || m.imports.contains_key(name))
                    .then(|| (from.clone(), path))
            }
        }
    }

    /// The file that defines what `path`, used in module `from`, names.
    fn resolve(&self, from: &ModPath, path: &[String], depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        let (mut at, rest) = self.start(from, path)?;
        for (i, seg) in rest.iter().enumerate() {
            let m = self.modules.get(&at)?;
            let last = i + 1 == rest.len();
            if m.children.contains(seg) {
                at.push(seg.clone());
                if last {
                    return self.modules.get(&at).map(|c| c.file.clone());
                }
                continue;
            }
            if m.defs.contains(seg) {
                // An item, or a path into one (`Type::method`, `Enum::Variant`).
                return Some(m.file.clone());
            }
            if let Some(target) = m.imports.get(seg) {
                let mut full = target.clone();
                full.extend_from_slice(&rest[i + 1..]);
                return self.resolve(&at, &full, depth + 1);
            }
            for glob in &m.globs {
                let mut full = glob.clone();
                full.extend_from_slice(&rest[i..]);
                if let Some(f) = self.resolve(&at, &full, depth + 1) {
                    return Some(f);
                }
            }
            // Not found by name (macro-made, or a path into an external type): stop here.
            return (i > 0).then(|| m.file.clone());
        }
        self.modules.get(&at).map(|m| m.file.clone())
    }

    /// File → (file it uses → the first line that uses it).
    fn edges(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        let mut edges: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for m in self.modules.values() {
            edges.entry(m.file.clone()).or_default();
        }
        for u in &self.uses {
            let Some(from) = self.modules.get(&u.module).map(|m| m.file.clone()) else {
                continue;
            };
            let Some(to) = self.resolve(&u.module, &u.path, 0) else {
                continue;
            };
            if to != from {
                edges.entry(from).or_default().entry(to).or_insert(u.line);
            }
        }
        edges
    }
}

/// The strongly connected components with more than one file (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeMap<String, usize>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, usize>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(next) = s.edges.get(v) {
            for w in next.keys() {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(lw));
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low[v];
                    s.low.insert(v, lv.min(iw));
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// Parses a crate given as `(module path, file name, source)`; `Err` names a file that does
/// not parse.
fn parse(files: &[(ModPath, String, String)]) -> Result<Crate, String> {
    let mut krate = Crate::default();
    for (module, file, src) in files {
        let ast = syn::parse_file(src).map_err(|e| format!("{file}: cannot parse: {e}"))?;
        krate.add_items(module.clone(), file, &ast.items);
    }
    Ok(krate)
}

/// A readable report of the cycles: the files of each, and the uses between them.
fn report(edges: &BTreeMap<String, BTreeMap<String, usize>>, cycles: &[Vec<String>]) -> String {
    let mut out = String::new();
    for c in cycles {
        out.push_str(&format!("\n{} files:\n", c.len()));
        for from in c {
            for (to, line) in &edges[from] {
                if c.contains(to) {
                    out.push_str(&format!("  {from}:{line} uses {to}\n"));
                }
            }
        }
    }
    out
}

/// The daemon's modules: every `.rs` under `src/` but `main.rs` (a crate of its own).
fn daemon_files(src: &Path) -> Vec<(ModPath, String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let Ok(rel) = path.strip_prefix(src) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            let Some(stem) = rel.strip_suffix(".rs") else {
                continue;
            };
            if stem == "main" {
                continue;
            }
            let mut module: ModPath = stem.split('/').map(String::from).collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let src = std::fs::read_to_string(&path).unwrap_or_default();
            out.push((module, format!("src/{rel}"), src));
        }
    }
    out.sort();
    out
}

#[test]
fn the_daemon_has_no_import_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = daemon_files(&src);
    assert!(
        files.iter().any(|(_, f, _)| f == "src/lib.rs") && files.len() > 50,
        "the walk found too few of the daemon's files under {}",
        src.display()
    );
    let krate = parse(&files).unwrap_or_else(|e| panic!("{e}"));
    let edges = krate.edges();
    let found = cycles(&edges);
    let in_cycles: usize = found.iter().map(Vec::len).sum();
    assert!(
        found.is_empty(),
        "{in_cycles} of {} files in src/ are in {} import cycle(s):\n{}\n\
         Move what both sides share into a lower module (see the layers in \
         docs/ARCHITECTURE.md), or pass it in from the layer above.",
        files.len(),
        found.len(),
        report(&edges, &found)
    );
}

#[cfg(test)]
mod tree {
    use super::*;

    fn krate(files: &[(&str, &str)]) -> BTreeMap<String, BTreeMap<String, usize>> {
        let files: Vec<_> = files
            .iter()
            .map(|(f, s)| {
                let stem = f.trim_end_matches(".rs");
                let mut m: ModPath = stem.split('/').map(String::from).collect();
                if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
                    m.pop();
                }
                (m, (*f).to_string(), (*s).to_string())
            })
            .collect();
        match parse(&files) {
            Ok(k) => k.edges(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn finds_a_cycle_of_two_files() {
        let e = krate(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            ("b.rs", "pub struct B; fn f() -> crate::a::A { todo!() }"),
        ]);
        assert_eq!(cycles(&e), vec![vec!["a.rs".to_string(), "b.rs".into()]]);
    }

    #[test]
    fn follows_re_exports_to_the_defining_file() {
        // `b` uses `a::X` through the facade `a/mod.rs`, which re-exports it from `a/x.rs`;
        // `a/y.rs` uses `b`. No cycle: `a/x.rs` does not use `b`.
        let e = krate(&[
            ("lib.rs", "mod a; mod b;"),
            (
                "a/mod.rs",
                "mod x; mod y; pub use x::X; pub(crate) use y::Y;",
            ),
            ("a/x.rs", "pub struct X;"),
            ("a/y.rs", "pub struct Y(crate::b::B);"),
            ("b.rs", "use crate::a::X; pub struct B(X);"),
        ]);
        assert!(cycles(&e).is_empty(), "{e:?}");
        assert!(e["b.rs"].contains_key("a/x.rs"), "{e:?}");
        assert!(
            !e["a/mod.rs"].contains_key("a/x.rs"),
            "a re-export is no use: {e:?}"
        );
    }

    #[test]
    fn sees_super_child_and_macro_paths_and_skips_tests() {
        let e = krate(&[
            ("lib.rs", "mod m; mod n;"),
            (
                "m/mod.rs",
                "mod c; fn f() { c::g(); } macro_rules! k { () => { crate::n::N }; }",
            ),
            ("m/c.rs", "pub fn g() { super::super::n::h(); }"),
            (
                "n.rs",
                "pub struct N; pub fn h() {} #[cfg(test)] mod tests { use crate::m::c::g; }",
            ),
        ]);
        assert!(e["m/mod.rs"].contains_key("m/c.rs"), "{e:?}");
        assert!(e["m/mod.rs"].contains_key("n.rs"), "{e:?}");
        assert!(e["m/c.rs"].contains_key("n.rs"), "{e:?}");
        assert!(e["n.rs"].is_empty(), "test code is left out: {e:?}");
    }

    #[test]
    fn a_private_use_in_a_facade_is_a_use() {
        let e = krate(&[
            ("lib.rs", "mod a;"),
            ("a/mod.rs", "mod x; use x::X; pub struct Top; fn f(_: X) {}"),
            ("a/x.rs", "pub struct X(super::Top);"),
        ]);
        assert_eq!(
            cycles(&e),
            vec![vec!["a/mod.rs".to_string(), "a/x.rs".into()]]
        );
    }
}
