//! What a component is: the kinds (config `kind`, docs, parameter parser) and the validated
//! instances each source, transform and tap file defines, and what the graph builder hands
//! them. The tables of built-in kinds are in `components/mod.rs`.

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};

use aimdb_core::{BoxFuture, RuntimeContext};

use super::table::ComponentTable;
use crate::diagnostics::Problem;
use crate::Rt;

/// What a component's `parse` gives: the validated instance, or every problem with its params.
pub(crate) type Parsed<T> = Result<Arc<T>, Vec<Problem>>;

/// One documented parameter of a component, for `aimdbd types` and docs.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct ParamDoc {
    /// Config field name.
    pub(crate) name: &'static str,
    /// Its TOML type.
    #[serde(rename = "type")]
    pub(crate) ty: &'static str,
    /// Its default, or `"required"`.
    pub(crate) default: &'static str,
    /// What it does.
    pub(crate) doc: &'static str,
}

/// What the graph builder gives components.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// `[node] id`, stamped into values sources produce.
    pub(crate) node_id: Arc<str>,
}

/// A kind of source (`source = { kind = "...", ... }`).
pub(crate) struct SourceKind {
    /// Config `kind`.
    pub(crate) kind: &'static str,
    /// One line for `aimdbd types`.
    pub(crate) doc: &'static str,
    /// Record types it can write.
    pub(crate) output_types: &'static [&'static str],
    /// Its parameters.
    pub(crate) params: &'static [ParamDoc],
    /// Validates the parameters.
    pub(crate) parse: fn(&ComponentTable) -> Parsed<dyn SourceInstance>,
}

/// A validated source, ready to be added to a record.
pub(crate) trait SourceInstance: fmt::Debug + Send + Sync {
    /// `kind(param=value, ...)`, for graphs and logs.
    fn describe(&self) -> String;
    /// Adds the source to `registrar`, a `&mut RecordRegistrar<T, Rt>` of the record's type.
    fn attach(&self, registrar: &mut dyn Any, env: &Env) -> Result<(), AttachError>;
}

/// One input field of a transform kind.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct InputDoc {
    /// Config field naming the input record (`input`, `temperature`, ...).
    pub(crate) field: &'static str,
    /// The record type the input must carry.
    #[serde(rename = "type")]
    pub(crate) ty: &'static str,
}

/// A kind of transform (`transform = { kind = "...", input = "...", ... }`).
pub(crate) struct TransformKind {
    /// Config `kind`.
    pub(crate) kind: &'static str,
    /// One line for `aimdbd types`.
    pub(crate) doc: &'static str,
    /// The record type it writes.
    pub(crate) output_type: &'static str,
    /// Its input fields.
    pub(crate) inputs: &'static [InputDoc],
    /// Its other parameters.
    pub(crate) params: &'static [ParamDoc],
    /// Validates the parameters (the input fields are checked by the caller).
    pub(crate) parse: fn(&ComponentTable) -> Parsed<dyn TransformInstance>,
}

/// A validated transform.
pub(crate) trait TransformInstance: fmt::Debug + Send + Sync {
    /// `kind(param=value, ...)`.
    fn describe(&self) -> String;
    /// Adds the transform to `registrar` (a `&mut RecordRegistrar<T, Rt>` of its output type),
    /// reading `inputs` (keys in the order of [`TransformKind::inputs`]).
    fn attach(&self, registrar: &mut dyn Any, inputs: &[String]) -> Result<(), AttachError>;
}

/// A kind of tap (`tap = [{ kind = "...", ... }]`). Taps read records of any type.
pub(crate) struct TapKind {
    /// Config `kind`.
    pub(crate) kind: &'static str,
    /// One line for `aimdbd types`.
    pub(crate) doc: &'static str,
    /// Its parameters.
    pub(crate) params: &'static [ParamDoc],
    /// Validates the parameters.
    pub(crate) parse: fn(&ComponentTable) -> Parsed<dyn TapInstance>,
}

/// A validated tap.
pub(crate) trait TapInstance: fmt::Debug + Send + Sync {
    /// `kind(param=value, ...)`.
    fn describe(&self) -> String;
    /// The tap's task: reads `feed` until it ends (the record closed and was drained).
    fn run(&self, ctx: RuntimeContext<Rt>, feed: TapFeed) -> BoxFuture;
}

/// What a tap reads: the record's values as JSON (taps work on every type).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TapEvent {
    /// The next value.
    Value(serde_json::Value),
    /// The tap fell behind and missed this many values.
    Lagged(u64),
}

type PollFeed = Box<dyn FnMut(&mut Context<'_>) -> Poll<Option<TapEvent>> + Send>;

/// A type-erased reader of one record, for taps.
pub(crate) struct TapFeed {
    poll: PollFeed,
}

impl TapFeed {
    /// A feed polling `poll`; `None` ends it.
    pub(crate) fn new(poll: PollFeed) -> Self {
        Self { poll }
    }

    /// The next event; `None` once the record has closed and everything was read.
    pub(crate) async fn next(&mut self) -> Option<TapEvent> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Polls for the next event (for a hand-written `Stream`); `Ready(None)` once the record has
    /// closed and everything was read.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<TapEvent>> {
        (self.poll)(cx)
    }
}

/// Why a parsed component could not be attached to its record. A config that passed
/// validation never yields it (its types, inputs and parameters were checked), so the engine
/// reports it as a bug (`EngineError::Attach`), not as a config mistake.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The record's type is not the one the component writes.
    #[error("the record does not carry {expected}")]
    WrongType {
        /// The Rust type the component writes.
        expected: &'static str,
    },
    /// The transform was given other inputs than it reads.
    #[error("{kind} needs {needs}")]
    Inputs {
        /// The component's kind.
        kind: &'static str,
        /// What it reads.
        needs: &'static str,
    },
    /// Its parameters were refused.
    #[error(transparent)]
    Params(#[from] aimdb_records::transforms::ParamError),
    /// The node id does not fit the id field a source fills with it.
    #[error("node id: {0}")]
    NodeId(#[from] aimdb_records::IdTooLong),
}

/// Downcasts a type-erased registrar ([`AttachError::WrongType`] naming the expected type).
pub(crate) fn registrar<T: Clone + Send + Sync + 'static>(
    any: &mut dyn Any,
) -> Result<&mut aimdb_core::RecordRegistrar<T, Rt>, AttachError> {
    any.downcast_mut::<aimdb_core::RecordRegistrar<T, Rt>>()
        .ok_or(AttachError::WrongType {
            expected: std::any::type_name::<T>(),
        })
}
