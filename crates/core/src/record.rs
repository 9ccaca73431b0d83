//! Records: a key, a Rust type, a buffer, and the components around it.
//!
//! [`RecordRegistrar`] is what `AimDbBuilder::configure` hands to its closure; it collects one
//! record's buffer, writer (source, transform or inbound links), taps and links. Everything is
//! checked together by graph validation before anything runs.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::{Any, TypeId};
use core::fmt;
use core::future::Future;

use crate::accept::Signal;
use crate::buffer::{BufferCfg, RecordStats, Shared};
use crate::consumer::Consumer;
use crate::key::RecordKey;
use crate::lifecycle::ShutdownSignal;
use crate::link::{
    BoxError, BoxFuture, Decoder, Encoder, InboundLink, LinkOptions, OutboundLink, TopicDecoder,
};
use crate::producer::Producer;
use crate::runtime::{Runtime, RuntimeContext};
use crate::transform::{InputRef, JoinBuilder, Resolve, Transform, TransformBuilder};

/// What writes a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WriterKind {
    /// An async producer task.
    Source,
    /// A transform over other records.
    Transform,
    /// One or more inbound links (several links may feed one record).
    LinkFrom,
    /// Nothing in the graph: the record is written from outside (sync API, admin `set`).
    External,
}

impl WriterKind {
    /// Lower-case name, as used in configs and introspection.
    pub fn as_str(&self) -> &'static str {
        match self {
            WriterKind::Source => "source",
            WriterKind::Transform => "transform",
            WriterKind::LinkFrom => "link_from",
            WriterKind::External => "external",
        }
    }
}

impl fmt::Display for WriterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Static description of one record, for validation and introspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// The record's key.
    pub key: Arc<str>,
    /// `core::any::type_name` of its value type.
    pub type_name: &'static str,
    /// Its value type.
    pub type_id: TypeId,
    /// Its buffer, if one was configured.
    pub buffer: Option<BufferCfg>,
    /// Every writer configured (validation allows one kind, one of it; many links).
    pub writers: Vec<WriterKind>,
    /// Input records of its transforms.
    pub inputs: Vec<InputRef>,
    /// Names of its taps.
    pub taps: Vec<String>,
    /// Outbound link URLs.
    pub links_to: Vec<String>,
    /// Inbound link URLs.
    pub links_from: Vec<String>,
    /// Links that have neither their own codec nor the record's.
    pub links_without_codec: Vec<String>,
}

impl RecordInfo {
    /// The record's single writer kind after validation (`External` when none is declared).
    pub fn writer(&self) -> WriterKind {
        self.writers
            .first()
            .copied()
            .unwrap_or(WriterKind::External)
    }
}

type SourceFn<T, R> = Box<dyn FnOnce(RuntimeContext<R>, Producer<T, R>) -> BoxFuture + Send>;
type TapFn<T, R> = Box<dyn FnOnce(RuntimeContext<R>, Consumer<T, R>) -> BoxFuture + Send>;

/// Collects the configuration of one record of type `T`. Methods chain.
pub struct RecordRegistrar<T: Send + Sync, R: Runtime> {
    key: Arc<str>,
    buffer: Option<BufferCfg>,
    sources: Vec<SourceFn<T, R>>,
    transforms: Vec<Transform<T, R>>,
    taps: Vec<(String, TapFn<T, R>)>,
    links_to: Vec<LinkEntry<Encoder<T>>>,
    links_from: Vec<LinkEntry<TopicDecoder<T>>>,
    encoder: Option<Encoder<T>>,
    decoder: Option<Decoder<T>>,
}

/// One configured link: its URL, its own codec (else the record's) and its connector's options.
struct LinkEntry<C> {
    url: String,
    codec: Option<C>,
    options: Option<LinkOptions>,
}

impl<C> LinkEntry<C> {
    fn new(url: &str, codec: Option<C>, options: Option<LinkOptions>) -> Self {
        Self {
            url: url.to_string(),
            codec,
            options,
        }
    }
}

impl<T, R> RecordRegistrar<T, R>
where
    T: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn new(key: &str) -> Self {
        Self {
            key: key.into(),
            buffer: None,
            sources: Vec::new(),
            transforms: Vec::new(),
            taps: Vec::new(),
            links_to: Vec::new(),
            links_from: Vec::new(),
            encoder: None,
            decoder: None,
        }
    }

    /// Sets the record's buffer (required).
    pub fn buffer(&mut self, cfg: BufferCfg) -> &mut Self {
        self.buffer = Some(cfg);
        self
    }

    /// Writes the record from an async task: `f(ctx, producer)` is spawned when the graph starts
    /// and cancelled when it shuts down.
    pub fn source<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(RuntimeContext<R>, Producer<T, R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.sources
            .push(Box::new(move |ctx, p| -> BoxFuture { Box::pin(f(ctx, p)) }));
        self
    }

    /// Reads the record in an async task: `f(ctx, consumer)` is spawned when the graph starts;
    /// at shutdown it should return once `recv` reports `Closed` (after draining).
    pub fn tap<F, Fut>(&mut self, f: F) -> &mut Self
    where
        F: FnOnce(RuntimeContext<R>, Consumer<T, R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name = alloc::format!("tap#{}", self.taps.len() + 1);
        self.tap_named(&name, f)
    }

    /// [`RecordRegistrar::tap`] with a name shown in introspection.
    pub fn tap_named<F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: FnOnce(RuntimeContext<R>, Consumer<T, R>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.taps.push((
            name.to_string(),
            Box::new(move |ctx, c| -> BoxFuture { Box::pin(f(ctx, c)) }),
        ));
        self
    }

    /// Computes the record from input record `input` of type `In`; `build` picks the kind
    /// (`map`, `filter_map`, `stateful`).
    pub fn transform<In, F>(&mut self, input: impl RecordKey, build: F) -> &mut Self
    where
        In: Clone + Send + Sync + 'static,
        F: FnOnce(TransformBuilder<In, T, R>) -> Transform<T, R>,
    {
        self.transforms.push(build(TransformBuilder::new(input)));
        self
    }

    /// Computes the record from several inputs sharing `state`; `build` adds the inputs with
    /// [`JoinBuilder::on`].
    pub fn join<S, F>(&mut self, state: S, build: F) -> &mut Self
    where
        S: Send + 'static,
        F: FnOnce(JoinBuilder<S, T, R>) -> JoinBuilder<S, T, R>,
    {
        self.transforms.push(build(JoinBuilder::new(state)).build());
        self
    }

    /// Sets the codec links of this record use unless they have their own.
    pub fn codec(&mut self, encoder: Encoder<T>, decoder: Decoder<T>) -> &mut Self {
        self.encoder = Some(encoder);
        self.decoder = Some(decoder);
        self
    }

    /// Publishes every value to `url` with the record's codec.
    pub fn link_to(&mut self, url: &str) -> &mut Self {
        self.links_to.push(LinkEntry::new(url, None, None));
        self
    }

    /// Publishes every value to `url` with `encoder`.
    pub fn link_to_with(&mut self, url: &str, encoder: Encoder<T>) -> &mut Self {
        self.links_to.push(LinkEntry::new(url, Some(encoder), None));
        self
    }

    /// Publishes every value to `url` with `encoder`; the link's connector reads `options`
    /// ([`OutboundLink::options`](crate::OutboundLink::options)).
    pub fn link_to_configured(
        &mut self,
        url: &str,
        encoder: Encoder<T>,
        options: LinkOptions,
    ) -> &mut Self {
        self.links_to
            .push(LinkEntry::new(url, Some(encoder), Some(options)));
        self
    }

    /// Writes the record from payloads received on `url`, with the record's codec.
    pub fn link_from(&mut self, url: &str) -> &mut Self {
        self.links_from.push(LinkEntry::new(url, None, None));
        self
    }

    /// Writes the record from payloads received on `url`, decoded by `decoder`.
    pub fn link_from_with(&mut self, url: &str, decoder: Decoder<T>) -> &mut Self {
        let decoder: TopicDecoder<T> = Arc::new(move |_, b: &[u8]| decoder(b));
        self.links_from
            .push(LinkEntry::new(url, Some(decoder), None));
        self
    }

    /// Writes the record from payloads received on `url`, decoded by `decoder`, which also sees
    /// the topic each payload arrived on (see [`InboundLink::push_from`]).
    pub fn link_from_topic(&mut self, url: &str, decoder: TopicDecoder<T>) -> &mut Self {
        self.links_from
            .push(LinkEntry::new(url, Some(decoder), None));
        self
    }

    /// Writes the record from payloads received on `url`, decoded by `decoder` (given the
    /// topic, as [`link_from_topic`](Self::link_from_topic)); the link's connector reads
    /// `options` ([`InboundLink::options`](crate::InboundLink::options)).
    pub fn link_from_configured(
        &mut self,
        url: &str,
        decoder: TopicDecoder<T>,
        options: LinkOptions,
    ) -> &mut Self {
        self.links_from
            .push(LinkEntry::new(url, Some(decoder), Some(options)));
        self
    }

    /// Ends the configuration (optional; nothing happens until `build`).
    pub fn finish(&mut self) -> &mut Self {
        self
    }
}

/// What one record contributes when the graph starts.
pub(crate) struct Started {
    /// Writer tasks cancelled at shutdown.
    pub(crate) sources: Vec<BoxFuture>,
    /// Tasks that run until their inputs close.
    pub(crate) tasks: Vec<BoxFuture>,
    pub(crate) outbound: Vec<OutboundLink>,
    pub(crate) inbound: Vec<InboundLink>,
    /// Keeps a record with no writer in the graph open until shutdown.
    pub(crate) guard: Option<Box<dyn Any + Send>>,
}

/// A record's buffer at run time, with its type erased.
pub(crate) trait AnyRecord: Send + Sync {
    /// The `Arc<Shared<T, F>>`, as `Any`.
    fn buffer_any(&self) -> &dyn Any;
    fn stats(&self) -> RecordStats;
}

struct TypedRecord<T: Send + Sync, R: Runtime> {
    shared: Arc<Shared<T, R::Mutex>>,
}

impl<T: Clone + Send + Sync + 'static, R: Runtime> AnyRecord for TypedRecord<T, R> {
    fn buffer_any(&self) -> &dyn Any {
        &self.shared
    }
    fn stats(&self) -> RecordStats {
        self.shared.stats()
    }
}

/// Why a component of a valid graph could not be started, naming the record or connector.
///
/// Graph validation reports every mistake it can see before anything starts (a link without a
/// codec, an input that is not a record); the record variants here are what is left when a
/// component disagrees with validation at start. [`StartError::Connector`] is a connector's
/// own refusal of the links it was handed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A link of the record has no codec: neither its own nor the record's.
    NoCodec {
        /// The record's key.
        record: Arc<str>,
        /// The link's URL.
        url: String,
    },
    /// A transform of the record could not subscribe to one of its inputs.
    InputUnavailable {
        /// The record the transform writes.
        record: Arc<str>,
        /// The input's key.
        input: String,
    },
    /// The record's buffer does not carry the record's type (an engine bug).
    BufferType {
        /// The record's key.
        record: Arc<str>,
    },
    /// The connector of a URL scheme refused its links.
    Connector {
        /// The connector's scheme (`"mqtt"`).
        scheme: String,
        /// The connector's error; `Display` includes its text.
        source: BoxError,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoCodec { record, url } => {
                write!(f, "record {record:?}: link {url:?} has no codec")
            }
            StartError::InputUnavailable { record, input } => {
                write!(f, "record {record:?}: input {input:?} is not available")
            }
            StartError::BufferType { record } => {
                write!(f, "record {record:?}: buffer of another type")
            }
            StartError::Connector { scheme, source } => write!(f, "connector {scheme:?}: {source}"),
        }
    }
}

/// `source` is the connector's error of [`StartError::Connector`].
impl core::error::Error for StartError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StartError::Connector { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// A record's configuration with its type erased, for the builder.
pub(crate) trait AnyRecordSpec<R: Runtime>: Send {
    fn info(&self) -> RecordInfo;
    /// Creates the buffer, its holds bumping the graph's `progress`. Only called after
    /// validation (a buffer is configured).
    fn create(&self, progress: &Arc<dyn Signal>) -> Box<dyn AnyRecord>;
    /// Turns the configuration into running parts.
    fn start(
        self: Box<Self>,
        record: &dyn AnyRecord,
        resolve: &dyn Resolve,
        runtime: &R,
        shutdown: &ShutdownSignal<R::Mutex>,
    ) -> Result<Started, StartError>;
}

impl<T, R> AnyRecordSpec<R> for RecordRegistrar<T, R>
where
    T: Clone + Send + Sync + 'static,
    R: Runtime,
{
    fn info(&self) -> RecordInfo {
        let mut writers = Vec::new();
        writers.extend(self.sources.iter().map(|_| WriterKind::Source));
        writers.extend(self.transforms.iter().map(|_| WriterKind::Transform));
        if !self.links_from.is_empty() {
            writers.push(WriterKind::LinkFrom);
        }
        let mut links_without_codec = Vec::new();
        for l in &self.links_to {
            if l.codec.is_none() && self.encoder.is_none() {
                links_without_codec.push(l.url.clone());
            }
        }
        for l in &self.links_from {
            if l.codec.is_none() && self.decoder.is_none() {
                links_without_codec.push(l.url.clone());
            }
        }
        RecordInfo {
            key: self.key.clone(),
            type_name: core::any::type_name::<T>(),
            type_id: TypeId::of::<T>(),
            buffer: self.buffer,
            writers,
            inputs: self
                .transforms
                .iter()
                .flat_map(|t| t.inputs.iter().cloned())
                .collect(),
            taps: self.taps.iter().map(|(n, _)| n.clone()).collect(),
            links_to: self.links_to.iter().map(|l| l.url.clone()).collect(),
            links_from: self.links_from.iter().map(|l| l.url.clone()).collect(),
            links_without_codec,
        }
    }

    fn create(&self, progress: &Arc<dyn Signal>) -> Box<dyn AnyRecord> {
        let cfg = self.buffer.unwrap_or(BufferCfg::SingleLatest);
        Box::new(TypedRecord::<T, R> {
            shared: Arc::new(Shared::with_progress(cfg, Some(progress.clone()))),
        })
    }

    fn start(
        self: Box<Self>,
        record: &dyn AnyRecord,
        resolve: &dyn Resolve,
        runtime: &R,
        shutdown: &ShutdownSignal<R::Mutex>,
    ) -> Result<Started, StartError> {
        let this = *self;
        let shared = record
            .buffer_any()
            .downcast_ref::<Arc<Shared<T, R::Mutex>>>()
            .ok_or_else(|| StartError::BufferType {
                record: this.key.clone(),
            })?
            .clone();
        let ctx = RuntimeContext::new(runtime.clone(), this.key.clone(), shutdown.clone());
        let producer = || Producer::new(shared.clone(), runtime.clone());
        let consumer = || Consumer::new(shared.clone());
        let mut started = Started {
            sources: Vec::new(),
            tasks: Vec::new(),
            outbound: Vec::new(),
            inbound: Vec::new(),
            guard: None,
        };
        let has_writer =
            !(this.sources.is_empty() && this.transforms.is_empty() && this.links_from.is_empty());
        if !has_writer {
            started.guard = Some(Box::new(producer()));
        }
        // Readers subscribe before any writer runs, so no early value is missed.
        for (_, tap) in this.taps {
            started.tasks.push(tap(ctx.clone(), consumer()));
        }
        for LinkEntry {
            url,
            codec,
            options,
        } in this.links_to
        {
            let enc =
                codec
                    .or_else(|| this.encoder.clone())
                    .ok_or_else(|| StartError::NoCodec {
                        record: this.key.clone(),
                        url: url.clone(),
                    })?;
            started.outbound.push(OutboundLink::new(
                this.key.clone(),
                url,
                options,
                consumer(),
                enc,
            ));
        }
        for LinkEntry {
            url,
            codec,
            options,
        } in this.links_from
        {
            let dec = codec
                .or_else(|| {
                    this.decoder
                        .clone()
                        .map(|d| -> TopicDecoder<T> { Arc::new(move |_, b: &[u8]| d(b)) })
                })
                .ok_or_else(|| StartError::NoCodec {
                    record: this.key.clone(),
                    url: url.clone(),
                })?;
            started.inbound.push(InboundLink::new(
                this.key.clone(),
                url,
                options,
                producer(),
                dec,
            ));
        }
        for transform in this.transforms {
            let task = (transform.start)(resolve, producer(), ctx.clone()).map_err(|input| {
                StartError::InputUnavailable {
                    record: this.key.clone(),
                    input,
                }
            })?;
            started.tasks.push(task);
        }
        for source in this.sources {
            started.sources.push(source(ctx.clone(), producer()));
        }
        Ok(started)
    }
}
