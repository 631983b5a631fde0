//! The replicas as hosts of the core: they feed it inputs and execute its
//! actions in order, persisting safety state before sending, apply decided
//! blocks, keep a mempool and submit evidence.

use super::network::NetMessage;
use super::queue::Event;
use super::{
    block_key, genesis_time, Sim, BLOCK_TIME_DRIFT_MAX_MS, INPUTS_PER_EVENT_MAX, MEMPOOL_TXS_MAX,
};
use crate::check::Violation;
use crate::config::BrokenRule;
use kp_consensus::{Action, ConsensusMessage, Input};
use kp_ledger::{testkit, LedgerEvent, WriteSet};
use kp_types::{
    CommitCertificate, Domain, Evidence, Hash, Payload, SignedTransaction, Timestamp, Transaction,
    VoteKind,
};
use rand::seq::SliceRandom;
use std::collections::{BTreeSet, VecDeque};

fn nil_value() -> Hash {
    Hash::of(Domain::Document, b"kp-sim nil vote")
}

impl Sim {
    pub(super) fn start(&mut self, node: usize) -> Result<(), Violation> {
        let r = &self.replicas[node];
        let height = r.ledger.height() + 1;
        let validators = r.ledger.validators();
        self.feed(node, Input::StartHeight { height, validators })
    }

    pub(super) fn mempool_add(&mut self, node: usize, tx: SignedTransaction) {
        let now = self.block_clock();
        let r = &mut self.replicas[node];
        if !r.alive || r.mempool.len() >= MEMPOOL_TXS_MAX {
            return;
        }
        let hash = tx.hash();
        // One pending transaction per equivocation is enough: other
        // validators' copies of the same evidence are not even checked.
        let evidence = match &tx.tx.payload {
            Payload::SubmitEvidence(e) => Some(e.id()),
            _ => None,
        };
        if evidence.is_some_and(|id| r.pending_evidence.contains(&id)) {
            return;
        }
        if r.mempool_hashes.contains(&hash) || r.ledger.check_tx(&tx, now).is_err() {
            return;
        }
        if let Some(id) = evidence {
            r.pending_evidence.insert(id);
        }
        r.mempool_hashes.insert(hash);
        r.mempool.push((hash, tx));
    }

    pub(super) fn feed(&mut self, node: usize, input: Input) -> Result<(), Violation> {
        let mut work = VecDeque::from([input]);
        let mut processed = 0;
        while let Some(input) = work.pop_front() {
            processed += 1;
            if processed > INPUTS_PER_EVENT_MAX || !self.replicas[node].alive {
                break;
            }
            let actions = self.replicas[node].core.handle(input);
            for action in actions {
                if !self.replicas[node].alive {
                    // Crashed in the middle of the batch: the rest is lost.
                    return Ok(());
                }
                self.execute(node, action, &mut work)?;
            }
        }
        Ok(())
    }

    fn execute(
        &mut self,
        node: usize,
        action: Action,
        work: &mut VecDeque<Input>,
    ) -> Result<(), Violation> {
        match action {
            Action::PersistSafety(state) => {
                // What is persisted was signed, sent or not: the double-sign
                // check covers votes a crash kept from leaving the node.
                if let Some((signed, block)) = &state.proposal {
                    let message = ConsensusMessage::Proposal {
                        signed: signed.clone(),
                        block: block.clone(),
                        pol: Vec::new(),
                    };
                    self.record_signed(node, &message)?;
                }
                for vote in &state.votes {
                    self.record_signed(node, &ConsensusMessage::Vote(vote.clone()))?;
                }
                self.replicas[node].safety = Some(state.encode());
            }
            Action::Broadcast(message) => {
                self.record_signed(node, &message)?;
                if self.crash_before_send(node, &message) {
                    return Ok(());
                }
                self.outgoing(node, None, message);
            }
            Action::SendTo(to_key, message) => {
                self.record_signed(node, &message)?;
                if let Some(to) = self.replicas.iter().position(|r| r.public == to_key) {
                    self.outgoing(node, Some(to), message);
                }
            }
            Action::ScheduleTimeout {
                timeout,
                duration_ms,
            } => {
                let incarnation = self.replicas[node].incarnation;
                self.push(
                    duration_ms,
                    Event::Timer {
                        node,
                        incarnation,
                        timeout,
                    },
                );
            }
            Action::RequestProposal { height, round } => {
                let clock = self.block_clock();
                let r = &self.replicas[node];
                if r.ledger.height() + 1 == height {
                    let time = Timestamp(clock.0.max(r.ledger.last_block_time().0 + 1));
                    let candidates: Vec<SignedTransaction> =
                        r.mempool.iter().map(|(_, tx)| tx.clone()).collect();
                    let block = r.ledger.build_block(r.public, time, &candidates);
                    // What the builder skipped fails in the current state:
                    // drop it rather than re-check the whole pool after every
                    // block (a client whose transaction was dropped resubmits).
                    let kept: BTreeSet<Hash> =
                        block.txs.iter().map(SignedTransaction::hash).collect();
                    let r = &mut self.replicas[node];
                    r.mempool.retain(|(h, _)| kept.contains(h));
                    r.mempool_hashes = kept;
                    r.reindex_evidence();
                    let block = if self.honest(node) {
                        block
                    } else {
                        self.stuff_junk(block)
                    };
                    work.push_back(Input::ProposalPayload {
                        height,
                        round,
                        block: std::sync::Arc::new(block),
                    });
                }
            }
            Action::ValidateBlock { height, block } => {
                let clock = self.block_clock();
                let r = &self.replicas[node];
                let valid = r.ledger.height() + 1 == height
                    && block.header.time.0 <= clock.0 + BLOCK_TIME_DRIFT_MAX_MS
                    && r.ledger.validate_block(&block).is_ok();
                work.push_back(Input::BlockValidity {
                    height,
                    block_hash: block.hash(),
                    valid,
                });
            }
            Action::Decide { block, certificate } => self.decide(node, block, certificate)?,
            Action::Evidence(evidence) => self.submit_evidence(node, evidence),
            Action::RequestCommit { height } => {
                let mut peers: Vec<usize> =
                    (0..self.replicas.len()).filter(|p| *p != node).collect();
                peers.shuffle(&mut self.rng);
                for peer in peers.into_iter().take(2) {
                    self.send(node, peer, NetMessage::SyncRequest { height });
                }
            }
        }
        Ok(())
    }

    /// Double-sign check of what an honest validator sends under its own key.
    fn record_signed(&mut self, node: usize, message: &ConsensusMessage) -> Result<(), Violation> {
        if !self.honest(node) || message.signer() != self.replicas[node].public {
            return Ok(());
        }
        match message {
            ConsensusMessage::Vote(v) => {
                let step = match v.vote.kind {
                    VoteKind::Prevote => "prevote",
                    VoteKind::Precommit => "precommit",
                };
                let value = v.vote.block.unwrap_or_else(nil_value);
                self.checker
                    .signed(v.vote.validator, v.vote.height, v.vote.round, step, value)
            }
            ConsensusMessage::Proposal { signed, .. } => {
                let p = &signed.proposal;
                self.checker
                    .signed(p.proposer, p.height, p.round, "proposal", p.block_hash)
            }
        }
    }

    fn decide(
        &mut self,
        node: usize,
        block: kp_consensus::SharedBlock,
        certificate: CommitCertificate,
    ) -> Result<(), Violation> {
        let mut block = std::sync::Arc::unwrap_or_clone(block);
        if let Some(BrokenRule::TamperDecision { height }) = self.cfg.broken {
            if node == 0 && block.header.height == height {
                let r = &self.replicas[0];
                block = r
                    .ledger
                    .build_block(r.public, block.header.time.plus_ms(1), &[]);
            }
        }
        let height = block.header.height;
        let mut writes = WriteSet::default();
        writes.put(block_key(height), kp_types::encode(&(&block, &certificate)));
        let honest = self.honest(node);
        let r = &mut self.replicas[node];
        let receipt = match r.ledger.apply_block(&block, writes) {
            Ok(receipt) => receipt,
            Err(e) if honest => {
                return Err(Violation::Validity {
                    height,
                    replica: node,
                    error: e.to_string(),
                })
            }
            Err(_) => return Ok(()),
        };
        let included: BTreeSet<Hash> = block.txs.iter().map(SignedTransaction::hash).collect();
        r.mempool.retain(|(h, _)| !included.contains(h));
        r.evidence_pool.retain(|h, _| !included.contains(h));
        let clock = genesis_time().plus_ms(self.now);
        r.mempool.retain(|(_, tx)| tx.tx.expires_at > clock);
        r.mempool_hashes = r.mempool.iter().map(|(h, _)| *h).collect();
        r.reindex_evidence();
        // Own evidence whose transaction left the mempool without landing
        // goes back in; evidence the ledger refuses now (recorded, or its
        // signer no longer a validator) is forgotten.
        let retry: Vec<(Hash, SignedTransaction)> = r
            .evidence_pool
            .iter()
            .filter(|(_, tx)| match &tx.tx.payload {
                Payload::SubmitEvidence(e) => !r.pending_evidence.contains(&e.id()),
                _ => false,
            })
            .map(|(h, tx)| (*h, tx.clone()))
            .collect();
        for (hash, tx) in retry {
            let r = &mut self.replicas[node];
            if r.ledger.check_tx(&tx, clock).is_err() {
                r.evidence_pool.remove(&hash);
            } else {
                self.mempool_add(node, tx);
            }
        }
        let r = &mut self.replicas[node];
        let incarnation = r.incarnation;
        self.trace = Hash::of_parts(
            Domain::Document,
            &[&self.trace.0, &receipt.block_hash.0, &receipt.state_root.0],
        );
        if honest {
            self.progressed = true;
            let first = self.checker.highest() < height;
            self.checker
                .applied(node, height, receipt.block_hash, receipt.state_root)?;
            for event in &receipt.events {
                match event {
                    LedgerEvent::EvidenceRecorded { id, .. } => {
                        self.recorded_evidence.insert(*id);
                    }
                    LedgerEvent::ValidatorSetChanged { .. } if first => {
                        self.validator_set_changes += 1
                    }
                    _ => {}
                }
            }
            if first {
                for tx in &receipt.receipts {
                    match tx.result {
                        Ok(()) => self.txs_accepted += 1,
                        Err(_) => self.txs_rejected += 1,
                    }
                }
            }
        }
        let (tip, peer) = self.replicas[node].sync_tip;
        if height < tip {
            // Catching up: no pause between heights, and fetch the next one
            // right away instead of waiting for consensus traffic.
            self.push(0, Event::NextHeight { node, incarnation });
            self.send(node, peer, NetMessage::SyncRequest { height: height + 1 });
        } else {
            self.push(
                self.cfg.commit_delay_ms,
                Event::NextHeight { node, incarnation },
            );
        }
        Ok(())
    }

    fn submit_evidence(&mut self, node: usize, evidence: Evidence) {
        if !self.honest(node) || !self.replicas[node].core.is_validator() {
            return;
        }
        let known = self.replicas[node]
            .pending_evidence
            .contains(&evidence.id());
        let expires_at = self.block_clock().plus_ms(30 * 60_000);
        let r = &mut self.replicas[node];
        r.nonce += 1;
        let tx = Transaction {
            chain_id: testkit::CHAIN_ID.to_string(),
            signer: r.public,
            nonce: (node as u64) << 40 | r.nonce,
            expires_at,
            payload: Payload::SubmitEvidence(evidence),
        }
        .sign(&r.key);
        r.evidence_pool.insert(tx.hash(), tx.clone());
        if !known {
            self.mempool_add(node, tx.clone());
            self.send_all(node, NetMessage::Tx(Box::new(tx)));
        }
    }
}
