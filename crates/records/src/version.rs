//! Versioned record contracts: each record type's version chain, its schema id, and the
//! conversions between versions.
//!
//! A record type is one link of a chain `v1 → v2 → … → current` ([`Versioned`]). Each link
//! names its [`Versioned::Previous`] type (the `Origin` marker for version 1), says how a value
//! of the previous version becomes one of this version ([`Versioned::up`], total) and back
//! ([`Versioned::down`], which may refuse: a command added in v2 has no v1 form).
//!
//! The chain is checked at compile time: version `n` must follow version `n - 1` directly, so a
//! gap or a wrong order does not build ([`Versioned::CHAIN_OK`], forced for every record type of
//! this crate and by every function here that walks a chain).
//!
//! Each version has a [`SchemaId`]: a 64-bit FNV-1a hash of its structure (field names and
//! types, their order, enum variants and their fields) computed at compile time by
//! `postcard-schema`, the same on the MCU and the gateway. Peers exchange the low 32 bits
//! ([`SchemaId::short`]) in every frame and announcement; a peer whose version number matches
//! but whose schema does not (someone changed a type without bumping its version) is refused,
//! never decoded into garbage.
//!
//! [`decode_at`] and [`encode_at`] walk the chain, so any version this build knows converts to
//! and from the current type. They are generic over the codec ([`DecodeAs`], [`EncodeAs`]), so
//! the same walk serves postcard into a `Vec` (the daemon), postcard into a slice (the firmware)
//! and JSON.

use core::fmt;

use postcard_schema::key::hash::fnv1a64::hash_ty_path;
use postcard_schema::Schema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A 64-bit identity of a type's structure; see the module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u64);

impl SchemaId {
    /// The schema id of `T`'s structure (names of fields and variants, data-model types, order;
    /// not the names of the types themselves).
    pub const fn of<T: Schema + ?Sized>() -> Self {
        SchemaId(u64::from_le_bytes(hash_ty_path::<T>("")))
    }

    /// The 32 bits carried on the wire: in frame headers and announcements.
    pub const fn short(self) -> u32 {
        let b = self.0.to_le_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl fmt::Display for SchemaId {
    /// Sixteen lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A value of a newer version that the older version cannot express (a command variant added
/// later, say). Such a value is not sent to a peer that only speaks the older version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unrepresentable {
    /// The version that cannot express it.
    pub version: u16,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the value has no form in version {}", self.version)
    }
}

impl core::error::Error for Unrepresentable {}

/// One version of a record type, linked to the version before it.
///
/// Implement it by hand for a new version (see docs/TOPICS.md, "Evolving a type"): keep the
/// old definition in a `v<N>` module, set `VERSION` to one more than the previous one's, point
/// `Previous` at it, and write `up` and `down`. Version 1 has `Previous = Origin`.
pub trait Versioned: Serialize + DeserializeOwned + Schema + Clone + Sized + 'static {
    /// This version's number, `1` for a type's first version. Bumped by the type's author
    /// whenever its structure changes (the golden schema test fails until it is).
    const VERSION: u16;
    /// The version before this one ([`Origin`] for version 1).
    type Previous: Versioned;
    /// A value of the previous version as a value of this one.
    fn up(previous: Self::Previous) -> Self;
    /// This value as one of the previous version, or [`Unrepresentable`] if it has no form
    /// there.
    fn down(self) -> Result<Self::Previous, Unrepresentable>;

    /// This version's schema id.
    const SCHEMA_ID: SchemaId = SchemaId::of::<Self>();
    /// Compile-time check of the chain: evaluating it fails the build unless `VERSION` is one
    /// more than `Previous::VERSION` (so version 1's previous is [`Origin`]).
    const CHAIN_OK: () = assert!(
        Self::VERSION >= 1 && Self::VERSION - 1 == <Self::Previous as Versioned>::VERSION,
        "a version chain must count 1, 2, 3, … with each version's Previous the one before it"
    );
}

/// The start of every version chain: the previous version of a version 1. It has no values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Schema)]
pub enum Origin {}

impl Versioned for Origin {
    const VERSION: u16 = 0;
    type Previous = Origin;
    fn up(previous: Origin) -> Self {
        previous
    }
    fn down(self) -> Result<Origin, Unrepresentable> {
        match self {}
    }
    const CHAIN_OK: () = ();
}

/// Implements [`Versioned`] as version 1 (no previous version) for each type.
#[macro_export]
macro_rules! first_version {
    ($($t:ty),* $(,)?) => {
        $(
            impl $crate::version::Versioned for $t {
                const VERSION: u16 = 1;
                type Previous = $crate::version::Origin;
                fn up(previous: $crate::version::Origin) -> Self {
                    match previous {}
                }
                fn down(self) -> Result<$crate::version::Origin, $crate::version::Unrepresentable> {
                    Err($crate::version::Unrepresentable { version: 0 })
                }
            }
        )*
    };
}

/// Every version of `T`'s chain, newest first: `(version, schema id)`.
pub fn versions<T: Versioned>(mut each: impl FnMut(u16, SchemaId)) {
    fn walk<V: Versioned>(each: &mut dyn FnMut(u16, SchemaId)) {
        let () = V::CHAIN_OK;
        if V::VERSION == 0 {
            return;
        }
        each(V::VERSION, V::SCHEMA_ID);
        walk::<V::Previous>(each);
    }
    walk::<T>(&mut each);
}

/// The schema id of version `version` of `T`'s chain, if the chain has it.
pub fn schema_id_of<T: Versioned>(version: u16) -> Option<SchemaId> {
    let mut found = None;
    versions::<T>(|v, id| {
        if v == version {
            found = Some(id);
        }
    });
    found
}

/// Why a value could not be read or written at a version.
#[derive(Debug)]
pub enum VersionError<E> {
    /// The chain has no such version: newer than this build knows, or `0`.
    Unknown {
        /// The version asked for.
        version: u16,
        /// The newest version this build knows.
        newest: u16,
    },
    /// The version is known, but the peer's schema id for it is not ours: one side changed the
    /// type without bumping its version.
    SchemaMismatch {
        /// The version.
        version: u16,
        /// Our schema id's short form for it.
        ours: u32,
        /// The peer's.
        theirs: u32,
    },
    /// The value has no form in that version.
    Unrepresentable(Unrepresentable),
    /// The codec failed at that version.
    Codec(E),
}

impl<E: fmt::Display> fmt::Display for VersionError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionError::Unknown { version, newest } => write!(
                f,
                "version {version} is unknown here (this build knows up to version {newest})"
            ),
            VersionError::SchemaMismatch {
                version,
                ours,
                theirs,
            } => write!(
                f,
                "schema {theirs:08x} for version {version} is not this build's {ours:08x} (a type \
                 changed without a version bump)"
            ),
            VersionError::Unrepresentable(u) => u.fmt(f),
            VersionError::Codec(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for VersionError<E> {}

/// A codec's decoder for one payload, generic over the version's type.
pub trait DecodeAs {
    /// The codec's error.
    type Error;
    /// Decodes the payload as a `V`.
    fn decode<V: Versioned>(self) -> Result<V, Self::Error>;
}

/// A codec's encoder for one value, generic over the version's type.
pub trait EncodeAs {
    /// The codec's error.
    type Error;
    /// Encodes `value`.
    fn encode<V: Versioned>(&mut self, value: &V) -> Result<(), Self::Error>;
}

/// Decodes a payload of version `version` with `dec` and converts it to `T`, checking the
/// peer's schema id when it is given.
pub fn decode_at<T: Versioned, D: DecodeAs>(
    version: u16,
    schema: Option<u32>,
    dec: D,
) -> Result<T, VersionError<D::Error>> {
    let () = T::CHAIN_OK;
    if version == T::VERSION {
        if let Some(theirs) = schema {
            let ours = T::SCHEMA_ID.short();
            if theirs != ours {
                return Err(VersionError::SchemaMismatch {
                    version,
                    ours,
                    theirs,
                });
            }
        }
        dec.decode::<T>().map_err(VersionError::Codec)
    } else if version >= 1 && version < T::VERSION {
        decode_at::<T::Previous, D>(version, schema, dec).map(T::up)
    } else {
        Err(VersionError::Unknown {
            version,
            newest: T::VERSION,
        })
    }
}

/// Converts `value` to version `version` and encodes it with `enc`.
///
/// The current version encodes `value` in place; an older one clones it once and walks
/// [`Versioned::down`].
pub fn encode_at<T: Versioned, E: EncodeAs>(
    value: &T,
    version: u16,
    enc: &mut E,
) -> Result<(), VersionError<E::Error>> {
    let () = T::CHAIN_OK;
    if version == T::VERSION {
        enc.encode(value).map_err(VersionError::Codec)
    } else if version >= 1 && version < T::VERSION {
        let older = value
            .clone()
            .down()
            .map_err(VersionError::Unrepresentable)?;
        encode_at::<T::Previous, E>(&older, version, enc)
    } else {
        Err(VersionError::Unknown {
            version,
            newest: T::VERSION,
        })
    }
}

/// The version to speak to a peer that announced `peer` (its `(version, short schema id)`
/// pairs for `T`): the newest version both know with the same schema; `None` if they share
/// none. A peer that announced nothing for `T` is spoken to in `T`'s current version.
pub fn negotiate<T: Versioned>(peer: Option<&[(u16, u32)]>) -> Option<u16> {
    let Some(peer) = peer else {
        return Some(T::VERSION);
    };
    let mut best = None;
    versions::<T>(|v, id| {
        if best.is_none() && peer.contains(&(v, id.short())) {
            best = Some(v);
        }
    });
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Temperature;

    #[test]
    fn first_versions_have_one_link() {
        let mut seen = alloc::vec::Vec::new();
        versions::<Temperature>(|v, id| seen.push((v, id)));
        assert_eq!(seen, [(1, Temperature::SCHEMA_ID)]);
        assert_eq!(schema_id_of::<Temperature>(1), Some(Temperature::SCHEMA_ID));
        assert_eq!(schema_id_of::<Temperature>(2), None);
    }

    #[test]
    fn negotiation_picks_the_newest_shared_version() {
        let ours = Temperature::SCHEMA_ID.short();
        assert_eq!(negotiate::<Temperature>(None), Some(1));
        assert_eq!(negotiate::<Temperature>(Some(&[(1, ours)])), Some(1));
        assert_eq!(negotiate::<Temperature>(Some(&[(2, 7)])), None);
        assert_eq!(negotiate::<Temperature>(Some(&[(1, ours ^ 1)])), None);
    }
}
