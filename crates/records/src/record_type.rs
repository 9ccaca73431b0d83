//! The [`RecordType`] trait and the one list of every record type.

use core::fmt::Debug;

use crate::types::{
    DewPoint, Heartbeat, Humidity, NodeCommand, NodeStatus, Temperature, TemperatureAlert,
};
use crate::version::Versioned;

/// A type that can be the value of a record: encodable with every [`Codec`](crate::Codec),
/// versioned ([`Versioned`]: its version chain and schema id), shareable between tasks, and
/// named.
pub trait RecordType: Versioned + Send + Sync + Debug {
    /// The type's name as written in the daemon's config (`type = "Temperature"`) and shown by
    /// `aimdbd types`. Equal to the Rust type name.
    const NAME: &'static str;
}

/// Invokes `$callback!(Temperature, Humidity, Heartbeat, TemperatureAlert, DewPoint,
/// NodeCommand, NodeStatus)`: every record type of this crate, once.
///
/// This is the single list of record types. The daemon builds its type registry from it, so a
/// type added here is known to `aimdbd` without naming it a second time. The callback receives
/// bare identifiers: bring the types into scope first (`use aimdb_records::types::*;`).
///
/// ```
/// use aimdb_records::types::*;
/// use aimdb_records::{for_each_record_type, RecordType};
///
/// macro_rules! names {
///     ($($t:ident),*) => { [$(<$t as RecordType>::NAME),*] };
/// }
/// let names = for_each_record_type!(names);
/// assert_eq!(names[0], "Temperature");
/// ```
#[macro_export]
macro_rules! for_each_record_type {
    ($callback:ident) => {
        // Braces, so the expansion is valid in item as well as expression position.
        $callback! {
            Temperature,
            Humidity,
            Heartbeat,
            TemperatureAlert,
            DewPoint,
            NodeCommand,
            NodeStatus
        }
    };
}

macro_rules! impl_record_type {
    ($($t:ident),*) => {
        $(
            impl RecordType for $t {
                const NAME: &'static str = stringify!($t);
            }
            // Every chain is checked when this crate builds, not only where it is walked.
            const _: () = <$t as Versioned>::CHAIN_OK;
        )*
    };
}
for_each_record_type!(impl_record_type);

// Every record type is at its first version. When one changes shape, move its old definition to
// `types::v1` and implement `Versioned` for the new one by hand (docs/TOPICS.md).
crate::first_version!(
    Temperature,
    Humidity,
    Heartbeat,
    TemperatureAlert,
    DewPoint,
    NodeCommand,
    NodeStatus
);

macro_rules! record_type_names {
    ($($t:ident),*) => {
        &[$(<$t as RecordType>::NAME),*]
    };
}

/// The [`RecordType::NAME`] of every record type, in [`for_each_record_type!`] order.
pub const RECORD_TYPE_NAMES: &[&str] = for_each_record_type!(record_type_names);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_rust_type_names_and_unique() {
        assert_eq!(
            RECORD_TYPE_NAMES,
            &[
                "Temperature",
                "Humidity",
                "Heartbeat",
                "TemperatureAlert",
                "DewPoint",
                "NodeCommand",
                "NodeStatus"
            ]
        );
        for (i, a) in RECORD_TYPE_NAMES.iter().enumerate() {
            assert!(!RECORD_TYPE_NAMES[i + 1..].contains(a), "{a} twice");
        }
    }
}
