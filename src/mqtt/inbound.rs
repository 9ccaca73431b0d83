//! [`Router`]: delivers each received MQTT message to every inbound link whose filter matches
//! its topic.
//!
//! Contract: routing never blocks (decoding and producing into a record are synchronous and
//! bounded). A message that no filter matches, that is larger than `max_packet_size`, or whose
//! payload a link cannot decode is dropped and counted (`aimdbd_mqtt_bad_input_total{reason}`,
//! and per link), and logged with its topic and the reason — at most one line per reason every
//! 10 seconds, with the number of lines suppressed. A message several filters match reaches
//! each of their links; one link failing to decode does not stop the others.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::InboundLink;
use aimdb_records::topic;
use parking_lot::RwLock;

use super::metrics::{metrics, BadInput, LinkMetrics};
use super::ratelimit::LogLimit;

/// One inbound link's subscription.
pub struct Route {
    /// The MQTT filter (templates expanded).
    pub filter: String,
    /// The link's counters.
    pub metrics: Arc<LinkMetrics>,
}

/// Routes received messages to inbound links.
pub struct Router {
    routes: Vec<Route>,
    /// `None` once closed (shutdown): the links are dropped so their records can close.
    links: RwLock<Option<Vec<InboundLink>>>,
    max_packet: usize,
    logs: [LogLimit; 3],
}

const LOG_EVERY: Duration = Duration::from_secs(10);

impl Router {
    /// Routes to `links`; `routes[i]` is the route of `links[i]`.
    pub fn new(routes: Vec<Route>, links: Vec<InboundLink>, max_packet: usize) -> Self {
        Self {
            routes,
            links: RwLock::new(Some(links)),
            max_packet,
            logs: [
                LogLimit::new(LOG_EVERY),
                LogLimit::new(LOG_EVERY),
                LogLimit::new(LOG_EVERY),
            ],
        }
    }

    /// Delivers one message. Never blocks.
    pub fn route(&self, topic: &str, payload: &[u8]) {
        let m = metrics();
        if payload.len() > self.max_packet {
            self.bad(BadInput::Oversized, topic, None, || {
                format!(
                    "{} bytes is more than max_packet_size ({} bytes)",
                    payload.len(),
                    self.max_packet
                )
            });
            return;
        }
        let guard = self.links.read();
        let Some(links) = guard.as_ref() else {
            return; // shutting down
        };
        if let Some(t) = topic::parse(topic) {
            m.node_message(t.node());
        }
        let mut matched = false;
        for (route, link) in self.routes.iter().zip(links) {
            if !topic::filter_matches(&route.filter, topic) {
                continue;
            }
            matched = true;
            match link.push_from(topic, payload) {
                Ok(()) => {
                    route.metrics.messages.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    route.metrics.errors.fetch_add(1, Ordering::Relaxed);
                    self.bad(BadInput::Decode, topic, Some(&link.record), || {
                        e.to_string()
                    });
                }
            }
        }
        if !matched {
            self.bad(BadInput::UnknownTopic, topic, None, || {
                "no link_from filter matches the topic".to_string()
            });
        }
    }

    fn bad(
        &self,
        why: BadInput,
        topic: &str,
        record: Option<&str>,
        reason: impl FnOnce() -> String,
    ) {
        metrics().bad_input(why);
        if let Some(suppressed) = self.logs[why as usize].allow() {
            tracing::warn!(
                topic = %truncated(topic),
                record = record.unwrap_or(""),
                reason = %reason(),
                kind = why.as_str(),
                suppressed,
                "MQTT message dropped"
            );
        }
    }

    /// Drops the inbound links (shutdown): their records may close; later messages are ignored.
    pub fn close(&self) {
        self.links.write().take();
    }
}

/// A topic for a log line: at most 200 bytes (topics can be 64 KiB).
fn truncated(topic: &str) -> &str {
    if topic.len() <= 200 {
        return topic;
    }
    let mut end = 200;
    while !topic.is_char_boundary(end) {
        end -= 1;
    }
    &topic[..end]
}
