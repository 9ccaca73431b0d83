//! The core's buffer and engine conformance suite, on Tokio.

use aimdb_tokio::TokioAdapter;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

aimdb_core::conformance_tests!(block_on, TokioAdapter::new().expect("inside tokio"));
