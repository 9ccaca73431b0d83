//! Sparkplug B topics: `spBv1.0/<group_id>/<message type>/<edge_node_id>[/<device_id>]`.

/// The Sparkplug B namespace.
pub(crate) const NAMESPACE: &str = "spBv1.0";

/// The message types an edge node sends or receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageType {
    /// Node birth certificate.
    NBirth,
    /// Node death certificate (the MQTT will).
    NDeath,
    /// Node data.
    NData,
    /// Node command (from a host).
    NCmd,
    /// Device birth certificate.
    DBirth,
    /// Device death certificate.
    DDeath,
    /// Device data.
    DData,
    /// Device command (from a host).
    DCmd,
}

impl MessageType {
    /// The topic level.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            MessageType::NBirth => "NBIRTH",
            MessageType::NDeath => "NDEATH",
            MessageType::NData => "NDATA",
            MessageType::NCmd => "NCMD",
            MessageType::DBirth => "DBIRTH",
            MessageType::DDeath => "DDEATH",
            MessageType::DData => "DDATA",
            MessageType::DCmd => "DCMD",
        }
    }
}

/// The topics of one edge node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdgeTopics {
    group_id: String,
    edge_node_id: String,
}

impl EdgeTopics {
    /// Topics of edge node `edge_node_id` in group `group_id` (both validated by the config).
    pub(crate) fn new(group_id: &str, edge_node_id: &str) -> Self {
        Self {
            group_id: group_id.to_string(),
            edge_node_id: edge_node_id.to_string(),
        }
    }

    /// The topic of a node message.
    pub(crate) fn node(&self, t: MessageType) -> String {
        format!(
            "{NAMESPACE}/{}/{}/{}",
            self.group_id,
            t.as_str(),
            self.edge_node_id
        )
    }

    /// The topic of a message of device `device`.
    pub(crate) fn device(&self, t: MessageType, device: &str) -> String {
        format!("{}/{device}", self.node(t))
    }

    /// What a received topic is: an NCMD to this node, a DCMD to one of its devices, or
    /// neither (`None`).
    pub(crate) fn command<'a>(&self, topic: &'a str) -> Option<Command<'a>> {
        let mut levels = topic.split('/');
        let ns = levels.next()?;
        let group = levels.next()?;
        let kind = levels.next()?;
        let edge = levels.next()?;
        let device = levels.next();
        if ns != NAMESPACE || group != self.group_id || edge != self.edge_node_id {
            return None;
        }
        match (kind, device, levels.next()) {
            ("NCMD", None, None) => Some(Command::Node),
            ("DCMD", Some(d), None) => Some(Command::Device(d)),
            _ => None,
        }
    }
}

/// A command topic addressed to this edge node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    /// NCMD.
    Node,
    /// DCMD to this device.
    Device(&'a str),
}

/// Whether `id` may be a Sparkplug group, edge node or device id: non-empty UTF-8 without the
/// MQTT separators and wildcards `/`, `+`, `#` (spec 3.0, 4.1.1).
pub(crate) fn valid_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("is empty");
    }
    if id.contains(['/', '+', '#']) {
        return Err("must not contain '/', '+' or '#'");
    }
    if id.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_commands() {
        let t = EdgeTopics::new("plant", "gw-1");
        assert_eq!(t.node(MessageType::NBirth), "spBv1.0/plant/NBIRTH/gw-1");
        assert_eq!(
            t.device(MessageType::DData, "node-7"),
            "spBv1.0/plant/DDATA/gw-1/node-7"
        );
        assert_eq!(t.command("spBv1.0/plant/NCMD/gw-1"), Some(Command::Node));
        assert_eq!(
            t.command("spBv1.0/plant/DCMD/gw-1/n"),
            Some(Command::Device("n"))
        );
        assert_eq!(t.command("spBv1.0/plant/NCMD/gw-2"), None);
        assert_eq!(t.command("spBv1.0/plant/NDATA/gw-1"), None);
        assert!(valid_id("a+b").is_err() && valid_id("").is_err() && valid_id("gw-1").is_ok());
    }
}
