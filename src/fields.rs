//! The field names of a serde-derived struct, read from the derive itself, so that lists of
//! known keys (for "unknown field" and "did you mean" hints) never drift from the types.

use serde::de::DeserializeOwned;

/// The field names serde's derive gives `T` (after renames), read by asking `T` to deserialize
/// itself from a probe that records the list and then fails.
pub(crate) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(probe::FieldProbe(&mut fields));
    fields
}

mod probe {
    use serde::de::{self, Visitor};
    use serde::forward_to_deserialize_any;

    /// A deserializer that only records the fields a struct asks for.
    pub(super) struct FieldProbe<'a>(pub(crate) &'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("field probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("field probe"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Probed {
        a: u8,
        #[serde(rename = "type")]
        kind: String,
    }

    #[test]
    fn names_follow_renames_and_non_structs_have_none() {
        assert_eq!(field_names::<Probed>(), &["a", "type"]);
        assert!(field_names::<u32>().is_empty());
        assert!(field_names::<serde_json::Value>().is_empty());
    }
}
