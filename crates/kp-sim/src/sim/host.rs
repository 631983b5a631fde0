//! Each simulated node as a host of the shipped [`kp_replica::Replica`]: it
//! hands the replica its events with the simulated time, then carries out
//! every [`Ready`] batch in the order the type states (the safety state
//! persisted, with the double-sign check; a decided block applied with its
//! stored copy; messages sent, through the byzantine rewrites and the crash
//! between persisting a vote and sending it; timers scheduled in simulated
//! time; evidence gossiped; the replica's block requests sent). It also does
//! what the node's shell does around the replica: announce the blocks it
//! proposed, and answer peers' block requests from its store. When and whom
//! to ask for blocks is the replica's (as in the node).

use super::network::NetMessage;
use super::queue::Event;
use super::Sim;
use crate::check::Violation;
use crate::config::{BrokenRule, Byzantine};
use kp_consensus::{ConsensusMessage, SharedBlock};
use kp_ledger::LedgerEvent;
use kp_replica::{Event as ReplicaEvent, Outgoing, Ready, SubmitError};
use kp_types::{CommitCertificate, Domain, Hash, SignedTransaction, VoteKind};

fn nil_value() -> Hash {
    Hash::of(Domain::Document, b"kp-sim nil vote")
}

impl Sim {
    /// Starts a node's replica: it runs the height after its last block.
    /// Every other node counts as connected (a partition drops messages,
    /// and unanswered block requests time out).
    pub(super) fn start(&mut self, node: usize) -> Result<(), Violation> {
        let peers: Vec<_> = (0..self.replicas.len())
            .filter(|p| *p != node)
            .map(|p| self.replicas[p].public)
            .collect();
        for peer in peers {
            self.handle(node, ReplicaEvent::PeerConnected(peer))?;
        }
        self.handle(node, ReplicaEvent::Start)
    }

    /// Hands one event to a live node's replica and carries out its work.
    pub(super) fn handle(&mut self, node: usize, event: ReplicaEvent) -> Result<(), Violation> {
        if !self.replicas[node].alive {
            return Ok(());
        }
        let now = self.block_clock();
        self.replicas[node].replica.handle(event, now);
        self.drain(node)
    }

    /// Carries out the replica's batches until it has none (or the node crashed).
    pub(super) fn drain(&mut self, node: usize) -> Result<(), Violation> {
        while self.replicas[node].alive {
            let Some(ready) = self.replicas[node].replica.ready() else {
                break;
            };
            self.carry_out(node, ready)?;
        }
        Ok(())
    }

    /// Hands a transaction from a client or a peer to `node`'s replica, and
    /// carries out what follows (it may wake an idle network). The inner
    /// result says whether the replica took it.
    pub(super) fn submit_to(
        &mut self,
        node: usize,
        tx: SignedTransaction,
    ) -> Result<Result<(), SubmitError>, Violation> {
        let now = self.block_clock();
        let hash = tx.hash();
        let submitted = self.replicas[node].replica.submit(tx, hash, false, now);
        self.drain(node)?;
        Ok(submitted)
    }

    fn carry_out(&mut self, node: usize, ready: Ready) -> Result<(), Violation> {
        if let Some(state) = ready.safety {
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
        if let Some((block, certificate)) = ready.decided {
            self.decide(node, block, certificate)?;
        }
        for message in ready.messages {
            match message {
                Outgoing::Broadcast(message) => {
                    self.record_signed(node, &message)?;
                    if self.crash_before_send(node, &message) {
                        // Crashed in the middle of the batch: the rest is lost.
                        return Ok(());
                    }
                    self.outgoing(node, None, message);
                }
                Outgoing::To(to_key, message) => {
                    self.record_signed(node, &message)?;
                    if let Some(to) = self.replicas.iter().position(|r| r.public == to_key) {
                        self.outgoing(node, Some(to), message);
                    }
                }
            }
        }
        let incarnation = self.replicas[node].incarnation;
        for (after_ms, timer) in ready.timers {
            self.push(
                after_ms,
                Event::Timer {
                    node,
                    incarnation,
                    timer,
                },
            );
        }
        // Evidence this replica signed and pooled (a byzantine validator's
        // is not gossiped). It is not kept anywhere durable: like the node,
        // a replica that crashes loses the evidence still in its pool.
        if self.honest(node) {
            for tx in ready.gossip {
                self.send_all(node, NetMessage::Tx(Box::new(tx)));
            }
        }
        if let Some(request) = ready.sync_request {
            if let Some(peer) = self.replicas.iter().position(|r| r.public == request.peer) {
                let message = NetMessage::SyncRequest {
                    from_height: request.from_height,
                    max: request.max,
                };
                self.send(node, peer, message);
            }
        }
        if self.debug {
            for note in ready.notes {
                eprintln!("t={} replica {node}: {note:?}", self.now);
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

    /// Applies a decided block through the replica (with its stored copy in
    /// the same commit), checks it against the other honest replicas, and
    /// does what the node's shell does after a block.
    fn decide(
        &mut self,
        node: usize,
        block: SharedBlock,
        mut certificate: CommitCertificate,
    ) -> Result<(), Violation> {
        let mut block = std::sync::Arc::unwrap_or_clone(block);
        if let Some(BrokenRule::TamperDecision { height }) = self.cfg.broken {
            if node == 0 && block.header.height == height {
                let r = &self.replicas[0];
                block = r
                    .ledger()
                    .build_block(r.public, block.header.time.plus_ms(1), &[]);
                // The bug stores what it applied under the decision.
                certificate.block_hash = block.hash();
            }
        }
        let height = block.header.height;
        let honest = self.honest(node);
        // As the node does: the block with its certificate, receipts and
        // index entries (kp_chain's layout) and the state, in one commit.
        let stored = self.replicas[node]
            .replica
            .store_decided(&block, &certificate)
            .map_err(|e| e.to_string());
        let receipt = match stored {
            Ok(receipt) => receipt,
            Err(error) if honest => {
                return Err(Violation::Validity {
                    height,
                    replica: node,
                    error,
                })
            }
            Err(_) => return Ok(()),
        };
        self.applied(node, block, certificate, receipt)
    }

    /// What follows a block's durable commit: the checks against the other
    /// honest replicas, the counters, and what the node's shell does (a
    /// proposer announces its block).
    pub(super) fn applied(
        &mut self,
        node: usize,
        block: kp_types::Block,
        certificate: CommitCertificate,
        receipt: kp_ledger::BlockReceipt,
    ) -> Result<(), Violation> {
        let height = block.header.height;
        let honest = self.honest(node);
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
                self.decided_at
                    .push((height, self.now, certificate.round, block.txs.len()));
                for tx in &receipt.receipts {
                    match tx.result {
                        Ok(()) => self.txs_accepted += 1,
                        Err(_) => self.txs_rejected += 1,
                    }
                    if let Some(at) = self.submitted_at.remove(&tx.tx_hash) {
                        self.finality_ms.push(self.now.saturating_sub(at));
                    }
                }
            }
        }
        // The node announces the blocks it proposed, so that observers and
        // laggards follow without asking.
        let silent = self.replicas[node].byzantine == Some(Byzantine::Silent);
        if block.header.proposer == self.replicas[node].public && !silent {
            let (block, certificate) = self.served(node, block, certificate);
            let announce = NetMessage::Block {
                block: Box::new(block),
                certificate: Box::new(certificate),
            };
            self.send_all(node, announce);
        }
        Ok(())
    }
}
