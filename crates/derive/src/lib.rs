//! `#[derive(RecordKey)]` for enums naming aimdb records.
//!
//! Each unit variant of the enum names one record. The full key of a variant is the enum's
//! `#[key_prefix = "..."]` (empty if absent) followed by the variant's `#[key = "..."]`, or, when
//! the variant has no `#[key]`, by the variant name in `snake_case`. Keys are computed at
//! macro-expansion time and emitted as string literals: no allocation, no runtime concatenation.
//!
//! ```
//! use aimdb_derive::RecordKey;
//!
//! #[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq)]
//! #[key_prefix = "sensor."]
//! pub enum SensorKey {
//!     #[key = "temp.indoor"]
//!     #[link_address = "mqtt://sensors/temp/indoor"]
//!     TempIndoor,
//!     #[key = "temp.outdoor"]
//!     TempOutdoor,
//!     /// No `#[key]`: the snake_case variant name is used.
//!     Humidity,
//! }
//!
//! use aimdb_core::RecordKey as _;
//! assert_eq!(SensorKey::TempIndoor.as_key(), "sensor.temp.indoor");
//! assert_eq!(SensorKey::TempIndoor.link_address(), Some("mqtt://sensors/temp/indoor"));
//! assert_eq!(SensorKey::TempOutdoor.link_address(), None);
//! assert_eq!(SensorKey::Humidity.key(), "sensor.humidity");
//! assert_eq!(SensorKey::from_key("sensor.temp.outdoor"), Some(SensorKey::TempOutdoor));
//! assert_eq!(SensorKey::ALL.len(), 3);
//! assert_eq!(SensorKey::TempIndoor.to_string(), "sensor.temp.indoor");
//! ```
//!
//! # Generated items
//!
//! - `impl ::aimdb_core::RecordKey` (`as_key`), so the deriving crate must depend on `aimdb-core`;
//! - `pub const ALL: &'static [Self]`: every variant, in declaration order;
//! - `pub const fn key(&self) -> &'static str`: the full key;
//! - `pub fn from_key(s: &str) -> Option<Self>`: the inverse of `key` (exact, case-sensitive);
//! - `pub const fn link_address(&self) -> Option<&'static str>`: the variant's
//!   `#[link_address = "..."]`, if it has one (also what the core trait's
//!   `RecordKey::link_address` returns, for code generic over keys);
//! - `impl core::fmt::Display`: writes the full key.
//!
//! # Connector metadata: `#[link_address]`
//!
//! A variant may carry the address of the link its record uses, as a URL whose scheme names the
//! connector (`"mqtt://sensors/temp/indoor"`; the connector registered for `mqtt` checks the rest
//! when the graph is built). The derive only stores it: wiring it is
//! `reg.link_to(key.link_address().unwrap())` (or `link_from`), so a key without an address
//! simply has no link. Addresses are checked at compile time for the URL's shape: a scheme
//! (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), `://`, something after it, and no whitespace
//! or control characters.
//!
//! # Rules checked at compile time
//!
//! Keys become MQTT topic levels (`aimdb/<node>/<key>`), so a full key must be non-empty and
//! must not contain `/`, `+`, `#`, NUL or whitespace. Two variants must not produce the same key.
//! The derive accepts only enums without generics whose variants carry no fields, and attribute
//! values must be string literals.
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! struct NotAnEnum; // error: RecordKey can only be derived for enums
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum WithFields {
//!     Temp(u8), // error: RecordKey variants must be unit variants
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! union NotAnEnum { a: u8 } // error: RecordKey can only be derived for enums
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum NonStringKey {
//!     #[key = 42] // error: expected a string literal
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! #[key_prefix = sensor] // error: expected a string literal
//! enum NonStringPrefix {
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! #[key_prefix = "sensor."]
//! enum Duplicate {
//!     #[key = "temp"]
//!     Temp,
//!     Temp2,
//!     #[key = "temp"] // error: duplicate record key "sensor.temp"
//!     Other,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum Duplicate {
//!     TempIndoor,
//!     #[key = "temp_indoor"] // error: duplicate record key (same as the default of TempIndoor)
//!     Other,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum BadChar {
//!     #[key = "temp/indoor"] // error: a record key must not contain '/'
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum NoScheme {
//!     #[link_address = "sensors/temp/indoor"] // error: link address has no scheme
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum Malformed {
//!     #[link_address("mqtt://sensors/temp")] // error: expected `#[link_address = "..."]`
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum NotAString {
//!     #[link_address = mqtt] // error: expected a string literal
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! enum Twice {
//!     #[link_address = "mqtt://a"]
//!     #[link_address = "mqtt://b"] // error: `#[link_address]` given more than once
//!     Temp,
//! }
//! ```
//!
//! ```compile_fail
//! #[derive(aimdb_derive::RecordKey)]
//! #[link_address = "mqtt://all"] // error: `#[link_address]` belongs on a variant
//! enum OnTheEnum {
//!     Temp,
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, ExprLit, Fields, Lit, LitStr, Meta};

/// Derives `aimdb_core::RecordKey` plus `ALL`, `key()`, `from_key()`, `link_address()` and
/// `Display` for an enum of unit variants. See the crate documentation for the attributes and
/// rules.
#[proc_macro_derive(RecordKey, attributes(key_prefix, key, link_address))]
pub fn derive_record_key(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One variant and the full key it names.
struct KeyedVariant {
    ident: syn::Ident,
    key: String,
    /// Where to point errors about this key: the `#[key]` value, or the variant name.
    span: Span,
    /// The variant's `#[link_address = "..."]`, checked.
    link: Option<LitStr>,
}

#[allow(clippy::too_many_lines)] // One pass over the enum, emitting each impl in turn.
fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let data = match &input.data {
        Data::Enum(data) => data,
        Data::Struct(s) => {
            return Err(syn::Error::new(
                s.struct_token.span,
                "RecordKey can only be derived for enums of unit variants",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "RecordKey can only be derived for enums of unit variants",
            ))
        }
    };
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            input.generics.span(),
            "RecordKey cannot be derived for generic enums",
        ));
    }

    let mut errors: Option<syn::Error> = None;
    let mut push_error = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    if let Some(attr) = input
        .attrs
        .iter()
        .find(|a| a.path().is_ident("link_address"))
    {
        push_error(syn::Error::new(
            attr.span(),
            "`#[link_address]` belongs on a variant: each record has its own address",
        ));
    }

    let prefix = match string_attr(&input.attrs, "key_prefix") {
        Ok(p) => p.map(|lit| lit.value()).unwrap_or_default(),
        Err(e) => {
            push_error(e);
            String::new()
        }
    };

    let mut variants: Vec<KeyedVariant> = Vec::with_capacity(data.variants.len());
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            push_error(syn::Error::new(
                variant.fields.span(),
                format!(
                    "RecordKey variants must be unit variants; `{}` has fields",
                    variant.ident
                ),
            ));
            continue;
        }
        let (suffix, span) = match string_attr(&variant.attrs, "key") {
            Ok(Some(lit)) => (lit.value(), lit.span()),
            Ok(None) => (
                to_snake_case(&variant.ident.unraw().to_string()),
                variant.ident.span(),
            ),
            Err(e) => {
                push_error(e);
                continue;
            }
        };
        let link = match string_attr(&variant.attrs, "link_address") {
            Ok(Some(lit)) => match check_link_address(&lit.value()) {
                Ok(()) => Some(lit),
                Err(msg) => {
                    push_error(syn::Error::new(lit.span(), msg));
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                push_error(e);
                None
            }
        };
        let key = format!("{prefix}{suffix}");
        if let Err(msg) = check_key(&key) {
            push_error(syn::Error::new(span, msg));
            continue;
        }
        if let Some(first) = variants.iter().find(|v| v.key == key) {
            let mut e = syn::Error::new(
                span,
                format!(
                    "duplicate record key \"{key}\": `{}` and `{}` name the same record",
                    first.ident, variant.ident
                ),
            );
            e.combine(syn::Error::new(
                first.span,
                format!("\"{key}\" first named here"),
            ));
            push_error(e);
            continue;
        }
        variants.push(KeyedVariant {
            ident: variant.ident.clone(),
            key,
            span,
            link,
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let name = &input.ident;
    let idents: Vec<&syn::Ident> = variants.iter().map(|v| &v.ident).collect();
    let keys: Vec<LitStr> = variants
        .iter()
        .map(|v| LitStr::new(&v.key, v.span))
        .collect();
    let key_list = variants
        .iter()
        .map(|v| format!("`{}`", v.key))
        .collect::<Vec<_>>()
        .join(", ");
    let links: Vec<TokenStream2> = variants
        .iter()
        .map(|v| match &v.link {
            Some(lit) => quote! { ::core::option::Option::Some(#lit) },
            None => quote! { ::core::option::Option::None },
        })
        .collect();
    let all_doc = format!("Every variant of `{name}`, in declaration order.");
    let link_doc =
        "The connector address of this variant's record (its `#[link_address = \"...\"]`, \
                    a URL whose scheme names the connector), or `None` if it has none.";
    let key_doc = format!("The full record key of this variant: one of {key_list}.");
    let from_key_doc = format!(
        "The variant whose full key is exactly `s`, or `None` if `s` is not one of {key_list}."
    );
    Ok(quote! {
        impl #name {
            #[doc = #all_doc]
            pub const ALL: &'static [Self] = &[ #( Self::#idents ),* ];

            #[doc = #key_doc]
            #[inline]
            #[must_use]
            pub const fn key(&self) -> &'static str {
                // `match *self {}` also covers an enum without variants.
                match *self {
                    #( Self::#idents => #keys, )*
                }
            }

            #[doc = #from_key_doc]
            #[must_use]
            pub fn from_key(s: &str) -> ::core::option::Option<Self> {
                match s {
                    #( #keys => ::core::option::Option::Some(Self::#idents), )*
                    _ => ::core::option::Option::None,
                }
            }

            #[doc = #link_doc]
            #[inline]
            #[must_use]
            pub const fn link_address(&self) -> ::core::option::Option<&'static str> {
                match *self {
                    #( Self::#idents => #links, )*
                }
            }
        }

        #[automatically_derived]
        impl ::aimdb_core::RecordKey for #name {
            #[inline]
            fn as_key(&self) -> &str {
                Self::key(self)
            }

            #[inline]
            fn link_address(&self) -> ::core::option::Option<&str> {
                Self::link_address(self)
            }
        }

        #[automatically_derived]
        impl ::core::fmt::Display for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(Self::key(self))
            }
        }
    })
}

/// The string literal of the single `#[name = "..."]` attribute, if present.
fn string_attr(attrs: &[Attribute], name: &str) -> syn::Result<Option<LitStr>> {
    let mut found: Option<LitStr> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(name)) {
        let Meta::NameValue(nv) = &attr.meta else {
            return Err(syn::Error::new(
                attr.meta.span(),
                format!("expected `#[{name} = \"...\"]`"),
            ));
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = &nv.value
        else {
            return Err(syn::Error::new(
                nv.value.span(),
                format!("expected a string literal: `#[{name} = \"...\"]`"),
            ));
        };
        if found.is_some() {
            return Err(syn::Error::new(
                attr.span(),
                format!("`#[{name}]` given more than once"),
            ));
        }
        found = Some(lit.clone());
    }
    Ok(found)
}

/// Checks that a full key can be used as one MQTT topic level and in config files.
fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a record key must not be empty".into());
    }
    if let Some(c) = key
        .chars()
        .find(|c| matches!(c, '/' | '+' | '#' | '\0') || c.is_whitespace())
    {
        return Err(format!(
            "record key \"{}\" must not contain {:?}: keys are MQTT topic levels",
            key.escape_debug(),
            c
        ));
    }
    Ok(())
}

/// Checks that a link address is a URL whose scheme can name a connector: `scheme://rest`, the
/// scheme as RFC 3986 spells one, `rest` non-empty, and no whitespace or control characters
/// (the connector checks `rest` itself when the graph is built).
fn check_link_address(addr: &str) -> Result<(), String> {
    let shown = addr.escape_debug();
    let Some((scheme, rest)) = addr.split_once("://") else {
        return Err(format!(
            "link address \"{shown}\" has no scheme: write it as a URL naming its connector, \
             e.g. \"mqtt://sensors/temp/indoor\""
        ));
    };
    let mut chars = scheme.chars();
    match chars.next() {
        None => {
            return Err(format!(
                "link address \"{shown}\" has an empty scheme: e.g. \"mqtt://{}\"",
                rest.escape_debug()
            ))
        }
        Some(c) if !c.is_ascii_alphabetic() => {
            return Err(format!(
                "link address \"{shown}\": the scheme must start with a letter"
            ))
        }
        Some(_) => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))) {
        return Err(format!(
            "link address \"{shown}\": {c:?} cannot be part of a URL scheme"
        ));
    }
    if rest.is_empty() {
        return Err(format!(
            "link address \"{shown}\" has nothing after \"{scheme}://\""
        ));
    }
    if let Some(c) = addr.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("link address \"{shown}\" must not contain {c:?}"));
    }
    Ok(())
}

/// `TempIndoor` → `temp_indoor`, `HTTPServer` → `http_server`, `Co2Level` → `co2_level`.
///
/// A word starts at an uppercase letter that follows a lowercase letter or a digit, or that
/// ends a run of uppercase letters (the last capital of an acronym starts the next word).
/// Existing underscores are kept, never doubled.
///
/// Not `heck::ToSnakeCase`: the result is a record key on the wire and in configs, and heck
/// splits differently — `V2X` → `v2x` (here `v2_x`: a capital after a digit starts a word),
/// `Foo__Bar` → `foo_bar`, `_Foo` → `foo` — so deriving through heck would rename existing keys.
fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let starts_word = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) => p.is_uppercase() && next.is_some_and(char::is_lowercase),
            };
            if starts_word {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(to_snake_case("TempIndoor"), "temp_indoor");
        assert_eq!(to_snake_case("Humidity"), "humidity");
        assert_eq!(to_snake_case("A"), "a");
        assert_eq!(to_snake_case("ABC"), "abc");
    }

    #[test]
    fn snake_case_keeps_acronyms_together() {
        assert_eq!(to_snake_case("HTTPServer"), "http_server");
        assert_eq!(to_snake_case("PM25Sensor"), "pm25_sensor");
        assert_eq!(to_snake_case("MyURL"), "my_url");
    }

    #[test]
    fn snake_case_handles_digits_and_underscores() {
        assert_eq!(to_snake_case("Co2Level"), "co2_level");
        assert_eq!(to_snake_case("Temp2"), "temp2");
        assert_eq!(to_snake_case("Pm2_5"), "pm2_5");
        assert_eq!(to_snake_case("Already_Snake"), "already_snake");
        assert_eq!(to_snake_case("lower"), "lower");
    }

    #[test]
    fn snake_case_is_not_hecks() {
        // Where heck would derive another key (see `to_snake_case`): pinned, since a derived
        // key may already be in a config or on the wire.
        assert_eq!(to_snake_case("V2X"), "v2_x");
        assert_eq!(to_snake_case("X1Y2"), "x1_y2");
        assert_eq!(to_snake_case("Foo__Bar"), "foo__bar");
        assert_eq!(to_snake_case("_Foo"), "_foo");
    }

    fn error_of(input: DeriveInput) -> String {
        match expand(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn rejects_structs_and_unions() {
        let msg = error_of(syn::parse_quote! { struct S; });
        assert!(msg.contains("only be derived for enums"), "{msg}");
        let msg = error_of(syn::parse_quote! { union U { a: u8 } });
        assert!(msg.contains("only be derived for enums"), "{msg}");
    }

    #[test]
    fn rejects_variants_with_fields_and_reports_all_of_them() {
        let msg = error_of(syn::parse_quote! { enum E { A(u8), B { x: u8 }, C } });
        assert!(msg.contains("`A` has fields"), "{msg}");
        assert!(msg.contains("`B` has fields"), "{msg}");
    }

    #[test]
    fn rejects_non_string_attribute_values() {
        let msg = error_of(syn::parse_quote! { enum E { #[key = 1] A } });
        assert!(msg.contains("expected a string literal"), "{msg}");
        let msg = error_of(syn::parse_quote! { #[key_prefix(x)] enum E { A } });
        assert!(msg.contains("expected `#[key_prefix"), "{msg}");
    }

    #[test]
    fn rejects_duplicate_keys_pointing_at_both() {
        let msg = error_of(syn::parse_quote! {
            #[key_prefix = "s."]
            enum E { TempIndoor, #[key = "temp_indoor"] Other }
        });
        assert!(
            msg.contains("duplicate record key \"s.temp_indoor\""),
            "{msg}"
        );
        assert!(msg.contains("first named here"), "{msg}");
    }

    #[test]
    fn rejects_keys_that_are_not_topic_levels() {
        for bad in ["a/b", "a+", "#", "a b", ""] {
            let lit = LitStr::new(bad, Span::call_site());
            let msg = error_of(syn::parse_quote! { enum E { #[key = #lit] A } });
            assert!(msg.contains("record key"), "{bad:?}: {msg}");
        }
    }

    #[test]
    fn rejects_generics_and_repeated_attributes() {
        let msg = error_of(syn::parse_quote! { enum E<T> { A, B(T) } });
        assert!(msg.contains("generic"), "{msg}");
        let msg = error_of(syn::parse_quote! { enum E { #[key = "a"] #[key = "b"] A } });
        assert!(msg.contains("more than once"), "{msg}");
    }

    #[test]
    fn accepts_urls_with_a_scheme() {
        for ok in [
            "mqtt://sensors/temp/indoor",
            "knx://9/1/0",
            "mqtt://gw-1/in/+",
            "mem://x",
            "coap+tcp://host/res",
            "a.b-c://x",
        ] {
            assert_eq!(check_link_address(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn rejects_addresses_without_a_scheme() {
        for (bad, says) in [
            ("sensors/temp/indoor", "has no scheme"),
            ("1/1/1", "has no scheme"),
            ("mqtt:/sensors", "has no scheme"),
            ("", "has no scheme"),
            ("://sensors/temp", "empty scheme"),
            ("9mqtt://x", "must start with a letter"),
            ("mq_tt://x", "cannot be part of a URL scheme"),
            ("mqtt://", "nothing after \"mqtt://\""),
            ("mqtt://a b", "must not contain ' '"),
            ("mqtt://a\nb", "must not contain '\\n'"),
        ] {
            let err = check_link_address(bad).expect_err(bad);
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    /// Where an error points, as (line, column) of its start (spans carry locations through
    /// proc-macro2's `span-locations`, enabled for the tests).
    fn error_positions(src: &str) -> Vec<(String, usize, usize)> {
        let input: DeriveInput = syn::parse_str(src).expect("parses");
        match expand(&input) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e
                .into_iter()
                .map(|e| {
                    let start = e.span().start();
                    (e.to_string(), start.line, start.column)
                })
                .collect(),
        }
    }

    #[test]
    fn link_address_errors_point_at_the_attribute_value() {
        let src = "enum E {\n    #[link_address = \"sensors/temp\"]\n    A,\n}";
        let errors = error_positions(src);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (msg, line, column) = &errors[0];
        assert!(msg.contains("has no scheme"), "{msg}");
        // The string literal, not the variant or the derive.
        assert_eq!((*line, *column), (2, "    #[link_address = ".len()));
    }

    #[test]
    fn malformed_link_address_attributes_are_errors_with_spans() {
        let src = "enum E {\n    #[link_address(\"mqtt://a\")]\n    A,\n    #[link_address = 7]\n    B,\n    #[link_address = \"mqtt://a\"]\n    #[link_address = \"mqtt://b\"]\n    C,\n}";
        let errors = error_positions(src);
        let msgs: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            msgs[0].contains("expected `#[link_address = \"...\"]`"),
            "{msgs:?}"
        );
        assert_eq!((errors[0].1, errors[0].2), (2, 6), "the attribute's meta");
        assert!(msgs[1].contains("expected a string literal"), "{msgs:?}");
        assert_eq!(
            (errors[1].1, errors[1].2),
            (4, "    #[link_address = ".len())
        );
        assert!(msgs[2].contains("more than once"), "{msgs:?}");
        assert_eq!(errors[2].1, 7, "the second attribute");
    }

    #[test]
    fn every_bad_link_address_is_reported_at_once() {
        let msg = error_of(syn::parse_quote! {
            #[link_address = "mqtt://enum"]
            enum E {
                #[link_address = "a/b"] A,
                #[link_address = "mqtt://"] B,
                #[key = "x/y"] C,
            }
        });
        assert!(msg.contains("belongs on a variant"), "{msg}");
        assert!(msg.contains("\"a/b\" has no scheme"), "{msg}");
        assert!(msg.contains("nothing after"), "{msg}");
        assert!(msg.contains("record key \"x/y\""), "{msg}");
    }

    #[test]
    fn expands_link_addresses_as_literals_and_none() {
        let tokens = expand(&syn::parse_quote! {
            enum K { #[link_address = "mqtt://sensors/temp"] Temp, Humidity }
        })
        .map(|t| t.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            tokens.contains(
                "Self :: Temp => :: core :: option :: Option :: Some (\"mqtt://sensors/temp\")"
            ),
            "{tokens}"
        );
        assert!(
            tokens.contains("Self :: Humidity => :: core :: option :: Option :: None"),
            "{tokens}"
        );
        assert!(tokens.contains("pub const fn link_address"), "{tokens}");
    }

    #[test]
    fn expands_full_keys_as_literals() {
        let tokens = expand(&syn::parse_quote! {
            #[key_prefix = "sensor."]
            enum K { #[key = "temp.indoor"] TempIndoor, Humidity }
        })
        .map(|t| t.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(tokens.contains("\"sensor.temp.indoor\""), "{tokens}");
        assert!(tokens.contains("\"sensor.humidity\""), "{tokens}");
    }
}
