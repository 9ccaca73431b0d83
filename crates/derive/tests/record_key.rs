//! `#[derive(RecordKey)]` as a user sees it: keys, lookup, `ALL`, `Display` and the core trait.

use aimdb_core::RecordKey as _;
use aimdb_derive::RecordKey;

#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq)]
#[key_prefix = "sensor."]
pub enum SensorKey {
    #[key = "temp.indoor"]
    TempIndoor,
    #[key = "temp.outdoor"]
    TempOutdoor,
    Humidity,
    Co2Level,
}

/// No prefix: keys are the `#[key]` values or snake_case names alone.
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq)]
enum Bare {
    #[key = "node.status"]
    Status,
    HeartBeat,
}

/// Discriminants and other attributes do not disturb the derive.
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[key_prefix = "alert."]
#[repr(u8)]
enum WithDiscriminants {
    /// Documented variant.
    #[key = "temp"]
    Temp = 3,
    #[allow(dead_code)]
    Other = 7,
}

/// An enum without variants still derives (and names no record).
#[derive(RecordKey)]
enum Empty {}

#[test]
fn keys_are_prefix_plus_key_or_snake_case_name() {
    assert_eq!(SensorKey::TempIndoor.key(), "sensor.temp.indoor");
    assert_eq!(SensorKey::TempOutdoor.key(), "sensor.temp.outdoor");
    assert_eq!(SensorKey::Humidity.key(), "sensor.humidity");
    assert_eq!(SensorKey::Co2Level.key(), "sensor.co2_level");
    assert_eq!(Bare::Status.key(), "node.status");
    assert_eq!(Bare::HeartBeat.key(), "heart_beat");
    assert_eq!(WithDiscriminants::Temp.key(), "alert.temp");
    assert_eq!(WithDiscriminants::Temp as u8, 3);
}

#[test]
fn key_is_usable_in_const_context() {
    const KEY: &str = SensorKey::TempIndoor.key();
    assert_eq!(KEY, "sensor.temp.indoor");
}

#[test]
fn as_key_matches_key_and_display() {
    for k in SensorKey::ALL {
        assert_eq!(k.as_key(), k.key());
        assert_eq!(k.to_string(), k.key());
        assert_eq!(format!("{k}"), k.key());
    }
}

#[test]
fn all_lists_every_variant_in_declaration_order() {
    assert_eq!(
        SensorKey::ALL,
        &[
            SensorKey::TempIndoor,
            SensorKey::TempOutdoor,
            SensorKey::Humidity,
            SensorKey::Co2Level
        ]
    );
    assert_eq!(Empty::ALL.len(), 0);
    assert!(Empty::from_key("").is_none());
}

#[test]
fn from_key_round_trips_and_rejects_near_misses() {
    for k in SensorKey::ALL {
        assert_eq!(SensorKey::from_key(k.key()), Some(*k));
    }
    for miss in [
        "",
        "sensor.",
        "temp.indoor",
        "SENSOR.TEMP.INDOOR",
        "sensor.temp.indoor ",
        "sensor.TempIndoor",
    ] {
        assert_eq!(SensorKey::from_key(miss), None, "{miss:?}");
    }
    assert_eq!(
        WithDiscriminants::from_key("alert.other"),
        Some(WithDiscriminants::Other)
    );
}

#[test]
fn works_where_the_core_trait_is_expected() {
    fn key_of(k: &impl aimdb_core::RecordKey) -> &str {
        k.as_key()
    }
    assert_eq!(key_of(&SensorKey::Humidity), "sensor.humidity");
    assert_eq!(key_of(&&Bare::Status), "node.status");
    let dynamic: &dyn aimdb_core::RecordKey = &SensorKey::TempOutdoor;
    assert_eq!(dynamic.as_key(), "sensor.temp.outdoor");
}

/// Per-variant connector metadata, in the shape of the AimDB documentation.
#[derive(RecordKey, Clone, Copy, Debug, PartialEq, Eq)]
#[key_prefix = "sensor."]
pub enum LinkedKey {
    #[key = "temp.indoor"]
    #[link_address = "mqtt://sensors/temp/indoor"]
    TempIndoor,
    /// The attributes may come in either order, among others.
    #[link_address = "knx://9/1/0"]
    #[key = "temp.outdoor"]
    TempOutdoor,
    /// No address: no link.
    Humidity,
}

#[test]
fn link_address_is_the_variants_attribute_or_none() {
    assert_eq!(
        LinkedKey::TempIndoor.link_address(),
        Some("mqtt://sensors/temp/indoor")
    );
    assert_eq!(LinkedKey::TempOutdoor.link_address(), Some("knx://9/1/0"));
    assert_eq!(LinkedKey::Humidity.link_address(), None);
    // Keys are unaffected by the address.
    assert_eq!(LinkedKey::TempOutdoor.key(), "sensor.temp.outdoor");
    // Enums without any address answer `None` for every variant.
    assert!(SensorKey::ALL.iter().all(|k| k.link_address().is_none()));
    assert_eq!(Empty::ALL.iter().find_map(|k| k.link_address()), None);
}

#[test]
fn link_address_is_const_and_static() {
    const ADDR: Option<&str> = LinkedKey::TempIndoor.link_address();
    assert_eq!(ADDR, Some("mqtt://sensors/temp/indoor"));
    let addr: &'static str = LinkedKey::TempOutdoor.link_address().unwrap();
    assert!(addr.starts_with("knx://"));
}

#[test]
fn link_address_through_the_core_trait() {
    fn address_of(k: &impl aimdb_core::RecordKey) -> Option<&str> {
        aimdb_core::RecordKey::link_address(k)
    }
    assert_eq!(
        address_of(&LinkedKey::TempIndoor),
        Some("mqtt://sensors/temp/indoor")
    );
    assert_eq!(address_of(&&LinkedKey::Humidity), None);
    let dynamic: &dyn aimdb_core::RecordKey = &LinkedKey::TempOutdoor;
    assert_eq!(dynamic.link_address(), Some("knx://9/1/0"));
    // Plain string keys carry no address.
    assert_eq!(address_of(&"sensor.temp.indoor"), None);
    assert_eq!(address_of(&String::from("x")), None);
}
