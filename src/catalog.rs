//! [`Catalog`]: what a config may name — the record types and the built-in sources, transforms
//! and taps. The engine says which it runs ([`crate::engine::catalog`]) and hands that to the
//! config loader (`config::parse`, `config::load`), which resolves every `type` and `kind`
//! against it; the loader keeps no list of its own.

use crate::components::{SourceKind, TapKind, TransformKind};
use crate::record_types::TypeEntry;

/// The names a config is checked against, each with what it stands for.
#[derive(Clone, Copy)]
pub struct Catalog {
    pub(crate) types: &'static [TypeEntry],
    pub(crate) sources: &'static [&'static SourceKind],
    pub(crate) transforms: &'static [&'static TransformKind],
    pub(crate) taps: &'static [&'static TapKind],
}

impl Catalog {
    /// The record type named `name` (a config's `type = "..."`).
    pub(crate) fn ty(&self, name: &str) -> Option<&'static TypeEntry> {
        self.types.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config, engine};

    const TEXT: &str = r#"
[node]
id = "gw-1"

[[record]]
key = "sensor.temp"
type = "Temperature"
buffer = { kind = "single_latest" }
source = { kind = "simulate", period_ms = 100 }
"#;

    #[test]
    fn a_config_is_checked_against_the_catalog_it_is_given() {
        assert!(config::parse("c.toml", TEXT, engine::catalog()).is_ok());
        let no_sources = Catalog {
            sources: &[],
            ..*engine::catalog()
        };
        let err = config::parse("c.toml", TEXT, &no_sources)
            .expect_err("no source kinds")
            .to_string();
        assert!(
            err.contains("c.toml:9:19: record \"sensor.temp\": unknown source kind \"simulate\""),
            "{err}"
        );
        let no_types = Catalog {
            types: &[],
            ..*engine::catalog()
        };
        let err = config::parse("c.toml", TEXT, &no_types)
            .expect_err("no types")
            .to_string();
        assert!(err.contains("unknown type \"Temperature\""), "{err}");
    }
}
