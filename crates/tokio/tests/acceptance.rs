//! End-to-end acceptance ([`aimdb_core::accept`]): an inbound value counts as accepted only once
//! every durable reader downstream, through transforms, has accepted what it became; a ring with
//! a durable reader gives its writers room only for what that reader can still take.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{
    AimDbBuilder, BoxFuture, BufferCfg, CodecError, Connector, InboundLink, OutboundLink,
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
    ) -> Result<Vec<BoxFuture>, String> {
        *self.links.lock() = (outbound, inbound);
        Ok(Vec::new())
    }
}

fn enc(v: &u32, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

fn dec(b: &[u8]) -> Result<u32, CodecError> {
    let arr: [u8; 4] = b.try_into().map_err(|_| CodecError("len".into()))?;
    Ok(u32::from_le_bytes(arr))
}

/// `in` (ring 8, inbound) → keep even values → `out` (ring 4) → outbound link `hand://out`;
/// `side` (ring 8, inbound) has no durable reader.
fn graph(hand: &Hand) -> aimdb_core::AimDb<TokioAdapter> {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("runtime"));
    b.connector(hand.clone());
    b.configure::<u32>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .codec(Arc::new(enc), Arc::new(dec))
            .link_from("hand://in");
    });
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
