//! Graph validation reports every mistake in one pass.

use aimdb_core::{AimDbBuilder, BufferCfg, BuildError, GraphProblem, WriterKind};
use aimdb_tokio::TokioAdapter;

#[tokio::test]
async fn six_mistakes_are_all_reported_at_once() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    // 1. Duplicate key.
    b.configure::<f32>("sensor.temp", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 8 })
            .source(|_c, _p| async {});
    });
    b.configure::<f32>("sensor.temp", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    // 2. Missing buffer.
    b.configure::<f32>("no.buffer", |_r| {});
    // 3. Two writers (a source and a transform).
    b.configure::<f32>("two.writers", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .source(|_c, _p| async {})
            .transform::<f32, _>("sensor.temp", |t| t.map(|v| *v));
    });
    // 4. Unknown input key (a typo).
    b.configure::<f32>("alert", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<f32, _>("sensor.tmp", |t| t.map(|v| *v));
    });
    // 5. Input type mismatch.
    b.configure::<bool>("flag", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u64, _>("sensor.temp", |t| t.map(|v| *v > 3));
    });
    // 6. A cycle.
    b.configure::<u8>("cycle.a", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u8, _>("cycle.b", |t| t.map(|v| *v));
    });
    b.configure::<u8>("cycle.b", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<u8, _>("cycle.a", |t| t.map(|v| *v));
    });

    let err = match b.build() {
        Err(BuildError::Graph(e)) => e,
        Err(other) => panic!("expected a graph error, got {other}"),
        Ok(_) => panic!("an invalid graph built"),
    };
    let p = &err.problems;
    assert!(p.contains(&GraphProblem::DuplicateKey {
        key: "sensor.temp".into()
    }));
    assert!(p.contains(&GraphProblem::MissingBuffer {
        key: "no.buffer".into()
    }));
    assert!(p.contains(&GraphProblem::MultipleWriters {
        key: "two.writers".into(),
        writers: vec![WriterKind::Source, WriterKind::Transform],
    }));
    assert!(p.contains(&GraphProblem::UnknownInput {
        record: "alert".into(),
        input: "sensor.tmp".into(),
        suggestion: Some("sensor.temp".into()),
    }));
    assert!(p.contains(&GraphProblem::InputTypeMismatch {
        record: "flag".into(),
        input: "sensor.temp".into(),
        expected: "u64",
        found: "f32",
    }));
    assert!(p.iter().any(|p| matches!(p, GraphProblem::Cycle { path }
        if path.len() == 3 && path.contains(&"cycle.a".to_string()) && path.contains(&"cycle.b".to_string()))));
    assert_eq!(p.len(), 6, "exactly the six mistakes: {err}");

    let text = err.to_string();
    assert!(
        text.starts_with("6 problems in the record graph:"),
        "{text}"
    );
    assert!(text.contains("did you mean \"sensor.temp\"?"), "{text}");
}

#[tokio::test]
async fn links_need_a_codec_and_a_connector() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.configure::<f32>("t", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .link_to("mqtt://gw/t")
            .link_to_with(
                "nope",
                std::sync::Arc::new(|_v: &f32, _b: &mut Vec<u8>| Ok(())),
            );
    });
    let err = b.validate().unwrap_err();
    assert!(err.problems.contains(&GraphProblem::MissingCodec {
        record: "t".into(),
        url: "mqtt://gw/t".into()
    }));
    assert!(err.problems.contains(&GraphProblem::NoConnector {
        record: "t".into(),
        url: "mqtt://gw/t".into()
    }));
    assert!(err.problems.contains(&GraphProblem::NoConnector {
        record: "t".into(),
        url: "nope".into()
    }));
}

#[tokio::test]
async fn a_valid_graph_is_ordered_inputs_first() {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().unwrap());
    b.configure::<f32>("c", |r| {
        r.buffer(BufferCfg::SingleLatest).join((), |j| {
            j.on::<f32>("a", |_, v| Some(*v))
                .on::<f32>("b", |_, v| Some(*v))
        });
    });
    b.configure::<f32>("b", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .transform::<f32, _>("a", |t| t.map(|v| v + 1.0));
    });
    b.configure::<f32>("a", |r| {
        r.buffer(BufferCfg::SingleLatest);
    });
    let db = b.build().unwrap();
    let h = db.handle();
    let order: Vec<&str> = h.topological_order().map(|r| &*r.key).collect();
    assert_eq!(order, ["a", "b", "c"]);
    let edges: Vec<(&str, &str)> = h.edges().iter().map(|e| (&*e.from, &*e.to)).collect();
    assert_eq!(edges, [("a", "b"), ("a", "c"), ("b", "c")]);
}
