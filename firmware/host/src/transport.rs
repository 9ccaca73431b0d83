//! [`TcpNetwork`]: the node's [`Network`] on the host, a std TCP stream made async by `async-io`.

use std::io;
use std::net::{SocketAddr, TcpStream};

use aimdb_node::Network;
use async_io::Async;
use embedded_io_adapters::futures_03::FromFutures;

/// Connects to the broker at `addr` over TCP (Nagle off: MQTT packets are small and latency
/// matters more than packet count).
#[derive(Debug, Clone)]
pub struct TcpNetwork {
    addr: SocketAddr,
}

impl TcpNetwork {
    /// A network reaching the broker at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }
}

impl Network for TcpNetwork {
    type Error = io::Error;
    type Connection<'a> = FromFutures<Async<TcpStream>>;

    async fn connect(&mut self) -> io::Result<Self::Connection<'_>> {
        let stream = Async::<TcpStream>::connect(self.addr).await?;
        stream.get_ref().set_nodelay(true)?;
        Ok(FromFutures::new(stream))
    }
}
