//! `link_to` / `link_from` entries: URL (`mqtt://<topic or filter>`), codec, QoS, retain.

use aimdb_records::{topic, Codec};
use toml::Spanned;

use super::super::raw::RawLink;
use super::super::{LinkConfig, Problem};

/// Which way a link goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `link_to`: publish.
    To,
    /// `link_from`: subscribe.
    From,
}

/// Checks one link; `None` (with problems pushed) if it is broken.
pub fn link(
    raw: &Spanned<RawLink>,
    dir: Direction,
    postcard_ok: bool,
    push: &mut impl FnMut(Problem),
) -> Option<LinkConfig> {
    let l = raw.get_ref();
    let url = l.url.get_ref();
    let mut ok = true;
    let field = if dir == Direction::To {
        "link_to"
    } else {
        "link_from"
    };
    let topic = match url.split_once("://") {
        Some(("mqtt", t)) => {
            let checked = if dir == Direction::To {
                topic::validate_topic(t)
            } else {
                topic::validate_filter(t)
            };
            if let Err(e) = checked {
                ok = false;
                let what = if dir == Direction::To {
                    "topic"
                } else {
                    "topic filter"
                };
                let mut p = Problem::at(
                    l.url.span(),
                    format!("{field} url {url:?}: invalid MQTT {what}: {e}"),
                );
                if dir == Direction::To && (t.contains('+') || t.contains('#')) {
                    p = p.with_hint(
                        "wildcards (+, #) are for link_from; link_to publishes to one topic",
                    );
                }
                push(p);
            }
            t.to_string()
        }
        Some((scheme, _)) => {
            ok = false;
            push(
                Problem::at(
                    l.url.span(),
                    format!("{field} url {url:?}: no connector serves scheme {scheme:?}"),
                )
                .with_hint("links use mqtt://<topic>, e.g. mqtt://aimdb/+/sensor.temp.indoor"),
            );
            String::new()
        }
        None => {
            ok = false;
            push(
                Problem::at(l.url.span(), format!("{field} url {url:?} has no scheme"))
                    .with_hint("links use mqtt://<topic>, e.g. mqtt://aimdb/+/sensor.temp.indoor"),
            );
            String::new()
        }
    };
    let codec = match &l.codec {
        None => Codec::Json,
        Some(c) => match c.get_ref().parse::<Codec>() {
            Ok(Codec::Postcard) if !postcard_ok => {
                ok = false;
                push(
                    Problem::at(c.span(), "codec \"postcard\" cannot carry type \"json\"")
                        .with_hint("records of type \"json\" use codec = \"json\""),
                );
                Codec::Json
            }
            Ok(codec) => codec,
            Err(e) => {
                ok = false;
                push(Problem::at(c.span(), e.to_string()));
                Codec::Json
            }
        },
    };
    let qos = match &l.qos {
        None => 0,
        Some(q) => match *q.get_ref() {
            n @ 0..=2 => n as u8,
            n => {
                ok = false;
                push(Problem::at(
                    q.span(),
                    format!("qos {n} is not an MQTT QoS; use 0, 1 or 2"),
                ));
                0
            }
        },
    };
    let retain = match (&l.retain, dir) {
        (Some(r), Direction::From) => {
            ok = false;
            push(Problem::at(r.span(), "`retain` applies to link_to only"));
            false
        }
        (r, _) => r.as_ref().is_some_and(|r| *r.get_ref()),
    };
    ok.then(|| LinkConfig {
        url: url.clone(),
        topic,
        codec,
        qos,
        retain,
    })
}
