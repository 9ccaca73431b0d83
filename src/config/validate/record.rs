//! One `[[record]]` on its own: key, type, buffer, writer, taps, links; the history fields are
//! checked in `store.rs`.

use std::ops::Range;

use aimdb_core::BufferCfg;
use toml::{Spanned, Table};

use super::super::raw::{RawBuffer, RawLink, RawRecord};
use super::super::{
    closest, Problem, RecordConfig, SourceConfig, TapConfig, TransformConfig, Writer,
};
use super::links;
use crate::catalog::Catalog;
use crate::components::ComponentTable;
use crate::record_types::TypeEntry;

/// Largest ring a config may ask for.
const MAX_CAPACITY: i64 = super::super::ranges::RING_CAPACITY.1;

/// A transform input as written.
pub(super) struct InputUse {
    /// The config field (`input`, `temperature`, ...).
    pub(crate) field: &'static str,
    /// The key it names.
    pub(crate) key: String,
    /// Where the key is written.
    pub(crate) span: Range<usize>,
    /// The type the transform expects.
    pub(crate) expected: &'static str,
    /// The transform's kind.
    pub(crate) kind: &'static str,
}

/// What the graph pass needs of one record, even a broken one.
pub(super) struct Checked {
    pub(crate) key: String,
    pub(crate) key_span: Range<usize>,
    /// Its type (`None`: unknown, reported with the record).
    pub(crate) ty: Option<&'static TypeEntry>,
    pub(crate) inputs: Vec<InputUse>,
    /// `None` if the record itself has problems.
    pub(crate) config: Option<RecordConfig>,
}

/// Checks one record; problems are pushed, and what could be understood is returned.
pub(super) fn record(
    raw: &Spanned<RawRecord>,
    node_id: &str,
    text: &str,
    catalog: &Catalog,
    have_store: bool,
    problems: &mut Vec<Problem>,
) -> Checked {
    let r = raw.get_ref();
    let key = r.key.get_ref().clone();
    let before = problems.len();
    let mut push = |p: Problem| problems.push(p.in_record(&key));

    check_key(&r.key, &mut push);
    let entry = resolve_type(&r.type_name, catalog, &mut push);
    let buffer = buffer(r.buffer.as_ref(), &mut push);
    let out = Output {
        entry,
        type_name: r.type_name.get_ref(),
    };
    let source = r
        .source
        .as_ref()
        .and_then(|s| source(s, text, catalog, &out, &mut push));
    let (transform, inputs) = match &r.transform {
        Some(t) => transform(t, text, catalog, &out, &mut push),
        None => (None, Vec::new()),
    };
    check_one_writer(r, &mut push);
    let taps = taps(r, text, catalog, &mut push);
    let postcard_ok = entry.is_none_or(|e| e.postcard);
    let fields = entry.map_or(&[][..], |e| (e.fields)());
    let mut links = |list: &[Spanned<RawLink>], dir| -> Vec<_> {
        list.iter()
            .filter_map(|l| links::link(l, (node_id, &key), dir, postcard_ok, fields, &mut push))
            .collect()
    };
    let links_to = links(&r.link_to, links::Direction::To);
    let links_from = links(&r.link_from, links::Direction::From);
    let history = super::store::record_fields(r, buffer, have_store, &mut push);
    let ok = problems.len() == before;
    let config = match (ok, entry, buffer) {
        (true, Some(entry), Some(buffer)) => Some(RecordConfig {
            key: key.clone(),
            ty: entry,
            buffer,
            writer: source.or(transform),
            taps,
            links_to,
            links_from,
            persist: history.persist,
            retention: history.retention,
            max_rows: history.max_rows,
            restore: history.restore,
        }),
        _ => None,
    };
    Checked {
        key,
        key_span: r.key.span(),
        ty: entry,
        inputs,
        config,
    }
}

/// The key: one MQTT topic level.
fn check_key(key: &Spanned<String>, push: &mut impl FnMut(Problem)) {
    match aimdb_records::topic::validate_key(key.get_ref()) {
        Ok(()) => {}
        Err(e @ aimdb_records::topic::TopicError::ContainsControl { .. }) => push(
            Problem::at(key.span(), format!("invalid key: {e}")).with_hint(links::CONTROL_HINT),
        ),
        Err(e) => push(Problem::at(key.span(), format!("invalid key: {e}")).with_hint(
            "keys are one MQTT topic level: non-empty, no '/', '+', '#', not \"cmd\" or \"status\"",
        )),
    }
}

/// `type = "..."` resolved to its entry, or a problem with a did-you-mean.
fn resolve_type(
    type_name: &Spanned<String>,
    catalog: &Catalog,
    push: &mut impl FnMut(Problem),
) -> Option<&'static TypeEntry> {
    let name = type_name.get_ref();
    let entry = catalog.ty(name);
    if entry.is_none() {
        let names = catalog.types.iter().map(|t| t.name);
        let p = Problem::at(type_name.span(), format!("unknown type {name:?}"));
        push(match closest(name, names.clone()) {
            Some(s) => p.with_hint(format!("did you mean {s:?}? (`aimdbd types` lists them)")),
            None => p.with_hint(format!(
                "known types: {}",
                names.collect::<Vec<_>>().join(", ")
            )),
        });
    }
    entry
}

/// The record's type, as a writer must produce it.
struct Output<'a> {
    /// `None`: the type is unknown (already reported; writers are not checked against it).
    entry: Option<&'static TypeEntry>,
    type_name: &'a str,
}

impl Output<'_> {
    /// A problem at `kind` unless a writer of `what` `kind` producing `writes` fits the record.
    fn check(
        &self,
        t: &ComponentTable,
        what: &str,
        kind: &str,
        writes: &[&str],
        push: &mut impl FnMut(Problem),
    ) {
        if self.entry.is_some() && !writes.contains(&self.type_name) {
            push(Problem::at(
                t.value_span("kind"),
                format!(
                    "{what} {kind:?} writes {}, but the record's type is {}",
                    writes.join(" or "),
                    self.type_name
                ),
            ));
        }
    }
}

/// `source = { kind = "...", ... }`.
fn source(
    s: &Spanned<Table>,
    text: &str,
    catalog: &Catalog,
    out: &Output,
    push: &mut impl FnMut(Problem),
) -> Option<Writer> {
    let t = ComponentTable {
        table: s.get_ref(),
        span: s.span(),
        text,
    };
    let kind = kind_of(&t, "source", catalog.sources.iter().map(|k| k.kind), push)?;
    let k = catalog.sources.iter().find(|k| k.kind == kind)?;
    out.check(&t, "source", kind, k.output_types, push);
    match (k.parse)(&t) {
        Ok(instance) => Some(Writer::Source(SourceConfig {
            kind: k.kind,
            instance,
        })),
        Err(ps) => {
            ps.into_iter().for_each(push);
            None
        }
    }
}

/// `transform = { kind = "...", <inputs>, ... }`: the writer, and its inputs as written (for the
/// graph checks, even when the transform has problems).
fn transform(
    tr: &Spanned<Table>,
    text: &str,
    catalog: &Catalog,
    out: &Output,
    push: &mut impl FnMut(Problem),
) -> (Option<Writer>, Vec<InputUse>) {
    let mut inputs = Vec::new();
    let t = ComponentTable {
        table: tr.get_ref(),
        span: tr.span(),
        text,
    };
    let kinds = catalog.transforms.iter().map(|k| k.kind);
    let Some(kind) = kind_of(&t, "transform", kinds, push) else {
        return (None, inputs);
    };
    let Some(k) = catalog.transforms.iter().find(|k| k.kind == kind) else {
        return (None, inputs);
    };
    out.check(&t, "transform", kind, &[k.output_type], push);
    let mut keys = Vec::new();
    for input in k.inputs {
        match t.string(input.field) {
            Ok(Some(s)) => {
                keys.push((input.field, s.to_string()));
                inputs.push(InputUse {
                    field: input.field,
                    key: s.to_string(),
                    span: t.value_span(input.field),
                    expected: input.ty,
                    kind: k.kind,
                });
            }
            Ok(None) => push(Problem::at(
                tr.span(),
                format!(
                    "transform {kind:?} needs `{}` (the key of a {} record)",
                    input.field, input.ty
                ),
            )),
            Err(p) => push(p),
        }
    }
    let writer = match (k.parse)(&t) {
        Ok(instance) if keys.len() == k.inputs.len() => Some(Writer::Transform(TransformConfig {
            kind: k.kind,
            inputs: keys,
            instance,
        })),
        Ok(_) => None,
        Err(ps) => {
            ps.into_iter().for_each(push);
            None
        }
    };
    (writer, inputs)
}

/// At most one writer: a source, a transform, or `link_from`s.
fn check_one_writer(r: &RawRecord, push: &mut impl FnMut(Problem)) {
    let writers: Vec<(&str, Range<usize>)> = [
        r.source.as_ref().map(|s| ("source", s.span())),
        r.transform.as_ref().map(|t| ("transform", t.span())),
        r.link_from.first().map(|l| ("link_from", l.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if writers.len() > 1 {
        let names: Vec<&str> = writers.iter().map(|(n, _)| *n).collect();
        push(
            Problem::at(
                writers[1].1.clone(),
                format!("two writers ({})", names.join(" and ")),
            )
            .with_hint("a record is written by exactly one source, transform or set of link_from"),
        );
    }
}

/// `[[record.tap]]`s.
fn taps(
    r: &RawRecord,
    text: &str,
    catalog: &Catalog,
    push: &mut impl FnMut(Problem),
) -> Vec<TapConfig> {
    let mut taps = Vec::new();
    for tap in &r.tap {
        let t = ComponentTable {
            table: tap.get_ref(),
            span: tap.span(),
            text,
        };
        let Some(kind) = kind_of(&t, "tap", catalog.taps.iter().map(|k| k.kind), push) else {
            continue;
        };
        let Some(k) = catalog.taps.iter().find(|k| k.kind == kind) else {
            continue;
        };
        match (k.parse)(&t) {
            Ok(instance) => taps.push(TapConfig {
                kind: k.kind,
                instance,
            }),
            Err(ps) => ps.into_iter().for_each(&mut *push),
        }
    }
    taps
}

fn buffer(raw: Option<&Spanned<RawBuffer>>, push: &mut impl FnMut(Problem)) -> Option<BufferCfg> {
    let Some(raw) = raw else {
        return Some(BufferCfg::SpmcRing { capacity: 64 });
    };
    let b = raw.get_ref();
    let capacity = b.capacity.as_ref();
    match b.kind.get_ref().as_str() {
        "spmc_ring" => {
            let Some(c) = capacity else {
                push(
                    Problem::at(raw.span(), "buffer spmc_ring needs a `capacity`")
                        .with_hint("e.g. buffer = { kind = \"spmc_ring\", capacity = 64 }"),
                );
                return None;
            };
            let n = *c.get_ref();
            if !(1..=MAX_CAPACITY).contains(&n) {
                push(Problem::at(
                    c.span(),
                    format!("buffer capacity {n} is out of range 1..={MAX_CAPACITY}"),
                ));
                return None;
            }
            usize::try_from(n)
                .ok()
                .map(|capacity| BufferCfg::SpmcRing { capacity })
        }
        kind @ ("single_latest" | "mailbox") => {
            if let Some(c) = capacity {
                push(Problem::at(
                    c.span(),
                    format!("`capacity` applies to spmc_ring only; {kind} holds one value"),
                ));
                return None;
            }
            Some(if kind == "mailbox" {
                BufferCfg::Mailbox
            } else {
                BufferCfg::SingleLatest
            })
        }
        other => {
            let kinds = ["spmc_ring", "single_latest", "mailbox"];
            let mut p = Problem::at(b.kind.span(), format!("unknown buffer kind {other:?}"));
            p = match closest(other, kinds) {
                Some(s) => p.with_hint(format!("did you mean {s:?}?")),
                None => p.with_hint("buffer kinds: spmc_ring, single_latest, mailbox"),
            };
            push(p);
            None
        }
    }
}

/// The `kind` of a component table, checked against the known kinds.
fn kind_of<'a>(
    t: &ComponentTable<'a>,
    what: &str,
    known: impl Iterator<Item = &'static str> + Clone,
    push: &mut impl FnMut(Problem),
) -> Option<&'a str> {
    let _: &Table = t.table;
    match t.string("kind") {
        Ok(Some(kind)) if known.clone().any(|k| k == kind) => Some(kind),
        Ok(Some(kind)) => {
            let mut p = Problem::at(
                t.value_span("kind"),
                format!("unknown {what} kind {kind:?}"),
            );
            p = match closest(kind, known.clone()) {
                Some(s) => p.with_hint(format!("did you mean {s:?}?")),
                None => p.with_hint(format!(
                    "{what} kinds: {}",
                    known.collect::<Vec<_>>().join(", ")
                )),
            };
            push(p);
            None
        }
        Ok(None) => {
            push(
                Problem::at(t.span.clone(), format!("{what} needs a `kind`")).with_hint(format!(
                    "{what} kinds: {}",
                    known.collect::<Vec<_>>().join(", ")
                )),
            );
            None
        }
        Err(p) => {
            push(p);
            None
        }
    }
}
