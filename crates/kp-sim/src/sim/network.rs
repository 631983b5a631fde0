//! The simulated network: latency, jitter, loss, duplication and partitions
//! on every send, gossip relay with duplicate suppression, transaction
//! gossip, and block sync (answers and proposers' announcements).

use super::queue::Event;
use super::{stored_block, Sim, GOSSIP_DEDUP_WINDOW_MS, REPLAY_LOG_MAX, SEEN_MESSAGES_MAX};
use crate::check::Violation;
use crate::config::{BrokenRule, Byzantine};
use kp_consensus::ConsensusMessage;
use kp_replica::{Event as ReplicaEvent, SyncRefusal, VerifiedSignatures};
use kp_types::{Block, CommitCertificate, Domain, Hash, SignedTransaction};
use rand::Rng;

/// What travels between replicas.
#[derive(Clone, Debug)]
pub(super) enum NetMessage {
    /// An encoded [`ConsensusMessage`] (decoded defensively on receipt).
    Consensus(Vec<u8>),
    /// Block sync: "send me the decided blocks from this height on".
    SyncRequest { from_height: u64, max: u32 },
    /// The answer: consecutive decided blocks with their certificates
    /// (empty if the peer has none from there).
    SyncAnswer {
        blocks: Vec<(Block, CommitCertificate)>,
    },
    /// The announcement of a decided block by the proposer that applied it.
    Block {
        block: Box<Block>,
        certificate: Box<CommitCertificate>,
    },
    /// Transaction gossip.
    Tx(Box<SignedTransaction>),
}

impl Sim {
    pub(super) fn send(&mut self, from: usize, to: usize, message: NetMessage) {
        if from == to {
            return;
        }
        if !self.healed {
            if self.blocked.contains(&(from, to)) {
                return;
            }
            if self.rng.gen_range(0..1000) < self.cfg.faults.loss_permille {
                return;
            }
        }
        let base = self
            .cfg
            .latency_table
            .as_ref()
            .and_then(|t| t.get(from)?.get(to).copied())
            .unwrap_or(self.cfg.faults.latency_ms);
        let delay = base + self.rng.gen_range(0..=self.cfg.faults.jitter_ms);
        let duplicate =
            !self.healed && self.rng.gen_range(0..1000) < self.cfg.faults.duplicate_permille;
        if duplicate {
            let again = base + self.rng.gen_range(0..=self.cfg.faults.jitter_ms * 2);
            self.push(
                again,
                Event::Deliver {
                    to,
                    from,
                    message: message.clone(),
                },
            );
        }
        self.push(delay, Event::Deliver { to, from, message });
    }

    pub(super) fn send_all(&mut self, from: usize, message: NetMessage) {
        for to in 0..self.replicas.len() {
            self.send(from, to, message.clone());
        }
    }

    pub(super) fn deliver(
        &mut self,
        to: usize,
        from: usize,
        message: NetMessage,
    ) -> Result<(), Violation> {
        if !self.replicas[to].alive {
            return Ok(());
        }
        match message {
            NetMessage::Consensus(bytes) => self.deliver_consensus(to, from, bytes),
            NetMessage::SyncRequest { from_height, max } => {
                // Answered from the store, as the node does.
                let mut blocks = Vec::new();
                for height in from_height..from_height.saturating_add(u64::from(max)) {
                    let Some((block, certificate)) =
                        stored_block(self.replicas[to].ledger().store(), height)
                    else {
                        break;
                    };
                    blocks.push(self.served(to, block, certificate));
                }
                self.send(to, from, NetMessage::SyncAnswer { blocks });
                Ok(())
            }
            NetMessage::SyncAnswer { blocks } => {
                let now = self.block_clock();
                let peer = self.replicas[from].public;
                let blocks = self.replicas[to]
                    .replica
                    .sync_answered(peer, Some(blocks), now);
                self.drain(to)?;
                self.catch_up(to, from, blocks)
            }
            NetMessage::Block { block, certificate } => {
                let height = block.header.height;
                let next = self.replicas[to].ledger().height() + 1;
                if height > next {
                    // This node missed blocks, which the sender has.
                    let peer = self.replicas[from].public;
                    self.handle(to, ReplicaEvent::PeerAhead(peer))
                } else {
                    self.deliver_block(to, from, *block, *certificate)
                        .map(|_| ())
                }
            }
            NetMessage::Tx(tx) => {
                // Only validators propose, so only they pool others'
                // transactions (as the node does).
                if self.replicas[to].replica.is_validator() {
                    let _ = self.submit_to(to, *tx)?;
                }
                Ok(())
            }
        }
    }

    /// A decided block from a peer goes to the replica, which checks its
    /// certificate and the block before taking it. Returns whether it was
    /// taken.
    pub(super) fn deliver_block(
        &mut self,
        to: usize,
        from: usize,
        block: Block,
        certificate: CommitCertificate,
    ) -> Result<bool, Violation> {
        if !self.replicas[to].alive {
            return Ok(false);
        }
        let height = block.header.height;
        let now = self.block_clock();
        let taken =
            self.replicas[to]
                .replica
                .synced(block, certificate, &VerifiedSignatures::new(), now);
        match taken {
            Ok(_) => {
                self.drain(to)?;
                Ok(true)
            }
            Err(refusal) => self.sync_refused(to, from, height, refusal).map(|_| false),
        }
    }

    /// A block from `from` that `to` did not take: a violation if both are
    /// honest (an honest peer serves what was decided), else counted.
    pub(super) fn sync_refused(
        &mut self,
        to: usize,
        from: usize,
        height: u64,
        refusal: SyncRefusal,
    ) -> Result<(), Violation> {
        if matches!(refusal, SyncRefusal::NotNext { .. }) || !self.honest(to) {
            return Ok(());
        }
        // Replica 0 serves the block it tampered with under a broken rule;
        // any other honest peer serves what was decided.
        let tampering = matches!(self.cfg.broken, Some(BrokenRule::TamperDecision { .. }));
        if self.honest(from) && !(tampering && from == 0) {
            return Err(Violation::SyncRefused {
                height,
                replica: to,
                from,
                error: refusal.to_string(),
            });
        }
        self.sync_refused += 1;
        if self.debug {
            eprintln!(
                "t={} replica {to} refused a block from {from}: {refusal}",
                self.now
            );
        }
        Ok(())
    }

    fn deliver_consensus(
        &mut self,
        to: usize,
        from: usize,
        bytes: Vec<u8>,
    ) -> Result<(), Violation> {
        let digest = Hash::of(Domain::Document, &bytes);
        self.trace = Hash::of_parts(Domain::Document, &[&self.trace.0, &digest.0]);
        // The seen-set decides whether to relay, and drops copies that come
        // within a short window of the last one handed to the core (gossip
        // echoes). Later copies (a peer's periodic re-send) reach the core
        // again: it may need them now (a new height), or answer them (a
        // laggard asking for help, a validator ahead of us).
        let first_sight = {
            let now = self.now;
            let r = &mut self.replicas[to];
            match r.seen.get(&digest).copied() {
                Some(then) if now.saturating_sub(then) < GOSSIP_DEDUP_WINDOW_MS => return Ok(()),
                Some(_) => {
                    r.seen.insert(digest, now);
                    false
                }
                None => {
                    r.seen.insert(digest, now);
                    r.seen_order.push_back(digest);
                    if r.seen_order.len() > SEEN_MESSAGES_MAX {
                        if let Some(old) = r.seen_order.pop_front() {
                            r.seen.remove(&old);
                        }
                    }
                    true
                }
            }
        };
        let core_height = self.replicas[to].replica.consensus().height();
        let Ok(message) = ConsensusMessage::decode(&bytes) else {
            return Ok(()); // garbage: dropped before it reaches the core
        };
        match self.replicas[to].byzantine {
            None => {
                // Gossip: an honest node relays what is new and current, as
                // gossipsub would, so that every equivocation reaches someone
                // with both halves.
                if first_sight && message.height() >= core_height {
                    for peer in 0..self.replicas.len() {
                        if peer != from && peer != to {
                            self.send(to, peer, NetMessage::Consensus(bytes.clone()));
                        }
                    }
                }
                self.observe_half(to, digest, &message);
            }
            Some(Byzantine::StaleReplayer) => {
                let r = &mut self.replicas[to];
                r.replay_log.push_back(bytes.clone());
                if r.replay_log.len() > REPLAY_LOG_MAX {
                    r.replay_log.pop_front();
                }
            }
            Some(Byzantine::Echo) => self.echo(to, &message),
            Some(_) => {}
        }
        let sender = self.replicas[from].public;
        self.handle(
            to,
            ReplicaEvent::Message {
                from: sender,
                message,
            },
        )
    }

    /// Tracks which halves of injected equivocations an honest validator's
    /// core admitted at the height they are for.
    fn observe_half(&mut self, to: usize, digest: Hash, message: &ConsensusMessage) {
        let Some((id, half)) = self.halves.get(&digest).copied() else {
            return;
        };
        let core = self.replicas[to].replica.consensus();
        let admitted = core.is_validator()
            && core.height() == message.height()
            && !core.is_decided()
            && core.check(message).is_ok();
        if !admitted {
            return;
        }
        let halves = self.received_halves.entry((id, to)).or_default();
        halves.insert(half);
        if halves.len() == 2 {
            self.observed.entry(id).or_default().insert(to);
        }
    }
}
