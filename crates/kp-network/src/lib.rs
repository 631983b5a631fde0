//! libp2p networking for kpledger nodes.
//!
//! # Design
//!
//! One task, the [event loop](start), owns the libp2p `Swarm`. Everything else
//! talks to it through a cloneable [`NetClient`] that sends commands over a
//! bounded channel, and receives [`NetEvent`]s over another bounded
//! channel. This is the pattern of rust-libp2p's `examples/file-sharing`.
//!
//! * Transport: TCP, noise (XX, ed25519 node keys), yamux.
//! * Gossipsub, one topic per [`Topic`] namespaced by chain id
//!   (`kpledger/<chain_id>/tx`, `/consensus`, `/blocks`). Messages are signed by
//!   their author (`ValidationMode::Strict`); the message id is the blake3 hash
//!   of topic and data, so the same payload is delivered once.
//! * Request-response `/kpledger/sync/1` for block sync, with our own codec
//!   ([`codec`]): length-prefixed frames, hard size bound on every read.
//! * Direct messages `/kpledger/direct/2` ([`NetClient::send_to`] to one
//!   connected peer, [`NetClient::send_to_each`] to a list, naming the ones
//!   not connected): length-prefixed frames on one long-lived stream per
//!   peer and direction (libp2p-stream), where gossip would reach every node
//!   or deliver each copy several times. At most 128 frames queued per
//!   peer; more are dropped.
//! * Identify, for diagnostics, and ping: a connection whose pings fail is
//!   closed, so that the peer is redialed on a fresh one.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> Result<(), kp_network::NetworkError> {
//! use kp_network::{start, Multiaddr, NetEvent, NetworkConfig, Topic};
//! use kp_types::SigningKey;
//!
//! let key = SigningKey::from_seed([1; 32]);
//! let listen: Multiaddr = "/ip4/0.0.0.0/tcp/26656".parse().expect("address");
//! let mut config = NetworkConfig::new("kp-main", key.clone(), listen);
//! config.allowed = vec![key.public()]; // the ledger's node keys
//! let (net, mut events) = start(config).await?;
//! // Fails with `NoPeers` until some member subscribes; callers retry.
//! let _ = net.publish(Topic::Transactions, b"signed tx bytes".to_vec()).await;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         NetEvent::Gossip { topic, from, bytes } => {
//!             // Decode `bytes` with kp-types and a size limit, verify, act.
//!             let _ = (topic, from, bytes);
//!         }
//!         NetEvent::Direct { from, bytes } => {
//!             // Meant for this node only; decode and verify like gossip.
//!             let _ = (from, bytes);
//!         }
//!         NetEvent::BlockRequest { from_height, max, handle, .. } => {
//!             // Encode up to `max` blocks from `from_height`.
//!             let _ = (from_height, max);
//!             net.respond_blocks(handle, Vec::new()).await?;
//!         }
//!         NetEvent::PeerConnected(_) | NetEvent::PeerDisconnected(_) => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Permissioning
//!
//! The network is closed: only peers whose node key is in the allowed set may
//! hold a connection. The set comes from the ledger (government, trading-entity
//! and observer nodes) and follows membership changes through
//! [`NetClient::set_allowed`]. Enforcement happens in three places:
//!
//! 1. An allow-list behaviour denies the connection during establishment,
//!    before any protocol handler runs, so an outsider never gets a gossipsub
//!    or sync stream.
//! 2. On `ConnectionEstablished` the event loop checks again and disconnects
//!    (defence in depth against a race with `set_allowed`).
//! 3. A gossip message whose *author* is not allowed is rejected (neither
//!    delivered nor forwarded), even when an allowed but misbehaving peer
//!    relays it.
//!
//! `set_allowed` closes every connection to a peer that is no longer allowed.
//!
//! # Bounds
//!
//! Command and event channels are bounded (`NonZeroUsize` in the config). The
//! event loop never waits on the node: when the event channel is full, an
//! event is dropped and counted (a dropped block request makes the requester
//! see a failure and retry elsewhere). Transaction gossip may use only three
//! quarters of the event channel, so that a burst of transactions cannot
//! crowd out consensus messages, blocks and sync requests. Each author has a
//! gossip rate (token bucket, `gossip_per_author_per_second`); messages over
//! it are ignored, so one flooding member can neither fill our queue nor use
//! us to amplify its flood. Gossip messages are bounded by
//! `message_bytes_max`, sync responses by `response_bytes_max`, sync requests
//! by their fixed 12-byte size; connections by `connections_max`; pending
//! requests in each direction by `pending_requests_max`, of which one peer may
//! hold a quarter of the inbound ones.
//!
//! # Deviations / known limits
//!
//! * Payloads are opaque bytes: the network checks only author membership and
//!   size, then accepts the message for forwarding. Content validation (a
//!   signature inside a transaction, a vote from a validator) is the node's.
//! * Peer discovery is minimal: the node dials its bootstrap addresses, and
//!   members gossip signed address records on an internal topic
//!   (`kpledger/<chain_id>/peers`) so that everyone ends up connected to
//!   everyone reachable. Both kinds of peer are redialed with exponential
//!   backoff while disconnected. There is no DHT.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

mod client;
pub mod codec;
mod config;
mod dialer;
mod direct;
mod discovery;
mod error;
mod event_loop;
mod keys;
mod rate;

pub use client::{NetClient, NetEvent, NetStats, ResponseHandle};
pub use config::{NetworkConfig, Topic, MESSAGE_BYTES_LIMIT, MESSAGE_BYTES_MIN};
pub use error::NetworkError;
pub use event_loop::start;
pub use keys::{keypair_of, peer_id_of};
pub use libp2p::{Multiaddr, PeerId};

/// Result of this crate's fallible operations.
pub type Result<T> = std::result::Result<T, NetworkError>;
