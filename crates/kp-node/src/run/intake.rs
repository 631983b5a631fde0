//! Transaction intake and the node's inputs: gossiped batches, RPC submissions and their waiters, network events.

use super::outbound::Outbound;
use super::*;
use kp_replica::SubmitError;

impl Node {
    /// A batch of transactions gossiped by a peer: the new ones are verified
    /// in one batch, then checked against the rules and pooled.
    pub(super) async fn on_tx_batch(
        &mut self,
        from: PublicKey,
        bytes: &[u8],
    ) -> Result<(), NodeError> {
        // Only validators propose blocks, so only they need a pool of other
        // nodes' transactions; an observer verifies them when they arrive in
        // a block. (Transactions submitted to an observer's RPC are still
        // checked there and gossiped to the validators.)
        if !self.is_validator() {
            return Ok(());
        }
        let limit = self.config.network.message_bytes_max;
        let Some(batch) = decode_list::<SignedTransaction>(
            bytes,
            limit,
            TX_GOSSIP_BATCH_MAX,
            &from,
            "transaction batch",
        ) else {
            return Ok(());
        };
        let fresh: Vec<(TxHash, SignedTransaction)> = batch
            .into_iter()
            .map(|tx| (tx.hash(), tx))
            .filter(|(hash, _)| !self.replica.mempool().contains(hash))
            .collect();
        // One batch verification for the whole message; if it fails, each
        // transaction is verified on its own so that the good ones still enter.
        let items: Vec<_> = fresh
            .iter()
            .map(|(hash, tx)| (tx.tx.signer, *hash, tx.signature))
            .collect();
        let verified = kp_types::verify_batch(&items).is_ok();
        for (hash, tx) in fresh {
            let _ = self.accept_tx(tx, hash, false, verified).await;
        }
        // A transaction may have woken an idle network.
        self.drain().await
    }

    /// Checks a transaction (`hash` is `tx.hash()`) against the ledger and
    /// pools it (through the replica); queues it for gossip if asked. With
    /// `verified`, its signature has already been verified and only the
    /// rules are checked. The caller drains the replica afterwards (an
    /// idle network wakes up).
    pub(super) async fn accept_tx(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        gossip: bool,
        verified: bool,
    ) -> Result<TxHash, ApiError> {
        if self.replica.mempool().contains(&hash) {
            return Ok(hash);
        }
        let outgoing = gossip.then(|| tx.clone());
        self.replica
            .submit(tx, hash, verified, now_ms())
            .map_err(|e| match e {
                SubmitError::Refused(r) => ApiError::new(
                    422,
                    r.code(),
                    format!("the ledger refuses this transaction: {r}"),
                ),
                SubmitError::Pool(e @ MempoolError::Full { .. }) => {
                    ApiError::unavailable(e.to_string())
                }
                SubmitError::Pool(e @ MempoolError::Duplicate { .. }) => {
                    ApiError::new(409, "duplicate", e.to_string())
                }
                e @ SubmitError::AlreadyDecided { .. } => {
                    ApiError::new(409, "already-decided", e.to_string())
                }
            })?;
        if let Some(tx) = outgoing {
            // Submitted through this node's RPC: timed until decided.
            self.shared
                .metrics
                .submitted(hash, std::time::Instant::now());
            self.send_out(Outbound::Transactions(vec![tx])).await;
        }
        Ok(hash)
    }

    pub(super) async fn on_request(&mut self, request: Request) -> Result<(), NodeError> {
        match request {
            // The RPC handler verified the signature before sending the request.
            Request::Submit { tx, wait, reply } => {
                let hash = tx.hash();
                self.on_submit(*tx, hash, wait, reply).await
            }
            Request::SubmitBatch { txs, reply } => {
                let mut outcomes = Vec::with_capacity(txs.len());
                for tx in txs {
                    let hash = tx.hash();
                    outcomes.push(self.accept_tx(tx, hash, true, true).await);
                }
                let _ = reply.send(outcomes);
            }
        }
        self.drain().await
    }

    pub(super) async fn on_submit(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        wait: bool,
        reply: oneshot::Sender<Result<Submitted, ApiError>>,
    ) {
        match self.accept_tx(tx, hash, true, true).await {
            Ok(hash) if wait => {
                let waiting: usize = self.waiters.values().map(Vec::len).sum();
                if waiting >= WAITERS_MAX {
                    let _ = reply.send(Ok(Submitted {
                        hash,
                        decided: None,
                    }));
                } else {
                    self.waiters.entry(hash).or_default().push(reply);
                }
            }
            Ok(hash) => {
                let _ = reply.send(Ok(Submitted {
                    hash,
                    decided: None,
                }));
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    pub(super) async fn on_net(&mut self, event: NetEvent) -> Result<(), NodeError> {
        match event {
            NetEvent::PeerConnected(peer) => {
                self.replica.handle(Event::PeerConnected(peer), now_ms());
                self.drain().await?;
            }
            NetEvent::PeerDisconnected(peer) => {
                self.replica.handle(Event::PeerDisconnected(peer), now_ms());
                self.drain().await?;
            }
            NetEvent::Gossip { topic, from, bytes } => match topic {
                Topic::Transactions => self.on_tx_batch(from, &bytes).await?,
                Topic::Consensus => {
                    if !self.is_validator() {
                        return Ok(());
                    }
                    match ConsensusMessage::decode(&bytes) {
                        Ok(message) => self.on_consensus(from, message).await?,
                        Err(e) => {
                            tracing::debug!(%from, error = %e, "undecodable consensus message")
                        }
                    }
                }
                Topic::Blocks => {
                    // The header comes first. A block this node holds already
                    // (at a validator, every block: it was proposed to it) is
                    // dropped before its transactions are decoded.
                    let next = self.ledger().height() + 1;
                    if let Ok(header) = kp_types::encoding::decode_prefix::<kp_types::BlockHeader>(
                        &bytes,
                        SYNC_BYTES_MAX,
                    ) {
                        if header.height < next {
                            return Ok(());
                        }
                    }
                    match kp_types::decode::<(Block, CommitCertificate)>(&bytes, SYNC_BYTES_MAX) {
                        Ok((block, certificate)) => {
                            let height = block.header.height;
                            if height > next {
                                self.replica.handle(Event::PeerAhead(from), now_ms());
                                self.drain().await?;
                            } else if height == next {
                                self.apply_synced(block, certificate).await?;
                            }
                        }
                        Err(e) => tracing::debug!(%from, error = %e, "undecodable block"),
                    }
                }
            },
            NetEvent::Direct { from, bytes } => self.on_direct(from, &bytes).await?,
            NetEvent::BlockRequest {
                from_height,
                max,
                handle,
                ..
            } => self.serve_blocks(from_height, max, handle),
        }
        Ok(())
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
        let Some(messages) = decode_list::<ConsensusMessage>(
            bytes,
            limit,
            DIRECT_MESSAGES_MAX,
            &from,
            "direct message",
        ) else {
            return Ok(());
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

    /// Answers a peer's block request off this task, from the durable store
    /// (as the RPC reads it): reading and sending up to 32 MB for a peer
    /// that catches up does not hold up consensus, and only blocks on disk
    /// are served. The stored bytes go as they are: no block is decoded or
    /// encoded again (the asker verifies each one). At most
    /// [`SYNC_SERVE_CONCURRENT`] answers are read at once; the network
    /// bounds the requests that wait.
    fn serve_blocks(&self, from_height: u64, max: u32, handle: kp_network::ResponseHandle) {
        let store = self.shared.store.clone();
        let net = self.net.clone();
        let bytes_max = self.config.network.message_bytes_max;
        let permits = self.sync_serving.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let count = max.min(SYNC_BATCH_MAX) as usize;
            let read = tokio::task::spawn_blocking(move || {
                BlockStore::encoded_blocks_from(&store, from_height, count, bytes_max)
            })
            .await;
            match read {
                Ok(Ok((bytes, _))) => {
                    if let Err(e) = net.respond_blocks(handle, bytes).await {
                        tracing::debug!(error = %e, "block sync answer not sent");
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, from_height, "cannot read blocks to answer a peer");
                }
                Err(e) => tracing::error!(error = %e, "block sync reader failed"),
            }
        });
    }
}

/// A list a peer sent: decoded within `bytes_max`, and at most `count_max`
/// items; otherwise dropped (logged at debug: a peer's garbage is not the
/// operator's concern).
fn decode_list<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    bytes_max: usize,
    count_max: usize,
    from: &PublicKey,
    what: &str,
) -> Option<Vec<T>> {
    match kp_types::decode::<Vec<T>>(bytes, bytes_max) {
        Ok(items) if items.len() <= count_max => Some(items),
        Ok(items) => {
            tracing::debug!(%from, count = items.len(), count_max, "{what} with too many items dropped");
            None
        }
        Err(e) => {
            tracing::debug!(%from, error = %e, "undecodable {what} dropped");
            None
        }
    }
}
