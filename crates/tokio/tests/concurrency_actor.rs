//! `ActorHandle`: sequential handling, ask/reply, shutdown that finishes queued messages and hands
//! the state back, `ActorGone` after stop, panics.

use std::time::Duration;

use aimdb_tokio::concurrency::{
    Actor, ActorError, ActorGone, ActorHandle, AskError, Reply, TrySendError,
};
use tokio::sync::oneshot;
use tokio::time::timeout;

const HANG: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Counter {
    value: u64,
    /// Proves handling is sequential: never seen `true` on entry.
    busy: bool,
    log: Vec<u64>,
    stopped: bool,
}

enum Msg {
    Add(u64),
    Get(Reply<u64>),
    /// Answers after yielding a few times, to give a concurrent handler a chance to interleave.
    SlowAdd(u64, Reply<u64>),
    /// Holds the actor until the test releases it.
    Hold(oneshot::Receiver<()>),
    Forget(Reply<u64>),
    Panic,
}

impl Actor for Counter {
    type Msg = Msg;

    async fn handle(&mut self, msg: Msg) {
        assert!(!self.busy, "handle re-entered");
        self.busy = true;
        match msg {
            Msg::Add(n) => {
                self.value += n;
                self.log.push(n);
            }
            Msg::Get(reply) => {
                reply.send(self.value);
            }
            Msg::SlowAdd(n, reply) => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                self.value += n;
                reply.send(self.value);
            }
            Msg::Hold(release) => {
                let _ = release.await;
            }
            Msg::Forget(reply) => drop(reply),
            Msg::Panic => panic!("counter exploded"),
        }
        self.busy = false;
    }

    async fn stopping(&mut self) {
        self.stopped = true;
    }
}

#[test]
fn handles_are_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<ActorHandle<Counter>>();
}

#[tokio::test]
async fn send_then_ask_sees_every_earlier_message() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 8).expect("spawn");
    for i in 1..=100 {
        handle.send(Msg::Add(i)).await.expect("alive");
    }
    assert_eq!(handle.ask(Msg::Get).await, Ok(5050));
    let state = join.shutdown().await.expect("clean stop");
    assert_eq!(state.value, 5050);
    assert_eq!(state.log, (1..=100).collect::<Vec<_>>());
    assert!(state.stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_are_handled_one_at_a_time() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 4).expect("spawn");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let h = handle.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                h.ask(|r| Msg::SlowAdd(1, r)).await.expect("answer");
            }
        }));
    }
    for t in tasks {
        timeout(HANG, t).await.expect("done").expect("join");
    }
    assert_eq!(handle.ask(Msg::Get).await, Ok(400));
    drop(handle);
    // All handles gone: the actor stops by itself.
    let state = timeout(HANG, join.join())
        .await
        .expect("stops")
        .expect("clean");
    assert_eq!(state.value, 400);
}

#[tokio::test]
async fn shutdown_finishes_queued_messages_then_refuses() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 16).expect("spawn");
    let (release, held) = oneshot::channel();
    handle.send(Msg::Hold(held)).await.expect("alive");
    for i in 0..10 {
        handle.send(Msg::Add(i)).await.expect("alive");
    }
    let stopping = tokio::spawn(join.shutdown());
    // Once the mailbox is closed, new messages are refused.
    timeout(HANG, handle.closed())
        .await
        .expect("mailbox closed");
    assert_eq!(handle.send(Msg::Add(1000)).await, Err(ActorGone));
    assert!(matches!(
        handle.try_send(Msg::Add(1000)),
        Err(TrySendError::Gone(Msg::Add(1000)))
    ));
    assert!(!handle.is_alive());
    release.send(()).expect("actor holds the receiver");
    let state = timeout(HANG, stopping)
        .await
        .expect("stopped")
        .expect("join")
        .expect("clean");
    assert_eq!(state.value, 45);
    assert_eq!(state.log.len(), 10);
    assert_eq!(handle.ask(Msg::Get).await, Err(AskError::Gone));
}

#[tokio::test]
async fn try_send_reports_a_full_mailbox() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 1).expect("spawn");
    let (release, held) = oneshot::channel();
    handle.send(Msg::Hold(held)).await.expect("alive");
    // Wait until the actor has taken `Hold` out of the mailbox.
    while handle.try_send(Msg::Add(1)).is_err() {
        tokio::task::yield_now().await;
    }
    match handle.try_send(Msg::Add(2)) {
        Err(e @ TrySendError::Full(_)) => assert!(matches!(e.into_inner(), Msg::Add(2))),
        other => panic!("expected Full, got {other:?}"),
    }
    release.send(()).expect("held");
    assert_eq!(join.shutdown().await.expect("clean").value, 1);
}

#[tokio::test]
async fn a_dropped_reply_is_no_reply() {
    let (handle, _join) = ActorHandle::spawn(Counter::default(), 4).expect("spawn");
    assert_eq!(handle.ask(Msg::Forget).await, Err(AskError::NoReply));
    assert_eq!(handle.ask(Msg::Get).await, Ok(0));
}

#[tokio::test]
async fn a_panic_ends_the_actor() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 4).expect("spawn");
    handle.send(Msg::Panic).await.expect("queued");
    timeout(HANG, handle.closed()).await.expect("actor gone");
    assert_eq!(handle.send(Msg::Add(1)).await, Err(ActorGone));
    match join.shutdown().await {
        Err(ActorError::Panicked(message)) => assert_eq!(message, "counter exploded"),
        other => panic!("expected Panicked, got {other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_join_detaches_the_actor() {
    let (handle, join) = ActorHandle::spawn(Counter::default(), 4).expect("spawn");
    drop(join);
    handle.send(Msg::Add(7)).await.expect("still running");
    assert_eq!(handle.ask(Msg::Get).await, Ok(7));
}

#[tokio::test]
async fn a_zero_mailbox_is_refused() {
    assert!(matches!(
        ActorHandle::spawn(Counter::default(), 0),
        Err(ActorError::ZeroCapacity)
    ));
}

#[test]
fn spawning_outside_a_runtime_is_an_error() {
    assert!(matches!(
        ActorHandle::spawn(Counter::default(), 1),
        Err(ActorError::NoRuntime)
    ));
}
