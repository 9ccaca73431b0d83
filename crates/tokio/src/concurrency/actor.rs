//! [`ActorHandle`]: state owned by one task, changed only by messages handled one at a time.
//!
//! # Contract
//!
//! * **Ordering.** The actor handles messages strictly one after another, in the order the
//!   mailbox received them; messages from one sender keep their order. No locks are needed on the
//!   actor's state.
//! * **Mailbox.** A bounded Tokio mpsc. [`ActorHandle::send`] and [`ActorHandle::ask`] wait for
//!   room when it is full (backpressure; nothing is dropped); [`ActorHandle::try_send`] returns
//!   `TrySendError::Full` instead.
//! * **Cancel safety.** `send` is cancel-safe: if cancelled, the message was not queued. `ask`
//!   cancelled after its message was queued still has the message handled; the reply is then
//!   discarded.
//! * **Blocking.** `Actor::handle` is async and must not block; blocking work inside it goes
//!   through `tokio::task::spawn_blocking` or a [`BackgroundSink`](super::BackgroundSink).
//! * **Stopping.** [`ActorJoin::shutdown`] closes the mailbox at once, even while a message is
//!   being handled (later sends fail with [`ActorGone`]), lets the actor handle every message already queued, runs
//!   [`Actor::stopping`] and returns the actor — its final state. The actor also stops by itself
//!   when every [`ActorHandle`] is dropped ([`ActorJoin::join`] waits for that). Dropping the
//!   `ActorJoin` detaches: the actor then runs until its handles are gone.
//! * **Panics.** A panic in `handle` ends the actor: handles see [`ActorGone`], pending asks
//!   [`AskError::NoReply`], and `shutdown`/`join` return [`ActorError::Panicked`].

use std::fmt;
use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A state machine driven by messages. Implement with `async fn handle(&mut self, msg: ..)`.
pub trait Actor: Send + Sized + 'static {
    /// The commands the actor understands. Queries carry a [`Reply`].
    type Msg: Send + 'static;

    /// Handles one message; the next is not taken before this returns.
    fn handle(&mut self, msg: Self::Msg) -> impl Future<Output = ()> + Send;

    /// Runs once before the first message.
    fn started(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs once after the last message, before the actor is handed back.
    fn stopping(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The actor has stopped (shut down, panicked, or its runtime is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the actor has stopped")]
pub struct ActorGone;

/// Why an [`ActorHandle::ask`] got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// The actor had stopped before the question was queued.
    #[error("the actor has stopped")]
    Gone,
    /// The actor dropped the [`Reply`] without answering (or stopped before handling it).
    #[error("the actor dropped the reply without answering")]
    NoReply,
}

impl From<ActorGone> for AskError {
    fn from(_: ActorGone) -> Self {
        AskError::Gone
    }
}

/// Why [`ActorHandle::try_send`] did not queue the message; it is handed back.
pub enum TrySendError<M> {
    /// The mailbox is full.
    Full(M),
    /// The actor has stopped.
    Gone(M),
}

impl<M> TrySendError<M> {
    /// The message that was not queued.
    pub fn into_inner(self) -> M {
        match self {
            TrySendError::Full(m) | TrySendError::Gone(m) => m,
        }
    }
}

impl<M> fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Gone(_) => f.write_str("Gone(..)"),
        }
    }
}

impl<M> fmt::Display for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the actor's mailbox is full"),
            TrySendError::Gone(_) => f.write_str("the actor has stopped"),
        }
    }
}

impl<M> std::error::Error for TrySendError<M> {}

/// Why an actor could not start, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorError {
    /// The mailbox capacity was zero.
    #[error("actor mailbox capacity must be at least 1")]
    ZeroCapacity,
    /// Not called from within a Tokio runtime.
    #[error("actor needs a Tokio runtime")]
    NoRuntime,
    /// The actor panicked.
    #[error("actor panicked: {0}")]
    Panicked(String),
    /// The runtime shut down under the actor.
    #[error("actor was cancelled by runtime shutdown")]
    Cancelled,
}

/// The answer channel of a query; put it in the message and call [`Reply::send`] in `handle`.
#[derive(Debug)]
pub struct Reply<R>(oneshot::Sender<R>);

impl<R> Reply<R> {
    /// Answers the query. Returns `false` if the asker stopped waiting (nothing to do then).
    pub fn send(self, value: R) -> bool {
        self.0.send(value).is_ok()
    }
}

/// Sends messages to a running actor. `Clone + Send + Sync`; cheap to clone.
pub struct ActorHandle<A: Actor> {
    tx: mpsc::Sender<A::Msg>,
}

impl<A: Actor> Clone for ActorHandle<A> {
    fn clone(&self) -> Self {
        ActorHandle {
            tx: self.tx.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for ActorHandle<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorHandle")
            .field("alive", &self.is_alive())
            .finish()
    }
}

/// Owns the actor's task: stops it and gets its final state back.
#[derive(Debug)]
pub struct ActorJoin<A> {
    stop: Option<oneshot::Sender<()>>,
    join: JoinHandle<A>,
}

impl<A: Actor> ActorHandle<A> {
    /// Starts `actor` on the current Tokio runtime with a mailbox of `mailbox` messages.
    pub fn spawn(actor: A, mailbox: usize) -> Result<(Self, ActorJoin<A>), ActorError> {
        if mailbox == 0 {
            return Err(ActorError::ZeroCapacity);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ActorError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(mailbox);
        let (stop_tx, stop_rx) = oneshot::channel();
        let join = runtime.spawn(run(actor, rx, stop_rx));
        Ok((
            ActorHandle { tx },
            ActorJoin {
                stop: Some(stop_tx),
                join,
            },
        ))
    }

    /// Queues `msg`, waiting for room in the mailbox. Fire and forget: returns once queued.
    pub async fn send(&self, msg: A::Msg) -> Result<(), ActorGone> {
        self.tx.send(msg).await.map_err(|_| ActorGone)
    }

    /// Queues `msg` if the mailbox has room.
    pub fn try_send(&self, msg: A::Msg) -> Result<(), TrySendError<A::Msg>> {
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(m) => TrySendError::Full(m),
            mpsc::error::TrySendError::Closed(m) => TrySendError::Gone(m),
        })
    }

    /// Sends the message built by `make` around a fresh [`Reply`] and waits for the answer.
    ///
    /// ```ignore
    /// let n = handle.ask(|reply| CounterMsg::Get(reply)).await?;
    /// ```
    pub async fn ask<R>(&self, make: impl FnOnce(Reply<R>) -> A::Msg) -> Result<R, AskError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(Reply(tx))).await?;
        rx.await.map_err(|_| AskError::NoReply)
    }

    /// False once the actor has stopped taking messages.
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Completes when the actor has stopped taking messages.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

impl<A: Actor> ActorJoin<A> {
    /// Closes the mailbox, lets the actor handle what is queued, and returns the actor.
    ///
    /// Cancelling this future still stops the actor; only the final state is lost.
    pub async fn shutdown(mut self) -> Result<A, ActorError> {
        if let Some(stop) = self.stop.take() {
            // The actor may already have ended; the join below reports how.
            let _ = stop.send(());
        }
        self.join().await
    }

    /// Waits for the actor to stop by itself (all handles dropped) and returns it.
    pub async fn join(self) -> Result<A, ActorError> {
        let ActorJoin { stop, join } = self;
        let result = join.await;
        // Keep the stop sender alive until the end: dropping it is not a stop request.
        drop(stop);
        result.map_err(|e| {
            if e.is_panic() {
                ActorError::Panicked(super::panic_message(&*e.into_panic()).to_owned())
            } else {
                ActorError::Cancelled
            }
        })
    }

    /// True once the actor's task has ended.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }
}

async fn run<A: Actor>(
    mut actor: A,
    mut rx: mpsc::Receiver<A::Msg>,
    mut stop: oneshot::Receiver<()>,
) -> A {
    actor.started().await;
    // `Some` until the stop request arrived or the `ActorJoin` was dropped (detached).
    let mut stop = Some(&mut stop);
    loop {
        let msg = tokio::select! {
            biased;
            r = wait_stop(&mut stop) => {
                on_stop(r, &mut stop, &mut rx);
                continue;
            }
            m = rx.recv() => m,
        };
        // Mailbox closed and empty: every handle is gone, or a stop was requested.
        let Some(msg) = msg else { break };
        let handling = actor.handle(msg);
        let mut handling = std::pin::pin!(handling);
        // A stop request during a long message closes the mailbox at once; the message itself
        // is never cancelled.
        loop {
            tokio::select! {
                biased;
                () = &mut handling => break,
                r = wait_stop(&mut stop) => on_stop(r, &mut stop, &mut rx),
            }
        }
    }
    actor.stopping().await;
    actor
}

/// Waits for the stop request; pending forever once it was consumed.
async fn wait_stop(
    stop: &mut Option<&mut oneshot::Receiver<()>>,
) -> Result<(), oneshot::error::RecvError> {
    match stop {
        Some(rx) => (&mut **rx).await,
        None => std::future::pending().await,
    }
}

fn on_stop<M>(
    request: Result<(), oneshot::error::RecvError>,
    stop: &mut Option<&mut oneshot::Receiver<()>>,
    rx: &mut mpsc::Receiver<M>,
) {
    *stop = None;
    if request.is_ok() {
        // Refuse new messages; the queued ones are still received.
        rx.close();
    }
}
