//! `aimdbd types`: what this build knows.

use crate::components::{ParamDoc, SOURCES, TAPS, TRANSFORMS};
use crate::exit;
use crate::record_types::TYPES;

fn params(ps: &[ParamDoc]) {
    for p in ps {
        println!(
            "      {} ({}, default {}): {}",
            p.name, p.ty, p.default, p.doc
        );
    }
}

pub(super) fn types() -> u8 {
    println!("record types (type = \"...\"):");
    for t in &TYPES {
        let codecs = if t.postcard {
            "postcard, json"
        } else {
            "json, text"
        };
        println!("  {:<18} {}  [codecs: {codecs}]", t.name, (t.rust_name)());
    }
    println!("\nsources (source = {{ kind = \"...\" }}):");
    for s in SOURCES {
        println!(
            "  {:<18} writes {}: {}",
            s.kind,
            s.output_types.join(" | "),
            s.doc
        );
        params(s.params);
    }
    println!("\ntransforms (transform = {{ kind = \"...\" }}):");
    for t in TRANSFORMS {
        let inputs: Vec<String> = t
            .inputs
            .iter()
            .map(|i| format!("{}: {}", i.field, i.ty))
            .collect();
        println!(
            "  {:<18} ({}) -> {}: {}",
            t.kind,
            inputs.join(", "),
            t.output_type,
            t.doc
        );
        params(t.params);
    }
    println!("\ntaps (tap = [{{ kind = \"...\" }}], any type):");
    for t in TAPS {
        println!("  {:<18} {}", t.kind, t.doc);
        params(t.params);
    }
    println!(
        "\nbuffers: spmc_ring (capacity), single_latest, mailbox; link codecs: postcard, json, text (type json)"
    );
    exit::OK
}
