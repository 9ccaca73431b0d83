//! Transforms: records computed from other records.
//!
//! A transform reads one or more input records and writes the record it is configured on. All
//! transforms share one runner: a task that polls each input's consumer in turn, hands every value
//! to that input's handler together with the transform's state, and produces what the handler
//! returns. The task ends, closing its output, when every input has closed.
//!
//! - Stateless: [`TransformBuilder::map`], [`TransformBuilder::filter_map`].
//! - Stateful: [`TransformBuilder::stateful`] (state owned by the task, no locking).
//! - Multi-input join: [`JoinBuilder::on`] once per input, all handlers sharing one state.
//!
//! A lagging input (ring overflow) is logged and the transform continues with the oldest value
//! still held. Handlers run on the task; they must not block.
//!
//! Each input is held for the output ([`crate::accept`]): when the output record has durable
//! readers, an input value counts as accepted once the value derived from it is (a filtered
//! value, once the values before it are).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::{Any, TypeId};
use core::future::poll_fn;
use core::marker::PhantomData;
use core::task::{Context, Poll};

use crate::accept::Ledger;
use crate::buffer::{RecvError, Shared};
use crate::consumer::Consumer;
use crate::key::RecordKey;
use crate::link::BoxFuture;
use crate::producer::Producer;
use crate::runtime::{Runtime, RuntimeContext};

/// Values a join input may take in one turn before the others get theirs.
const INPUT_BUDGET: usize = 32;

/// Finds the buffer of a record by key, for transforms subscribing to their inputs.
pub(crate) trait Resolve {
    /// The record's `Arc<Shared<T, F>>`, as `Any`.
    fn buffer_any(&self, key: &str) -> Option<&dyn Any>;
}

/// A reference to an input record, checked by graph validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    /// The input record's key.
    pub key: String,
    /// The Rust type the transform expects the input to carry.
    pub type_id: TypeId,
    /// Its name, for messages.
    pub type_name: &'static str,
}

impl InputRef {
    fn of<In: 'static>(key: &str) -> Self {
        Self {
            key: key.into(),
            type_id: TypeId::of::<In>(),
            type_name: core::any::type_name::<In>(),
        }
    }
}

pub(crate) fn subscribe<In: Clone + Send + Sync + 'static, R: Runtime>(
    resolve: &dyn Resolve,
    key: &str,
) -> Option<Consumer<In, R>> {
    let shared = resolve
        .buffer_any(key)?
        .downcast_ref::<Arc<Shared<In, R::Mutex>>>()?;
    Some(Consumer::new(shared.clone()))
}

/// What one poll of one input gave.
enum Step<T> {
    Output(T),
    Nothing,
    Lagged(u64),
    Closed,
}

trait JoinInput<S, T>: Send {
    fn poll_step(&mut self, cx: &mut Context<'_>, state: &mut S) -> Poll<Step<T>>;
    fn key(&self) -> &str;
    /// The step just polled is done; `out` is the position of the value it produced, if any.
    fn settle(&self, out: Option<u64>);
}

struct Input<In: Send + Sync, S, T, R: Runtime, H> {
    key: String,
    consumer: Consumer<In, R>,
    handler: H,
    _marker: PhantomData<fn(&mut S) -> T>,
}

impl<In, S, T, R, H> JoinInput<S, T> for Input<In, S, T, R, H>
where
    In: Clone + Send + Sync + 'static,
    R: Runtime,
    H: FnMut(&mut S, &In) -> Option<T> + Send,
{
    fn poll_step(&mut self, cx: &mut Context<'_>, state: &mut S) -> Poll<Step<T>> {
        self.consumer.poll_recv(cx).map(|r| match r {
            Ok(v) => match (self.handler)(state, &v) {
                Some(out) => Step::Output(out),
                None => Step::Nothing,
            },
            Err(RecvError::Lagged(n)) => Step::Lagged(n),
            Err(RecvError::Closed) => Step::Closed,
        })
    }

    fn key(&self) -> &str {
        &self.key
    }

    fn settle(&self, out: Option<u64>) {
        self.consumer.settle(out);
    }
}

type InputFactory<S, T> =
    Box<dyn FnOnce(&dyn Resolve, Arc<dyn Ledger>) -> Option<Box<dyn JoinInput<S, T>>> + Send>;
/// Starts a transform; `Err` is the key of an input that could not be subscribed to.
type StartFn<T, R> = Box<
    dyn FnOnce(&dyn Resolve, Producer<T, R>, RuntimeContext<R>) -> Result<BoxFuture, String> + Send,
>;

/// A configured transform: its inputs (for validation) and how to start it.
pub struct Transform<T: Send + Sync, R: Runtime> {
    pub(crate) inputs: Vec<InputRef>,
    pub(crate) start: StartFn<T, R>,
}

/// Builds a single-input transform; see the module docs.
pub struct TransformBuilder<In, T, R> {
    input: String,
    _marker: PhantomData<fn(In) -> (T, R)>,
}

impl<In, T, R> TransformBuilder<In, T, R>
where
    In: Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    R: Runtime,
{
    pub(crate) fn new(input: impl RecordKey) -> Self {
        Self {
            input: input.as_key().into(),
            _marker: PhantomData,
        }
    }

    /// Produces `f(value)` for every input value.
    pub fn map(self, mut f: impl FnMut(&In) -> T + Send + 'static) -> Transform<T, R> {
        self.filter_map(move |v| Some(f(v)))
    }

    /// Produces `f(value)` when it is `Some`; `None` drops the value.
    pub fn filter_map(
        self,
        mut f: impl FnMut(&In) -> Option<T> + Send + 'static,
    ) -> Transform<T, R> {
        self.stateful((), move |_, v| f(v))
    }

    /// Like `filter_map`, with a state the task owns across values.
    pub fn stateful<S: Send + 'static>(
        self,
        state: S,
        f: impl FnMut(&mut S, &In) -> Option<T> + Send + 'static,
    ) -> Transform<T, R> {
        JoinBuilder::new(state)
            .on::<In>(self.input.as_str(), f)
            .build()
    }
}

/// Builds a transform over several inputs sharing one state; see the module docs.
pub struct JoinBuilder<S, T: Send + Sync, R: Runtime> {
    state: S,
    inputs: Vec<InputRef>,
    factories: Vec<InputFactory<S, T>>,
    _marker: PhantomData<fn() -> R>,
}

impl<S, T, R> JoinBuilder<S, T, R>
where
    S: Send + 'static,
    T: Clone + Send + Sync + 'static,
    R: Runtime,
{
    /// A join whose handlers share `state`.
    pub fn new(state: S) -> Self {
        Self {
            state,
            inputs: Vec::new(),
            factories: Vec::new(),
            _marker: PhantomData,
        }
    }

    /// Adds input record `key` of type `In`; `handler` runs for each of its values and may
    /// produce an output.
    pub fn on<In: Clone + Send + Sync + 'static>(
        mut self,
        key: impl RecordKey,
        handler: impl FnMut(&mut S, &In) -> Option<T> + Send + 'static,
    ) -> Self {
        let key: String = key.as_key().into();
        self.inputs.push(InputRef::of::<In>(&key));
        self.factories
            .push(Box::new(move |resolve: &dyn Resolve, out| {
                let mut consumer = subscribe::<In, R>(resolve, &key)?;
                // Held for what it derives into the output: see `crate::accept`.
                consumer.hold_derived(out);
                let input: Box<dyn JoinInput<S, T>> = Box::new(Input {
                    key,
                    consumer,
                    handler,
                    _marker: PhantomData,
                });
                Some(input)
            }));
        self
    }

    /// Finishes the join.
    pub fn build(self) -> Transform<T, R> {
        let JoinBuilder {
            state,
            inputs,
            factories,
            ..
        } = self;
        let keys: Vec<String> = inputs.iter().map(|i| i.key.clone()).collect();
        let start: StartFn<T, R> = Box::new(move |resolve, producer, ctx| {
            let mut readers = Vec::with_capacity(factories.len());
            for (factory, key) in factories.into_iter().zip(keys) {
                match factory(resolve, producer.ledger()) {
                    Some(r) => readers.push(r),
                    None => return Err(key),
                }
            }
            let task: BoxFuture = Box::pin(run_join(state, readers, producer, ctx));
            Ok(task)
        });
        Transform { inputs, start }
    }
}

async fn run_join<S, T, R>(
    mut state: S,
    mut inputs: Vec<Box<dyn JoinInput<S, T>>>,
    producer: Producer<T, R>,
    ctx: RuntimeContext<R>,
) where
    S: Send,
    T: Clone + Send + Sync + 'static,
    R: Runtime,
{
    let mut open: Vec<bool> = alloc::vec![true; inputs.len()];
    poll_fn(|cx| {
        let mut any_open = false;
        let mut budget_spent = false;
        for (input, open) in inputs.iter_mut().zip(open.iter_mut()) {
            let mut budget = INPUT_BUDGET;
            while *open {
                if budget == 0 {
                    budget_spent = true;
                    break;
                }
                budget -= 1;
                match input.poll_step(cx, &mut state) {
                    Poll::Ready(Step::Output(v)) => input.settle(Some(producer.produce_at(v))),
                    Poll::Ready(Step::Nothing) => input.settle(None),
                    Poll::Ready(Step::Lagged(n)) => {
                        input.settle(None);
                        ctx.log().warn(format_args!(
                            "transform input {:?} lagged: {n} values skipped",
                            input.key()
                        ))
                    }
                    Poll::Ready(Step::Closed) => *open = false,
                    Poll::Pending => break,
                }
            }
            any_open |= *open;
        }
        if !any_open {
            return Poll::Ready(());
        }
        if budget_spent {
            // Let other tasks run; come back at once.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await;
}
