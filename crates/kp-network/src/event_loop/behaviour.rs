//! The swarm's behaviour: which sub-protocols run, and how each is configured
//! (connection limits, gossipsub mesh and message ids, sync, identify, ping).

use crate::codec::{self, SyncCodec};
use crate::config::{NetworkConfig, Topic, GOSSIP_ENVELOPE_BYTES, GOSSIP_FRAME_BYTES_MIN};
use crate::error::NetworkError;
use kp_types::PublicKey;
use libp2p::allow_block_list::{self, AllowedPeers};
use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::gossipsub::{
    self, IdentityTransform, MessageAuthenticity, MessageId, ValidationMode,
    WhitelistSubscriptionFilter,
};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, identity, ping, PeerId};
use std::collections::BTreeMap;
use std::time::Duration;

/// Two connections per peer: enough for a simultaneous dial from both sides,
/// too few to waste file descriptors.
const CONNECTIONS_PER_PEER_MAX: u32 = 2;
/// How long gossipsub remembers message ids to suppress duplicates.
///
/// Short on purpose: consensus re-sends its current-round votes every few
/// seconds with identical bytes, and a re-send inside this window is dropped
/// (even by the publisher itself). With the former 120 s, a network healing
/// after a long split without quorum waited up to two minutes for the votes
/// it needed (drills: 70 s to resume after a 60 s split). It stays longer than
/// gossipsub's message-cache window (history_length 5 x heartbeat), so a
/// message served again from a peer's cache is still recognised.
const DUPLICATE_CACHE: Duration = Duration::from_secs(6);
/// Identify protocol version string.
const IDENTIFY_PROTOCOL: &str = "/kpledger/1.0.0";

// Mesh sizes for a small permissioned network (4 to a few dozen nodes). The
// libp2p defaults (6/5/12, 2 outbound) assume a large open network: with 4
// nodes a node has only 3 peers and the defaults would keep the mesh below
// `mesh_n_low` forever. Gossipsub requires outbound_min <= low <= n <= high
// and 2 * outbound_min <= n.
const MESH_N: usize = 4;
const MESH_N_LOW: usize = 2;
const MESH_N_HIGH: usize = 8;
const MESH_OUTBOUND_MIN: usize = 1;
const _: () = assert!(MESH_OUTBOUND_MIN <= MESH_N_LOW && MESH_N_LOW <= MESH_N);
const _: () = assert!(MESH_N <= MESH_N_HIGH && 2 * MESH_OUTBOUND_MIN <= MESH_N);

/// All sub-protocols. The allow list comes first so that a denied connection
/// is refused before any other behaviour creates a handler for it.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) allowed: allow_block_list::Behaviour<AllowedPeers>,
    pub(super) limits: connection_limits::Behaviour,
    pub(super) gossipsub: gossipsub::Behaviour<IdentityTransform, WhitelistSubscriptionFilter>,
    pub(super) sync: request_response::Behaviour<SyncCodec>,
    pub(super) direct: libp2p_stream::Behaviour,
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
}

pub(super) fn build_behaviour(
    config: &NetworkConfig,
    keypair: &identity::Keypair,
    allowed: &BTreeMap<PeerId, PublicKey>,
) -> Result<Behaviour, NetworkError> {
    let mut allow_list = allow_block_list::Behaviour::<AllowedPeers>::default();
    for peer in allowed.keys() {
        allow_list.allow_peer(*peer);
    }
    let limits = ConnectionLimits::default()
        .with_max_established(Some(config.connections_max))
        .with_max_established_per_peer(Some(CONNECTIONS_PER_PEER_MAX))
        .with_max_pending_incoming(Some(config.connections_max))
        .with_max_pending_outgoing(Some(config.connections_max));
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        // We report every message's verdict ourselves (author membership), so
        // a message from an outsider is neither delivered nor forwarded.
        .validate_messages()
        .max_transmit_size(gossip_frame_bytes_max(config.message_bytes_max))
        .message_id_fn(message_id)
        .heartbeat_interval(config.heartbeat)
        .mesh_n(MESH_N)
        .mesh_n_low(MESH_N_LOW)
        .mesh_n_high(MESH_N_HIGH)
        .mesh_outbound_min(MESH_OUTBOUND_MIN)
        .gossip_lazy(MESH_N)
        // Latency matters more than bandwidth for votes: the publisher sends
        // to every subscribed peer, not only its mesh.
        .flood_publish(true)
        .duplicate_cache_time(DUPLICATE_CACHE.max(config.heartbeat * 6))
        .build()
        .map_err(|source| NetworkError::GossipConfig { source })?;
    let whitelist = Topic::ALL
        .iter()
        .map(|topic| topic.gossip_topic(&config.chain_id).hash())
        .chain([peers_topic(&config.chain_id).hash()])
        .collect();
    let gossipsub = gossipsub::Behaviour::new_with_subscription_filter(
        MessageAuthenticity::Signed(keypair.clone()),
        gossip_config,
        WhitelistSubscriptionFilter(whitelist),
    )
    .map_err(|reason| NetworkError::GossipBehaviour { reason })?;
    let sync = request_response::Behaviour::with_codec(
        SyncCodec {
            response_bytes_max: config.response_bytes_max,
        },
        [(codec::PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(config.request_timeout)
            .with_max_concurrent_streams(config.pending_requests_max),
    );
    let direct = libp2p_stream::Behaviour::new();
    let identify = identify::Behaviour::new(identify::Config::new(
        IDENTIFY_PROTOCOL.to_string(),
        keypair.public(),
    ));
    Ok(Behaviour {
        allowed: allow_list,
        limits: connection_limits::Behaviour::new(limits),
        gossipsub,
        sync,
        direct,
        identify,
        ping: ping::Behaviour::new(ping::Config::new()),
    })
}

/// The largest gossipsub frame accepted: one payload plus its envelope, but
/// never below [`GOSSIP_FRAME_BYTES_MIN`]. Payloads themselves are held to
/// `message_bytes_max` when judged, so the floor only admits larger control
/// frames (IHAVE/IWANT lists), never larger payloads. It matters because a
/// frame over the limit makes gossipsub drop the whole inbound stream from
/// that peer, not just the frame.
fn gossip_frame_bytes_max(message_bytes_max: usize) -> usize {
    message_bytes_max
        .saturating_add(GOSSIP_ENVELOPE_BYTES)
        .max(GOSSIP_FRAME_BYTES_MIN)
}

/// Content-addressed message id: the same payload on the same topic is one
/// message, whoever publishes it and however often.
fn message_id(message: &gossipsub::Message) -> MessageId {
    let mut hasher = blake3::Hasher::new_derive_key("kpledger network gossip message id v1");
    let topic = message.topic.as_str().as_bytes();
    hasher.update(&(topic.len() as u64).to_be_bytes());
    hasher.update(topic);
    hasher.update(&message.data);
    MessageId::from(hasher.finalize().as_bytes().to_vec())
}

/// The internal topic of address records.
pub(super) fn peers_topic(chain_id: &str) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("kpledger/{chain_id}/peers"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossip_frames_have_room_for_control_messages() {
        assert_eq!(gossip_frame_bytes_max(1024), GOSSIP_FRAME_BYTES_MIN);
        let big = 4 * 1024 * 1024;
        assert_eq!(gossip_frame_bytes_max(big), big + GOSSIP_ENVELOPE_BYTES);
    }
}
