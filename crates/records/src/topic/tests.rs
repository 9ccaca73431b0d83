use super::*;
use crate::keys::{NodeKey, SensorKey};
use alloc::string::ToString;

#[test]
fn builders_follow_the_scheme() {
    assert_eq!(
        record_topic("node-7", &SensorKey::TempIndoor),
        "aimdb/node-7/sensor.temp.indoor"
    );
    assert_eq!(record_topic("n", "x.y"), "aimdb/n/x.y");
    assert_eq!(
        command_topic("node-7", &NodeKey::Command),
        "aimdb/node-7/cmd/node.cmd"
    );
    assert_eq!(status_topic("node-7"), "aimdb/node-7/status");
    assert_eq!(
        record_filter_all_nodes(&SensorKey::TempIndoor),
        "aimdb/+/sensor.temp.indoor"
    );
    assert_eq!(command_filter("node-7"), "aimdb/node-7/cmd/+");
}

#[test]
fn heapless_builders_match_and_report_overflow() {
    let mut out = heapless::String::<64>::new();
    record_topic_into(&mut out, "node-7", &SensorKey::TempIndoor).unwrap();
    assert_eq!(out, record_topic("node-7", &SensorKey::TempIndoor).as_str());
    command_topic_into(&mut out, "node-7", "node.cmd").unwrap();
    assert_eq!(out, "aimdb/node-7/cmd/node.cmd");
    status_topic_into(&mut out, "node-7").unwrap();
    assert_eq!(out, "aimdb/node-7/status");

    let mut small = heapless::String::<10>::new();
    assert!(record_topic_into(&mut small, "node-7", "sensor.temp").is_err());
    assert_eq!(small, "", "left empty on overflow");
}

#[test]
fn parse_inverts_the_builders() {
    let t = record_topic("n1", &SensorKey::TempIndoor);
    assert_eq!(
        parse(&t),
        Some(Topic::Record {
            node: "n1",
            key: "sensor.temp.indoor"
        })
    );
    let t = command_topic("n1", "node.cmd");
    assert_eq!(
        parse(&t),
        Some(Topic::Command {
            node: "n1",
            key: "node.cmd"
        })
    );
    assert_eq!(
        parse(&status_topic("n1")),
        Some(Topic::Status { node: "n1" })
    );
    for t in [
        "aimdb/n1/sensor.temp",
        "aimdb/n1/cmd/node.cmd",
        "aimdb/n1/status",
    ] {
        let parsed = parse(t).unwrap();
        assert_eq!(parsed.to_string(), t);
        assert_eq!(parsed.node(), "n1");
    }
}

#[test]
fn parse_rejects_foreign_and_malformed_topics() {
    for bad in [
        "",
        "aimdb",
        "aimdb/",
        "aimdb/n1",
        "aimdb/n1/",
        "aimdb//status",
        "aimdbx/n1/status",
        "other/n1/status",
        "/aimdb/n1/status",
        "aimdb/n1/a/b",
        "aimdb/n1/cmd",
        "aimdb/n1/cmd/",
        "aimdb/n1/cmd/a/b",
        "aimdb/n1/cmd/status",
        "aimdb/n1/status/x",
        "aimdb/+/status",
        "aimdb/n1/#",
        "aimdb/n\u{0}1/x",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}

#[test]
fn plus_matches_exactly_one_level_even_empty() {
    assert!(filter_matches("a/+/c", "a/b/c"));
    assert!(filter_matches("a/+/c", "a//c"));
    assert!(filter_matches("a/+", "a/"));
    assert!(!filter_matches("a/+", "a"));
    assert!(!filter_matches("a/+", "a/b/c"));
    assert!(filter_matches("+", "a"));
    assert!(!filter_matches("+", "/a"));
    assert!(filter_matches("+/+", "/a"));
    assert!(filter_matches("/+", "/a"));
    assert!(filter_matches("+/+/+", "aimdb/n1/status"));
}

#[test]
fn hash_matches_the_parent_and_every_child_level() {
    assert!(filter_matches("a/#", "a"));
    assert!(filter_matches("a/#", "a/"));
    assert!(filter_matches("a/#", "a/b"));
    assert!(filter_matches("a/#", "a/b/c/d"));
    assert!(!filter_matches("a/#", "ab"));
    assert!(!filter_matches("a/#", "b/a"));
    assert!(filter_matches("#", "a"));
    assert!(filter_matches("#", "/"));
    assert!(filter_matches("a/+/#", "a/b"));
    assert!(!filter_matches("a/+/#", "a"));
}

#[test]
fn literal_levels_match_exactly() {
    assert!(filter_matches("a/b", "a/b"));
    assert!(!filter_matches("a/b", "a/B"));
    assert!(!filter_matches("a/b", "a/b/"));
    assert!(!filter_matches("a/b/", "a/b"));
    assert!(filter_matches("/", "/"));
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    assert!(!filter_matches("#", "$SYS/broker/uptime"));
    assert!(!filter_matches("+/broker/uptime", "$SYS/broker/uptime"));
    assert!(filter_matches("$SYS/#", "$SYS/broker/uptime"));
    assert!(filter_matches("$SYS/+/uptime", "$SYS/broker/uptime"));
    // `$` elsewhere is an ordinary character.
    assert!(filter_matches("a/+", "a/$b"));
}

#[test]
fn invalid_filters_and_topics_match_nothing() {
    assert!(!filter_matches("a/#/b", "a/x/b"));
    assert!(!filter_matches("a+", "a+"));
    assert!(!filter_matches("", ""));
    assert!(!filter_matches("#", "a/+"));
    assert!(!filter_matches("#", "a/#"));
    assert!(!filter_matches("a/\0", "a/\0"));
}

#[test]
fn scheme_filters_match_scheme_topics() {
    let t = record_topic("n1", &SensorKey::TempIndoor);
    assert!(filter_matches(
        &record_filter_all_nodes(&SensorKey::TempIndoor),
        &t
    ));
    assert!(filter_matches(
        &command_filter("n1"),
        &command_topic("n1", &NodeKey::Command)
    ));
    assert!(!filter_matches(
        &command_filter("n2"),
        &command_topic("n1", &NodeKey::Command)
    ));
    assert!(filter_matches(STATUS_FILTER, &status_topic("n1")));
    assert!(!filter_matches(STATUS_FILTER, &t));
}

#[test]
fn validate_filter_enforces_wildcard_placement() {
    for ok in [
        "#", "+", "a/#", "+/+", "a/+/b", "/", "a//b", "$SYS/#", "a/b",
    ] {
        assert_eq!(validate_filter(ok), Ok(()), "{ok:?}");
    }
    assert_eq!(validate_filter(""), Err(TopicError::Empty));
    assert_eq!(
        validate_filter("a/#/b"),
        Err(TopicError::MultiLevelWildcardNotLast)
    );
    assert_eq!(
        validate_filter("#/a"),
        Err(TopicError::MultiLevelWildcardNotLast)
    );
    for bad in ["a#", "a/b#", "a+", "+a/b", "a/++", "##"] {
        assert_eq!(
            validate_filter(bad),
            Err(TopicError::WildcardNotWholeLevel),
            "{bad:?}"
        );
    }
    assert_eq!(validate_filter("a\0b"), Err(TopicError::ContainsNul));
    let long = "a".repeat(MAX_TOPIC_LEN + 1);
    assert_eq!(
        validate_filter(&long),
        Err(TopicError::TooLong {
            len: MAX_TOPIC_LEN + 1
        })
    );
}

#[test]
fn validate_segment_and_key() {
    assert_eq!(validate_segment("node-7"), Ok(()));
    assert_eq!(validate_segment("sensor.temp.indoor"), Ok(()));
    assert_eq!(validate_segment(""), Err(TopicError::Empty));
    assert_eq!(validate_segment("a/b"), Err(TopicError::ContainsSeparator));
    assert_eq!(validate_segment("a+"), Err(TopicError::ContainsWildcard));
    assert_eq!(validate_segment("#"), Err(TopicError::ContainsWildcard));
    assert_eq!(validate_segment("a\0"), Err(TopicError::ContainsNul));
    assert_eq!(validate_segment("status"), Ok(()));
    assert_eq!(validate_key("status"), Err(TopicError::ReservedKey));
    assert_eq!(validate_key("cmd"), Err(TopicError::ReservedKey));
    assert_eq!(validate_key("node.status"), Ok(()));
}

#[test]
fn control_characters_are_refused_everywhere() {
    let nl = TopicError::ContainsControl { at: 1, code: 0x0a };
    assert_eq!(validate_segment("a\nb"), Err(nl));
    assert_eq!(validate_key("a\nb"), Err(nl));
    assert_eq!(validate_topic("a\nb"), Err(nl));
    assert_eq!(validate_filter("a\nb"), Err(nl));
    let us = TopicError::ContainsControl { at: 3, code: 0x1f };
    assert_eq!(validate_key("key\u{1f}x"), Err(us));
    assert_eq!(
        validate_topic("é\u{7f}"),
        Err(TopicError::ContainsControl { at: 2, code: 0x7f })
    );
    assert_eq!(
        validate_topic("a\u{85}"),
        Err(TopicError::ContainsControl { at: 1, code: 0x85 })
    );
    assert_eq!(
        validate_topic("a/é/\u{a0}"),
        Ok(()),
        "no-break space is printable"
    );
    assert!(us.to_string().contains("U+001F"), "{us}");
}

#[test]
fn validate_topic_rejects_wildcards() {
    assert_eq!(validate_topic("a/b"), Ok(()));
    assert_eq!(validate_topic("a/+"), Err(TopicError::ContainsWildcard));
    assert_eq!(validate_topic("#"), Err(TopicError::ContainsWildcard));
    assert_eq!(validate_topic(""), Err(TopicError::Empty));
}

#[test]
fn errors_explain_themselves() {
    let msg = TopicError::MultiLevelWildcardNotLast.to_string();
    assert!(msg.contains("last level"), "{msg}");
}
