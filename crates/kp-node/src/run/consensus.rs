//! Hosting the consensus core: starting heights, feeding it input, carrying out its actions, and sending its messages (directly to validators, by gossip otherwise).

use super::*;

impl Node {
    pub(super) async fn start_height(&mut self, height: u64) -> Result<(), NodeError> {
        if !self.is_validator() {
            return Ok(());
        }
        let validators = self.ledger.validators();
        self.drive(Input::StartHeight { height, validators }).await
    }

    /// Feeds one input to the core and carries out every resulting action in
    /// order, including the inputs those actions produce.
    pub(super) async fn drive(&mut self, input: Input) -> Result<(), NodeError> {
        let mut inputs = VecDeque::from([input]);
        // Each input yields a bounded number of actions, and only proposal
        // building and block validation feed back; bound the loop regardless.
        let mut budget = 256usize;
        while let Some(input) = inputs.pop_front() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                tracing::warn!("consensus input loop budget exhausted");
                break;
            }
            for action in self.consensus.handle(input) {
                if let Some(next) = self.act(action).await? {
                    inputs.push_back(next);
                }
            }
        }
        self.send_consensus().await;
        self.refresh_status();
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
                .consensus
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

    /// Starts the next height now if it waits only because the network was
    /// idle (see `empty_block_interval_ms`): a transaction arrived, or
    /// another validator has started that height. A start already due later
    /// is then a repeat, which the core ignores.
    pub(super) fn wake_idle(&mut self) {
        if let Some(height) = self.idle_height.take() {
            if height == self.ledger.height() + 1 {
                self.schedule(Duration::ZERO, Timer::StartHeight(height));
            }
        }
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

    /// A consensus message from `from`, by gossip or direct: a message from
    /// a later height means we missed decisions, so blocks are fetched too.
    pub(super) async fn on_consensus(
        &mut self,
        from: PublicKey,
        message: ConsensusMessage,
    ) -> Result<(), NodeError> {
        if message.height() > self.ledger.height() + 1 {
            self.request_sync_from(from);
        } else if message.height() == self.ledger.height() + 1 {
            self.wake_idle();
        }
        self.drive(Input::Message { from, message }).await
    }

    pub(super) async fn act(&mut self, action: Action) -> Result<Option<Input>, NodeError> {
        if matches!(
            action,
            Action::RequestProposal { .. } | Action::ValidateBlock { .. } | Action::Decide { .. }
        ) {
            // Building, checking or applying a block takes a while: the
            // messages already due (say, the precommit that completed our
            // decision, which the others may still need) go first.
            self.send_consensus().await;
        }
        match action {
            Action::PersistSafety(state) => {
                // Durable before anything after it in this batch is sent.
                // The blocks (up to ~10 MB) are written only when the set
                // the state names changes, with the record that names them.
                let (record, named) = state.to_record();
                let (hashes, blocks): (Vec<kp_types::Hash>, Vec<kp_consensus::SharedBlock>) =
                    named.into_iter().unzip();
                let blocks_bytes = (self.safety_blocks.as_ref() != Some(&hashes))
                    .then(|| kp_types::encode(&blocks));
                self.safety
                    .save_parts(&kp_types::encode(&record), blocks_bytes.as_deref())?;
                self.safety_blocks = Some(hashes);
            }
            // Collected and sent once the input is done (after any safety
            // state of this input is durable, since persistence comes first).
            Action::Broadcast(message) => self.broadcast_outbox.push(message),
            Action::SendTo(peer, message) => {
                self.direct_outbox.entry(peer).or_default().push(message);
            }
            Action::ScheduleTimeout {
                timeout,
                duration_ms,
            } => self.schedule(
                Duration::from_millis(duration_ms),
                Timer::Consensus(timeout),
            ),
            Action::RequestProposal { height, round } => {
                let time = Timestamp(
                    now_ms()
                        .0
                        .max(self.ledger.last_block_time().0.saturating_add(1)),
                );
                // The pool admits only transactions whose signature verified.
                let (block, refused) = self.ledger.build_block_from_verified(
                    self.key.public(),
                    time,
                    self.mempool.iter(),
                );
                // No longer valid in this state (a number taken, a sanction
                // adopted): not worth keeping.
                self.mempool.remove(&refused);
                return Ok(Some(Input::ProposalPayload {
                    height,
                    round,
                    block: Arc::new(block),
                }));
            }
            Action::ValidateBlock { height, block } => {
                let mempool = &self.mempool;
                let pooled = |h: &TxHash, s: &kp_types::Signature| mempool.holds_verified(h, s);
                let valid = match self.ledger.validate_block_with(&block, &pooled) {
                    Ok(()) => block.header.time.0 <= now_ms().0 + CLOCK_DRIFT_MAX_MS,
                    Err(e) => {
                        tracing::warn!(height, error = %e, "invalid proposed block");
                        false
                    }
                };
                return Ok(Some(Input::BlockValidity {
                    height,
                    block_hash: block.hash(),
                    valid,
                }));
            }
            Action::Decide { block, certificate } => {
                self.commit(&block, &certificate).await?;
                let next = self.ledger.height() + 1;
                let consensus = &self.config.consensus;
                let pause = if block.txs.is_empty() && self.mempool.is_empty() {
                    // Nothing to order: wait, unless woken (`wake_idle`).
                    self.idle_height = Some(next);
                    consensus
                        .empty_block_interval_ms
                        .max(consensus.block_interval_ms)
                } else {
                    consensus.block_interval_ms
                };
                self.schedule(Duration::from_millis(pause), Timer::StartHeight(next));
            }
            Action::Evidence(evidence) => self.submit_evidence(evidence).await,
            Action::RequestCommit { .. } => self.request_sync(),
        }
        Ok(None)
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
