//! The node's MQTT side: a [`Connector`] for the graph's `mqtt://<topic>` links, and the session
//! that carries them over one broker connection at a time.
//!
//! The engine's tasks must be `Send`, a network connection (an embassy-net socket) is not, so
//! the two meet in a [`Bridge`]: when the graph is built, [`MqttConnector::start`] parks the
//! links there and returns one tracked task that waits for the session to finish draining; the
//! session (see [`session`]), polled beside the graph in the node's own future, takes the links
//! and does all network I/O.
//!
//! Topics: a link URL is `mqtt://` followed by the MQTT topic (`mqtt://aimdb/node-1/node.heartbeat`).
//! Outbound topics must not contain wildcards; inbound ones are subscribed to as filters.

pub(crate) mod session;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use aimdb_core::lifecycle::ShutdownSignal;
use aimdb_core::{
    BlockingMutex, BoxError, BoxFuture, Connector, InboundLink, MutexFamily, OutboundLink,
};
use aimdb_core::{Runtime, RuntimeContext};
use aimdb_records::topic::{validate_filter, validate_topic, TopicError};

pub use aimdb_core::backoff::Backoff;

/// The URL scheme of the node's MQTT links.
pub const SCHEME: &str = "mqtt";

/// `mqtt://<topic>`.
pub fn mqtt_url(topic: &str) -> String {
    let mut url = String::with_capacity(SCHEME.len() + 3 + topic.len());
    url.push_str(SCHEME);
    url.push_str("://");
    url.push_str(topic);
    url
}

/// Why [`MqttConnector::start`] refused an outbound link (as the source of
/// `StartError::Connector`): its topic is not one a node may publish to.
pub struct BadTopic {
    /// The link's URL.
    pub url: String,
    /// What is wrong with its topic.
    pub error: TopicError,
}

impl core::fmt::Display for BadTopic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.url, self.error)
    }
}

/// The same text as `Display`: a derived `Debug` would link core's struct formatter, which
/// nothing else on the node uses (4 KiB of flash).
impl core::fmt::Debug for BadTopic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// No `source`: [`BadTopic::error`] is there to read, and returning it as a `dyn Error` would
/// link `TopicError`'s `Debug` and the struct formatter again (2 KiB).
impl core::error::Error for BadTopic {}

/// The topic of a `mqtt://<topic>` URL.
pub fn url_topic(url: &str) -> Option<&str> {
    url.strip_prefix(SCHEME)?.strip_prefix("://")
}

/// The links of the graph, with their topics, as the session uses them.
pub(crate) struct Links {
    pub(crate) outbound: Vec<(OutboundLink, String)>,
    pub(crate) inbound: Vec<(InboundLink, String)>,
}

/// The links of `links` whose filter matches `topic`, in order: a message goes to every one
/// of them, as on the gateway.
pub(crate) fn matching<'a, L>(
    links: &'a [(L, String)],
    topic: &'a str,
) -> impl Iterator<Item = &'a L> + 'a {
    links
        .iter()
        .filter(move |(_, filter)| aimdb_records::topic::filter_matches(filter, topic))
        .map(|(link, _)| link)
}

/// Where the connector leaves the links for the session, and how the session tells the graph
/// it has drained them.
pub(crate) struct Bridge<R: Runtime> {
    links: <R::Mutex as MutexFamily>::Mutex<Option<Links>>,
    drained: ShutdownSignal<R::Mutex>,
}

impl<R: Runtime> Bridge<R> {
    pub(crate) fn new() -> Self {
        Self {
            links: BlockingMutex::new(None),
            drained: ShutdownSignal::new(),
        }
    }

    /// The links, once (later calls get `None`).
    pub(crate) fn take_links(&self) -> Option<Links> {
        self.links.with(Option::take)
    }

    /// Marks the session done: the connector's task ends and the graph can finish.
    pub(crate) fn set_drained(&self) {
        self.drained.raise();
    }
}

/// Serves the `mqtt` scheme for the node's graph. Cheap to clone.
pub struct MqttConnector<R: Runtime> {
    bridge: Arc<Bridge<R>>,
}

impl<R: Runtime> MqttConnector<R> {
    pub(crate) fn new(bridge: Arc<Bridge<R>>) -> Self {
        Self { bridge }
    }
}

impl<R: Runtime> Connector<R> for MqttConnector<R> {
    fn scheme(&self) -> &str {
        SCHEME
    }

    fn check_url(&self, url: &str) -> Result<(), BoxError> {
        let topic = url_topic(url).ok_or("expected mqtt://<topic>")?;
        validate_filter(topic).map_err(|e| alloc::format!("{url}: {e}").into())
    }

    fn start(
        &self,
        _ctx: RuntimeContext<R>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError> {
        let mut links = Links {
            outbound: Vec::with_capacity(outbound.len()),
            inbound: Vec::with_capacity(inbound.len()),
        };
        for link in outbound {
            let topic = url_topic(&link.url).unwrap_or_default();
            if let Err(error) = validate_topic(topic) {
                return Err(Box::new(BadTopic {
                    url: link.url,
                    error,
                }));
            }
            let topic = String::from(topic);
            links.outbound.push((link, topic));
        }
        for link in inbound {
            let topic = String::from(url_topic(&link.url).unwrap_or_default());
            links.inbound.push((link, topic));
        }
        self.bridge.links.with(|slot| *slot = Some(links));
        let drained = self.bridge.drained.clone();
        Ok(vec![
            Box::pin(async move { drained.wait().await }) as BoxFuture
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_topic() {
        assert_eq!(mqtt_url("aimdb/n/k"), "mqtt://aimdb/n/k");
        assert_eq!(url_topic("mqtt://aimdb/n/k"), Some("aimdb/n/k"));
        assert_eq!(url_topic("http://x"), None);
    }

    #[test]
    fn a_message_goes_to_every_link_whose_filter_matches() {
        let links: Vec<(u8, String)> = [
            (1, "aimdb/n/cmd/#"),
            (2, "aimdb/x/cmd/a"),
            (3, "aimdb/+/cmd/a"),
        ]
        .into_iter()
        .map(|(l, f)| (l, String::from(f)))
        .collect();
        let got: Vec<u8> = matching(&links, "aimdb/n/cmd/a").copied().collect();
        assert_eq!(got, [1, 3]);
        assert_eq!(matching(&links, "other").count(), 0);
    }
}
