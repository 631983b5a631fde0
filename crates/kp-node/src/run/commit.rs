//! The commit pipeline: a decided block applied to the ledger and stored in one commit, then announced to waiters, subscribers and the pool.

use super::*;

impl Node {
    /// Applies a decided block and stores it with its certificate atomically.
    pub(super) async fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        // One atomic, durable commit per block: the ledger's state changes,
        // the block, its certificate, the indexes, and the receipts that only
        // exist once the block has executed.
        self.ledger().store().stage()?;
        let (receipt, late) = self.apply_staged(block, certificate, Applier::Replica)?;
        self.ledger().store().commit_staged(late)?;
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
        applier: Applier,
    ) -> Result<(BlockReceipt, WriteSet), NodeError> {
        let applied = BlockStore::try_block_writes(block, certificate, &[])
            .map_err(NodeError::from)
            .and_then(|writes| {
                Ok(match applier {
                    Applier::Replica => self.replica.apply_decided(block, writes)?,
                    Applier::SyncBatch => self.replica.ledger_mut().apply_block(block, writes)?,
                })
            })
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
            self.ledger().store().abort_staged();
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
        let members = self.ledger().network_members();
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
}

/// Who applies a block to the ledger: the replica (a block it decided,
/// whose pool upkeep and next height it then handles), or the batch sync
/// path (which verified the block with `Replica::verify_synced` and tells
/// the replica with `Replica::note_committed` once the block is durable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Applier {
    Replica,
    SyncBatch,
}
