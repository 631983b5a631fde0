//! Driving the replica: carrying out its batches in order, and sending its consensus messages (directly to validators, by gossip otherwise).

use super::*;
use kp_replica::{Note, Outgoing, Ready};

impl Node {
    /// Carries out everything the replica has to do after an event, batch
    /// by batch, in the order each batch states: the safety state durable,
    /// then a decided block applied and durable, then messages sent, then
    /// timers, gossip and sync requests. The replica ends a batch before
    /// slow work (building, validating or applying a block) when messages
    /// wait, so those leave first.
    pub(super) async fn drain(&mut self) -> Result<(), NodeError> {
        while let Some(ready) = self.replica.ready() {
            self.carry_out(ready).await?;
        }
        self.send_consensus().await;
        self.refresh_status();
        Ok(())
    }

    async fn carry_out(&mut self, ready: Ready) -> Result<(), NodeError> {
        if let Some(state) = ready.safety {
            // Durable before any message of this batch is sent. The blocks
            // (up to ~10 MB) are written only when the set the state names
            // changes, with the record that names them.
            let (record, named) = state.to_record();
            let (hashes, blocks): (Vec<kp_types::Hash>, Vec<kp_consensus::SharedBlock>) =
                named.into_iter().unzip();
            let blocks_bytes =
                (self.safety_blocks.as_ref() != Some(&hashes)).then(|| kp_types::encode(&blocks));
            self.safety
                .save_parts(&kp_types::encode(&record), blocks_bytes.as_deref())?;
            self.safety_blocks = Some(hashes);
        }
        if let Some((block, certificate)) = ready.decided {
            self.commit(&block, &certificate).await?;
        }
        for message in ready.messages {
            match message {
                Outgoing::Broadcast(message) => self.broadcast_outbox.push(message),
                Outgoing::To(peer, message) => {
                    self.direct_outbox.entry(peer).or_default().push(message);
                }
            }
        }
        self.send_consensus().await;
        for (after_ms, timer) in ready.timers {
            self.schedule(Duration::from_millis(after_ms), Timer::Replica(timer));
        }
        for tx in ready.gossip {
            self.queue_gossip(tx).await;
        }
        if let Some(request) = ready.sync_request {
            self.send_sync_request(request);
        }
        for note in ready.notes {
            match note {
                Note::InvalidProposal { height, error } => {
                    tracing::warn!(height, %error, "invalid proposed block");
                }
                Note::EvidenceSigned { hash } => {
                    tracing::warn!(%hash, "equivocation detected; submitting evidence");
                }
                Note::EvidenceRefused { error } => {
                    tracing::warn!(%error, "equivocation detected; our evidence was refused");
                }
                Note::InputBudgetExhausted => {
                    tracing::warn!("consensus input loop budget exhausted");
                }
            }
        }
        Ok(())
    }

    /// Sends the consensus messages the input produced: those for every
    /// validator straight to each of them, those for single peers (the votes
    /// a lagging validator needs) to that peer, each recipient's in as few
    /// direct messages as fit.
    ///
    /// Not through gossip while the peers are connected: gossip delivered
    /// each vote 5-6 times to every node (publisher flood plus mesh
    /// forwarding), each copy with its author signature checked, and with 60
    /// validators that traffic outgrew the machine and rounds timed out.
    /// Earlier, laggard answers sent as gossip put every answer on every
    /// node (an O(n³) storm). A validator without a direct connection still
    /// gets the message through gossip, which others relay.
    pub(super) async fn send_consensus(&mut self) {
        let mut broadcast = std::mem::take(&mut self.broadcast_outbox);
        broadcast.retain(|message| self.broadcast_due(message));
        if !broadcast.is_empty() {
            let me = self.key.public();
            let peers: Vec<PublicKey> = self
                .replica
                .consensus()
                .validators()
                .iter()
                .filter(|v| **v != me)
                .copied()
                .collect();
            self.send_direct_or_gossip(&peers, broadcast).await;
        }
        let outbox = std::mem::take(&mut self.direct_outbox);
        for (peer, messages) in outbox {
            self.send_direct_or_gossip(&[peer], messages).await;
        }
    }

    /// Sends `messages` to each of `peers` in as few direct messages as fit;
    /// a chunk that some peer could not get directly (no connection) goes
    /// out as gossip, which others relay.
    pub(super) async fn send_direct_or_gossip(
        &mut self,
        peers: &[PublicKey],
        messages: Vec<ConsensusMessage>,
    ) {
        let bytes_max = self.config.network.message_bytes_max;
        for chunk in direct_chunks(messages, bytes_max) {
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

    /// Whether a broadcast message goes out now: not if we sent the same
    /// one less than [`RESEND_MS`] ago. Consensus re-sends the current
    /// round's messages every rebroadcast interval in case some were lost;
    /// gossip used to suppress identical re-sends for 6 s. Sent straight to
    /// 59 validators every 2 s, the re-sends were thousands of messages per
    /// interval, and an own proposal carries its block (megabytes with
    /// thousands of certificates): hundreds of megabytes a minute that
    /// nobody needed.
    pub(super) fn broadcast_due(&mut self, message: &ConsensusMessage) -> bool {
        let id = match message {
            ConsensusMessage::Proposal { signed, .. } => signed.proposal.signing_hash(),
            ConsensusMessage::Vote(v) => v.vote.signing_hash(),
        };
        self.recently_sent.due(id, Instant::now())
    }

    /// A peer's direct consensus messages, each handled like gossip from it.
    pub(super) async fn on_direct(
        &mut self,
        from: PublicKey,
        bytes: &[u8],
    ) -> Result<(), NodeError> {
        if !self.is_validator() {
            return Ok(());
        }
        let limit = self.config.network.message_bytes_max;
        let messages = match kp_types::decode::<Vec<ConsensusMessage>>(bytes, limit) {
            Ok(messages) if messages.len() <= DIRECT_MESSAGES_MAX => messages,
            Ok(messages) => {
                tracing::debug!(%from, count = messages.len(), "direct message with too many parts");
                return Ok(());
            }
            Err(e) => {
                tracing::debug!(%from, error = %e, "undecodable direct message");
                return Ok(());
            }
        };
        for message in messages {
            self.on_consensus(from, message).await?;
        }
        Ok(())
    }

    /// A consensus message from `from`, by gossip or direct (the replica
    /// asks for blocks when the message shows we missed decisions).
    pub(super) async fn on_consensus(
        &mut self,
        from: PublicKey,
        message: ConsensusMessage,
    ) -> Result<(), NodeError> {
        self.replica
            .handle(Event::Message { from, message }, now_ms());
        self.drain().await
    }
}

/// Remembers the messages sent (by id) in the last [`RESEND_MS`], to let
/// the same one go out again only after that; a new one always goes.
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
