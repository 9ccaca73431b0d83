//! A link's wire format as the config names it (`codec = "..."`): shared by the record links
//! and `[sparkplug]`'s device links.

use aimdb_records::Codec;

/// Serializes a [`LinkCodec`] as its config spelling.
pub(crate) fn codec_name<S: serde::Serializer>(c: &LinkCodec, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

/// A link's wire format: a record codec, or raw UTF-8 text for records of type `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkCodec {
    /// `postcard` or `json` (see `aimdb_records::Codec`).
    Wire(Codec),
    /// `text`: in, the payload (UTF-8) becomes a JSON string; out, a string value is published
    /// as its bare text and any other value as JSON. Records of type `json` only.
    Text,
}

impl LinkCodec {
    /// The config spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LinkCodec::Wire(c) => c.as_str(),
            LinkCodec::Text => "text",
        }
    }
}

impl std::fmt::Display for LinkCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
