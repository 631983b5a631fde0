//! The task that owns the Swarm.
//!
//! It `select!`s over three sources: swarm events, client commands and a
//! redial tick. No handler awaits anything: answers to clients go through
//! `oneshot` senders and events to the node through `try_send`, so a slow node
//! can never stall the swarm (and with it ping, identify and gossip
//! forwarding for every other peer).

mod behaviour;
mod commands;

use self::behaviour::{build_behaviour, peers_topic, Behaviour, BehaviourEvent};
use crate::client::{allowed_map, Command, NetClient, NetEvent, NetStats, ResponseHandle};
use crate::codec::SyncRequest;
use crate::config::{NetworkConfig, Topic};
use crate::dialer::Dialer;
use crate::direct::{self, Inbound, Writers};
use crate::discovery::{AddressRecord, Discovery};
use crate::error::NetworkError;
use crate::keys::keypair_of;
use crate::rate::AuthorLimiter;
use futures::StreamExt;
use kp_types::PublicKey;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, MessageAcceptance, PublishError, TopicHash};
use libp2p::request_response::{self, InboundRequestId, OutboundRequestId, ResponseChannel};
use libp2p::swarm::{DialError, ListenError, SwarmEvent};
use libp2p::{noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, trace, warn};

/// How long `start` waits for the listener to come up.
const LISTEN_WAIT: Duration = Duration::from_secs(10);

/// Where a gossip message goes once accepted.
enum Channel {
    /// To the node, on one of its topics.
    Node(Topic),
    /// To discovery: the author's address record.
    Peers(AddressRecord),
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    /// Peers that may connect, with their node keys.
    allowed: BTreeMap<PeerId, PublicKey>,
    /// Allowed peers with at least one established connection.
    connected: BTreeMap<PeerId, PublicKey>,
    topics: [(Topic, TopicHash); 3],
    peers_topic: TopicHash,
    discovery: Option<Discovery>,
    listen_addrs: Vec<Multiaddr>,
    pending_outbound: BTreeMap<OutboundRequestId, (PublicKey, oneshot::Sender<PendingReply>)>,
    /// Requests handed to the node and not yet answered, with their asker.
    pending_inbound: BTreeMap<InboundRequestId, (PeerId, ResponseChannel<Vec<u8>>)>,
    pending_requests_max: usize,
    message_bytes_max: usize,
    dialer: Dialer,
    limiter: AuthorLimiter,
    /// Direct messages per sending peer, with the same rate as gossip.
    direct_limiter: AuthorLimiter,
    /// Writers of our direct streams, one per peer.
    writers: Writers,
    /// Frames read from peers' direct streams.
    direct_inbound: mpsc::Receiver<(PeerId, Inbound)>,
    /// Frames the readers dropped because `direct_inbound` was full.
    direct_inbound_dropped: Arc<AtomicU64>,
    redial_delay_min: Duration,
    stats: NetStats,
    /// libp2p's metrics, registered in the registry the client encodes.
    metrics: libp2p::metrics::Metrics,
}

type PendingReply = Result<Vec<u8>, NetworkError>;

/// Starts the network on the current tokio runtime: listens, subscribes to
/// the chain's topics, dials the bootstrap peers, and returns the client and
/// the event stream. Returns once the listener is up, so
/// [`NetClient::listen_addrs`] already knows the actual port.
pub async fn start(
    config: NetworkConfig,
) -> Result<(NetClient, mpsc::Receiver<NetEvent>), NetworkError> {
    config.validate()?;
    let allowed = allowed_map(&config.allowed)?;
    let keypair = keypair_of(&config.key)?;
    let peer_id = keypair.public().to_peer_id();
    let behaviour = build_behaviour(&config, &keypair, &allowed)?;
    let idle = config.idle_connection_timeout;
    // libp2p's own metrics: bytes in and out per protocol, connections,
    // gossipsub, identify and ping (`libp2p_*` in the node's /metrics).
    let mut registry = prometheus_client::registry::Registry::default();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|source| NetworkError::Noise { source })?
        .with_bandwidth_metrics(&mut registry)
        .with_behaviour(move |_| behaviour)
        .map_err(|never| match never {})?
        .with_swarm_config(|swarm_config| swarm_config.with_idle_connection_timeout(idle))
        .build();
    let metrics = libp2p::metrics::Metrics::new(&mut registry);
    let registry = Arc::new(registry);
    let topics = Topic::ALL.map(|topic| (topic, topic.gossip_topic(&config.chain_id).hash()));
    for topic in Topic::ALL {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic.gossip_topic(&config.chain_id))
            .map_err(|source| NetworkError::Subscribe { topic, source })?;
    }
    let peers_topic = peers_topic(&config.chain_id);
    // Subscribed even with discovery off, so that this node still forwards
    // the records of others.
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&peers_topic)
        .map_err(|source| NetworkError::SubscribePeers { source })?;
    swarm
        .listen_on(config.listen.clone())
        .map_err(|source| NetworkError::Listen {
            address: config.listen.clone(),
            source,
        })?;

    let (command_sender, commands) = mpsc::channel(config.command_queue.get());
    let (events, event_receiver) = mpsc::channel(config.event_queue.get());
    let now = Instant::now();
    let dialer = Dialer::new(
        peer_id,
        &config.bootstrap,
        config.redial_delay_min,
        config.redial_delay_max,
        now,
    );
    let discovery = config
        .discovery
        .then(|| Discovery::new(config.announce_interval, config.external_addrs.clone(), now));
    let control = swarm.behaviour().direct.new_control();
    let (direct_sender, direct_inbound) = mpsc::channel(direct::INBOUND_QUEUE);
    let direct_inbound_dropped = Arc::new(AtomicU64::new(0));
    direct::spawn_acceptor(
        control.clone(),
        config.message_bytes_max,
        direct_sender,
        direct_inbound_dropped.clone(),
    )
    .map_err(|_| NetworkError::DirectProtocolRegistered)?;
    let writers = Writers::new(control);
    let mut event_loop = EventLoop {
        swarm,
        commands,
        events,
        allowed,
        connected: BTreeMap::new(),
        topics,
        peers_topic: peers_topic.hash(),
        discovery,
        listen_addrs: Vec::new(),
        pending_outbound: BTreeMap::new(),
        pending_inbound: BTreeMap::new(),
        pending_requests_max: config.pending_requests_max,
        message_bytes_max: config.message_bytes_max,
        dialer,
        limiter: AuthorLimiter::new(
            config.gossip_per_author_per_second,
            config.gossip_per_author_burst,
        ),
        direct_limiter: AuthorLimiter::new(
            config.gossip_per_author_per_second,
            config.gossip_per_author_burst,
        ),
        writers,
        direct_inbound,
        direct_inbound_dropped,
        redial_delay_min: config.redial_delay_min,
        metrics,
        stats: NetStats::default(),
    };
    event_loop.wait_listening().await?;
    info!(%peer_id, addresses = ?event_loop.listen_addrs, "network listening");
    tokio::spawn(event_loop.run());
    let client = NetClient {
        metrics: registry,
        commands: command_sender,
        peer_id,
        message_bytes_max: config.message_bytes_max,
        response_bytes_max: config.response_bytes_max,
        request_timeout: config.request_timeout,
    };
    Ok((client, event_receiver))
}

impl EventLoop {
    async fn wait_listening(&mut self) -> Result<(), NetworkError> {
        let wait = async {
            while self.listen_addrs.is_empty() {
                let event = self.swarm.select_next_some().await;
                self.on_swarm_event(event);
            }
        };
        tokio::time::timeout(LISTEN_WAIT, wait)
            .await
            .map_err(|_| NetworkError::ListenTimeout {
                waited: LISTEN_WAIT,
            })
    }

    async fn run(mut self) {
        let mut redial_tick = tokio::time::interval(self.redial_delay_min);
        redial_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                Some((peer, inbound)) = self.direct_inbound.recv() => self.on_direct(peer, inbound),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                _ = redial_tick.tick() => {
                    self.redial();
                    self.announce();
                }
            }
        }
        info!(peer_id = %self.swarm.local_peer_id(), "network event loop stopped");
    }

    /// Hands an event to the node without waiting. A full queue means the node
    /// is behind; dropping is safe because every consumer of these events
    /// tolerates loss (consensus rebroadcasts, sync retries).
    fn emit(&mut self, event: NetEvent) {
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                self.stats.events_dropped = self.stats.events_dropped.saturating_add(1);
                warn!(
                    event = event_kind(&event),
                    dropped = self.stats.events_dropped,
                    "event queue full; event dropped"
                );
            }
            Err(TrySendError::Closed(_)) => trace!("event receiver gone; event dropped"),
        }
    }

    /// Whether less than a quarter of the event queue is free. Transactions
    /// are the bulk of gossip and the least urgent (their authors keep them in
    /// their mempools): they get only the first three quarters of the queue, so
    /// that a burst of them cannot crowd out votes, blocks or sync requests.
    fn queue_is_crowded(&self) -> bool {
        // A queue of fewer than 4 slots reserves nothing.
        let reserved = self.events.max_capacity() / 4;
        reserved > 0 && self.events.capacity() <= reserved
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.record_metrics(&event);
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                debug!(%address, "listening");
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|known| *known != address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => self.on_connection_established(peer_id, &endpoint),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.writers.remove(&peer_id);
                if let Some(key) = self.connected.remove(&peer_id) {
                    debug!(%peer_id, "peer disconnected");
                    self.emit(NetEvent::PeerDisconnected(key));
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                if matches!(error, ListenError::Denied { .. }) {
                    self.count_denied();
                }
                debug!(%send_back_addr, ?peer_id, %error, "incoming connection refused or failed");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                match &error {
                    DialError::Denied { .. } => self.count_denied(),
                    DialError::LocalPeerId { address } => self.dialer.reached_self(address),
                    _ => {}
                }
                debug!(?peer_id, %error, "dial failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Direct(())) => {}
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => trace!(?event, "identify"),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => self.on_ping(event),
            _ => {}
        }
    }

    /// Counts the event in libp2p's metrics (connections, and the events of
    /// the behaviours libp2p-metrics knows).
    fn record_metrics(&self, event: &SwarmEvent<BehaviourEvent>) {
        use libp2p::metrics::Recorder;
        self.metrics.record(event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => self.metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(e)) => self.metrics.record(e),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(e)) => self.metrics.record(e),
            _ => {}
        }
    }

    /// A connection that stops answering pings is closed, so that the peer
    /// counts as disconnected and the dialer tries a fresh connection
    /// (libp2p's ping only reports failures; it no longer closes anything).
    fn on_ping(&mut self, event: ping::Event) {
        match event.result {
            Ok(rtt) => trace!(peer = %event.peer, ?rtt, "ping"),
            Err(ping::Failure::Unsupported) => {
                debug!(peer = %event.peer, "peer does not support ping")
            }
            Err(error) => {
                debug!(peer = %event.peer, %error, "ping failed; closing the connection");
                self.swarm.close_connection(event.connection);
            }
        }
    }

    fn count_denied(&mut self) {
        self.stats.connections_denied = self.stats.connections_denied.saturating_add(1);
    }

    fn on_connection_established(&mut self, peer_id: PeerId, endpoint: &ConnectedPoint) {
        // The allow list already refuses outsiders during the handshake; this
        // catches a peer removed by `set_allowed` while its handshake ran.
        let Some(key) = self.allowed.get(&peer_id).copied() else {
            warn!(%peer_id, "connection from a peer outside the allowed set; disconnecting");
            self.count_denied();
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        };
        if let ConnectedPoint::Dialer { address, .. } = endpoint {
            self.dialer.connected_by_dial(peer_id, address);
        }
        if self.connected.insert(peer_id, key).is_none() {
            debug!(%peer_id, "peer connected");
            if let Some(discovery) = &mut self.discovery {
                // A newcomer learns of us, and we of it, in one gossip round.
                discovery.due = true;
            }
            self.emit(NetEvent::PeerConnected(key));
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        let gossipsub::Event::Message {
            propagation_source,
            message_id,
            message,
        } = event
        else {
            trace!(?event, "gossipsub");
            return;
        };
        let verdict = self.judge(&propagation_source, &message);
        let throttled = match (&verdict, message.source) {
            (Ok(_), Some(author)) => !self.limiter.allow(author, Instant::now()),
            _ => false,
        };
        let acceptance = match verdict {
            Ok(_) if throttled => {
                self.stats.gossip_throttled = self.stats.gossip_throttled.saturating_add(1);
                if self.stats.gossip_throttled.is_power_of_two() {
                    warn!(source = ?message.source, throttled = self.stats.gossip_throttled,
                        "author over its gossip rate; message ignored");
                }
                MessageAcceptance::Ignore
            }
            Ok(_) => MessageAcceptance::Accept,
            Err(reason) => {
                self.stats.gossip_rejected = self.stats.gossip_rejected.saturating_add(1);
                // A peer can make us reject at line rate: log the 1st, 2nd,
                // 4th, 8th… at warn level and the rest at debug level.
                if self.stats.gossip_rejected.is_power_of_two() {
                    warn!(%propagation_source, source = ?message.source, reason,
                        rejected = self.stats.gossip_rejected, "gossip rejected");
                } else {
                    debug!(%propagation_source, source = ?message.source, reason, "gossip rejected");
                }
                MessageAcceptance::Reject
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&message_id, &propagation_source, acceptance);
        if throttled {
            return;
        }
        match verdict {
            Ok((Channel::Node(Topic::Transactions), _)) if self.queue_is_crowded() => {
                self.stats.events_dropped = self.stats.events_dropped.saturating_add(1);
                debug!(
                    dropped = self.stats.events_dropped,
                    "event queue crowded; transaction gossip dropped"
                );
            }
            Ok((Channel::Node(topic), from)) => self.emit(NetEvent::Gossip {
                topic,
                from,
                bytes: message.data,
            }),
            Ok((Channel::Peers(record), _)) => {
                if let Some(author) = message.source {
                    self.learn(author, record);
                }
            }
            Err(_) => {}
        }
    }

    /// Decides whether a gossip message is delivered and forwarded.
    fn judge(
        &self,
        propagation_source: &PeerId,
        message: &gossipsub::Message,
    ) -> Result<(Channel, PublicKey), &'static str> {
        if !self.allowed.contains_key(propagation_source) {
            return Err("relayed by a peer outside the allowed set");
        }
        let author = message.source.ok_or("unsigned message")?;
        let from = *self
            .allowed
            .get(&author)
            .ok_or("authored by a peer outside the allowed set")?;
        if message.data.len() > self.message_bytes_max {
            return Err("payload exceeds message_bytes_max");
        }
        if message.topic == self.peers_topic {
            let record = AddressRecord::decode(&message.data).ok_or("malformed address record")?;
            return Ok((Channel::Peers(record), from));
        }
        let topic = self
            .topics
            .iter()
            .find(|(_, hash)| *hash == message.topic)
            .map(|(topic, _)| *topic)
            .ok_or("unknown topic")?;
        Ok((Channel::Node(topic), from))
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request_id,
                    request,
                    channel,
                } => self.on_block_request(peer, request_id, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((_, reply)) = self.pending_outbound.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some((peer, reply)) = self.pending_outbound.remove(&request_id) {
                    debug!(%peer, %error, "block request failed");
                    let _ = reply.send(Err(NetworkError::Request {
                        peer,
                        source: error,
                    }));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %error, "inbound block request failed");
                self.pending_inbound.remove(&request_id);
            }
            request_response::Event::ResponseSent { request_id, .. } => {
                self.pending_inbound.remove(&request_id);
            }
        }
    }

    /// A frame from a peer's direct stream: delivered if the peer is still
    /// an allowed, connected member within its rate.
    fn on_direct(&mut self, peer: PeerId, inbound: Inbound) {
        let bytes = match inbound {
            Inbound::Frame(bytes) => bytes,
            Inbound::Oversized => {
                self.refuse_direct(&peer, "frame over message_bytes_max; stream closed");
                return;
            }
        };
        let Some(from) = self.connected.get(&peer).copied() else {
            self.refuse_direct(&peer, "sender outside the allowed set");
            return;
        };
        if !self.direct_limiter.allow(peer, Instant::now()) {
            self.refuse_direct(&peer, "sender over its rate");
            return;
        }
        self.emit(NetEvent::Direct { from, bytes });
    }

    fn refuse_direct(&mut self, peer: &PeerId, reason: &'static str) {
        self.stats.direct_refused = self.stats.direct_refused.saturating_add(1);
        if self.stats.direct_refused.is_power_of_two() {
            warn!(%peer, reason, refused = self.stats.direct_refused, "direct message refused");
        } else {
            debug!(%peer, reason, "direct message refused");
        }
    }

    fn send_direct(
        &mut self,
        peer: PeerId,
        key: PublicKey,
        bytes: Vec<u8>,
    ) -> Result<(), NetworkError> {
        // Never dials: a direct message is for a peer we are talking to now.
        if !self.connected.contains_key(&peer) {
            return Err(NetworkError::NotConnected { peer: key });
        }
        if let Some(framed) = direct::frame(&bytes) {
            self.queue_direct(peer, framed);
        }
        Ok(())
    }

    /// Sends `bytes` to every connected peer among `keys`; returns the others.
    fn send_direct_each(&mut self, keys: &[PublicKey], bytes: Vec<u8>) -> Vec<PublicKey> {
        let by_key: BTreeMap<PublicKey, PeerId> =
            self.connected.iter().map(|(p, k)| (*k, *p)).collect();
        // Framed once, copied per peer.
        let framed = direct::frame(&bytes);
        let mut unreached = Vec::new();
        for key in keys {
            match (by_key.get(key), &framed) {
                (Some(peer), Some(framed)) => self.queue_direct(*peer, framed.clone()),
                (Some(_), None) => {}
                (None, _) => unreached.push(*key),
            }
        }
        unreached
    }

    /// Queues a framed direct message on the peer's stream, unless its queue
    /// is full: a peer that stopped reading must not make us buffer without
    /// bound, and what it missed is stale by the time it reads again
    /// (consensus re-sends what is still current).
    fn queue_direct(&mut self, peer: PeerId, framed: Vec<u8>) {
        if self.writers.send(peer, framed).is_err() {
            self.stats.direct_dropped = self.stats.direct_dropped.saturating_add(1);
            if self.stats.direct_dropped.is_power_of_two() {
                warn!(%peer, dropped = self.stats.direct_dropped,
                    "peer's direct queue full; message dropped");
            }
        }
    }

    fn on_block_request(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: SyncRequest,
        channel: ResponseChannel<Vec<u8>>,
    ) {
        // Dropping `channel` refuses the request; the requester sees a failure.
        let Some(from) = self.connected.get(&peer).copied() else {
            warn!(%peer, "block request from a peer outside the allowed set");
            return;
        };
        if self.pending_inbound.len() >= self.pending_requests_max {
            warn!(%peer, pending = self.pending_inbound.len(), "too many block requests pending");
            return;
        }
        // One member must not take every slot: the others may be the ones
        // that are behind.
        let from_peer = self
            .pending_inbound
            .values()
            .filter(|(asker, _)| *asker == peer)
            .count();
        if from_peer >= pending_per_peer_max(self.pending_requests_max) {
            warn!(%peer, pending = from_peer, "too many block requests pending from one peer");
            return;
        }
        let event = NetEvent::BlockRequest {
            from,
            from_height: request.from_height,
            max: request.max,
            handle: ResponseHandle(request_id),
        };
        match self.events.try_send(event) {
            Ok(()) => {
                self.pending_inbound.insert(request_id, (peer, channel));
            }
            Err(_) => {
                self.stats.events_dropped = self.stats.events_dropped.saturating_add(1);
                warn!(%peer, dropped = self.stats.events_dropped, "event queue full; block request refused");
            }
        }
    }

    /// Records a member's addresses (if newer than what we had) so that the
    /// redial tick connects to it.
    fn learn(&mut self, author: PeerId, record: AddressRecord) {
        let Some(discovery) = &mut self.discovery else {
            return;
        };
        if author == *self.swarm.local_peer_id() || !discovery.is_newer(author, record.sequence) {
            return;
        }
        debug!(peer = %author, addresses = ?record.addresses, "learned member addresses");
        self.dialer.learn(author, record.addresses, Instant::now());
    }

    /// Publishes this node's address record when one is due.
    fn announce(&mut self) {
        let Some(discovery) = &mut self.discovery else {
            return;
        };
        let now = Instant::now();
        if self.connected.is_empty() || !discovery.wants_to_announce(now) {
            return;
        }
        let record = discovery.record(&self.listen_addrs);
        let result = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.peers_topic.clone(), record.encode());
        match result {
            Ok(_) | Err(PublishError::Duplicate) => discovery.announced(now),
            // Peers have not told us their subscriptions yet: next tick.
            Err(PublishError::NoPeersSubscribedToTopic) => {}
            Err(error) => {
                warn!(%error, "address record not published");
                discovery.announced(now);
            }
        }
    }

    /// Dials every known peer that is due (see [`Dialer`]).
    fn redial(&mut self) {
        let swarm = &self.swarm;
        let allowed = &self.allowed;
        let dials = self.dialer.due(
            Instant::now(),
            |peer| swarm.is_connected(peer),
            |peer| allowed.contains_key(peer),
        );
        for dial in dials {
            let peer = dial.get_peer_id();
            if let Err(error) = self.swarm.dial(dial) {
                debug!(?peer, %error, "dial refused");
            }
        }
    }
}

/// Share of the inbound request slots one peer may hold: a quarter, at least one.
fn pending_per_peer_max(pending_requests_max: usize) -> usize {
    (pending_requests_max / 4).max(1)
}

fn event_kind(event: &NetEvent) -> &'static str {
    match event {
        NetEvent::Gossip { .. } => "gossip",
        NetEvent::Direct { .. } => "direct message",
        NetEvent::BlockRequest { .. } => "block request",
        NetEvent::PeerConnected(_) => "peer connected",
        NetEvent::PeerDisconnected(_) => "peer disconnected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_gets_a_quarter_of_the_request_slots() {
        assert_eq!(pending_per_peer_max(64), 16);
        assert_eq!(pending_per_peer_max(3), 1);
        assert_eq!(pending_per_peer_max(1), 1);
    }
}
