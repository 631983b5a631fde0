//! The consensus task's side of the replica's effects: each batch carried
//! out in the order it states. What must be durable is made durable here
//! (the safety state, a decided block's commit); what goes to the network
//! is handed to the second task (`outbound`) after it, in order.

use super::outbound::Outbound;
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
        if !ready.messages.is_empty() {
            let mut broadcast = Vec::new();
            let mut direct: BTreeMap<PublicKey, Vec<ConsensusMessage>> = BTreeMap::new();
            for message in ready.messages {
                match message {
                    Outgoing::Broadcast(message) => broadcast.push(message),
                    Outgoing::To(peer, message) => direct.entry(peer).or_default().push(message),
                }
            }
            let me = self.key.public();
            let validators = self
                .replica
                .consensus()
                .validators()
                .iter()
                .filter(|v| **v != me)
                .copied()
                .collect();
            self.send_out(Outbound::Consensus {
                validators,
                broadcast,
                direct,
            })
            .await;
        }
        for (after_ms, timer) in ready.timers {
            self.schedule(Duration::from_millis(after_ms), timer);
        }
        if !ready.gossip.is_empty() {
            self.send_out(Outbound::Transactions(ready.gossip)).await;
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

    /// Applies a decided block and stores it with its certificate, receipts
    /// and index entries, in one atomic, durable commit (the replica's).
    pub(super) async fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let receipt = self.replica.store_decided(block, certificate)?;
        self.snapshot_if_due(block.header.height);
        self.committed(block, certificate, receipt, started.elapsed())
            .await
    }

    /// Every `[state_sync] snapshot_interval` blocks, a snapshot of the
    /// state just committed, for late joiners (ADR 0016). It is taken
    /// before anything else can be committed, so it is this height's state;
    /// consensus waits meanwhile. A failure is logged, not fatal.
    fn snapshot_if_due(&self, height: u64) {
        let interval = self.config.state_sync.snapshot_interval;
        if interval == 0 || !height.is_multiple_of(interval) {
            return;
        }
        let started = std::time::Instant::now();
        let keep = self.config.state_sync.snapshot_keep;
        let dir = &self.shared.snapshots;
        match tokio::task::block_in_place(|| dir.take(self.replica.ledger(), keep)) {
            Ok(manifest) => tracing::info!(
                height,
                chunks = manifest.chunks.len(),
                bytes = manifest.total_bytes(),
                ms = started.elapsed().as_millis() as u64,
                "state snapshot taken"
            ),
            Err(e) => tracing::warn!(height, error = %e, "state snapshot not taken"),
        }
    }

    /// What follows a block's durable commit: metrics, mempool, waiters,
    /// events, the allowed peers, the block gossip of its proposer.
    pub(super) async fn committed(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        receipt: BlockReceipt,
        elapsed: Duration,
    ) -> Result<(), NodeError> {
        let height = block.header.height;
        self.shared
            .metrics
            .record_block(block.header.time, &receipt.receipts, elapsed);
        tracing::info!(
            height,
            txs = block.txs.len(),
            block_hash = %receipt.block_hash,
            state_root = %receipt.state_root,
            "committed"
        );

        for (position, r) in receipt.receipts.iter().enumerate() {
            // Waiters are answered before the receipt moves into the event.
            if let Some(waiters) = self.waiters.remove(&r.tx_hash) {
                let decided = kp_rpc::Decided {
                    height,
                    position: position as u64,
                    receipt: r.clone(),
                };
                for w in waiters {
                    let _ = w.send(Ok(Submitted {
                        hash: r.tx_hash,
                        decided: Some(decided.clone()),
                    }));
                }
            }
        }
        // Who signed this commit; the map keeps current validators only.
        for signature in &certificate.signatures {
            self.validators_seen.insert(signature.validator, height);
        }
        let validators = self.ledger().validators();
        self.validators_seen
            .retain(|key, _| validators.contains(key));
        let members = self.ledger().network_members();
        if members != self.allowed {
            self.allowed = members.clone();
            self.send_out(Outbound::Allowed(members)).await;
        }
        crate::backend::events::publish(&self.shared, receipt);
        if block.header.proposer == self.key.public() {
            let bytes = kp_types::encode(&(block, certificate));
            self.send_out(Outbound::Block(bytes)).await;
        }
        // `allowed` is the ledger's node keys after this block.
        if !self.allowed.contains(&self.key.public()) {
            let members = self.allowed.clone();
            self.switch_to_next_key(&members).await?;
        }
        self.refresh_status();
        Ok(())
    }
}

impl Node {
    /// Hands a network effect to the second task, in order (waits while
    /// its queue is full).
    pub(super) async fn send_out(&mut self, item: Outbound) {
        if self.outbound.send(item).await.is_err() {
            tracing::error!("the network effects task stopped");
        }
    }
}
