//! The commit pipeline: a decided block applied to the ledger and stored in one commit, then announced to waiters, subscribers and the pool.

use super::*;

impl Node {
    /// Applies a decided block and stores it with its certificate, receipts
    /// and index entries, in one atomic, durable commit (the replica's).
    pub(super) async fn commit(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let receipt = self.replica.store_decided(block, certificate)?;
        self.committed(block, certificate, receipt, started.elapsed())
            .await
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
            if let Err(e) = self.net.set_allowed(members).await {
                tracing::error!(error = %e, "cannot update the allowed peers");
            }
        }
        crate::backend::events::publish(&self.shared, &receipt);
        if block.header.proposer == self.key.public() {
            let bytes = kp_types::encode(&(block, certificate));
            self.publish(Topic::Blocks, bytes).await;
        }
        self.refresh_status();
        Ok(())
    }
}
