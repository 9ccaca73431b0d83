//! Blocking std I/O objects: which expressions make one and which parameters are one, so that
//! their `Write`/`Read` methods are reported in async code.

use super::visitor::Scanner;
use super::*;

impl Scanner<'_> {
    /// A local or parameter named in `names` (possibly borrowed or parenthesised).
    pub(super) fn is_named(&self, e: &Expr, names: &HashSet<String>) -> bool {
        match e {
            Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| names.contains(&i.to_string())),
            Expr::Reference(r) => self.is_named(&r.expr, names),
            Expr::Paren(p) => self.is_named(&p.expr, names),
            Expr::Unary(u) => self.is_named(&u.expr, names),
            _ => false,
        }
    }

    /// A resolved path naming a blocking std I/O type, or a constructor of one.
    pub(super) fn is_std_io_path(path: &[String]) -> bool {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        matches!(
            p.as_slice(),
            ["std", "fs", "File" | "OpenOptions", ..]
                | ["fs", "File" | "OpenOptions", ..]
                | ["std", "io", "BufWriter" | "BufReader" | "LineWriter", ..]
                | ["std", "net", "TcpStream" | "UdpSocket" | "UnixStream", ..]
                | ["std", "os", "unix", "net", "UnixStream", ..]
        )
    }

    /// An expression that makes a blocking std I/O object (not awaited): `File::create(..)`,
    /// `OpenOptions::new()..open(..)`, `BufWriter::new(..)`, `TcpStream::connect(..)`, possibly
    /// unwrapped.
    pub(super) fn is_io_source(&self, e: &Expr) -> bool {
        match e {
            Expr::Try(t) => self.is_io_source(&t.expr),
            Expr::Paren(p) => self.is_io_source(&p.expr),
            Expr::MethodCall(m) => {
                matches!(
                    m.method.to_string().as_str(),
                    "unwrap" | "expect" | "unwrap_or_else" | "open"
                ) && self.is_io_source(&m.receiver)
            }
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => {
                    let r = self.resolve(&p.path);
                    Self::is_std_io_path(&r)
                        || matches!(r.first().map(String::as_str), Some("File"))
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// A parameter type naming a blocking std I/O object (through references).
    pub(super) fn is_io_type(&self, ty: &syn::Type) -> bool {
        match ty {
            syn::Type::Reference(r) => self.is_io_type(&r.elem),
            syn::Type::Paren(p) => self.is_io_type(&p.elem),
            syn::Type::Path(p) => Self::is_std_io_path(&self.resolve(&p.path)),
            _ => false,
        }
    }

    /// Records the parameters of an async fn that are blocking std I/O objects.
    pub(super) fn note_io_params<'p>(&mut self, inputs: impl Iterator<Item = &'p syn::FnArg>) {
        for arg in inputs {
            let syn::FnArg::Typed(t) = arg else { continue };
            if let syn::Pat::Ident(p) = &*t.pat {
                if self.is_io_type(&t.ty) {
                    self.io_handles.insert(p.ident.to_string());
                }
            }
        }
    }
}
