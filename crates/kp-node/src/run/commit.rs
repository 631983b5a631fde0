//! The commit pipeline: a decided block applied to the ledger and stored in one commit, then announced to waiters, subscribers and the pool.

use super::*;

impl Node {
    /// Applies a decided block and stores it with its certificate atomically.
    pub(super) async fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), NodeError> {
        let height = block.header.height;
        if height != self.ledger.height() + 1 {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // One atomic, durable commit per block: the ledger's state changes,
        // the block, its certificate, the indexes, and the receipts that only
        // exist once the block has executed.
        self.ledger.store().stage()?;
        let (receipt, late) = self.apply_staged(block, certificate)?;
        self.ledger.store().commit_staged(late)?;
        self.committed(block, certificate, receipt, started.elapsed())
            .await
    }

    /// Applies `block` into the open stage and returns its receipt with the
    /// writes that complete its storage (the receipts). On an error the stage
    /// is aborted: the caller must stop the node, since blocks applied
    /// earlier in the same stage are in memory but not on disk.
    pub(super) fn apply_staged(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(BlockReceipt, WriteSet), NodeError> {
        let applied = BlockStore::try_block_writes(block, certificate, &[])
            .map_err(NodeError::from)
            .and_then(|writes| Ok(self.ledger.apply_block(block, writes)?))
            .and_then(|receipt| {
                // Before the write is durable: the filter may hold a hash
                // the index does not yet hold, never the other way round.
                for r in &receipt.receipts {
                    self.decided.note(&r.tx_hash);
                }
                let receipts_bytes = kp_types::encode(&receipt.receipts);
                let late = BlockStore::receipts_writes(block.header.height, &receipts_bytes)?;
                Ok((receipt, late))
            });
        if applied.is_err() {
            self.ledger.store().abort_staged();
        }
        applied
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
        self.shared.metrics.record_block(&receipt.receipts, elapsed);
        self.last_progress = Instant::now();
        tracing::info!(
            height,
            txs = block.txs.len(),
            block_hash = %receipt.block_hash,
            state_root = %receipt.state_root,
            "committed"
        );

        let included: BTreeSet<TxHash> = receipt.receipts.iter().map(|r| r.tx_hash).collect();
        self.mempool.remove_included(&included);
        // Re-check part of what is still pending against the new state (a
        // number the block took, a sanction it adopted, an expiry): a
        // bounded slice per block, round-robin over the pool, so that a
        // large pool does not cost more per block than the block itself.
        // Proposals drop what they find invalid meanwhile.
        let now = now_ms();
        let ledger = &self.ledger;
        // Signatures were verified on entry; only the state has changed.
        self.mempool.recheck_some(MEMPOOL_RECHECK_PER_BLOCK, |tx| {
            ledger.check_tx_rules(tx, now).is_ok()
        });
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
        let members = self.ledger.network_members();
        if members != self.allowed {
            self.allowed = members.clone();
            if let Err(e) = self.net.set_allowed(members).await {
                tracing::error!(error = %e, "cannot update the allowed peers");
            }
        }
        // Nobody listening is fine; a lagging subscriber is told it lagged.
        let _ = self.shared.events.send(NodeEvent {
            receipt: Arc::new(receipt),
        });
        if block.header.proposer == self.key.public() {
            let bytes = kp_types::encode(&(block, certificate));
            self.publish(Topic::Blocks, bytes).await;
        }
        self.refresh_status();
        Ok(())
    }

    pub(super) async fn submit_evidence(&mut self, evidence: Evidence) {
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.key.public(),
            nonce: evidence.height(),
            expires_at: now_ms().plus_ms(EVIDENCE_TX_LIFETIME_MS),
            payload: Payload::SubmitEvidence(evidence),
        }
        .sign(&self.key);
        tracing::warn!("equivocation detected; submitting evidence");
        let hash = tx.hash();
        let _ = self.accept_tx(tx, hash, true, false).await;
    }
}
