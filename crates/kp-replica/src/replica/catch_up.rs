//! Catching up in batches: the blocks of a sync answer verified and applied
//! ahead of the store, written in stages.
//!
//! A node far behind replays thousands of blocks. Writing each one durably
//! before the next is executed makes the disk the bottleneck, so the blocks
//! of an answer are applied ahead of the store (`Ledger::advance_behind`:
//! later blocks read the writes of earlier ones) and written in stages of
//! about [`SyncConfig::stage_txs_max`] transactions, one store commit per
//! stage, which the host may run on another thread while the next blocks
//! execute. Nothing about a block is acknowledged (pool, waiters, events)
//! before its stage is durable, so a crash in between only means syncing
//! those blocks again.
//!
//! The host's side, for each verified answer:
//!
//! 1. per block, [`Replica::catch_up_execute`] (verify and execute), add the
//!    host's writes to the [`Pending`], [`Replica::catch_up_advance`];
//! 2. when that says the stage is full: hand back the stage being written
//!    ([`Replica::stage_written`], once durable), then
//!    [`Replica::take_stage`] and write it;
//! 3. at the end, the same for the last stage, then
//!    [`Replica::catch_up_done`], which starts the next height.
//!
//! [`SyncConfig::stage_txs_max`]: crate::SyncConfig::stage_txs_max

use super::{Replica, SyncRefusal, Timer, VerifiedSignatures};
use kp_ledger::{BlockReceipt, LedgerError, Pending, StateStore, WriteSet};
use kp_types::{Block, CommitCertificate, Signature, TxHash};
use std::sync::Arc;
use thiserror::Error;

/// A block applied ahead of the store in a catch-up.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The block.
    pub block: Arc<Block>,
    /// Its commit certificate.
    pub certificate: CommitCertificate,
    /// What executing it did.
    pub receipt: BlockReceipt,
}

/// Blocks applied ahead of the store, taken to be written in one commit.
#[derive(Debug)]
pub struct Stage {
    /// Every write of the stage's blocks (the ledger's and the host's), for
    /// one store commit.
    pub writes: Arc<WriteSet>,
    blocks: Vec<Applied>,
    txs: usize,
}

impl Stage {
    /// How many blocks it holds.
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// How many transactions its blocks hold.
    pub fn txs(&self) -> usize {
        self.txs
    }
}

/// Why a catch-up step did not happen.
#[derive(Debug, Error)]
pub enum CatchUpError {
    /// The block is not taken (it does not follow on, or fails a check);
    /// the blocks before it are kept. The host ends the batch.
    #[error(transparent)]
    Refused(#[from] SyncRefusal),
    /// The consensus core runs this block's height: the host hands it over
    /// with [`Replica::synced`] instead, so that the core moves on with it.
    #[error("the consensus core runs height {height}")]
    ToConsensus {
        /// The block's height.
        height: u64,
    },
    /// The store failed (fatal for the host).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Blocks applied ahead of the store since the last stage was taken.
#[derive(Debug, Default)]
pub(super) struct CatchUp {
    blocks: Vec<Applied>,
    txs: usize,
    /// Whether the last block applied held no transaction.
    last_empty: bool,
    /// Whether this batch applied any block (kept across its stages).
    applied_any: bool,
}

impl<S: StateStore> Replica<S> {
    /// Whether a synced block of `height` goes through the consensus core
    /// (a validator's core runs that height): the host hands it over with
    /// [`Replica::synced`], not in a catch-up batch.
    pub fn runs_height(&self, height: u64) -> bool {
        self.is_validator() && self.consensus.height() == height
    }

    /// Verifies a block of a sync answer ([`Replica::verify_synced`]) and
    /// executes it on the ledger as it stands ahead of the store, with the
    /// block store's entries (as [`Replica::store_decided`]). The host may
    /// add writes of its own to the result, and hands it to
    /// [`Replica::catch_up_advance`]. Nothing changes on a refusal.
    pub fn catch_up_execute(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        verified: &VerifiedSignatures,
    ) -> Result<Pending, CatchUpError> {
        let height = block.header.height;
        if let Some((awaited, _)) = self.awaiting {
            // A decision is out and not applied yet: this block comes after.
            return Err(SyncRefusal::NotNext {
                height,
                expected: awaited,
            }
            .into());
        }
        if self.runs_height(height) {
            return Err(CatchUpError::ToConsensus { height });
        }
        self.verify_synced_certificate(block, certificate)?;
        // The block is validated (signatures in `verified`, or held by the
        // pool, known good) and executed in one pass.
        let mempool = &self.mempool;
        let known = |h: &TxHash, s: &Signature| mempool.knows_signature(verified, h, s);
        let mut pending = match self.ledger.execute_with(block, &known) {
            Ok(pending) => pending,
            Err(LedgerError::InvalidBlock(e)) => {
                return Err(SyncRefusal::Block {
                    height,
                    detail: e.to_string(),
                }
                .into())
            }
            Err(e) => return Err(e.into()),
        };
        self.add_block_writes(block, certificate, &mut pending)?;
        Ok(pending)
    }

    /// Moves the ledger past a block executed with
    /// [`Replica::catch_up_execute`], ahead of the store. Returns whether
    /// the blocks applied since the last stage now hold enough transactions
    /// to be written ([`Replica::take_stage`]).
    pub fn catch_up_advance(
        &mut self,
        block: Arc<Block>,
        certificate: CommitCertificate,
        pending: Pending,
    ) -> Result<bool, LedgerError> {
        let before = self.ledger.height();
        let receipt = self.ledger.advance_behind(pending)?;
        // On in release builds too: the applied height rises by exactly one,
        // to the block handed over.
        assert!(
            receipt.height == before + 1 && block.header.height == receipt.height,
            "replica: caught up to block {} from height {before} with block {}",
            receipt.height,
            block.header.height
        );
        self.catch_up.txs += block.txs.len();
        self.catch_up.last_empty = block.txs.is_empty();
        self.catch_up.applied_any = true;
        self.catch_up.blocks.push(Applied {
            block,
            certificate,
            receipt,
        });
        Ok(self.catch_up.txs >= self.config.sync.stage_txs_max)
    }

    /// Takes the blocks applied ahead of the store since the last stage,
    /// for the host to write in one commit and then hand back with
    /// [`Replica::stage_written`]. Refused while the stage taken before is
    /// not handed back. `None` if there is nothing to write.
    pub fn take_stage(&mut self) -> Result<Option<Stage>, LedgerError> {
        let Some(writes) = self.ledger.take_behind()? else {
            return Ok(None);
        };
        let (last_empty, applied_any) = (self.catch_up.last_empty, self.catch_up.applied_any);
        let CatchUp { blocks, txs, .. } = std::mem::replace(
            &mut self.catch_up,
            CatchUp {
                last_empty,
                applied_any,
                ..CatchUp::default()
            },
        );
        Ok(Some(Stage {
            writes,
            blocks,
            txs,
        }))
    }

    /// The stage's writes are durable: its blocks count as committed (they
    /// leave the pool, sync has progressed), and come back for the host to
    /// announce (waiters, events).
    pub fn stage_written(&mut self, stage: Stage) -> Vec<Applied> {
        let was_taken = self.ledger.behind_written();
        assert!(
            was_taken,
            "replica: a stage of {} blocks handed back that was not taken",
            stage.blocks.len()
        );
        let now = self.now;
        for applied in &stage.blocks {
            self.note_committed(&applied.receipt, now);
        }
        stage.blocks
    }

    /// Ends a catch-up batch once its last stage is handed back: the next
    /// height starts at once, or after the heartbeat if the tip is empty.
    /// A batch that applied nothing (an answer of blocks already decided
    /// here, or only the one the core ran) changes nothing: the timer of
    /// the height that was waiting stands. Starting the next height then
    /// woke every validator of an idle network a heartbeat early.
    pub fn catch_up_done(&mut self) {
        assert!(
            self.catch_up.blocks.is_empty(),
            "replica: a catch-up ended with blocks applied and not written"
        );
        if !std::mem::take(&mut self.catch_up.applied_any) {
            return;
        }
        let next = self.ledger.height() + 1;
        // An empty tip waits like any idle block (`pause_before`), so a node
        // that caught up does not wake an idle network.
        let pause = self.pause_before(next, self.catch_up.last_empty, true);
        self.ready.timers.push((pause, Timer::StartHeight(next)));
    }
}
