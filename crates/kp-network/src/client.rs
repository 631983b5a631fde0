//! The handle the node holds: commands in, events out.

use crate::config::Topic;
use crate::error::NetworkError;
use crate::keys::peer_id_of;
use kp_types::PublicKey;
use libp2p::request_response::InboundRequestId;
use libp2p::{Multiaddr, PeerId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message from an allowed author. `bytes` is at most
    /// `message_bytes_max` long and otherwise unchecked.
    Gossip {
        /// Its topic.
        topic: Topic,
        /// Its author (who signed it, not necessarily who relayed it).
        from: PublicKey,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// A direct message from a connected, allowed peer (see
    /// [`NetClient::send_to`]). `bytes` is at most `message_bytes_max` long
    /// and otherwise unchecked.
    Direct {
        /// The sending peer.
        from: PublicKey,
        /// The payload.
        bytes: Vec<u8>,
    },
    /// A peer asks for blocks; answer with [`NetClient::respond_blocks`]. An
    /// unanswered request fails on the requester's side after its timeout.
    BlockRequest {
        /// The asking peer.
        from: PublicKey,
        /// First height wanted.
        from_height: u64,
        /// Most blocks wanted (the node applies its own cap).
        max: u32,
        /// Pass back to answer.
        handle: ResponseHandle,
    },
    /// The first connection to an allowed peer was established. Like every
    /// event it is dropped if the event queue is full, so a node that keeps a
    /// peer set should refresh it from [`NetClient::connected_peers`].
    PeerConnected(PublicKey),
    /// The last connection to a peer was closed.
    PeerDisconnected(PublicKey),
}

/// Counters since start, for metrics and for tests that must observe a
/// refusal rather than wait for an absence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Connections refused by the allow list or the connection limits, or
    /// closed because the peer is not allowed.
    pub connections_denied: u64,
    /// Gossip messages rejected (outsider author or relay, oversized, unknown topic).
    pub gossip_rejected: u64,
    /// Events dropped because the node's event queue was full (or, for
    /// transactions, three quarters full).
    pub events_dropped: u64,
    /// Gossip messages ignored because their author exceeded its rate.
    pub gossip_throttled: u64,
    /// Direct messages refused (sender not connected or over its rate).
    pub direct_refused: u64,
    /// Direct messages not sent because the peer's queue already held 128
    /// unwritten ones (a slow or stuck peer).
    pub direct_dropped: u64,
}

/// Identifies a pending inbound block request. Not `Clone`: a request is
/// answered at most once.
#[derive(Debug, PartialEq, Eq)]
pub struct ResponseHandle(pub(crate) InboundRequestId);

/// Requests from clients to the event loop. Every request that expects an
/// answer carries its own `oneshot` sender.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: Topic,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    SetAllowed {
        allowed: BTreeMap<PeerId, PublicKey>,
        reply: oneshot::Sender<()>,
    },
    SendDirect {
        peer: PeerId,
        key: PublicKey,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    SendDirectEach {
        peers: Vec<PublicKey>,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    RequestBlocks {
        peer: PeerId,
        key: PublicKey,
        from_height: u64,
        max: u32,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    },
    RespondBlocks {
        handle: ResponseHandle,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    MeshPeers {
        topic: Topic,
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    ListenAddrs {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    Stats {
        reply: oneshot::Sender<NetStats>,
    },
    Dial {
        address: Multiaddr,
        reply: oneshot::Sender<Result<(), NetworkError>>,
    },
    Shutdown,
}

/// A cloneable handle to the event loop. Every method waits for room in the
/// bounded command channel (backpressure), then for the loop's answer.
#[derive(Clone, Debug)]
pub struct NetClient {
    /// libp2p's metrics (bandwidth, connections, gossipsub, identify, ping).
    pub(crate) metrics: Arc<prometheus_client::registry::Registry>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) peer_id: PeerId,
    pub(crate) message_bytes_max: usize,
    pub(crate) response_bytes_max: usize,
    pub(crate) request_timeout: Duration,
}

/// Slack on top of the libp2p request timeout, so that libp2p's own timeout
/// (which cleans up its state) normally fires first.
const REPLY_SLACK: Duration = Duration::from_secs(2);

impl NetClient {
    /// libp2p's metrics in the OpenMetrics text format, without the final
    /// `# EOF` line (the node appends them to its own).
    pub fn encode_metrics(&self, out: &mut String) {
        if prometheus_client::encoding::text::encode_registry(out, &self.metrics).is_err() {
            out.push_str("# libp2p metrics could not be encoded\n");
        }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| NetworkError::Stopped)?;
        answer.await.map_err(|_| NetworkError::Stopped)
    }

    /// Gossips `bytes` on `topic`. Fails with [`NetworkError::NoPeers`] while no
    /// connected peer subscribes to the topic (the caller retries on its own
    /// schedule), and with [`NetworkError::MessageTooLarge`] without touching
    /// the network when `bytes` exceeds `message_bytes_max`. Publishing bytes
    /// identical to a recent message is a no-op that succeeds.
    pub async fn publish(&self, topic: Topic, bytes: Vec<u8>) -> Result<(), NetworkError> {
        if bytes.len() > self.message_bytes_max {
            return Err(NetworkError::MessageTooLarge {
                bytes: bytes.len(),
                max: self.message_bytes_max,
            });
        }
        self.call(|reply| Command::Publish {
            topic,
            bytes,
            reply,
        })
        .await?
    }

    /// Sends `bytes` to one connected peer only, over its own stream (the
    /// peer receives a [`NetEvent::Direct`]). Fails with
    /// [`NetworkError::NotConnected`] when no connection to `peer` is open
    /// (no dial is attempted) and with [`NetworkError::MessageTooLarge`] when
    /// `bytes` exceeds `message_bytes_max`. Delivery is best effort, like
    /// gossip: success means the message was queued on the connection.
    pub async fn send_to(&self, peer: PublicKey, bytes: Vec<u8>) -> Result<(), NetworkError> {
        if bytes.len() > self.message_bytes_max {
            return Err(NetworkError::MessageTooLarge {
                bytes: bytes.len(),
                max: self.message_bytes_max,
            });
        }
        let peer_id = peer_id_of(&peer)?;
        self.call(|reply| Command::SendDirect {
            peer: peer_id,
            key: peer,
            bytes,
            reply,
        })
        .await?
    }

    /// Sends `bytes` to each of `peers` that is connected, like
    /// [`NetClient::send_to`] for each but in one call, and returns the peers
    /// it could not reach because no connection to them is open (the caller
    /// may gossip to reach those). Fails with
    /// [`NetworkError::MessageTooLarge`] before sending anything when `bytes`
    /// exceeds `message_bytes_max`. A peer whose queue is full (128 unwritten
    /// messages) is skipped, counted in [`NetStats::direct_dropped`]: its
    /// messages would only pile up.
    pub async fn send_to_each(
        &self,
        peers: &[PublicKey],
        bytes: Vec<u8>,
    ) -> Result<Vec<PublicKey>, NetworkError> {
        if bytes.len() > self.message_bytes_max {
            return Err(NetworkError::MessageTooLarge {
                bytes: bytes.len(),
                max: self.message_bytes_max,
            });
        }
        self.call(|reply| Command::SendDirectEach {
            peers: peers.to_vec(),
            bytes,
            reply,
        })
        .await
    }

    /// Replaces the set of allowed node keys and closes every connection to a
    /// peer no longer in it. The set is validated first: an invalid key
    /// refuses the whole update, leaving the old set in force.
    pub async fn set_allowed(&self, keys: Vec<PublicKey>) -> Result<(), NetworkError> {
        let allowed = allowed_map(&keys)?;
        self.call(|reply| Command::SetAllowed { allowed, reply })
            .await
    }

    /// Asks `peer` for up to `max` blocks from `from_height`; returns the raw
    /// response (at most `response_bytes_max` bytes, else an error).
    pub async fn request_blocks(
        &self,
        peer: PublicKey,
        from_height: u64,
        max: u32,
    ) -> Result<Vec<u8>, NetworkError> {
        let peer_id = peer_id_of(&peer)?;
        let waited = self.request_timeout.saturating_add(REPLY_SLACK);
        let call = self.call(|reply| Command::RequestBlocks {
            peer: peer_id,
            key: peer,
            from_height,
            max,
            reply,
        });
        tokio::time::timeout(waited, call)
            .await
            .map_err(|_| NetworkError::Timeout { waited })??
    }

    /// Answers a [`NetEvent::BlockRequest`]. Fails if `bytes` exceeds
    /// `response_bytes_max` (nothing is sent; the requester times out) or if
    /// the request has expired.
    pub async fn respond_blocks(
        &self,
        handle: ResponseHandle,
        bytes: Vec<u8>,
    ) -> Result<(), NetworkError> {
        if bytes.len() > self.response_bytes_max {
            return Err(NetworkError::MessageTooLarge {
                bytes: bytes.len(),
                max: self.response_bytes_max,
            });
        }
        self.call(|reply| Command::RespondBlocks {
            handle,
            bytes,
            reply,
        })
        .await?
    }

    /// Node keys of the currently connected (allowed) peers, sorted.
    pub async fn connected_peers(&self) -> Result<Vec<PublicKey>, NetworkError> {
        self.call(|reply| Command::ConnectedPeers { reply }).await
    }

    /// Node keys of the peers in this node's gossipsub mesh for `topic`, sorted.
    /// A message published now reaches at least these peers directly.
    pub async fn mesh_peers(&self, topic: Topic) -> Result<Vec<PublicKey>, NetworkError> {
        self.call(|reply| Command::MeshPeers { topic, reply }).await
    }

    /// The addresses this node listens on (with the actual port when the config
    /// asked for port 0).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        self.call(|reply| Command::ListenAddrs { reply }).await
    }

    /// Counters since start.
    pub async fn stats(&self) -> Result<NetStats, NetworkError> {
        self.call(|reply| Command::Stats { reply }).await
    }

    /// Dials `address` once (bootstrap addresses are dialed automatically).
    pub async fn dial(&self, address: Multiaddr) -> Result<(), NetworkError> {
        self.call(|reply| Command::Dial { address, reply }).await?
    }

    /// Stops the event loop; every connection closes. Later calls fail with
    /// [`NetworkError::Stopped`].
    pub async fn shutdown(&self) -> Result<(), NetworkError> {
        self.commands
            .send(Command::Shutdown)
            .await
            .map_err(|_| NetworkError::Stopped)
    }
}

/// The allowed set keyed by peer id, refusing any invalid key.
pub(crate) fn allowed_map(keys: &[PublicKey]) -> Result<BTreeMap<PeerId, PublicKey>, NetworkError> {
    keys.iter()
        .map(|key| Ok((peer_id_of(key)?, *key)))
        .collect()
}
