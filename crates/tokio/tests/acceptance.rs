//! End-to-end acceptance ([`aimdb_core::accept`]): an inbound value counts as accepted only once
//! every durable reader downstream, through transforms, has accepted what it became; a ring with
//! a durable reader gives its writers room only for what that reader can still take.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{
    AimDbBuilder, BoxError, BoxFuture, BufferCfg, CodecError, Connector, InboundLink, OutboundLink,
    RuntimeContext,
};
use aimdb_tokio::TokioAdapter;
use parking_lot::Mutex;

/// `hand://NAME`: hands its links to the test instead of running them.
#[derive(Default, Clone)]
struct Hand {
    links: Arc<Mutex<(Vec<OutboundLink>, Vec<InboundLink>)>>,
}

impl Connector<TokioAdapter> for Hand {
    fn scheme(&self) -> &str {
        "hand"
    }

    fn start(
        &self,
        _ctx: RuntimeContext<TokioAdapter>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError> {
        *self.links.lock() = (outbound, inbound);
        Ok(Vec::new())
    }
}

fn enc(v: &u32, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

fn dec(b: &[u8]) -> Result<u32, CodecError> {
    let arr: [u8; 4] = b
        .try_into()
        .map_err(|_| CodecError::Malformed("len".into()))?;
    Ok(u32::from_le_bytes(arr))
}

/// A builder with `hand` and record `in` (ring 8, written by inbound link `hand://in`).
fn with_input(hand: &Hand) -> AimDbBuilder<TokioAdapter> {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("runtime"));
    b.connector(hand.clone());
    b.configure::<u32>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .codec(Arc::new(enc), Arc::new(dec))
            .link_from("hand://in");
    });
    b
}

/// `in` (ring 8, inbound) → keep even values → `out` (ring 4) → outbound link `hand://out`;
/// `side` (ring 8, inbound) has no durable reader.
fn graph(hand: &Hand) -> aimdb_core::AimDb<TokioAdapter> {
    let mut b = with_input(hand);
    b.configure::<u32>("side", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .codec(Arc::new(enc), Arc::new(dec))
            .link_from("hand://side");
    });
    b.configure::<u32>("out", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 4 })
            .codec(Arc::new(enc), Arc::new(dec))
            .transform::<u32, _>("in", |t| t.filter_map(|v| (v % 2 == 0).then_some(*v)))
            .link_to("hand://out");
    });
    b.build().expect("graph builds")
}

async fn settle() {
    // Let the transform task run.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
}

// One thread: the transform runs only when the test awaits, so room is seen before it steps.
#[tokio::test(flavor = "current_thread")]
async fn inbound_values_are_accepted_only_when_the_durable_reader_downstream_accepts_them() {
    let hand = Hand::default();
    let db = graph(&hand);
    let (mut outbound, inbound) = std::mem::take(&mut *hand.links.lock());
    let mut out = outbound.pop().expect("one outbound link");
    let acceptor = out.hold();
    let handle = db.handle();
    let run = tokio::spawn(db.run());
    let (input, side) = {
        let mut by_name = inbound.into_iter();
        let a = by_name.next().expect("in");
        let b = by_name.next().expect("side");
        if a.record.as_ref() == "in" {
            (a, b)
        } else {
            (b, a)
        }
    };
    let mut watch = input.watch().expect("a graph has a progress signal");

    // Without a durable reader a value is accepted at once.
    let p = side.push_at("", &7u32.to_le_bytes()).expect("decodes");
    assert!(side.accepted(p));
    assert_eq!(side.room(), u64::MAX, "nothing durable behind `side`");

    // 2 passes the filter: not accepted until the outbound link accepts it.
    let p2 = input.push_at("", &2u32.to_le_bytes()).expect("decodes");
    settle().await;
    assert!(!input.accepted(p2), "the outbox has not taken 2 yet");
    // 3 is filtered out, but waits behind 2 (acknowledgements go in order).
    let p3 = input.push_at("", &3u32.to_le_bytes()).expect("decodes");
    settle().await;
    assert!(!input.accepted(p3));

    let mut buf = Vec::new();
    out.next_frame(&mut buf).await.expect("a frame");
    assert_eq!(dec(&buf), Ok(2));
    assert!(!input.accepted(p2), "read is not accepted");
    acceptor.accept(out.position());
    tokio::time::timeout(Duration::from_secs(1), watch.changed())
        .await
        .expect("accepting wakes the watch");
    assert!(input.accepted(p2));
    assert!(
        input.accepted(p3),
        "a filtered value follows the one before it"
    );

    // Room: `out` (ring 4) behind the transform limits `in` (ring 8) while nothing is read.
    let mut last = 0;
    for v in [4u32, 6, 8, 10] {
        assert!(input.room() > 0, "room before {v}");
        last = input.push_at("", &v.to_le_bytes()).expect("decodes");
        settle().await;
    }
    assert_eq!(
        input.room(),
        0,
        "four values wait for the durable reader of `out`"
    );
    assert!(!input.accepted(last));
    for _ in 0..4 {
        out.next_frame(&mut buf).await.expect("a frame");
        acceptor.accept(out.position());
    }
    assert!(input.accepted(last));
    assert_eq!(input.room(), 4, "`out` has room for four again");

    // Releasing the hold (the reader is gone) never leaves the writer stuck.
    let p = input.push_at("", &12u32.to_le_bytes()).expect("decodes");
    settle().await;
    drop(acceptor);
    assert!(input.accepted(p));

    drop((input, side, out, watch));
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("shuts down")
        .expect("joins")
        .expect("runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_respects_room_never_makes_a_held_reader_behind_a_transform_lag() {
    let hand = Hand::default();
    let db = graph(&hand);
    let (mut outbound, inbound) = std::mem::take(&mut *hand.links.lock());
    let mut out = outbound.pop().expect("one outbound link");
    let acceptor = out.hold();
    let handle = db.handle();
    let run = tokio::spawn(db.run());
    let input = inbound
        .into_iter()
        .find(|l| l.record.as_ref() == "in")
        .expect("in");
    let mut watch = input.watch().expect("progress");
    const N: u32 = 2_000;
    let reader = tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        while seen.len() < (N / 2) as usize {
            match out.next_frame(&mut buf).await {
                Ok(()) => seen.push(dec(&buf).expect("u32")),
                Err(e) => panic!("the held reader got {e:?}"),
            }
            if seen.len() % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            acceptor.accept(out.position());
        }
        seen
    });
    for v in 0..N {
        while input.room() == 0 {
            tokio::time::timeout(Duration::from_secs(5), watch.changed())
                .await
                .expect("progress while waiting for room");
        }
        input.push_at("", &v.to_le_bytes()).expect("decodes");
    }
    let seen = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("reader done")
        .expect("joins");
    assert_eq!(seen, (0..N).filter(|v| v % 2 == 0).collect::<Vec<_>>());
    drop(input);
    drop(watch);
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), run).await;
}

/// Values a slow transform has not stepped over yet already count against its output's room:
/// otherwise a writer that respects `room` floods the output ring once the transform catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_a_transform_has_not_reached_yet_take_room_behind_it() {
    let hand = Hand::default();
    let mut b = with_input(&hand);
    b.configure::<u32>("out", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 2 })
            .codec(Arc::new(enc), Arc::new(dec))
            .transform::<u32, _>("in", |t| {
                t.map(|v| {
                    // aimdb: allow-blocking(a deliberately slow transform handler, test only)
                    std::thread::sleep(Duration::from_millis(50));
                    *v
                })
            })
            .link_to("hand://out");
    });
    let db = b.build().expect("graph builds");
    let (mut outbound, mut inbound) = std::mem::take(&mut *hand.links.lock());
    let out = outbound.pop().expect("out");
    let _acceptor = out.hold();
    let input = inbound.pop().expect("in");
    let handle = db.handle();
    let run = tokio::spawn(db.run());
    let mut pushed = 0u32;
    while input.room() > 0 && pushed < 8 {
        input.push_at("", &pushed.to_le_bytes()).expect("decodes");
        pushed += 1;
    }
    assert_eq!(
        pushed, 2,
        "the output ring holds 2; the transform had not stepped over any of them yet"
    );
    drop((input, out));
    handle.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), run).await;
}
