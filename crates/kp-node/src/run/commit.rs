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
        // `allowed` is the ledger's node keys after this block.
        if !self.allowed.contains(&self.key.public()) {
            let members = self.allowed.clone();
            self.switch_to_next_key(&members).await?;
        }
        self.refresh_status();
        Ok(())
    }

    /// Switches to the rotated consensus key the operator put beside the
    /// key file (`<key_file>.next`) once the ledger lists it as a node key
    /// (ADR 0008), in the block of the rotation: then, not a block later
    /// when the validator set lists it, because peers stop letting the old
    /// identity in as soon as the ledger drops its key. The key file first
    /// (one atomic rename, so a crash at any point restarts with the key
    /// the ledger lists), then the replica's signer (the safety state
    /// carries over; the next height's set still lists the old key, which
    /// no longer signs, and the new key signs from the height after, so no
    /// height is signed by both), then the network, whose identity is the
    /// key. Looked for only while the ledger does not list the node's key,
    /// so a listed node pays nothing per block.
    async fn switch_to_next_key(&mut self, members: &[PublicKey]) -> Result<(), NodeError> {
        let key_file = self.config.node.key_file.clone();
        let (key, next) =
            next_key::promote_if_listed(&key_file, self.key.clone(), |k| members.contains(k))?;
        let next_key::NextKey::Promoted { old, new } = next else {
            return Ok(());
        };
        tracing::warn!(
            old = %old.to_hex(),
            new = %new.to_hex(),
            height = self.ledger().height(),
            "switched to the rotated node key the ledger lists; restarting the network under it"
        );
        self.replica.set_key(key.clone());
        self.key = key;
        self.restart_network().await
    }

    /// Stops the network and starts it again under the node's key: the old
    /// swarm is gone (its listener closed) before the new one listens on the
    /// same address. Consensus messages lost meanwhile are sent again by the
    /// core's rebroadcast, and missed blocks come by block sync.
    async fn restart_network(&mut self) -> Result<(), NodeError> {
        let _ = self.net.shutdown().await;
        // The old event loop drops its sender when it ends; bounded wait.
        let deadline = Instant::now() + NETWORK_STOP_WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.net_events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        "the old network did not stop in time; starting the new one anyway"
                    );
                    break;
                }
            }
        }
        let net_config = network_config(&self.config, &self.chain_id, &self.key, &self.allowed)?;
        let (net, events) = kp_network::start(net_config).await?;
        self.shared.metrics.set_network(net.clone());
        self.net = net;
        self.net_events = events;
        Ok(())
    }
}
