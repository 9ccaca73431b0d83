//! Built-in components: sources, transforms and taps, registered in one table each.
//!
//! Each component is one file holding its config struct, its validation and its runtime (the
//! shape of Vector's `src/sources/*`): find a config `kind` and its parser, checks and behaviour
//! are one hop away. [`SOURCES`], [`TRANSFORMS`] and [`TAPS`] are the only lists; `aimdbd types`
//! and config validation both read them.

mod contract;
pub(crate) mod sources;
pub(crate) mod table;
pub(crate) mod taps;
pub(crate) mod transforms;

pub(crate) use contract::{
    registrar, AttachError, Env, InputDoc, ParamDoc, SourceInstance, SourceKind, TapEvent, TapFeed,
    TapInstance, TapKind, TransformInstance, TransformKind,
};
pub(crate) use table::ComponentTable;

/// Every built-in source.
pub(crate) static SOURCES: &[&SourceKind] = &[&sources::simulate::KIND, &sources::heartbeat::KIND];

/// Every built-in transform.
pub(crate) static TRANSFORMS: &[&TransformKind] = &[
    &transforms::threshold::KIND,
    &transforms::moving_average::KIND,
    &transforms::dew_point::KIND,
];

/// Every built-in tap.
pub(crate) static TAPS: &[&TapKind] = &[&taps::log::KIND];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique_and_types_are_known() {
        let kinds: Vec<&str> = SOURCES
            .iter()
            .map(|k| k.kind)
            .chain(TRANSFORMS.iter().map(|k| k.kind))
            .chain(TAPS.iter().map(|k| k.kind))
            .collect();
        for (i, k) in kinds.iter().enumerate() {
            assert!(!kinds[i + 1..].contains(k), "{k} twice");
        }
        let known = |t: &str| crate::record_types::lookup(t).is_some();
        assert!(SOURCES
            .iter()
            .all(|s| s.output_types.iter().all(|t| known(t))));
        assert!(TRANSFORMS
            .iter()
            .all(|t| known(t.output_type) && t.inputs.iter().all(|i| known(i.ty))));
        let from_records = aimdb_records::transforms::TRANSFORM_KINDS;
        assert!(from_records
            .iter()
            .all(|k| TRANSFORMS.iter().any(|t| t.kind == *k)));
    }
}
