//! Catching up as the node does: the blocks of a sync answer applied ahead
//! of the store through the replica's catch-up, written in stages
//! (`kp_replica::Stage`), with a crash possible while a stage is written.

use super::queue::Event;
use super::{Sim, CRASH_IN_STAGE_PERMILLE};
use crate::check::Violation;
use kp_ledger::StateStore;
use kp_replica::{Applied, CatchUpError, VerifiedSignatures};
use kp_types::{Block, CommitCertificate};
use rand::Rng;
use std::sync::Arc;

/// Where in a stage's write a crash falls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StageCrash {
    /// Before the commit: the stage is lost, the store is as before it.
    BeforeWrite,
    /// After the commit, before the replica hears of it: the stage is on
    /// disk, nothing about its blocks was announced.
    AfterWrite,
}

impl Sim {
    /// The blocks of a sync answer that follow on from `to`'s ledger (the
    /// replica kept those), applied in a catch-up batch. A first block the
    /// core runs goes through the core, as in the node.
    pub(super) fn catch_up(
        &mut self,
        to: usize,
        from: usize,
        blocks: Vec<(Block, CommitCertificate)>,
    ) -> Result<(), Violation> {
        let mut blocks = blocks.into_iter().peekable();
        if let Some((block, _)) = blocks.peek() {
            if self.replicas[to].replica.runs_height(block.header.height) {
                if let Some((block, certificate)) = blocks.next() {
                    if !self.deliver_block(to, from, block, certificate)? {
                        return Ok(());
                    }
                }
            }
        }
        let verified = VerifiedSignatures::new();
        for (block, certificate) in blocks {
            if !self.replicas[to].alive {
                return Ok(());
            }
            let height = block.header.height;
            let replica = &mut self.replicas[to].replica;
            let pending = match replica.catch_up_execute(&block, &certificate, &verified) {
                Ok(pending) => pending,
                Err(CatchUpError::Refused(refusal)) => {
                    self.sync_refused(to, from, height, refusal)?;
                    break;
                }
                Err(CatchUpError::ToConsensus { .. }) => break,
                Err(CatchUpError::Ledger(e)) => return self.store_failed(to, height, e),
            };
            let replica = &mut self.replicas[to].replica;
            let full = replica.catch_up_advance(Arc::new(block), certificate, pending);
            match full {
                Ok(true) => self.write_stage(to)?,
                Ok(false) => {}
                Err(e) => return self.store_failed(to, height, e),
            }
        }
        if self.replicas[to].alive {
            self.write_stage(to)?;
        }
        if self.replicas[to].alive {
            self.replicas[to].replica.catch_up_done();
            self.drain(to)?;
        }
        Ok(())
    }

    /// Writes the replica's current stage in one commit and hands it back,
    /// then does what follows each of its blocks. Crashes in the middle now
    /// and then (with crashes on, before healing).
    fn write_stage(&mut self, node: usize) -> Result<(), Violation> {
        let height = self.replicas[node].replica.ledger().height();
        let stage = match self.replicas[node].replica.take_stage() {
            Ok(Some(stage)) => stage,
            Ok(None) => return Ok(()),
            Err(e) => return self.store_failed(node, height, e),
        };
        let crash = self.stage_crash(node);
        if crash == Some(StageCrash::BeforeWrite) {
            return Ok(());
        }
        let store = self.replicas[node].replica.ledger().store().clone();
        if let Err(e) = store.commit(&stage.writes) {
            return Err(Violation::Validity {
                height,
                replica: node,
                error: format!("stage write: {e}"),
            });
        }
        if crash == Some(StageCrash::AfterWrite) {
            return Ok(());
        }
        self.stages_written += 1;
        let applied = self.replicas[node].replica.stage_written(stage);
        for Applied {
            block,
            certificate,
            receipt,
        } in applied
        {
            let block = Arc::unwrap_or_clone(block);
            self.applied(node, block, certificate, receipt)?;
        }
        Ok(())
    }

    /// Whether (and where) an honest replica crashes while a stage is
    /// written; if so it is down now and restarts a little later.
    fn stage_crash(&mut self, node: usize) -> Option<StageCrash> {
        if self.healed || !self.cfg.faults.crashes || !self.honest(node) {
            return None;
        }
        if self.rng.gen_range(0..1000) >= CRASH_IN_STAGE_PERMILLE {
            return None;
        }
        let at = if self.rng.gen_bool(0.5) {
            StageCrash::BeforeWrite
        } else {
            StageCrash::AfterWrite
        };
        self.crash(node);
        self.stage_crashes += 1;
        let down = self.rng.gen_range(50..=1_000);
        self.push(down, Event::Restart { node });
        Some(at)
    }

    /// The store refused a catch-up's write: for an honest replica, a
    /// violation (the simulated store does not fail).
    fn store_failed(
        &mut self,
        node: usize,
        height: u64,
        error: kp_ledger::LedgerError,
    ) -> Result<(), Violation> {
        Err(Violation::Validity {
            height,
            replica: node,
            error: format!("catch-up: {error}"),
        })
    }
}
