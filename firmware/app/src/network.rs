//! The network the node reaches its broker through.

use core::fmt::Debug;

/// Opens byte streams to the MQTT broker: an embassy-net `TcpSocket` on the board, a std TCP
/// stream on the host, a TLS stream if one is wrapped around either.
///
/// A connection borrows the network (`Connection<'_>`), so a board can hand out one socket built
/// on its static buffers at a time. The MQTT session opens one connection, uses it until it fails
/// or the node stops, drops it, and opens the next after a backoff.
#[allow(async_fn_in_trait)] // the session future is polled in place, never sent to another thread
pub trait Network {
    /// Why a connection could not be opened (logged with `{:?}`).
    type Error: Debug;
    /// One open connection. Dropping it closes it (an abortive close is fine: the MQTT session
    /// has sent DISCONNECT before, or the broker publishes the will).
    type Connection<'a>: embedded_io_async::Read + embedded_io_async::Write
    where
        Self: 'a;

    /// Opens a connection to the broker. Cancel-safe.
    async fn connect(&mut self) -> Result<Self::Connection<'_>, Self::Error>;
}
