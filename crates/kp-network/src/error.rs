//! Errors of the network crate.

use crate::config::Topic;
use kp_types::PublicKey;
use libp2p::{gossipsub, request_response, Multiaddr, TransportError};
use std::time::Duration;
use thiserror::Error;

/// Why a network operation failed.
#[derive(Debug, Error)]
pub enum NetworkError {
    /// 32 bytes that are not a valid ed25519 node key.
    #[error("invalid node key {key}")]
    InvalidNodeKey {
        /// The offending key.
        key: PublicKey,
    },
    /// A configuration value is out of range.
    #[error("invalid network config: {field} {problem}")]
    InvalidConfig {
        /// The config field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The gossipsub configuration was refused by libp2p.
    #[error("gossipsub config refused: {source}")]
    GossipConfig {
        /// libp2p's reason.
        #[source]
        source: gossipsub::ConfigBuilderError,
    },
    /// The gossipsub behaviour could not be built.
    #[error("gossipsub behaviour refused: {reason}")]
    GossipBehaviour {
        /// libp2p's reason.
        reason: &'static str,
    },
    /// The direct-message protocol could not be registered for inbound
    /// streams (it already was).
    #[error("direct-message protocol already registered")]
    DirectProtocolRegistered,
    /// The noise handshake configuration could not be built.
    #[error("noise config: {source}")]
    Noise {
        /// libp2p's reason.
        #[source]
        source: libp2p::noise::Error,
    },
    /// Could not subscribe to a topic.
    #[error("subscribe to {topic:?}: {source}")]
    Subscribe {
        /// The topic.
        topic: Topic,
        /// libp2p's reason.
        #[source]
        source: gossipsub::SubscriptionError,
    },
    /// Could not subscribe to the internal address-record topic.
    #[error("subscribe to the peers topic: {source}")]
    SubscribePeers {
        /// libp2p's reason.
        #[source]
        source: gossipsub::SubscriptionError,
    },
    /// Could not listen on the configured address.
    #[error("listen on {address}: {source}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// The transport's reason.
        #[source]
        source: TransportError<std::io::Error>,
    },
    /// No listen address was reported in time.
    #[error("no listen address after {waited:?}")]
    ListenTimeout {
        /// How long we waited.
        waited: Duration,
    },
    /// A message or response is larger than allowed.
    #[error("message of {bytes} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// No connected peer subscribes to the topic yet; retry later.
    #[error("no peer subscribes to {topic:?}")]
    NoPeers {
        /// The topic.
        topic: Topic,
    },
    /// Gossipsub refused to publish.
    #[error("publish on {topic:?}: {source}")]
    Publish {
        /// The topic.
        topic: Topic,
        /// libp2p's reason.
        #[source]
        source: gossipsub::PublishError,
    },
    /// Too many requests are in flight.
    #[error("{pending} requests already pending")]
    Busy {
        /// The bound that was reached.
        pending: usize,
    },
    /// A block-sync request failed (dial failure, timeout, refused, bad frame).
    #[error("sync request to {peer} failed: {source}")]
    Request {
        /// The peer asked.
        peer: PublicKey,
        /// libp2p's reason.
        #[source]
        source: request_response::OutboundFailure,
    },
    /// No answer arrived in time.
    #[error("no answer within {waited:?}")]
    Timeout {
        /// How long we waited.
        waited: Duration,
    },
    /// The request being answered expired or was already answered.
    #[error("the block request was already answered or has expired")]
    RequestGone,
    /// A dial was refused before any connection attempt.
    #[error("dial: {source}")]
    Dial {
        /// libp2p's reason.
        #[source]
        source: libp2p::swarm::DialError,
    },
    /// A direct message was not sent: the peer is not connected now.
    #[error("peer {peer} is not connected")]
    NotConnected {
        /// The intended recipient.
        peer: PublicKey,
    },
    /// The event loop has stopped.
    #[error("the network event loop has stopped")]
    Stopped,
}
