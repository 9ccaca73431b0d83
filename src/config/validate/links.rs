//! `link_to` / `link_from` entries: URL (`mqtt://<topic or filter>`), codec, QoS, retain.

use aimdb_records::{topic, Codec};
use toml::Spanned;

use super::super::raw::{RawLink, RawRecord};
use super::super::{LinkCodec, LinkConfig, OutboxFull, Problem};

/// Which way a link goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// `link_to`: publish.
    To,
    /// `link_from`: subscribe.
    From,
}

/// Checks one link; `None` (with problems pushed) if it is broken. `fields` are those of the
/// record's type, for `node_into` (empty: any field, as for `json`).
pub(super) fn link(
    raw: &Spanned<RawLink>,
    place: (&str, &str),
    dir: Direction,
    postcard_ok: bool,
    fields: &[&str],
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
            if let Err(e) = check_template(t) {
                ok = false;
                push(
                    Problem::at(l.url.span(), format!("{field} url {url:?}: {e}")).with_hint(
                        "topics may use {node} (this node's id) and {key} (the record's key)",
                    ),
                );
            }
            let checked = if dir == Direction::To {
                topic::validate_topic(t)
            } else {
                topic::validate_filter(t)
            };
            let allowed = l.allow_system_topics.as_ref().is_some_and(|a| *a.get_ref());
            if let (Ok(()), false, Some(why)) = (&checked, allowed, reserved(dir, t)) {
                ok = false;
                push(
                    Problem::at(l.url.span(), format!("{field} url {url:?}: {why}")).with_hint(
                        "set `allow_system_topics = true` on this link if that is really meant",
                    ),
                );
            }
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
                if let topic::TopicError::ContainsControl { .. } = e {
                    p = p.with_hint(CONTROL_HINT);
                } else if dir == Direction::To && (t.contains('+') || t.contains('#')) {
                    p = p.with_hint(
                        "wildcards (+, #) are for link_from; link_to publishes to one topic",
                    );
                }
                push(p);
            }
            let (node, key) = place;
            let expanded = expand(t, node, key);
            let checked = if dir == Direction::To {
                topic::validate_topic(&expanded)
            } else {
                topic::validate_filter(&expanded)
            };
            if let (true, Err(e)) = (ok, checked) {
                ok = false;
                push(Problem::at(
                    l.url.span(),
                    format!("{field} url {url:?}: expanded for node {node:?} and this record's key, it is not a valid MQTT {}: {e}", if dir == Direction::To { "topic" } else { "topic filter" }),
                ));
            }
            expanded
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
    let codec =
        match &l.codec {
            None => LinkCodec::Wire(Codec::Json),
            Some(c) if c.get_ref() == "text" => {
                if postcard_ok {
                    ok = false;
                    push(
                        Problem::at(c.span(), "codec \"text\" is for records of type \"json\"")
                            .with_hint("typed records use codec = \"postcard\" or \"json\""),
                    );
                }
                LinkCodec::Text
            }
            Some(c) => match c.get_ref().parse::<Codec>() {
                Ok(Codec::Postcard) if !postcard_ok => {
                    ok = false;
                    push(
                        Problem::at(c.span(), "codec \"postcard\" cannot carry type \"json\"")
                            .with_hint("records of type \"json\" use codec = \"json\" or \"text\""),
                    );
                    LinkCodec::Wire(Codec::Json)
                }
                Ok(codec) => LinkCodec::Wire(codec),
                Err(e) => {
                    ok = false;
                    push(Problem::at(c.span(), e.to_string()).with_hint(
                        "link codecs: \"postcard\", \"json\", \"text\" (type json only)",
                    ));
                    LinkCodec::Wire(Codec::Json)
                }
            },
        };
    let qos = match &l.qos {
        None => 0,
        Some(q) => match *q.get_ref() {
            0 => 0,
            1 => 1,
            2 => 2,
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
    let node_into = match (&l.node_into, dir) {
        (Some(n), Direction::To) => {
            ok = false;
            push(Problem::at(
                n.span(),
                "`node_into` applies to link_from only",
            ));
            None
        }
        (Some(n), Direction::From) if n.get_ref().is_empty() => {
            ok = false;
            push(Problem::at(n.span(), "`node_into` must name a field"));
            None
        }
        (Some(n), Direction::From)
            if !fields.is_empty() && !fields.contains(&n.get_ref().as_str()) =>
        {
            ok = false;
            let p = Problem::at(
                n.span(),
                format!(
                    "`node_into`: the record's type has no field {:?}",
                    n.get_ref()
                ),
            );
            push(
                match super::super::closest(n.get_ref(), fields.iter().copied()) {
                    Some(f) => p.with_hint(format!("did you mean {f:?}?")),
                    None => p.with_hint(format!("its fields: {}", fields.join(", "))),
                },
            );
            None
        }
        (n, _) => n.as_ref().map(|n| n.get_ref().clone()),
    };
    if let (Some(f), Direction::From) = (&l.outbox_full, dir) {
        ok = false;
        push(Problem::at(
            f.span(),
            "`outbox_full` applies to link_to only",
        ));
    }
    ok.then(|| LinkConfig {
        url: url.clone(),
        topic,
        codec,
        qos,
        retain,
        node_into,
        // Resolved with the whole graph in `flow`.
        outbox_full: OutboxFull::DropOldest,
    })
}

/// The hint for a control character in a node id, key or topic.
pub(super) const CONTROL_HINT: &str = "MQTT brokers close the connection on control characters (newline, tab, U+001F, ...); remove it or write a visible character";

/// Why a link may not use `t` without `allow_system_topics = true`, if it may not: publishing
/// to a broker's `$...` topics or to a node's status topic (its birth and last will, which the
/// daemon of that node owns); subscribing to `$...` topics or to a filter that matches every
/// topic (the daemon would receive its own publishes and everyone else's).
fn reserved(dir: Direction, t: &str) -> Option<String> {
    let levels: Vec<&str> = t.split('/').collect();
    let first = levels.first().copied().unwrap_or_default();
    if first.starts_with('$') {
        return Some(format!(
            "{first}/... topics belong to the broker (e.g. $SYS statistics)"
        ));
    }
    match dir {
        Direction::To => {
            if let [prefix, node, level] = levels.as_slice() {
                if *prefix == topic::PREFIX && *level == topic::STATUS_LEVEL {
                    return Some(format!(
                        "{t} is the status topic of node {node} (its retained birth and last will); a link must not overwrite it"
                    ));
                }
            }
            None
        }
        Direction::From => {
            let every =
                levels.last() == Some(&"#") && levels.iter().all(|l| *l == "+" || *l == "#");
            every.then(|| format!("the filter {t} subscribes to every topic on the broker (this daemon's own publishes included)"))
        }
    }
}

/// Warnings for the links of `records` when there is no `[mqtt]` table: nothing connects them,
/// so a `link_to` drops every value it is given and a `link_from` never delivers one. One
/// warning per link, at its `url`; the daemon runs such a config (a graph may be tried out
/// before a broker exists), so it is not an error.
pub(super) fn unbridged(records: &[Spanned<RawRecord>], push: &mut impl FnMut(Problem)) {
    for r in records {
        let r = r.get_ref();
        let key = r.key.get_ref();
        let links = r
            .link_to
            .iter()
            .map(|l| (l, "link_to", "its values are dropped, not published"))
            .chain(
                r.link_from
                    .iter()
                    .map(|l| (l, "link_from", "nothing is received from it")),
            );
        for (l, field, effect) in links {
            let url = l.get_ref().url.get_ref();
            push(
                Problem::at(
                    l.get_ref().url.span(),
                    format!("{field} {url:?} is not connected: there is no [mqtt] table, so {effect}"),
                )
                .in_record(key)
                .with_hint("add an [mqtt] table with the broker (url = \"mqtt://HOST:PORT\"), or remove the link"),
            );
        }
    }
}
/// `{node}` and `{key}` in a link topic.
fn expand(template: &str, node: &str, key: &str) -> String {
    template.replace("{node}", node).replace("{key}", key)
}

/// The placeholders a link topic may use.
pub(super) const PLACEHOLDERS: &[&str] = &["{node}", "{key}"];

/// Checks that every `{...}` in a topic is a known placeholder.
fn check_template(topic: &str) -> Result<(), String> {
    let mut rest = topic;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else {
            return Err("unclosed '{' in the topic".into());
        };
        let name = &tail[..=close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("unknown placeholder {name} in the topic"));
        }
        rest = &tail[close + 1..];
    }
    Ok(())
}
