//! Links: how records cross the process boundary (MQTT, serial, ...).
//!
//! A record names its links by URL (`mqtt://gw-1/alert/temp`). At start the engine groups the
//! links of the whole graph by URL scheme and hands each group to the [`Connector`] registered for
//! that scheme, once. Links are type-erased at this boundary: an outbound link yields encoded
//! frames of its record, an inbound link accepts payloads and decodes them into its record. The
//! codec is the record's (`RecordRegistrar::codec`) or the link's own.
//!
//! Contract for connectors:
//! - Inbound links are writers of their record. On shutdown (`ctx.shutdown()`), a connector drops
//!   its [`InboundLink`]s so that their records can close and drain.
//! - Outbound links end when [`OutboundLink::next_frame`] returns [`FrameError::Closed`]; a
//!   connector keeps sending until then (bounded by its own timeout) so nothing accepted is lost.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::accept::{Acceptor, ProgressWatch};
use crate::buffer::RecvError;
use crate::consumer::Consumer;
use crate::producer::Producer;
use crate::runtime::{Runtime, RuntimeContext};

/// A connector's own options for one link (for MQTT: its topic, QoS, retain, codec, outbox
/// policy), given where the link is configured (`RecordRegistrar::link_to_configured`,
/// `link_from_configured`) and read, typed, by the connector with [`OutboundLink::options`] /
/// [`InboundLink::options`]; the engine only carries them.
pub type LinkOptions = Arc<dyn Any + Send + Sync>;

/// A spawned unit of work. Boxed once per task at start, never per message.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Why a value could not be encoded or a payload decoded, by kind, so that a connector counts
/// and logs each kind apart by matching on it, never on the message.
///
/// | kind | from | what a connector does with it |
/// |---|---|---|
/// | [`Malformed`](CodecError::Malformed) | a [`Decoder`] | drops the payload; counts and logs it as malformed |
/// | [`Refused`](CodecError::Refused) | a [`Decoder`] | drops the payload; counts it as refused for its version (one side needs an upgrade, not the sender a fix) |
/// | [`Unrepresentable`](CodecError::Unrepresentable) | an [`Encoder`] | skips the value ([`FrameError::Encode`]); counts and logs it |
///
/// The daemon counts the first two as `aimdbd_mqtt_bad_input_total{reason="decode"}` and
/// `{reason="version"}`, the firmware as `commands_malformed` and `commands_refused`.
/// `Display` is the message alone, without the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The payload is not a valid encoding of the record's type: garbage, truncated, a
    /// missing or mistyped field, trailing bytes.
    Malformed(String),
    /// The payload is well-formed, but of a version this side does not read: a version it
    /// does not know, or a schema id for that version that is not its own (the peer changed
    /// the type without bumping its version). Nothing is wrong with the bytes; an upgrade of
    /// one side, or the peer speaking a version this side announces, fixes it.
    Refused {
        /// The version the payload says it is.
        version: u16,
        /// Why it was refused.
        reason: String,
    },
    /// The value cannot be written in the form asked for: it has no form in the peer's
    /// version, the peer speaks no version in common, or the codec cannot express it (a
    /// buffer too small, a value a text link cannot carry).
    Unrepresentable(String),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Malformed(m) | CodecError::Unrepresentable(m) => f.write_str(m),
            CodecError::Refused { reason, .. } => f.write_str(reason),
        }
    }
}

impl core::error::Error for CodecError {}

/// A connector's own error, whatever its type: [`Connector::start`]
/// returns it, [`crate::StartError::Connector`] carries it (downcast it to the connector's type).
pub type BoxError = Box<dyn core::error::Error + Send + Sync + 'static>;

/// Encodes a value, appending to the buffer.
pub type Encoder<T> = Arc<dyn Fn(&T, &mut Vec<u8>) -> Result<(), CodecError> + Send + Sync>;
/// Decodes a payload into a value.
pub type Decoder<T> = Arc<dyn Fn(&[u8]) -> Result<T, CodecError> + Send + Sync>;
/// Decodes a payload into a value, knowing the topic (or other address) it arrived on, e.g. to
/// stamp the sending node's id into the value. The topic is `""` when the connector does not
/// say ([`InboundLink::push`]).
pub type TopicDecoder<T> = Arc<dyn Fn(&str, &[u8]) -> Result<T, CodecError> + Send + Sync>;

/// Why an outbound link yielded no frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The link fell behind its record's ring by this many values.
    Lagged(u64),
    /// The record closed; the link is done.
    Closed,
    /// The value could not be encoded; it is skipped.
    Encode(CodecError),
}

trait FrameSource: Send {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<(), FrameError>>;
    fn hold(&self) -> Acceptor;
    fn position(&self) -> u64;
}

struct EncodingConsumer<T: Send + Sync, R: Runtime> {
    consumer: Consumer<T, R>,
    encoder: Encoder<T>,
}

impl<T: Clone + Send + Sync + 'static, R: Runtime> FrameSource for EncodingConsumer<T, R> {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<(), FrameError>> {
        self.consumer.poll_recv(cx).map(|r| match r {
            Ok(v) => {
                buf.clear();
                (self.encoder)(&v, buf).map_err(FrameError::Encode)
            }
            Err(RecvError::Lagged(n)) => Err(FrameError::Lagged(n)),
            Err(RecvError::Closed) => Err(FrameError::Closed),
        })
    }

    fn hold(&self) -> Acceptor {
        self.consumer.hold()
    }

    fn position(&self) -> u64 {
        self.consumer.position()
    }
}

/// One outbound link: a record's values, encoded, for a connector to send to `url`.
pub struct OutboundLink {
    /// The record's key.
    pub record: Arc<str>,
    /// The link's URL as configured.
    pub url: String,
    options: Option<LinkOptions>,
    source: Box<dyn FrameSource>,
}

impl OutboundLink {
    pub(crate) fn new<T: Clone + Send + Sync + 'static, R: Runtime>(
        record: Arc<str>,
        url: String,
        options: Option<LinkOptions>,
        consumer: Consumer<T, R>,
        encoder: Encoder<T>,
    ) -> Self {
        Self {
            record,
            url,
            options,
            source: Box::new(EncodingConsumer { consumer, encoder }),
        }
    }

    /// The options the link was configured with, if they are an `O` (`None` when it has none
    /// or they are of another type).
    pub fn options<O: Any>(&self) -> Option<&O> {
        self.options.as_deref()?.downcast_ref()
    }

    /// Waits for the record's next value and encodes it into `buf` (cleared first). Cancel-safe.
    pub async fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<(), FrameError> {
        poll_fn(|cx| self.source.poll_frame(cx, buf)).await
    }

    /// Poll form of [`OutboundLink::next_frame`].
    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut Vec<u8>,
    ) -> Poll<Result<(), FrameError>> {
        self.source.poll_frame(cx, buf)
    }

    /// Makes this link a durable reader of its record (see [`crate::Consumer::hold`]): the
    /// connector accepts each frame's position ([`OutboundLink::position`] after
    /// `next_frame`) once the frame is safe with it. Call in [`Connector::start`].
    pub fn hold(&self) -> Acceptor {
        self.source.hold()
    }

    /// The record position of the last frame yielded (see [`crate::accept`]).
    pub fn position(&self) -> u64 {
        self.source.position()
    }
}

trait FrameSink: Send + Sync {
    fn push(&self, topic: &str, payload: &[u8]) -> Result<u64, CodecError>;
    fn room(&self) -> u64;
    fn accepted(&self, pos: u64) -> bool;
    fn watch(&self) -> Option<ProgressWatch>;
    fn acceptance(&self) -> Acceptance;
}

struct DecodingProducer<T: Send + Sync, R: Runtime> {
    producer: Producer<T, R>,
    decoder: TopicDecoder<T>,
}

impl<T: Clone + Send + Sync + 'static, R: Runtime> FrameSink for DecodingProducer<T, R> {
    fn push(&self, topic: &str, payload: &[u8]) -> Result<u64, CodecError> {
        let value = (self.decoder)(topic, payload)?;
        Ok(self.producer.produce_at(value))
    }

    fn room(&self) -> u64 {
        self.producer.room()
    }

    fn accepted(&self, pos: u64) -> bool {
        self.producer.accepted(pos)
    }

    fn watch(&self) -> Option<ProgressWatch> {
        self.producer.progress().map(ProgressWatch::new)
    }

    fn acceptance(&self) -> Acceptance {
        Acceptance {
            ledger: self.producer.ledger(),
        }
    }
}

/// A view of an inbound link's record acceptance that does not keep the record open (unlike
/// the link, which is a writer): a connector keeps it to acknowledge, during a drain, messages
/// whose values are accepted after the links were dropped.
#[derive(Clone)]
pub struct Acceptance {
    ledger: Arc<dyn crate::accept::Ledger>,
}

impl Acceptance {
    /// The position up to which every value of the record is accepted downstream.
    pub fn watermark(&self) -> u64 {
        self.ledger.watermark()
    }
}

impl fmt::Debug for Acceptance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acceptance").finish_non_exhaustive()
    }
}

/// One inbound link: payloads a connector receives from `url`, decoded into a record.
pub struct InboundLink {
    /// The record's key.
    pub record: Arc<str>,
    /// The link's URL as configured.
    pub url: String,
    options: Option<LinkOptions>,
    sink: Box<dyn FrameSink>,
}

impl InboundLink {
    pub(crate) fn new<T: Clone + Send + Sync + 'static, R: Runtime>(
        record: Arc<str>,
        url: String,
        options: Option<LinkOptions>,
        producer: Producer<T, R>,
        decoder: TopicDecoder<T>,
    ) -> Self {
        Self {
            record,
            url,
            options,
            sink: Box::new(DecodingProducer { producer, decoder }),
        }
    }

    /// The options the link was configured with, if they are an `O` (`None` when it has none
    /// or they are of another type).
    pub fn options<O: Any>(&self) -> Option<&O> {
        self.options.as_deref()?.downcast_ref()
    }

    /// Decodes `payload` and produces it into the record. A payload that fails to decode is
    /// returned as an error and nothing is produced. Never blocks.
    pub fn push(&self, payload: &[u8]) -> Result<(), CodecError> {
        self.sink.push("", payload).map(drop)
    }

    /// [`InboundLink::push`] for a payload that arrived on `topic`, which a topic-aware decoder
    /// ([`TopicDecoder`], `RecordRegistrar::link_from_topic`) may use; plain decoders ignore it.
    pub fn push_from(&self, topic: &str, payload: &[u8]) -> Result<(), CodecError> {
        self.sink.push(topic, payload).map(drop)
    }

    /// [`InboundLink::push_from`], returning the value's position in its record: the message
    /// it came from may be acknowledged once [`InboundLink::accepted`] says so.
    pub fn push_at(&self, topic: &str, payload: &[u8]) -> Result<u64, CodecError> {
        self.sink.push(topic, payload)
    }

    /// How many more values this link may push before a durable reader downstream (an
    /// outbox, a store, behind any transforms) would lose one; a link whose peer can wait
    /// (MQTT QoS ≥ 1) stops taking messages at 0. `u64::MAX` when nothing downstream limits it.
    pub fn room(&self) -> u64 {
        self.sink.room()
    }

    /// Whether the value at `pos` (from [`InboundLink::push_at`]), and everything derived from
    /// it, has been accepted by every durable reader downstream. Never blocks.
    pub fn accepted(&self, pos: u64) -> bool {
        self.sink.accepted(pos)
    }

    /// A watch woken whenever acceptance may have moved anywhere in the graph (`None` for a
    /// record outside a graph).
    pub fn watch(&self) -> Option<ProgressWatch> {
        self.sink.watch()
    }

    /// The record's acceptance, readable after this link is dropped.
    pub fn acceptance(&self) -> Acceptance {
        self.sink.acceptance()
    }
}

/// Carries the links of one URL scheme.
pub trait Connector<R: Runtime>: Send + Sync + 'static {
    /// The URL scheme served, e.g. `"mqtt"`.
    fn scheme(&self) -> &str;

    /// Checks one link URL before anything runs. An error (the connector's own type, boxed)
    /// makes the graph invalid: it surfaces as [`GraphProblem::BadLinkUrl`](crate::GraphProblem)
    /// with its message, which says what is wrong.
    fn check_url(&self, url: &str) -> Result<(), BoxError> {
        let _ = url;
        Ok(())
    }

    /// Takes every link of this scheme in the graph, once, when the graph starts, and returns the
    /// tasks to run. Called for every registered connector, also when the graph has none of its
    /// links (a connector may keep a session of its own, such as an MQTT birth message); return
    /// no tasks to do nothing. See the module docs for the shutdown contract.
    ///
    /// An error (the connector's own type, boxed) stops the graph from starting: it surfaces as
    /// [`StartError::Connector`](crate::StartError::Connector) with this connector's scheme,
    /// inside [`BuildError::Start`](crate::BuildError::Start). Name the link it is about.
    fn start(
        &self,
        ctx: RuntimeContext<R>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError>;
}

/// The scheme of a URL (`"mqtt"` in `"mqtt://host/topic"`), if it has one.
pub fn url_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once("://")?;
    (!scheme.is_empty()).then_some(scheme)
}
