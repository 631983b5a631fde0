//! Block sync: asking peers for decided blocks, checking their commit certificates and signatures off the node task, and applying them ahead of the store and writing them in stages.

use super::*;
use kp_replica::{Applied, CatchUpError, Stage, SyncRequest, VerifiedSignatures};

impl Node {
    /// Sends the replica's block request on its way; the answer comes back
    /// to the node task (`on_sync_answer`).
    pub(super) fn send_sync_request(&mut self, request: SyncRequest) {
        let net = self.net.clone();
        let replies = self.sync_replies.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let SyncRequest {
                peer,
                from_height,
                max,
            } = request;
            let answer = net.request_blocks(peer, from_height, max).await;
            tracing::debug!(
                %peer,
                from_height,
                bytes = answer.as_ref().map_or(0, Vec::len),
                roundtrip_ms = asked.elapsed().as_millis() as u64,
                "sync answer arrived"
            );
            let _ = replies.send((peer, answer)).await;
        });
    }

    pub(super) async fn on_sync_answer(
        &mut self,
        peer: PublicKey,
        answer: Result<Vec<u8>, kp_network::NetworkError>,
    ) -> Result<(), NodeError> {
        let started = std::time::Instant::now();
        let decoded = match answer {
            Ok(bytes) => {
                match kp_types::decode::<Vec<(Block, CommitCertificate)>>(&bytes, SYNC_BYTES_MAX) {
                    Ok(blocks) => Some(blocks),
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "peer sent an undecodable sync answer");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "block sync request failed");
                None
            }
        };
        // The replica keeps what follows on from the ledger (blocks decided
        // meanwhile are skipped) and, if anything does, asks the same peer
        // for the next range at once: it travels (and the peer reads it
        // from its store) while this one is verified and applied. If this
        // answer turns out invalid, the next one does not follow on, and
        // the stall check picks another peer.
        let blocks = self.replica.sync_answered(peer, decoded, now_ms());
        self.drain().await?;
        if blocks.is_empty() {
            return Ok(());
        }
        let count = blocks.len();
        let decode_ms = started.elapsed().as_millis() as u64;
        let mut waits = SyncWaits::default();
        let applied = self.apply_synced_batch(blocks, &mut waits).await?;
        tracing::info!(
            %peer,
            blocks = count,
            applied,
            height = self.ledger().height(),
            decode_ms,
            signatures_wait_ms = waits.signatures.as_millis() as u64,
            write_wait_ms = waits.write.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "synced"
        );
        Ok(())
    }

    /// Verifies and applies consecutive blocks from a sync answer, in order,
    /// through the replica's catch-up (`kp_replica::Stage`): ahead of the
    /// store, written in stages, each stage's commit on another thread
    /// while the next blocks execute. Each block's certificate is checked
    /// against the validator set of its own height, which a block earlier
    /// in the answer may have changed. Stops at the first block that fails
    /// a check; blocks before it are kept. Returns how many blocks were
    /// applied.
    pub(super) async fn apply_synced_batch(
        &mut self,
        blocks: Vec<(Block, CommitCertificate)>,
        waits: &mut SyncWaits,
    ) -> Result<usize, NodeError> {
        let mut blocks = blocks.into_iter().peekable();
        let mut applied = 0;
        // A validator whose core waits on this height lets the core decide
        // it, as for a single synced block (the core's Decide commits it).
        if let Some((block, _)) = blocks.peek() {
            if self.replica.runs_height(block.header.height) {
                if let Some((block, certificate)) = blocks.next() {
                    if !self.apply_synced(block, certificate).await? {
                        return Ok(0);
                    }
                    applied += 1;
                }
            }
        }
        // The transactions' signatures are verified on another thread,
        // block by block, while the blocks before are applied here (catch-up
        // is otherwise one core's work: verification is about a fifth of it).
        let blocks: Vec<(Arc<Block>, CommitCertificate)> =
            blocks.map(|(b, c)| (Arc::new(b), c)).collect();
        let mut presigned = spawn_signature_checks(blocks.iter().map(|(b, _)| b.clone()).collect());
        // The last full stage, being written on another thread while the
        // next blocks execute (its blocks are announced once it is durable).
        let mut writing: Option<SyncedWrite> = None;
        for (block, certificate) in blocks {
            let height = block.header.height;
            let waited = std::time::Instant::now();
            let verified = presigned.recv().await.unwrap_or_default();
            waits.signatures += waited.elapsed();
            let pending = match self
                .replica
                .catch_up_execute(&block, &certificate, &verified)
            {
                Ok(pending) => pending,
                Err(CatchUpError::Ledger(e)) => return Err(e.into()),
                Err(CatchUpError::ToConsensus { .. }) => break,
                Err(e) => {
                    tracing::warn!(height, error = %e, "sync: block refused");
                    break;
                }
            };
            let full = self.replica.catch_up_advance(block, certificate, pending)?;
            if full {
                let waited = std::time::Instant::now();
                applied += self.finish_synced_write(writing.take()).await?;
                waits.write += waited.elapsed();
                writing = self
                    .replica
                    .take_stage()?
                    .map(|stage| self.write_stage(stage));
            }
        }
        let waited = std::time::Instant::now();
        applied += self.finish_synced_write(writing.take()).await?;
        let last = self
            .replica
            .take_stage()?
            .map(|stage| self.write_stage(stage));
        applied += self.finish_synced_write(last).await?;
        waits.write += waited.elapsed();
        self.replica.catch_up_done();
        self.drain().await?;
        Ok(applied)
    }

    /// Writes a stage of synced blocks in one durable commit, on another
    /// thread.
    fn write_stage(&self, stage: Stage) -> SyncedWrite {
        let store = self.ledger().store().clone();
        let writes = stage.writes.clone();
        SyncedWrite {
            write: tokio::task::spawn_blocking(move || {
                kp_ledger::StateStore::commit(&store, &writes)
            }),
            stage,
            started: std::time::Instant::now(),
        }
    }

    /// Waits for a stage's write, then hands it back to the replica and
    /// announces its blocks (metrics, waiters, events): only now that they
    /// are durable does anyone hear of them.
    pub(super) async fn finish_synced_write(
        &mut self,
        writing: Option<SyncedWrite>,
    ) -> Result<usize, NodeError> {
        let Some(SyncedWrite {
            write,
            stage,
            started,
        }) = writing
        else {
            return Ok(0);
        };
        match write.await {
            Ok(written) => written?,
            Err(e) => {
                return Err(NodeError::Storage(kp_ledger::StoreError::Backend {
                    operation: "write synced blocks",
                    detail: e.to_string(),
                }))
            }
        }
        tracing::debug!(
            blocks = stage.blocks(),
            txs = stage.txs(),
            commit_ms = started.elapsed().as_millis() as u64,
            "synced blocks stored in one commit"
        );
        let applied = self.replica.stage_written(stage);
        let count = applied.len();
        if count > 0 {
            self.last_synced = Some(Instant::now());
            self.log_catch_up_progress();
        }
        // Each block's share of the stage's time, for the block metrics.
        let elapsed = started.elapsed() / count.max(1) as u32;
        for Applied {
            block,
            certificate,
            receipt,
        } in applied
        {
            self.committed(&block, &certificate, receipt, elapsed)
                .await?;
        }
        Ok(count)
    }

    /// Takes a decided block from a peer through the replica, which checks
    /// it against the validator set of its height and the ledger. Returns
    /// whether it was applied.
    pub(super) async fn apply_synced(
        &mut self,
        block: Block,
        certificate: CommitCertificate,
    ) -> Result<bool, NodeError> {
        let height = block.header.height;
        let verified = VerifiedSignatures::new();
        if let Err(e) = self.replica.synced(block, certificate, &verified, now_ms()) {
            tracing::warn!(height, error = %e, "sync: block refused");
            return Ok(false);
        }
        self.drain().await?;
        Ok(self.ledger().height() >= height)
    }
}

/// Verifies the transaction signatures of `blocks` on a blocking thread, one
/// batch per block, and hands each block's verified signatures over in
/// order (an empty set for a block whose batch failed: its validation then
/// verifies one by one and names the culprit). The channel holds at most
/// the answer's blocks; the thread stops when the receiver is dropped.
pub(super) fn spawn_signature_checks(
    blocks: Vec<Arc<Block>>,
) -> mpsc::Receiver<VerifiedSignatures> {
    let (tx, rx) = mpsc::channel(blocks.len().max(1));
    tokio::task::spawn_blocking(move || {
        for block in blocks {
            let items: Vec<_> = block
                .txs
                .iter()
                .map(|stx| (stx.tx.signer, stx.hash(), stx.signature))
                .collect();
            let verified = if kp_types::verify_batch(&items).is_ok() {
                items.into_iter().map(|(_, h, s)| (h, s)).collect()
            } else {
                VerifiedSignatures::new()
            };
            if tx.blocking_send(verified).is_err() {
                break;
            }
        }
    });
    rx
}

/// A stage of synced blocks being written on another thread.
pub(super) struct SyncedWrite {
    write: tokio::task::JoinHandle<Result<(), kp_ledger::StoreError>>,
    stage: Stage,
    started: std::time::Instant,
}

/// Where a sync answer's event-loop time went besides applying: waiting for
/// the signature thread, and for writes (and announcing what they wrote).
#[derive(Default)]
pub(super) struct SyncWaits {
    signatures: Duration,
    write: Duration,
}

/// Where catch-up stood at its last progress line.
#[derive(Clone, Copy, Debug)]
pub(super) struct CatchUpMark {
    at: Instant,
    height: u64,
    block_time_ms: u64,
}

/// How often a node that catches up says how far it is.
const CATCH_UP_LOG_EVERY: Duration = Duration::from_secs(10);

/// The catch-up progress line's figures: blocks a second, and the time to
/// reach the present at the pace the blocks' own times advance (the node
/// does not know the network's height, but it knows the wall clock: a
/// chain that advances an hour of block time a second is an hour behind
/// for a second more).
pub(super) fn catch_up_pace(
    from: CatchUpMark,
    height: u64,
    block_time_ms: u64,
    now_ms: u64,
    elapsed: Duration,
) -> (f64, Option<Duration>) {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let blocks_per_s = height.saturating_sub(from.height) as f64 / seconds;
    let chain_ms_per_s = block_time_ms.saturating_sub(from.block_time_ms) as f64 / seconds;
    let behind_ms = now_ms.saturating_sub(block_time_ms) as f64;
    // Each wall second brings the chain chain_ms_per_s closer, less the
    // 1,000 ms the present moves on.
    let closing = chain_ms_per_s - 1000.0;
    let eta = (closing > 0.0).then(|| Duration::from_secs_f64((behind_ms / closing).min(1e9)));
    (blocks_per_s, eta)
}

impl Node {
    /// Every [`CATCH_UP_LOG_EVERY`] while catching up: the height, how far
    /// behind the present the last block is, the pace and an estimate of
    /// the time left.
    fn log_catch_up_progress(&mut self) {
        let ledger = self.ledger();
        let height = ledger.height();
        let block_time_ms = ledger.last_block_time().0;
        let now = now_ms().0;
        let mark = CatchUpMark {
            at: Instant::now(),
            height,
            block_time_ms,
        };
        let Some(from) = self.catch_up_progress else {
            self.catch_up_progress = Some(mark);
            return;
        };
        let elapsed = from.at.elapsed();
        if elapsed < CATCH_UP_LOG_EVERY {
            return;
        }
        self.catch_up_progress = Some(mark);
        let behind_s = now.saturating_sub(block_time_ms) / 1000;
        if !self.catching_up() {
            return;
        }
        let (blocks_per_s, eta) = catch_up_pace(from, height, block_time_ms, now, elapsed);
        tracing::info!(
            height,
            behind_s,
            blocks_per_s = blocks_per_s.round() as u64,
            eta_s = eta.map(|d| d.as_secs()),
            "catching up"
        );
    }
}

#[cfg(test)]
mod pace_tests {
    use super::*;

    #[test]
    fn the_time_left_follows_the_pace_of_block_time() {
        let from = CatchUpMark {
            at: Instant::now(),
            height: 1_000,
            block_time_ms: 0,
        };
        // 10 s: 5,000 blocks covering 101 s of block time; the present is
        // 1,000 s past the last block: the gap closes by 9.1 s a second.
        let (rate, eta) = catch_up_pace(from, 6_000, 101_000, 1_101_000, Duration::from_secs(10));
        assert_eq!(rate.round() as u64, 500);
        assert_eq!(eta.unwrap().as_secs(), 109);
        // Slower than the present: no estimate.
        let (_, eta) = catch_up_pace(from, 1_005, 5_000, 1_000_000, Duration::from_secs(10));
        assert!(eta.is_none());
    }
}
