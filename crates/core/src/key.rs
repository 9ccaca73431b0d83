//! Record keys: every record in a graph is addressed by a dotted string key.

/// A value that names a record.
///
/// Implemented for `&str`, `String` and, through `#[derive(RecordKey)]` from `aimdb-derive`, for
/// enums whose variants each name one record (`#[key_prefix = "sensor."]` on the enum,
/// `#[key = "temp.indoor"]` on a variant gives `"sensor.temp.indoor"`), optionally with the
/// address of the record's link (`#[link_address = "mqtt://sensors/temp/indoor"]`).
pub trait RecordKey {
    /// The full key, e.g. `"sensor.temp.indoor"`.
    fn as_key(&self) -> &str;

    /// The connector address this key's record links to or from, as a URL whose scheme names
    /// the connector (`"mqtt://sensors/temp/indoor"`), if the key carries one. Metadata only:
    /// nothing is linked until a registrar's `link_to` / `link_from` is given the address.
    /// `None` for plain string keys; `#[derive(RecordKey)]` returns the variant's
    /// `#[link_address]`.
    fn link_address(&self) -> Option<&str> {
        None
    }
}

impl RecordKey for str {
    fn as_key(&self) -> &str {
        self
    }
}

impl<K: RecordKey + ?Sized> RecordKey for &K {
    fn as_key(&self) -> &str {
        (**self).as_key()
    }

    fn link_address(&self) -> Option<&str> {
        (**self).link_address()
    }
}

impl RecordKey for alloc::string::String {
    fn as_key(&self) -> &str {
        self.as_str()
    }
}
