//! The node's second task: it carries the replica's network effects out to
//! the network, while the consensus task goes on with the next input.
//!
//! The consensus task hands it [`Outbound`] items through one bounded
//! channel, only after what must be durable first is durable (the safety
//! state before the votes that depend on it, a block's commit before its
//! gossip), and the channel keeps their order. This task owns what only
//! sending needs: the resend gate, the grouping of consensus messages into
//! direct messages, the batching of gossiped transactions and its timer,
//! and the network handle, which a key switch replaces in order with the
//! items ([`Outbound::Network`]).

use super::{
    DIRECT_MESSAGES_MAX, RESEND_MS, TX_GOSSIP_BATCH_MAX, TX_GOSSIP_BYTES_MAX, TX_GOSSIP_DELAY_MS,
};
use kp_consensus::ConsensusMessage;
use kp_network::{NetClient, Topic};
use kp_types::{PublicKey, SignedTransaction};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Items the consensus task hands over; the queue is bounded (the consensus
/// task waits when it is full, as it waited for the network before).
pub(super) const OUTBOUND_QUEUE: usize = 1024;

/// One network effect, in the order the replica produced it.
pub(super) enum Outbound {
    /// One batch's consensus messages: those for every validator but us
    /// (`validators`, the current set without this node), and those for
    /// single peers.
    Consensus {
        /// The recipients of `broadcast`.
        validators: Vec<PublicKey>,
        /// Messages for every validator.
        broadcast: Vec<ConsensusMessage>,
        /// Messages for one peer each.
        direct: BTreeMap<PublicKey, Vec<ConsensusMessage>>,
    },
    /// Pooled transactions to gossip (grouped into batches here).
    Transactions(Vec<SignedTransaction>),
    /// A decided block with its certificate, encoded, for the blocks topic.
    Block(Vec<u8>),
    /// The peers the ledger lets in after a block.
    Allowed(Vec<PublicKey>),
    /// The network restarted under a new key: send through this one.
    Network(NetClient),
}

/// Starts the task; it ends when every sender is dropped, after sending the
/// transactions it holds.
pub(super) fn spawn(net: NetClient, message_bytes_max: usize) -> mpsc::Sender<Outbound> {
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let task = Sender {
        net,
        message_bytes_max,
        recently_sent: ResendGate::default(),
        txs: Vec::new(),
        txs_bytes: 0,
        flush_at: None,
    };
    tokio::spawn(task.run(rx));
    tx
}

struct Sender {
    net: NetClient,
    message_bytes_max: usize,
    /// Our broadcast messages sent lately, and when (see [`ResendGate`]).
    recently_sent: ResendGate,
    /// Transactions waiting to be gossiped together.
    txs: Vec<SignedTransaction>,
    txs_bytes: usize,
    /// When the waiting transactions go even if the batch is not full.
    flush_at: Option<Instant>,
}

impl Sender {
    async fn run(mut self, mut items: mpsc::Receiver<Outbound>) {
        loop {
            let flush_at = self.flush_at;
            tokio::select! {
                item = items.recv() => match item {
                    Some(item) => self.carry_out(item).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)),
                    if flush_at.is_some() => self.flush_txs().await,
            }
        }
        self.flush_txs().await;
    }

    async fn carry_out(&mut self, item: Outbound) {
        match item {
            Outbound::Consensus {
                validators,
                mut broadcast,
                direct,
            } => {
                let now = Instant::now();
                broadcast.retain(|message| self.recently_sent.due(message_id(message), now));
                if !broadcast.is_empty() {
                    self.send_direct_or_gossip(&validators, broadcast).await;
                }
                for (peer, messages) in direct {
                    self.send_direct_or_gossip(&[peer], messages).await;
                }
            }
            Outbound::Transactions(txs) => {
                for tx in txs {
                    self.txs_bytes += kp_types::encoding::encoded_len(&tx);
                    self.txs.push(tx);
                    if self.txs.len() >= TX_GOSSIP_BATCH_MAX
                        || self.txs_bytes >= TX_GOSSIP_BYTES_MAX
                    {
                        self.flush_txs().await;
                    }
                }
                if !self.txs.is_empty() && self.flush_at.is_none() {
                    self.flush_at =
                        Some(Instant::now() + Duration::from_millis(TX_GOSSIP_DELAY_MS));
                }
            }
            Outbound::Block(bytes) => self.publish(Topic::Blocks, bytes).await,
            Outbound::Allowed(members) => {
                if let Err(e) = self.net.set_allowed(members).await {
                    tracing::error!(error = %e, "cannot update the allowed peers");
                }
            }
            Outbound::Network(net) => self.net = net,
        }
    }

    /// Gossips the waiting transactions as one message.
    async fn flush_txs(&mut self) {
        self.flush_at = None;
        if self.txs.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.txs);
        self.txs_bytes = 0;
        self.publish(Topic::Transactions, kp_types::encode(&batch))
            .await;
    }

    async fn publish(&self, topic: Topic, bytes: Vec<u8>) {
        if let Err(e) = self.net.publish(topic, bytes).await {
            // Gossip with no peers yet, or a full queue: consensus re-sends.
            tracing::debug!(?topic, error = %e, "publish failed");
        }
    }

    /// Sends `messages` to each of `peers` in as few direct messages as fit;
    /// a chunk that some peer could not get directly (no connection) goes
    /// out as gossip, which others relay.
    ///
    /// Not through gossip while the peers are connected: gossip delivered
    /// each vote 5-6 times to every node (publisher flood plus mesh
    /// forwarding), each copy with its author signature checked, and with 60
    /// validators that traffic outgrew the machine and rounds timed out.
    /// Earlier, laggard answers sent as gossip put every answer on every
    /// node (an O(n³) storm).
    async fn send_direct_or_gossip(
        &mut self,
        peers: &[PublicKey],
        messages: Vec<ConsensusMessage>,
    ) {
        for chunk in direct_chunks(messages, self.message_bytes_max) {
            let bytes = kp_types::encode(&chunk);
            let reached_all = match self.net.send_to_each(peers, bytes).await {
                Ok(unreached) => unreached.is_empty(),
                Err(e) => {
                    tracing::debug!(error = %e, "direct consensus message not sent");
                    false
                }
            };
            if !reached_all {
                for message in chunk {
                    self.publish(Topic::Consensus, message.encode()).await;
                }
            }
        }
    }
}

/// What the resend gate knows a message by.
fn message_id(message: &ConsensusMessage) -> kp_types::Hash {
    match message {
        ConsensusMessage::Proposal { signed, .. } => signed.proposal.signing_hash(),
        ConsensusMessage::Vote(v) => v.vote.signing_hash(),
    }
}

/// Remembers the messages sent (by id) in the last [`RESEND_MS`], to let
/// the same one go out again only after that; a new one always goes.
///
/// Consensus re-sends the current round's messages every rebroadcast
/// interval in case some were lost; gossip used to suppress identical
/// re-sends for 6 s. Sent straight to 59 validators every 2 s, the re-sends
/// were thousands of messages per interval, and an own proposal carries its
/// block (megabytes with thousands of certificates): hundreds of megabytes
/// a minute that nobody needed.
#[derive(Default)]
pub(super) struct ResendGate {
    pub(super) sent: BTreeMap<kp_types::Hash, Instant>,
}

impl ResendGate {
    /// Bound on remembered ids (a node sends a handful per round).
    pub(super) const IDS_MAX: usize = 1024;

    pub(super) fn due(&mut self, id: kp_types::Hash, now: Instant) -> bool {
        let window = Duration::from_millis(RESEND_MS);
        if let Some(at) = self.sent.get(&id) {
            if now.duration_since(*at) < window {
                return false;
            }
        }
        self.sent.retain(|_, at| now.duration_since(*at) < window);
        if self.sent.len() >= Self::IDS_MAX {
            self.sent.clear();
        }
        self.sent.insert(id, now);
        true
    }
}

/// Splits `messages` into groups of at most [`DIRECT_MESSAGES_MAX`] whose
/// encoding fits `bytes_max`. A message too large on its own is dropped (the
/// core never produces one: its messages are bounded far below the network's
/// limit).
pub(super) fn direct_chunks(
    messages: Vec<ConsensusMessage>,
    bytes_max: usize,
) -> Vec<Vec<ConsensusMessage>> {
    // The length prefix of an encoded list (8 bytes, as for sync answers).
    const PREFIX: usize = 8;
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = PREFIX;
    for message in messages {
        let size = kp_types::encoding::encoded_len(&message);
        if PREFIX + size > bytes_max {
            tracing::warn!(
                size,
                bytes_max,
                "consensus message too large for a direct message"
            );
            continue;
        }
        if chunk.len() == DIRECT_MESSAGES_MAX || bytes + size > bytes_max {
            chunks.push(std::mem::take(&mut chunk));
            bytes = PREFIX;
        }
        bytes += size;
        chunk.push(message);
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}
