//! The client's commands, carried out on the swarm: publish, direct
//! messages, block requests and responses, the allowed set, queries.

use super::{EventLoop, PendingReply};
use crate::client::{Command, ResponseHandle};
use crate::codec::SyncRequest;
use crate::config::Topic;
use crate::dialer::dial_opts;
use crate::error::NetworkError;
use kp_types::PublicKey;
use libp2p::gossipsub::{PublishError, TopicHash};
use libp2p::PeerId;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::info;

impl EventLoop {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish {
                topic,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.publish(topic, bytes));
            }
            Command::SetAllowed { allowed, reply } => {
                self.set_allowed(allowed);
                let _ = reply.send(());
            }
            Command::SendDirect {
                peer,
                key,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.send_direct(peer, key, bytes));
            }
            Command::SendDirectEach {
                peers,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.send_direct_each(&peers, bytes));
            }
            Command::RequestBlocks {
                peer,
                key,
                from_height,
                max,
                reply,
            } => self.request_blocks(peer, key, SyncRequest { from_height, max }, reply),
            Command::RespondBlocks {
                handle,
                bytes,
                reply,
            } => {
                let _ = reply.send(self.respond_blocks(handle, bytes));
            }
            Command::ConnectedPeers { reply } => {
                let mut keys: Vec<PublicKey> = self.connected.values().copied().collect();
                keys.sort();
                let _ = reply.send(keys);
            }
            Command::MeshPeers { topic, reply } => {
                let hash = self.topic_hash(topic);
                let mut keys: Vec<PublicKey> = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .mesh_peers(&hash)
                    .filter_map(|peer| self.allowed.get(peer).copied())
                    .collect();
                keys.sort();
                let _ = reply.send(keys);
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Stats { reply } => {
                let mut stats = self.stats;
                let lost = self.direct_inbound_dropped.load(Ordering::Relaxed);
                stats.events_dropped = stats.events_dropped.saturating_add(lost);
                let _ = reply.send(stats);
            }
            Command::Dial { address, reply } => {
                let result = self
                    .swarm
                    .dial(dial_opts(std::slice::from_ref(&address), None))
                    .map_err(|source| NetworkError::Dial { source });
                let _ = reply.send(result);
            }
            // Handled by `run`, which owns the loop.
            Command::Shutdown => {}
        }
    }

    fn request_blocks(
        &mut self,
        peer: PeerId,
        key: PublicKey,
        request: SyncRequest,
        reply: oneshot::Sender<PendingReply>,
    ) {
        if self.pending_outbound.len() >= self.pending_requests_max {
            let _ = reply.send(Err(NetworkError::Busy {
                pending: self.pending_outbound.len(),
            }));
            return;
        }
        let request_id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending_outbound.insert(request_id, (key, reply));
    }

    fn respond_blocks(
        &mut self,
        handle: ResponseHandle,
        bytes: Vec<u8>,
    ) -> Result<(), NetworkError> {
        let (_, channel) = self
            .pending_inbound
            .remove(&handle.0)
            .ok_or(NetworkError::RequestGone)?;
        self.swarm
            .behaviour_mut()
            .sync
            .send_response(channel, bytes)
            .map_err(|_| NetworkError::RequestGone)
    }

    fn topic_hash(&self, topic: Topic) -> TopicHash {
        let index = Topic::ALL.iter().position(|known| *known == topic);
        // `topics` is built from `Topic::ALL` in the same order.
        let (stored, hash) = &self.topics[index.unwrap_or(0)];
        assert_eq!(*stored, topic, "topic table out of order");
        hash.clone()
    }

    fn publish(&mut self, topic: Topic, bytes: Vec<u8>) -> Result<(), NetworkError> {
        let hash = self.topic_hash(topic);
        match self.swarm.behaviour_mut().gossipsub.publish(hash, bytes) {
            Ok(_) => Ok(()),
            // Already sent (or received) within the duplicate window.
            Err(PublishError::Duplicate) => Ok(()),
            Err(PublishError::NoPeersSubscribedToTopic) => Err(NetworkError::NoPeers { topic }),
            Err(source) => Err(NetworkError::Publish { topic, source }),
        }
    }

    fn set_allowed(&mut self, allowed: BTreeMap<PeerId, PublicKey>) {
        let removed: Vec<PeerId> = self
            .allowed
            .keys()
            .filter(|peer| !allowed.contains_key(peer))
            .copied()
            .collect();
        let behaviour = self.swarm.behaviour_mut();
        for peer in &removed {
            behaviour.allowed.disallow_peer(*peer);
        }
        for peer in allowed.keys() {
            behaviour.allowed.allow_peer(*peer);
        }
        // Every connected peer outside the new set goes, including any that
        // slipped in before it was removed from the old one.
        let outsiders: Vec<PeerId> = self
            .swarm
            .connected_peers()
            .filter(|peer| !allowed.contains_key(peer))
            .copied()
            .collect();
        for peer in outsiders {
            info!(%peer, "peer no longer allowed; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.dialer.forget(|peer| allowed.contains_key(peer));
        let previous = &self.allowed;
        self.dialer.hurry(
            |peer| allowed.contains_key(peer) && !previous.contains_key(peer),
            Instant::now(),
        );
        self.limiter.forget(|peer| allowed.contains_key(peer));
        self.direct_limiter
            .forget(|peer| allowed.contains_key(peer));
        if let Some(discovery) = &mut self.discovery {
            discovery.forget(|peer| !allowed.contains_key(peer));
        }
        info!(
            allowed = allowed.len(),
            removed = removed.len(),
            "allowed peers updated"
        );
        self.allowed = allowed;
    }
}
