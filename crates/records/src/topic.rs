//! The MQTT topic scheme between gateway and nodes, and MQTT topic-filter matching.
//!
//! | topic | payload | who publishes |
//! |---|---|---|
//! | `aimdb/<node>/<record-key>` | a record value (postcard) | the node owning the record |
//! | `aimdb/<node>/cmd/<record-key>` | a command for a mailbox record (postcard) | the gateway |
//! | `aimdb/<node>/status` | `online` / `offline` as plain text, retained | the node (birth, last will, clean shutdown) |
//! | `aimdb/<node>/schema` | the record types and versions it speaks ([`announce`](crate::announce)), retained | every node and gateway, at birth |
//!
//! `<node>` and `<record-key>` are single topic levels: non-empty, without `/`, `+`, `#` or NUL
//! ([`validate_segment`]). A record key must also not be `cmd`, `status` or `schema`, which
//! the scheme reserves ([`validate_key`]).
//!
//! The builders ([`record_topic`], …) do not validate their arguments: validate node ids and
//! keys once, where they enter the system (config loading, firmware constants), with
//! [`validate_segment`] / [`validate_key`]. [`parse`] validates everything it returns.
//!
//! [`filter_matches`] implements the MQTT 3.1.1/5 matching rules exactly: `+` matches one whole
//! level (possibly empty), `#` matches any number of levels including none (so `a/#` matches
//! `a`), and topics beginning with `$` are not matched by a filter beginning with a wildcard.

use alloc::string::String;
use core::fmt;

use aimdb_core::RecordKey;

/// The first level of every aimdb topic.
pub const PREFIX: &str = "aimdb";
/// The level that marks a command topic: `aimdb/<node>/cmd/<key>`.
pub const CMD_LEVEL: &str = "cmd";
/// The last level of a status topic: `aimdb/<node>/status`.
pub const STATUS_LEVEL: &str = "status";
/// The last level of a schema topic: `aimdb/<node>/schema`.
pub const SCHEMA_LEVEL: &str = "schema";
/// The filter matching every node's schema announcement.
pub const SCHEMA_FILTER: &str = "aimdb/+/schema";
/// Status-topic payload published as the birth message (retained).
pub const STATUS_ONLINE: &str = "online";
/// Status-topic payload of the last will and of a clean shutdown (retained).
pub const STATUS_OFFLINE: &str = "offline";
/// The filter matching every node's status topic.
pub const STATUS_FILTER: &str = "aimdb/+/status";
/// The longest topic or filter MQTT allows, in bytes.
pub const MAX_TOPIC_LEN: usize = 65_535;

/// An aimdb topic, split into its parts by [`parse`]. Borrowed from the parsed string.
///
/// `Display` writes the topic back, so `parse(t).map(|p| p.to_string()) == Some(t)` for every
/// topic `parse` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic<'a> {
    /// `aimdb/<node>/<key>`: a record value published by `node`.
    Record {
        /// The publishing node.
        node: &'a str,
        /// The record key.
        key: &'a str,
    },
    /// `aimdb/<node>/cmd/<key>`: a command for `node`'s mailbox record `key`.
    Command {
        /// The node the command is for.
        node: &'a str,
        /// The mailbox record key.
        key: &'a str,
    },
    /// `aimdb/<node>/status`: `node`'s online/offline status.
    Status {
        /// The node whose status this is.
        node: &'a str,
    },
    /// `aimdb/<node>/schema`: what `node` speaks ([`announce`](crate::announce)).
    Schema {
        /// The announcing node.
        node: &'a str,
    },
}

impl<'a> Topic<'a> {
    /// The node named in the topic.
    pub fn node(&self) -> &'a str {
        match *self {
            Topic::Record { node, .. }
            | Topic::Command { node, .. }
            | Topic::Status { node }
            | Topic::Schema { node } => node,
        }
    }
}

impl fmt::Display for Topic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Topic::Record { node, key } => write!(f, "{PREFIX}/{node}/{key}"),
            Topic::Command { node, key } => write!(f, "{PREFIX}/{node}/{CMD_LEVEL}/{key}"),
            Topic::Status { node } => write!(f, "{PREFIX}/{node}/{STATUS_LEVEL}"),
            Topic::Schema { node } => write!(f, "{PREFIX}/{node}/{SCHEMA_LEVEL}"),
        }
    }
}

fn record_parts<'a>(node: &'a str, key: &'a str) -> [&'a str; 5] {
    [PREFIX, "/", node, "/", key]
}

fn command_parts<'a>(node: &'a str, key: &'a str) -> [&'a str; 7] {
    [PREFIX, "/", node, "/", CMD_LEVEL, "/", key]
}

fn status_parts(node: &str) -> [&str; 5] {
    [PREFIX, "/", node, "/", STATUS_LEVEL]
}

fn schema_parts(node: &str) -> [&str; 5] {
    [PREFIX, "/", node, "/", SCHEMA_LEVEL]
}

/// `aimdb/<node>/<key>`: where `node` publishes record `key`.
pub fn record_topic<K: RecordKey + ?Sized>(node: &str, key: &K) -> String {
    record_parts(node, key.as_key()).concat()
}

/// `aimdb/<node>/cmd/<key>`: where commands for `node`'s mailbox record `key` are published.
pub fn command_topic<K: RecordKey + ?Sized>(node: &str, key: &K) -> String {
    command_parts(node, key.as_key()).concat()
}

/// `aimdb/<node>/status`: where `node` announces `online` / `offline` (retained).
pub fn status_topic(node: &str) -> String {
    status_parts(node).concat()
}

/// `aimdb/<node>/schema`: where `node` announces the record types and versions it speaks
/// (retained).
pub fn schema_topic(node: &str) -> String {
    schema_parts(node).concat()
}

/// `aimdb/+/<key>`: the filter matching record `key` from every node.
pub fn record_filter_all_nodes<K: RecordKey + ?Sized>(key: &K) -> String {
    [PREFIX, "/+/", key.as_key()].concat()
}

/// `aimdb/<node>/cmd/+`: the filter a node subscribes to for all of its commands.
pub fn command_filter(node: &str) -> String {
    [PREFIX, "/", node, "/", CMD_LEVEL, "/+"].concat()
}

/// Replaces the contents of `out` with `parts` joined; on overflow `out` is left empty.
fn fill<const N: usize>(
    out: &mut heapless::String<N>,
    parts: &[&str],
) -> Result<(), heapless::CapacityError> {
    out.clear();
    for part in parts {
        if let Err(e) = out.push_str(part) {
            out.clear();
            return Err(e);
        }
    }
    Ok(())
}

/// [`record_topic`] into a fixed-capacity string (no heap; for the MCU). Replaces the contents
/// of `out`; if the topic does not fit, `out` is left empty and the error returned.
pub fn record_topic_into<const N: usize, K: RecordKey + ?Sized>(
    out: &mut heapless::String<N>,
    node: &str,
    key: &K,
) -> Result<(), heapless::CapacityError> {
    fill(out, &record_parts(node, key.as_key()))
}

/// [`command_topic`] into a fixed-capacity string; same contract as [`record_topic_into`].
pub fn command_topic_into<const N: usize, K: RecordKey + ?Sized>(
    out: &mut heapless::String<N>,
    node: &str,
    key: &K,
) -> Result<(), heapless::CapacityError> {
    fill(out, &command_parts(node, key.as_key()))
}

/// [`status_topic`] into a fixed-capacity string; same contract as [`record_topic_into`].
pub fn status_topic_into<const N: usize>(
    out: &mut heapless::String<N>,
    node: &str,
) -> Result<(), heapless::CapacityError> {
    fill(out, &status_parts(node))
}

/// [`schema_topic`] into a fixed-capacity string; same contract as [`record_topic_into`].
pub fn schema_topic_into<const N: usize>(
    out: &mut heapless::String<N>,
    node: &str,
) -> Result<(), heapless::CapacityError> {
    fill(out, &schema_parts(node))
}

/// Splits an aimdb topic into its parts, or `None` if `topic` is not one (other prefix, wrong
/// number of levels, an invalid node or key, a reserved key as record key).
pub fn parse(topic: &str) -> Option<Topic<'_>> {
    let rest = topic.strip_prefix(PREFIX)?.strip_prefix('/')?;
    let (node, rest) = rest.split_once('/')?;
    validate_segment(node).ok()?;
    if rest == STATUS_LEVEL {
        return Some(Topic::Status { node });
    }
    if rest == SCHEMA_LEVEL {
        return Some(Topic::Schema { node });
    }
    if let Some(key) = rest
        .strip_prefix(CMD_LEVEL)
        .and_then(|r| r.strip_prefix('/'))
    {
        validate_key(key).ok()?;
        return Some(Topic::Command { node, key });
    }
    validate_key(rest).ok()?;
    Some(Topic::Record { node, key: rest })
}

/// Whether MQTT topic filter `filter` matches topic name `topic`, by the MQTT rules (see the
/// module doc). An invalid filter ([`validate_filter`]) or topic name ([`validate_topic`])
/// matches nothing.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    if validate_filter(filter).is_err() || validate_topic(topic).is_err() {
        return false;
    }
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            // `#` also matches the parent level: `a/#` matches `a`.
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Checks an MQTT topic filter: non-empty, at most [`MAX_TOPIC_LEN`] bytes, no NUL, `+` and `#`
/// only as whole levels, `#` only as the last level.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        match level {
            "#" if levels.peek().is_some() => return Err(TopicError::MultiLevelWildcardNotLast),
            "#" | "+" => {}
            _ if level.contains(['+', '#']) => return Err(TopicError::WildcardNotWholeLevel),
            _ => {}
        }
    }
    Ok(())
}

/// Checks an MQTT topic name (what is published to): non-empty, at most [`MAX_TOPIC_LEN`]
/// bytes, no NUL, no wildcards.
pub fn validate_topic(topic: &str) -> Result<(), TopicError> {
    check_common(topic)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::ContainsWildcard);
    }
    Ok(())
}

/// Checks that `segment` (a node id or a record key) can be one topic level: non-empty, no `/`,
/// `+`, `#` or NUL.
pub fn validate_segment(segment: &str) -> Result<(), TopicError> {
    check_common(segment)?;
    if segment.contains('/') {
        return Err(TopicError::ContainsSeparator);
    }
    if segment.contains(['+', '#']) {
        return Err(TopicError::ContainsWildcard);
    }
    Ok(())
}

/// Checks a record key for use in topics: [`validate_segment`], and not one of the levels the
/// scheme reserves (`cmd`, `status`, `schema`).
pub fn validate_key(key: &str) -> Result<(), TopicError> {
    validate_segment(key)?;
    if key == CMD_LEVEL || key == STATUS_LEVEL || key == SCHEMA_LEVEL {
        return Err(TopicError::ReservedKey);
    }
    Ok(())
}

fn check_common(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > MAX_TOPIC_LEN {
        return Err(TopicError::TooLong { len: s.len() });
    }
    if s.contains('\0') {
        return Err(TopicError::ContainsNul);
    }
    // MQTT 3.1.1 §1.5.3: U+0001..U+001F and U+007F..U+009F "SHOULD NOT" appear; brokers close
    // the connection on some of them, and a node id such as "a\nb" never connects.
    if let Some((at, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(TopicError::ContainsControl { at, code: c as u32 });
    }
    Ok(())
}

/// Why a topic, filter, node id or key was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicError {
    /// It is empty.
    Empty,
    /// It is longer than [`MAX_TOPIC_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// It contains the NUL character, which MQTT forbids.
    ContainsNul,
    /// It contains a control character (U+0001..U+001F, U+007F..U+009F), which MQTT advises
    /// against and brokers may refuse.
    ContainsControl {
        /// Byte offset of the first one.
        at: usize,
        /// Its code point.
        code: u32,
    },
    /// A node id or key contains `/`, so it would span several levels.
    ContainsSeparator,
    /// A topic name, node id or key contains `+` or `#`.
    ContainsWildcard,
    /// A filter has `#` before its last level.
    MultiLevelWildcardNotLast,
    /// A filter has `+` or `#` next to other characters in one level (`a+`, `#b`).
    WildcardNotWholeLevel,
    /// A record key is `cmd`, `status` or `schema`, levels the topic scheme reserves.
    ReservedKey,
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::Empty => f.write_str("must not be empty"),
            TopicError::TooLong { len } => {
                write!(
                    f,
                    "is {len} bytes long; MQTT allows at most {MAX_TOPIC_LEN}"
                )
            }
            TopicError::ContainsNul => f.write_str("must not contain the NUL character"),
            TopicError::ContainsControl { at, code } => write!(
                f,
                "must not contain control characters (U+{code:04X} at byte {at})"
            ),
            TopicError::ContainsSeparator => {
                f.write_str("must not contain '/': it is a single topic level")
            }
            TopicError::ContainsWildcard => f.write_str("must not contain '+' or '#'"),
            TopicError::MultiLevelWildcardNotLast => {
                f.write_str("'#' is only allowed as the last level of a filter")
            }
            TopicError::WildcardNotWholeLevel => {
                f.write_str("'+' and '#' must stand alone in their level (like a/+/b or a/#)")
            }
            TopicError::ReservedKey => {
                f.write_str("\"cmd\", \"status\" and \"schema\" are reserved by the topic scheme")
            }
        }
    }
}

impl core::error::Error for TopicError {}

#[cfg(test)]
mod tests;
