//! Errors of building and using a database.

use alloc::string::String;
use core::fmt;

use crate::graph::GraphError;
pub use crate::record::StartError;
use crate::record::WriterKind;

/// Why a graph could not be built or started.
#[derive(Debug)]
pub enum BuildError {
    /// `AimDbBuilder::runtime` was not called.
    NoRuntime,
    /// The graph is invalid; every problem is listed.
    Graph(GraphError),
    /// A component of a valid graph could not be started: which one, and why.
    Start(StartError),
    /// The runtime refused to spawn a task.
    Spawn(crate::runtime::SpawnError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::NoRuntime => f.write_str("no runtime given to the builder"),
            BuildError::Graph(e) => fmt::Display::fmt(e, f),
            BuildError::Start(e) => write!(f, "could not start the graph: {e}"),
            BuildError::Spawn(e) => write!(f, "could not spawn a task: {e}"),
        }
    }
}

/// `source` is the [`StartError`] of [`BuildError::Start`], whose text `Display` includes.
impl core::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            BuildError::Start(e) => Some(e),
            _ => None,
        }
    }
}

impl From<GraphError> for BuildError {
    fn from(e: GraphError) -> Self {
        BuildError::Graph(e)
    }
}

impl From<StartError> for BuildError {
    fn from(e: StartError) -> Self {
        BuildError::Start(e)
    }
}

/// Why a record could not be accessed by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// No record has this key.
    UnknownKey {
        /// The key asked for.
        key: String,
        /// The closest existing key, if one is close.
        suggestion: Option<String>,
    },
    /// The record carries another type.
    TypeMismatch {
        /// The key.
        key: String,
        /// The type asked for.
        requested: &'static str,
        /// The type the record carries.
        actual: &'static str,
    },
    /// The record already has a writer in the graph (a source, a transform or inbound links):
    /// only records with no configured writer ([`WriterKind::External`]) take outside
    /// producers, so that one record never carries two interleaved streams.
    NotWritable {
        /// The key.
        key: String,
        /// What writes it.
        writer: WriterKind,
    },
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::UnknownKey { key, suggestion } => {
                write!(f, "no record {key:?}")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean {s:?}?"),
                    None => Ok(()),
                }
            }
            AccessError::TypeMismatch {
                key,
                requested,
                actual,
            } => write!(f, "record {key:?} carries {actual}, not {requested}"),
            AccessError::NotWritable { key, writer } => write!(
                f,
                "record {key:?} is written by its {writer}; only records with no writer in the \
                 graph can be set from outside"
            ),
        }
    }
}

impl core::error::Error for AccessError {}
