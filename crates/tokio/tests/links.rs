//! The connector contract, shown with an in-memory loopback connector: outbound links yield
//! encoded frames, inbound links decode payloads into their record, and shutdown drains.

use std::sync::Arc;

use aimdb_core::link::FrameError;
use aimdb_core::{
    AimDbBuilder, BoxError, BoxFuture, BufferCfg, CodecError, Connector, InboundLink, OutboundLink,
    RuntimeContext,
};
use aimdb_tokio::TokioAdapter;
use parking_lot::Mutex;

/// Frames sent, with the URL they were sent to.
type SentLog = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// `mem://NAME`: what is sent to an outbound link `mem://x` arrives at inbound links `mem://x`.
#[derive(Default, Clone)]
struct Loopback {
    sent: SentLog,
}

impl Connector<TokioAdapter> for Loopback {
    fn scheme(&self) -> &str {
        "mem"
    }

    fn check_url(&self, url: &str) -> Result<(), BoxError> {
        if url.len() > "mem://".len() {
            Ok(())
        } else {
            Err("needs a name".into())
        }
    }

    fn start(
        &self,
        ctx: RuntimeContext<TokioAdapter>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError> {
        let inbound = Arc::new(Mutex::new(Some(inbound)));
        let mut tasks: Vec<BoxFuture> = Vec::new();
        let closer = inbound.clone();
        tasks.push(Box::pin(async move {
            ctx.shutdown().wait().await;
            closer.lock().take(); // drop inbound links: their records may close
        }));
        for mut link in outbound {
            let inbound = inbound.clone();
            let sent = self.sent.clone();
            tasks.push(Box::pin(async move {
                let mut buf = Vec::new();
                loop {
                    match link.next_frame(&mut buf).await {
                        Ok(()) => {
                            sent.lock().push((link.url.clone(), buf.clone()));
                            if let Some(links) = &*inbound.lock() {
                                for l in links.iter().filter(|l| l.url == link.url) {
                                    let _ = l.push(&buf);
                                }
                            }
                        }
                        Err(FrameError::Closed) => break,
                        Err(_) => continue,
                    }
                }
            }));
        }
        Ok(tasks)
    }
}

fn enc(v: &u32, out: &mut Vec<u8>) -> Result<(), CodecError> {
    out.extend_from_slice(&v.to_le_bytes());
    Ok(())
}

fn dec(b: &[u8]) -> Result<u32, CodecError> {
    let arr: [u8; 4] = b
        .try_into()
        .map_err(|_| CodecError::Malformed("want 4 bytes".into()))?;
    Ok(u32::from_le_bytes(arr))
}

#[tokio::test]
async fn values_cross_a_link_and_shutdown_drains_outbound() {
    let conn = Loopback::default();
    let sent = conn.sent.clone();
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.connector(conn);
    b.configure::<u32>("out", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 128 })
            .codec(Arc::new(enc), Arc::new(dec))
            .source(|_ctx, p| async move {
                for i in 0..100 {
                    p.produce(i);
                }
                std::future::pending::<()>().await;
            })
            .link_to("mem://wire");
    });
    b.configure::<u32>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 128 })
            .link_from_with("mem://wire", Arc::new(dec));
    });
    let db = b.build().unwrap();
    let h = db.handle();
    let mut input = h.consumer::<u32>("in").unwrap();
    let run = tokio::spawn(db.run());
    for i in 0..100 {
        assert_eq!(input.recv().await, Ok(i));
    }
    assert_eq!(
        h.record("in").unwrap().writer(),
        aimdb_core::WriterKind::LinkFrom
    );
    h.shutdown();
    run.await.unwrap().unwrap();
    assert_eq!(
        sent.lock().len(),
        100,
        "every value was sent before run returned"
    );
    assert_eq!(input.recv().await, Err(aimdb_core::RecvError::Closed));
}

#[tokio::test]
async fn a_connector_can_reject_a_url() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.connector(Loopback::default());
    b.configure::<u32>("x", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .codec(Arc::new(enc), Arc::new(dec))
            .link_to("mem://");
    });
    let err = b.validate().unwrap_err().to_string();
    assert!(err.contains("link \"mem://\": needs a name"), "{err}");
}

/// A connector's own error type, to be found again behind `BuildError::Start`.
#[derive(Debug, PartialEq)]
struct NoSuchPort(String);

impl std::fmt::Display for NoSuchPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "link {:?}: no such port", self.0)
    }
}

impl std::error::Error for NoSuchPort {}

#[tokio::test]
async fn a_connector_that_refuses_its_links_stops_the_start_with_its_own_error() {
    struct Refuse;
    impl Connector<TokioAdapter> for Refuse {
        fn scheme(&self) -> &str {
            "port"
        }
        fn start(
            &self,
            _ctx: RuntimeContext<TokioAdapter>,
            outbound: Vec<OutboundLink>,
            _inbound: Vec<InboundLink>,
        ) -> Result<Vec<BoxFuture>, BoxError> {
            Err(Box::new(NoSuchPort(outbound[0].url.clone())))
        }
    }
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.connector(Refuse);
    b.configure::<u32>("x", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .codec(Arc::new(enc), Arc::new(dec))
            .link_to("port://9");
    });
    let Err(err) = b.build() else {
        panic!("the connector refused its links")
    };
    assert_eq!(
        err.to_string(),
        "could not start the graph: connector \"port\": link \"port://9\": no such port"
    );
    let aimdb_core::BuildError::Start(aimdb_core::StartError::Connector { scheme, source }) = &err
    else {
        panic!("a connector's refusal: {err:?}")
    };
    assert_eq!(scheme, "port");
    assert_eq!(
        source.downcast_ref::<NoSuchPort>(),
        Some(&NoSuchPort("port://9".into()))
    );
    let chain = std::error::Error::source(&err).and_then(std::error::Error::source);
    assert!(chain.is_some_and(|e| e.is::<NoSuchPort>()), "{chain:?}");
}

#[tokio::test]
async fn a_topic_decoder_sees_the_topic_and_plain_push_gives_none() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    let captured: Arc<Mutex<Option<InboundLink>>> = Arc::default();
    #[derive(Clone)]
    struct Grab(Arc<Mutex<Option<InboundLink>>>);
    impl Connector<TokioAdapter> for Grab {
        fn scheme(&self) -> &str {
            "mem"
        }
        fn start(
            &self,
            ctx: RuntimeContext<TokioAdapter>,
            _out: Vec<OutboundLink>,
            mut inbound: Vec<InboundLink>,
        ) -> Result<Vec<BoxFuture>, BoxError> {
            *self.0.lock() = inbound.pop();
            let slot = self.0.clone();
            Ok(vec![Box::pin(async move {
                ctx.shutdown().wait().await;
                slot.lock().take();
            })])
        }
    }
    b.connector(Grab(captured.clone()));
    b.configure::<String>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .link_from_topic(
                "mem://x",
                Arc::new(|topic: &str, payload: &[u8]| {
                    Ok(format!("{topic}={}", String::from_utf8_lossy(payload)))
                }),
            );
    });
    let db = b.build().unwrap();
    let h = db.handle();
    let mut c = h.consumer::<String>("in").unwrap();
    let link = captured.lock().take().expect("the connector got the link");
    link.push_from("aimdb/n1/in", b"v").unwrap();
    link.push(b"w").unwrap();
    assert_eq!(c.try_recv(), Ok("aimdb/n1/in=v".to_string()));
    assert_eq!(c.try_recv(), Ok("=w".to_string()));
    drop(link);
    drop(db);
}

/// A connector's own options for a link, as `link_to_configured` / `link_from_configured` give
/// them.
#[derive(Debug, Clone, PartialEq)]
struct MemOptions {
    name: &'static str,
    qos: u8,
}

/// A link (direction and URL), its options read as `MemOptions`, and whether they read as
/// another type too.
type Seen = (String, Option<MemOptions>, bool);

/// Records what each link's options read as.
#[derive(Default, Clone)]
struct OptionReader {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Connector<TokioAdapter> for OptionReader {
    fn scheme(&self) -> &str {
        "mem"
    }

    fn start(
        &self,
        _ctx: RuntimeContext<TokioAdapter>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError> {
        let mut seen = self.seen.lock();
        for l in &outbound {
            let other = l.options::<String>().is_some();
            seen.push((format!("out {}", l.url), l.options().cloned(), other));
        }
        for l in &inbound {
            let other = l.options::<String>().is_some();
            seen.push((format!("in {}", l.url), l.options().cloned(), other));
        }
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_link_carries_its_typed_options_to_the_connector() {
    let conn = OptionReader::default();
    let seen = conn.seen.clone();
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.connector(conn);
    let out = MemOptions {
        name: "out",
        qos: 1,
    };
    let inn = MemOptions { name: "in", qos: 2 };
    b.configure::<u32>("a", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .codec(Arc::new(enc), Arc::new(dec))
            .link_to_configured("mem://x", Arc::new(enc), Arc::new(out.clone()))
            .link_to("mem://plain");
    });
    b.configure::<u32>("b", |r| {
        r.buffer(BufferCfg::SingleLatest).link_from_configured(
            "mem://x",
            Arc::new(|_topic: &str, payload: &[u8]| dec(payload)),
            Arc::new(inn.clone()),
        );
    });
    let db = b.build().unwrap();
    let h = db.handle();
    let run = tokio::spawn(db.run());
    h.shutdown();
    run.await.unwrap().unwrap();
    let mut seen = seen.lock().clone();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            ("in mem://x".to_string(), Some(inn), false),
            ("out mem://plain".to_string(), None, false),
            ("out mem://x".to_string(), Some(out), false),
        ]
    );
}
