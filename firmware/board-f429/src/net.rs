//! The node's [`Network`] on the board: one embassy-net TCP socket to the broker, reusing the
//! same buffers for every connection.

use aimdb_node::Network;
use embassy_net::tcp::{ConnectError, TcpSocket};
use embassy_net::{IpEndpoint, Stack};
use embassy_time::Duration;

/// Socket buffer sizes: MQTT packets of the node are under 100 bytes; commands are smaller.
const RX: usize = 1024;
const TX: usize = 1024;

/// TCP to the broker over the board's Ethernet.
pub struct EthNetwork {
    stack: Stack<'static>,
    broker: IpEndpoint,
    rx: [u8; RX],
    tx: [u8; TX],
}

impl EthNetwork {
    /// Reaches `broker` through `stack`.
    pub fn new(stack: Stack<'static>, broker: IpEndpoint) -> Self {
        Self {
            stack,
            broker,
            rx: [0; RX],
            tx: [0; TX],
        }
    }
}

impl Network for EthNetwork {
    type Error = ConnectError;
    type Connection<'a> = TcpSocket<'a>;

    async fn connect(&mut self) -> Result<TcpSocket<'_>, ConnectError> {
        // No address yet (DHCP pending, cable out): wait for it, the session's backoff applies.
        self.stack.wait_config_up().await;
        let mut socket = TcpSocket::new(self.stack, &mut self.rx, &mut self.tx);
        // A broker that vanishes without RST is noticed within the keep-alive anyway; this bounds
        // a write that cannot drain.
        socket.set_timeout(Some(Duration::from_secs(30)));
        socket.connect(self.broker).await?;
        Ok(socket)
    }
}
