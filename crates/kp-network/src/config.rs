//! Network configuration and gossip topics.

use crate::error::NetworkError;
use kp_types::{PublicKey, SigningKey};
use libp2p::{gossipsub, Multiaddr};
use std::num::NonZeroUsize;
use std::time::Duration;

/// A gossip topic. Each maps to one gossipsub topic per chain, so two chains
/// never mix traffic even if their nodes meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Signed transactions on their way to the mempools.
    Transactions,
    /// Proposals and votes.
    Consensus,
    /// Decided blocks with their commit certificates.
    Blocks,
}

impl Topic {
    /// Every topic, in a fixed order.
    pub const ALL: [Topic; 3] = [Topic::Transactions, Topic::Consensus, Topic::Blocks];

    /// The last path segment of the topic name.
    pub fn suffix(self) -> &'static str {
        match self {
            Topic::Transactions => "tx",
            Topic::Consensus => "consensus",
            Topic::Blocks => "blocks",
        }
    }

    /// The gossipsub topic on chain `chain_id`: `kpledger/<chain_id>/<suffix>`.
    pub fn gossip_topic(self, chain_id: &str) -> gossipsub::IdentTopic {
        gossipsub::IdentTopic::new(format!("kpledger/{chain_id}/{}", self.suffix()))
    }
}

/// Everything the event loop needs. Build it with [`NetworkConfig::new`] and
/// adjust fields; [`NetworkConfig::validate`] runs at start.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Namespaces the gossip topics (`kpledger/<chain_id>/…`).
    pub chain_id: String,
    /// This node's key; its public half is the node's peer id.
    pub key: SigningKey,
    /// Where to listen, e.g. `/ip4/0.0.0.0/tcp/26656` (`tcp/0` picks a port).
    pub listen: Multiaddr,
    /// Peers to dial at start and to redial while disconnected. An address may
    /// end in `/p2p/<peer id>`; without it the peer id is learnt on connect.
    pub bootstrap: Vec<Multiaddr>,
    /// Node keys allowed to connect (from the ledger).
    pub allowed: Vec<PublicKey>,
    /// Largest gossip payload, in bytes.
    pub message_bytes_max: usize,
    /// Largest block-sync response payload, in bytes.
    pub response_bytes_max: usize,
    /// Capacity of the command channel (client → event loop).
    pub command_queue: NonZeroUsize,
    /// Capacity of the event channel (event loop → node).
    pub event_queue: NonZeroUsize,
    /// Most established connections in total.
    pub connections_max: u32,
    /// Most sync requests pending in each direction; one peer may hold a
    /// quarter of the inbound slots (at least one).
    pub pending_requests_max: usize,
    /// How long a sync request may take before it fails.
    pub request_timeout: Duration,
    /// Gossipsub heartbeat (mesh maintenance, gossip emission).
    pub heartbeat: Duration,
    /// First redial delay after a bootstrap peer is lost.
    pub redial_delay_min: Duration,
    /// Redial delay cap (the delay doubles up to this).
    pub redial_delay_max: Duration,
    /// How long a connection with no active protocol stays open. Long by
    /// default: members should stay directly connected (gossipsub keeps only
    /// mesh connections alive by itself), and dead connections are found by
    /// ping instead.
    pub idle_connection_timeout: Duration,
    /// Gossip messages per second accepted from one author (across topics);
    /// more are ignored, neither delivered nor forwarded. 0: no limit.
    pub gossip_per_author_per_second: u32,
    /// How many messages an author may send at once before the rate applies.
    pub gossip_per_author_burst: u32,
    /// Gossip this node's address record and dial members learnt from theirs
    /// (see the `discovery` module docs). Off: only bootstrap peers are dialed.
    pub discovery: bool,
    /// How often the address record is re-announced (it is also announced
    /// whenever a new peer connects).
    pub announce_interval: Duration,
    /// Addresses to announce instead of the listen addresses, e.g. a public
    /// address when listening on a private one. At most 4 are announced.
    pub external_addrs: Vec<Multiaddr>,
}

/// Smallest gossip payload limit we accept: a vote must fit.
pub const MESSAGE_BYTES_MIN: usize = 1024;
/// Largest gossip payload limit we accept (yamux and gossipsub buffer whole
/// messages, so this bounds memory per message).
pub const MESSAGE_BYTES_LIMIT: usize = 64 * 1024 * 1024;
/// Bytes gossipsub adds around a payload (protobuf framing, author, sequence
/// number, signature, key, topic); added to `message_bytes_max` to obtain the
/// transport limit.
pub const GOSSIP_ENVELOPE_BYTES: usize = 1024;
/// Smallest gossipsub frame limit: room for control messages (gossipsub caps
/// their total at 16 KiB per frame) whatever `message_bytes_max` is.
pub const GOSSIP_FRAME_BYTES_MIN: usize = 64 * 1024;

impl NetworkConfig {
    /// A config with sensible defaults for a small permissioned network.
    pub fn new(chain_id: impl Into<String>, key: SigningKey, listen: Multiaddr) -> NetworkConfig {
        NetworkConfig {
            chain_id: chain_id.into(),
            key,
            listen,
            bootstrap: Vec::new(),
            allowed: Vec::new(),
            message_bytes_max: 4 * 1024 * 1024,
            response_bytes_max: 16 * 1024 * 1024,
            command_queue: NonZeroUsize::MIN.saturating_add(255),
            event_queue: NonZeroUsize::MIN.saturating_add(1023),
            connections_max: 256,
            pending_requests_max: 64,
            request_timeout: Duration::from_secs(10),
            heartbeat: Duration::from_millis(700),
            redial_delay_min: Duration::from_millis(500),
            redial_delay_max: Duration::from_secs(30),
            idle_connection_timeout: Duration::from_secs(24 * 60 * 60),
            gossip_per_author_per_second: 1000,
            gossip_per_author_burst: 2000,
            discovery: true,
            announce_interval: Duration::from_secs(30),
            external_addrs: Vec::new(),
        }
    }

    /// Checks that every bound is usable.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let invalid = |field, problem| Err(NetworkError::InvalidConfig { field, problem });
        if self.chain_id.is_empty() || self.chain_id.contains('/') {
            return invalid("chain_id", "must be non-empty and contain no '/'");
        }
        if !(MESSAGE_BYTES_MIN..=MESSAGE_BYTES_LIMIT).contains(&self.message_bytes_max) {
            return invalid("message_bytes_max", "must be between 1 KiB and 64 MiB");
        }
        if !(1..=MESSAGE_BYTES_LIMIT).contains(&self.response_bytes_max) {
            return invalid("response_bytes_max", "must be between 1 byte and 64 MiB");
        }
        if self.connections_max == 0 {
            return invalid("connections_max", "must be positive");
        }
        if self.pending_requests_max == 0 {
            return invalid("pending_requests_max", "must be positive");
        }
        if self.request_timeout.is_zero() || self.heartbeat.is_zero() {
            return invalid("request_timeout/heartbeat", "must be positive");
        }
        if self.announce_interval.is_zero() {
            return invalid("announce_interval", "must be positive");
        }
        if self.redial_delay_min.is_zero() || self.redial_delay_max < self.redial_delay_min {
            return invalid("redial_delay_min/max", "need 0 < min <= max");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NetworkConfig {
        let listen = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
        NetworkConfig::new("test", SigningKey::from_seed([1; 32]), listen)
    }

    #[test]
    fn defaults_are_valid() {
        assert!(config().validate().is_ok());
    }

    #[test]
    fn bounds_are_checked() {
        let mut c = config();
        c.message_bytes_max = 10;
        assert!(matches!(
            c.validate(),
            Err(NetworkError::InvalidConfig {
                field: "message_bytes_max",
                ..
            })
        ));
        let mut c = config();
        c.chain_id = "a/b".into();
        assert!(c.validate().is_err());
        let mut c = config();
        c.redial_delay_max = c.redial_delay_min / 2;
        assert!(c.validate().is_err());
    }

    #[test]
    fn topics_are_namespaced_by_chain() {
        let a = Topic::Consensus.gossip_topic("kp-main").hash();
        let b = Topic::Consensus.gossip_topic("kp-test").hash();
        assert_eq!(a.as_str(), "kpledger/kp-main/consensus");
        assert_ne!(a, b);
        assert_eq!(
            Topic::Transactions.gossip_topic("x").hash().as_str(),
            "kpledger/x/tx"
        );
    }
}
