//! One `[[record]]` on its own: key, type, buffer, writer, taps, links; the history fields are
//! checked in `store.rs`.

use std::ops::Range;

use aimdb_core::BufferCfg;
use toml::{Spanned, Table};

use super::super::raw::{RawBuffer, RawRecord};
use super::super::{
    closest, Problem, RecordConfig, SourceConfig, TapConfig, TransformConfig, Writer,
};
use super::links;
use crate::components::{ComponentTable, SOURCES, TAPS, TRANSFORMS};
use crate::record_types;

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
    pub(crate) type_name: String,
    pub(crate) inputs: Vec<InputUse>,
    /// `None` if the record itself has problems.
    pub(crate) config: Option<RecordConfig>,
}

/// Checks one record; problems are pushed, and what could be understood is returned.
pub(super) fn record(
    raw: &Spanned<RawRecord>,
    node_id: &str,
    text: &str,
    have_store: bool,
    problems: &mut Vec<Problem>,
) -> Checked {
    let r = raw.get_ref();
    let key = r.key.get_ref().clone();
    let before = problems.len();
    let mut push = |p: Problem| problems.push(p.in_record(&key));

    match aimdb_records::topic::validate_key(&key) {
        Ok(()) => {}
        Err(e @ aimdb_records::topic::TopicError::ContainsControl { .. }) => push(
            Problem::at(r.key.span(), format!("invalid key: {e}")).with_hint(links::CONTROL_HINT),
        ),
        Err(e) => push(Problem::at(r.key.span(), format!("invalid key: {e}")).with_hint(
            "keys are one MQTT topic level: non-empty, no '/', '+', '#', not \"cmd\" or \"status\"",
        )),
    }
    let type_name = r.type_name.get_ref();
    let entry = record_types::lookup(type_name);
    if entry.is_none() {
        let names = record_types::TYPES.iter().map(|t| t.name);
        let mut p = Problem::at(r.type_name.span(), format!("unknown type {type_name:?}"));
        p = match closest(type_name, names.clone()) {
            Some(s) => p.with_hint(format!("did you mean {s:?}? (`aimdbd types` lists them)")),
            None => p.with_hint(format!(
                "known types: {}",
                names.collect::<Vec<_>>().join(", ")
            )),
        };
        push(p);
    }
    let buffer = buffer(r.buffer.as_ref(), &mut push);

    let mut writers: Vec<(&str, Range<usize>)> = Vec::new();
    let mut writer = None;
    if let Some(s) = &r.source {
        writers.push(("source", s.span()));
        let t = ComponentTable {
            table: s.get_ref(),
            span: s.span(),
            text,
        };
        if let Some(kind) = kind_of(&t, "source", SOURCES.iter().map(|k| k.kind), &mut push) {
            if let Some(k) = SOURCES.iter().find(|k| k.kind == kind) {
                if entry.is_some() && !k.output_types.contains(&type_name.as_str()) {
                    push(Problem::at(
                        t.value_span("kind"),
                        format!(
                            "source {kind:?} writes {}, but the record's type is {type_name}",
                            k.output_types.join(" or ")
                        ),
                    ));
                }
                match (k.parse)(&t) {
                    Ok(instance) => {
                        writer = Some(Writer::Source(SourceConfig {
                            kind: k.kind,
                            instance,
                        }))
                    }
                    Err(ps) => ps.into_iter().for_each(&mut push),
                }
            }
        }
    }
    let mut inputs = Vec::new();
    if let Some(tr) = &r.transform {
        writers.push(("transform", tr.span()));
        let t = ComponentTable {
            table: tr.get_ref(),
            span: tr.span(),
            text,
        };
        if let Some(kind) = kind_of(
            &t,
            "transform",
            TRANSFORMS.iter().map(|k| k.kind),
            &mut push,
        ) {
            if let Some(k) = TRANSFORMS.iter().find(|k| k.kind == kind) {
                if entry.is_some() && k.output_type != type_name {
                    push(Problem::at(
                        t.value_span("kind"),
                        format!(
                            "transform {kind:?} writes {}, but the record's type is {type_name}",
                            k.output_type
                        ),
                    ));
                }
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
                match (k.parse)(&t) {
                    Ok(instance) if keys.len() == k.inputs.len() => {
                        writer = Some(Writer::Transform(TransformConfig {
                            kind: k.kind,
                            inputs: keys,
                            instance,
                        }))
                    }
                    Ok(_) => {}
                    Err(ps) => ps.into_iter().for_each(&mut push),
                }
            }
        }
    }
    if let Some(first) = r.link_from.first() {
        writers.push(("link_from", first.span()));
    }
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

    let mut taps = Vec::new();
    for tap in &r.tap {
        let t = ComponentTable {
            table: tap.get_ref(),
            span: tap.span(),
            text,
        };
        if let Some(kind) = kind_of(&t, "tap", TAPS.iter().map(|k| k.kind), &mut push) {
            if let Some(k) = TAPS.iter().find(|k| k.kind == kind) {
                match (k.parse)(&t) {
                    Ok(instance) => taps.push(TapConfig {
                        kind: k.kind,
                        instance,
                    }),
                    Err(ps) => ps.into_iter().for_each(&mut push),
                }
            }
        }
    }
    let postcard_ok = entry.is_none_or(|e| e.postcard);
    let fields = entry.map_or(&[][..], |e| (e.fields)());
    let links_to: Vec<_> = r
        .link_to
        .iter()
        .filter_map(|l| {
            links::link(
                l,
                (node_id, &key),
                links::Direction::To,
                postcard_ok,
                fields,
                &mut push,
            )
        })
        .collect();
    let links_from: Vec<_> = r
        .link_from
        .iter()
        .filter_map(|l| {
            links::link(
                l,
                (node_id, &key),
                links::Direction::From,
                postcard_ok,
                fields,
                &mut push,
            )
        })
        .collect();
    let history = super::store::record_fields(r, buffer, have_store, &mut push);
    let ok = problems.len() == before;
    let config = match (ok, entry, buffer) {
        (true, Some(entry), Some(buffer)) => Some(RecordConfig {
            key: key.clone(),
            ty: entry,
            buffer,
            writer,
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
        type_name: type_name.clone(),
        inputs,
        config,
    }
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
