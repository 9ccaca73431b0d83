//! Record keys: every record in a graph is addressed by a dotted string key.

/// A value that names a record.
///
/// Implemented for `&str`, `String` and, through `#[derive(RecordKey)]` from `aimdb-derive`, for
/// enums whose variants each name one record (`#[key_prefix = "sensor."]` on the enum,
/// `#[key = "temp.indoor"]` on a variant gives `"sensor.temp.indoor"`).
pub trait RecordKey {
    /// The full key, e.g. `"sensor.temp.indoor"`.
    fn as_key(&self) -> &str;
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
}

impl RecordKey for alloc::string::String {
    fn as_key(&self) -> &str {
        self.as_str()
    }
}
