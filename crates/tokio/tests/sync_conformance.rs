//! The core's buffer conformance cases, run through the sync API: a `SyncConsumer` sees each
//! buffer kind exactly as an async `Consumer` does (same case bodies, same list as
//! `conformance.rs`; see `aimdb_core::test_support`).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use aimdb_core::test_support::{CaseApi, CaseReader, CaseRecord, CaseWriter, KEY};
use aimdb_core::{AimDbBuilder, BufferCfg, RecordStats, RecvError, TryRecvError};
use aimdb_tokio::sync_api::GetError;
use aimdb_tokio::{AttachExt, SyncConsumer, SyncHandle, SyncProducer, TokioAdapter};

/// Bound for a value the case expects to be ready, so that a broken contract fails, not hangs.
const READY: Duration = Duration::from_secs(5);

/// The cases' futures only block the calling thread (the engine runs on its own), so a
/// minimal executor that parks between polls is all they need.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[derive(Clone, Copy)]
struct SyncApi;

/// A graph attached on its own thread; detached (drained) when the case ends.
struct SyncRecord(Option<SyncHandle>);

struct Writer(SyncProducer<u64>);
struct Reader(SyncConsumer<u64>);

impl CaseApi for SyncApi {
    type Record = SyncRecord;
    fn open(&self, cfg: BufferCfg) -> SyncRecord {
        let mut b = AimDbBuilder::<TokioAdapter>::new();
        b.configure::<u64>(KEY, |r| {
            r.buffer(cfg);
        });
        SyncRecord(Some(b.attach().expect("attach")))
    }
}

impl SyncRecord {
    fn handle(&self) -> &SyncHandle {
        self.0.as_ref().expect("attached")
    }
}

impl Drop for SyncRecord {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            h.detach().expect("detach");
        }
    }
}

impl CaseRecord for SyncRecord {
    type Writer = Writer;
    type Reader = Reader;
    fn writer(&self) -> Writer {
        Writer(self.handle().producer(KEY).expect("producer"))
    }
    fn reader(&self) -> Reader {
        Reader(self.handle().consumer(KEY).expect("consumer"))
    }
    fn stats(&self) -> RecordStats {
        self.handle().db().stats(KEY).expect("stats")
    }
    fn latest(&self) -> Option<u64> {
        self.handle().db().latest(KEY).expect("latest")
    }
}

impl CaseWriter for Writer {
    fn produce(&self, v: u64) {
        self.0.set(v).expect("set");
    }
}

impl CaseReader for Reader {
    fn recv(&mut self) -> impl Future<Output = Result<u64, RecvError>> {
        // aimdb: allow-blocking(a sync get, driven by the test's own parking executor)
        let got = self.0.get_with_timeout(READY);
        async move {
            match got {
                Ok(v) => Ok(v),
                Err(GetError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(GetError::Closed) => Err(RecvError::Closed),
                Err(e) => panic!("no value within {READY:?}: {e}"),
            }
        }
    }
    fn try_recv(&mut self) -> Result<u64, TryRecvError> {
        match self.0.try_get() {
            Ok(v) => Ok(v),
            Err(GetError::Empty) => Err(TryRecvError::Empty),
            Err(GetError::Lagged(n)) => Err(TryRecvError::Lagged(n)),
            Err(GetError::Closed) => Err(TryRecvError::Closed),
            Err(e @ GetError::Timeout) => panic!("try_get cannot time out: {e}"),
        }
    }
}

aimdb_core::conformance_tests!(buffer_cases block_on, SyncApi);
