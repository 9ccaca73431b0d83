//! The writer rule at run time: a record has one writer. Outside producers (`DbHandle::producer`,
//! and through it the sync API and the daemon's `ctl set`) are refused with a typed error on
//! records a source, a transform or inbound links write; `AimDb::seed` puts restored state into
//! any record before the graph runs.

use aimdb_core::{AccessError, AimDbBuilder, BufferCfg, DbHandle, WriterKind};
use aimdb_tokio::TokioAdapter;

fn graph() -> AimDbBuilder<TokioAdapter> {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("tokio"));
    b.configure::<u64>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 });
    });
    b.configure::<u64>("doubled", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u64, _>("in", |t| t.map(|v| v * 2));
    });
    b.configure::<u64>("sourced", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .source(|_ctx, _p| async move {});
    });
    b
}

fn refused(h: &DbHandle<TokioAdapter>, key: &str) -> Option<WriterKind> {
    match h.producer::<u64>(key) {
        Err(AccessError::NotWritable { key: k, writer }) => {
            assert_eq!(k, key);
            Some(writer)
        }
        Err(e) => panic!("{key}: {e}"),
        Ok(_) => None,
    }
}

#[tokio::test]
async fn only_records_without_a_writer_take_outside_producers() {
    let db = graph().build().expect("graph");
    let h = db.handle();
    assert_eq!(refused(&h, "doubled"), Some(WriterKind::Transform));
    assert_eq!(refused(&h, "sourced"), Some(WriterKind::Source));
    assert_eq!(refused(&h, "in"), None, "no writer in the graph: external");
    let message = h
        .producer::<u64>("doubled")
        .err()
        .expect("refused")
        .to_string();
    assert!(message.contains("written by its transform"), "{message}");
    // Key and type are checked first.
    assert!(matches!(
        h.producer::<u32>("doubled"),
        Err(AccessError::TypeMismatch { .. })
    ));
}

#[tokio::test]
async fn a_built_graph_can_be_seeded_whatever_writes_the_record() {
    let db = graph().build().expect("graph");
    let h = db.handle();
    db.seed("doubled", 42u64)
        .expect("seed a transform's record");
    db.seed("sourced", 7u64).expect("seed a source's record");
    assert_eq!(h.latest::<u64>("doubled"), Ok(Some(42)));
    assert_eq!(h.latest::<u64>("sourced"), Ok(Some(7)));
    assert!(matches!(
        db.seed("nope", 1u64),
        Err(AccessError::UnknownKey { .. })
    ));
    // Seeding does not close the record: its writer still holds it.
    let mut c = h.consumer::<u64>("doubled").expect("consumer");
    assert_eq!(c.try_recv(), Ok(42));
    assert_eq!(c.try_recv(), Err(aimdb_core::TryRecvError::Empty));
}
