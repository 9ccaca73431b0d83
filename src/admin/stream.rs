//! `GET /api/records/KEY/stream`: a record's values as server-sent events, one event per value.
//!
//! Contract:
//! - The response is `text/event-stream`. For an `spmc_ring` record it starts with one `latest`
//!   event carrying the record's newest value, if it has one (a new ring reader starts at the
//!   next value); a new reader of a `single_latest` or `mailbox` record gets the current value
//!   as its first `value` already, so no `latest` comes first. Then one `value` event per value,
//!   in order (`id:` counts them from 1 per stream), until the record closes (a reload or the
//!   shutdown), which ends the stream with an `end` event; clients reconnect.
//! - Each client has its own reader of the record: for an `spmc_ring` a ring reader, so a slow
//!   client never slows the graph or other clients. A client that falls more than the ring's
//!   capacity behind gets a `lag` event `{"missed":N}` and resumes at the oldest value still
//!   held. `single_latest` and `mailbox` keep their meaning: a slow client sees the newest value.
//! - Memory per client is bounded: nothing is queued for it besides the event being written; a
//!   client that does not read is held up by TCP, not by a buffer here.
//! - A comment line (`: ping`) every 15 s keeps idle connections (and proxies) open.
//! - The same access rules as every other route (token, `Host`, `Origin`; see `access`).
//!
//! `GET /api/stream` is the same for every record of the graph on one connection (a browser
//! holds at most six HTTP/1 connections per origin, so one stream per record would starve the
//! dashboard): `latest` then `value` events carry `{"key","value"}`, `lag` events
//! `{"key","missed"}`; a reload that is applied, or the first record to close, ends the stream
//! with `end` (the set of records may have changed: reconnect, and read `/api/graph` again).
//! Records are polled in turn, so a busy one cannot starve the others; each wake-up polls every
//! record's reader. (A record's own stream goes on across a reload that keeps its part of the
//! graph running; it ends when its record closes.)

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use serde_json::{json, Value};

use super::reply::{error, live, typed_record};
use super::state::{AdminState, Live};
use crate::components::{TapEvent, TapFeed};
use crate::engine::typed::ops;
use crate::record_types::TypeEntry;
use aimdb_core::BufferCfg;

/// How often an idle stream sends a keep-alive comment.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Streams open now.
static OPEN: AtomicU64 = AtomicU64::new(0);

/// One client's events.
struct Events {
    latest: Option<Value>,
    feed: TapFeed,
    sent: u64,
    ended: bool,
}

impl Events {
    fn new(latest: Option<Value>, feed: TapFeed) -> Self {
        OPEN.fetch_add(1, Ordering::Relaxed);
        Self {
            latest,
            feed,
            sent: 0,
            ended: false,
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stream for Events {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(v) = this.latest.take() {
            return Poll::Ready(Some(Ok(Event::default()
                .event("latest")
                .data(v.to_string()))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        let event = match this.feed.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(TapEvent::Value(v))) => {
                this.sent += 1;
                Event::default()
                    .event("value")
                    .id(this.sent.to_string())
                    .data(v.to_string())
            }
            Poll::Ready(Some(TapEvent::Lagged(n))) => Event::default()
                .event("lag")
                .data(json!({ "missed": n }).to_string()),
            Poll::Ready(None) => {
                this.ended = true;
                Event::default().event("end").data(
                    json!({ "reason": "the record closed (reload or shutdown); reconnect" })
                        .to_string(),
                )
            }
        };
        Poll::Ready(Some(Ok(event)))
    }
}

/// The value a stream of `key` opens with (`latest`): a ring's newest; nothing for the other
/// buffers, whose new reader delivers the current value as its first `value` (see the module
/// doc).
fn opening(live: &Live, entry: &TypeEntry, key: &str) -> Option<Value> {
    let ring = live
        .config
        .records
        .iter()
        .any(|r| r.key == key && matches!(r.buffer, BufferCfg::SpmcRing { .. }));
    if !ring {
        return None;
    }
    live.graphs
        .get(key)
        .and_then(|h| (ops(entry).latest_json)(h, key).ok().flatten())
}

/// The handler; see the module doc.
pub(super) async fn stream(State(state): State<AdminState>, Path(key): Path<String>) -> Response {
    let (live, entry) = match typed_record(&state, &key) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    // Subscribe first: a value produced between the two calls is then streamed, not lost.
    let feed = match live
        .graphs
        .handle(&key)
        .and_then(|h| (ops(entry).subscribe_json)(h, &key))
    {
        Ok(f) => f,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let latest = opening(&live, entry, &key);
    Sse::new(Events::new(latest, feed))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("ping"))
        .into_response()
}

/// Every record's events, for one client of `/api/stream`.
struct AllEvents {
    latest: VecDeque<(Arc<str>, Value)>,
    feeds: Vec<(Arc<str>, TapFeed)>,
    /// The feed polled first next time (round robin).
    next: usize,
    sent: u64,
    ended: bool,
    /// Ready once a reload was applied.
    reloaded: Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl AllEvents {
    fn new(
        latest: VecDeque<(Arc<str>, Value)>,
        feeds: Vec<(Arc<str>, TapFeed)>,
        mut published: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        OPEN.fetch_add(1, Ordering::Relaxed);
        Self {
            latest,
            feeds,
            next: 0,
            sent: 0,
            ended: false,
            reloaded: Box::pin(async move {
                let _ = published.changed().await;
            }),
        }
    }
}

impl Drop for AllEvents {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stream for AllEvents {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some((key, value)) = this.latest.pop_front() {
            return Poll::Ready(Some(Ok(Event::default()
                .event("latest")
                .data(json!({ "key": &*key, "value": value }).to_string()))));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        if this.reloaded.as_mut().poll(cx).is_ready() {
            this.ended = true;
            return Poll::Ready(Some(Ok(Event::default().event("end").data(
                json!({ "reason": "the config was reloaded; reconnect" }).to_string(),
            ))));
        }
        let n = this.feeds.len();
        for i in 0..n {
            let at = (this.next + i) % n;
            let Some((key, feed)) = this.feeds.get_mut(at) else {
                continue;
            };
            let event = match feed.poll_next(cx) {
                Poll::Pending => continue,
                Poll::Ready(Some(TapEvent::Value(v))) => {
                    this.sent += 1;
                    Event::default()
                        .event("value")
                        .id(this.sent.to_string())
                        .data(json!({ "key": &**key, "value": v }).to_string())
                }
                Poll::Ready(Some(TapEvent::Lagged(missed))) => Event::default()
                    .event("lag")
                    .data(json!({ "key": &**key, "missed": missed }).to_string()),
                Poll::Ready(None) => {
                    this.ended = true;
                    Event::default().event("end").data(
                        json!({
                            "key": &**key,
                            "reason": "the graph closed (reload or shutdown); reconnect",
                        })
                        .to_string(),
                    )
                }
            };
            this.next = at + 1;
            return Poll::Ready(Some(Ok(event)));
        }
        Poll::Pending
    }
}

/// The handler of `/api/stream`; see the module doc.
pub(super) async fn stream_all(State(state): State<AdminState>) -> Response {
    // Before reading the graph: a reload applied from here on ends the stream.
    let published = state.published();
    let live = match live(&state) {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let mut feeds = Vec::with_capacity(live.config.records.len());
    let mut latest = VecDeque::new();
    for rec in &live.config.records {
        let entry = rec.ty;
        // Subscribe first: a value produced between the two calls is then streamed, not lost.
        let feed = match live
            .graphs
            .handle(&rec.key)
            .and_then(|h| (ops(entry).subscribe_json)(h, &rec.key))
        {
            Ok(f) => f,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        let key: Arc<str> = Arc::from(rec.key.as_str());
        if let Some(v) = opening(&live, entry, &rec.key) {
            latest.push_back((key.clone(), v));
        }
        feeds.push((key, feed));
    }
    Sse::new(AllEvents::new(latest, feeds, published))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("ping"))
        .into_response()
}

/// Writes the stream gauge of a `/metrics` page.
pub(super) fn encode(
    enc: &mut prometheus_client::encoding::DescriptorEncoder<'_>,
) -> crate::telemetry::exposition::Encoded {
    crate::telemetry::exposition::gauge(
        enc,
        "aimdbd_admin_streams",
        "Record streams (GET /api/records/KEY/stream, /api/stream) open now.",
        OPEN.load(Ordering::Relaxed),
    )
}
