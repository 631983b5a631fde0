//! Byzantine behaviours: what a byzantine validator sends instead of what
//! its core asked for (silence, garbage, stale replays, equivocation,
//! echoes), and the lying blocks a lying sync peer serves. Every byzantine
//! validator's replica also stuffs its proposals with rule-breaking
//! transactions ([`kp_replica::Replica::stuff_proposals`]).

use super::network::NetMessage;
use super::Sim;
use crate::config::Byzantine;
use crate::fixture;
use kp_consensus::ConsensusMessage;
use kp_types::{Block, CommitCertificate, Domain, Evidence, Hash, Vote, VoteKind};
use rand::Rng;

fn slot_kind(kind: VoteKind) -> u8 {
    match kind {
        VoteKind::Prevote => 1,
        VoteKind::Precommit => 2,
    }
}

impl Sim {
    /// Hands the current junk (well-signed, rule-breaking transactions) to
    /// every byzantine validator's replica, whose proposals then carry one
    /// or two of them. Such a block is still valid (`valid(v)` does not
    /// judge ledger rules); the ledger keeps them with rejection receipts.
    pub(super) fn hand_out_junk(&mut self) {
        let junk: Vec<_> = self.junk.iter().cloned().collect();
        for r in self.replicas.iter_mut().filter(|r| r.byzantine.is_some()) {
            r.replica.stuff_proposals(junk.clone());
        }
    }

    /// What `node` sends for a decided block it holds (a sync answer, or the
    /// announcement of a block it proposed): the block, or a lie from a
    /// lying sync peer (another block, or a certificate that does not
    /// decide it).
    pub(super) fn served(
        &mut self,
        node: usize,
        mut block: Block,
        mut certificate: CommitCertificate,
    ) -> (Block, CommitCertificate) {
        if self.replicas[node].byzantine == Some(Byzantine::LyingSyncPeer) {
            match self.rng.gen_range(0..3) {
                // Another block under the real certificate.
                0 => block.header.time = block.header.time.plus_ms(1),
                // Another block, and the certificate made to name it (its
                // signatures are for the real one).
                1 => {
                    block.header.time = block.header.time.plus_ms(1);
                    certificate.block_hash = block.hash();
                }
                // The real block, under a certificate short of a quorum.
                _ => certificate.signatures.truncate(1),
            }
        }
        (block, certificate)
    }

    pub(super) fn outgoing(&mut self, node: usize, to: Option<usize>, message: ConsensusMessage) {
        let behaviour = self.replicas[node].byzantine;
        let own = message.signer() == self.replicas[node].public;
        let bytes = message.encode();
        let targets: Vec<usize> = match to {
            Some(t) => vec![t],
            None => (0..self.replicas.len()).filter(|p| *p != node).collect(),
        };
        match behaviour {
            None => {
                for t in targets {
                    self.send(node, t, NetMessage::Consensus(bytes.clone()));
                }
            }
            Some(Byzantine::Silent) => {}
            Some(Byzantine::GarbageSender) => {
                for t in targets {
                    let len = self.rng.gen_range(1..256);
                    let noise: Vec<u8> = (0..len).map(|_| self.rng.gen()).collect();
                    self.send(node, t, NetMessage::Consensus(noise));
                    let mut corrupt = bytes.clone();
                    let at = self.rng.gen_range(0..corrupt.len());
                    corrupt[at] ^= 1 << self.rng.gen_range(0..8);
                    self.send(node, t, NetMessage::Consensus(corrupt));
                }
            }
            Some(Byzantine::StaleReplayer) => {
                for t in targets {
                    self.send(node, t, NetMessage::Consensus(bytes.clone()));
                }
                let log_len = self.replicas[node].replay_log.len();
                if log_len > 0 {
                    for _ in 0..3 {
                        let old =
                            self.replicas[node].replay_log[self.rng.gen_range(0..log_len)].clone();
                        let peer = self.rng.gen_range(0..self.replicas.len());
                        self.send(node, peer, NetMessage::Consensus(old));
                    }
                }
            }
            Some(b) => {
                let pair = if own && to.is_none() {
                    self.conflicting_pair(node, b, &message)
                } else {
                    None
                };
                let echo_vote =
                    b == Byzantine::Echo && matches!(message, ConsensusMessage::Vote(_));
                match pair {
                    // Colluding byzantine validators split the honest ones in
                    // two halves (the strongest split), and see the first.
                    Some((first, second)) => {
                        let mut honest_seen = 0;
                        for t in targets {
                            let half = if self.honest(t) {
                                honest_seen += 1;
                                if honest_seen % 2 == 1 {
                                    &first
                                } else {
                                    &second
                                }
                            } else {
                                &first
                            };
                            self.send(node, t, NetMessage::Consensus(half.clone()));
                        }
                    }
                    // The echo validator's own votes stay home: it only
                    // agrees with whoever it hears.
                    None if echo_vote && own => {}
                    None => {
                        for t in targets {
                            self.send(node, t, NetMessage::Consensus(bytes.clone()));
                        }
                    }
                }
            }
        }
    }

    /// The pair of conflicting encodings an equivocating validator sends for
    /// this message's slot (made once per slot, then repeated).
    fn conflicting_pair(
        &mut self,
        node: usize,
        behaviour: Byzantine,
        message: &ConsensusMessage,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let (slot, second) = match (behaviour, message) {
            (
                Byzantine::EquivocatingProposer | Byzantine::Echo,
                ConsensusMessage::Proposal { signed, block, pol },
            ) => {
                let slot = (signed.proposal.height, signed.proposal.round, 0u8);
                if let Some(pair) = self.replicas[node].pairs.get(&slot) {
                    return Some(pair.clone());
                }
                let mut other = (**block).clone();
                other.header.time = other.header.time.plus_ms(1);
                let mut proposal = signed.proposal.clone();
                proposal.block_hash = other.hash();
                let second = ConsensusMessage::Proposal {
                    signed: proposal.sign(&self.replicas[node].key),
                    block: std::sync::Arc::new(other),
                    pol: pol.clone(),
                };
                (slot, second)
            }
            (Byzantine::DoubleVoter, ConsensusMessage::Vote(v)) => {
                let slot = (v.vote.height, v.vote.round, slot_kind(v.vote.kind));
                if let Some(pair) = self.replicas[node].pairs.get(&slot) {
                    return Some(pair.clone());
                }
                let mut vote: Vote = v.vote.clone();
                vote.block = match vote.block {
                    Some(_) => None,
                    None => Some(fixture::phantom_block()),
                };
                (
                    slot,
                    ConsensusMessage::Vote(vote.sign(&self.replicas[node].key)),
                )
            }
            _ => return None,
        };
        let first = message.encode();
        let second_bytes = second.encode();
        self.register_pair(message, &second, &first, &second_bytes);
        self.replicas[node]
            .pairs
            .insert(slot, (first.clone(), second_bytes.clone()));
        Some((first, second_bytes))
    }

    fn register_pair(
        &mut self,
        a: &ConsensusMessage,
        b: &ConsensusMessage,
        a_bytes: &[u8],
        b_bytes: &[u8],
    ) {
        let evidence = match (a, b) {
            (ConsensusMessage::Vote(first), ConsensusMessage::Vote(second)) => {
                Evidence::DuplicateVote {
                    first: first.clone(),
                    second: second.clone(),
                }
            }
            (
                ConsensusMessage::Proposal { signed: first, .. },
                ConsensusMessage::Proposal { signed: second, .. },
            ) => Evidence::DuplicateProposal {
                first: first.clone(),
                second: second.clone(),
            },
            _ => return,
        };
        let id = evidence.id();
        self.injected.insert(id, evidence.offender());
        self.halves
            .insert(Hash::of(Domain::Document, a_bytes), (id, 0));
        self.halves
            .insert(Hash::of(Domain::Document, b_bytes), (id, 1));
    }

    /// The echo behaviour: agree with every voter by signing its value back.
    pub(super) fn echo(&mut self, node: usize, message: &ConsensusMessage) {
        let ConsensusMessage::Vote(v) = message else {
            return;
        };
        if v.vote.validator == self.replicas[node].public {
            return;
        }
        let slot = (v.vote.height, v.vote.round, slot_kind(v.vote.kind));
        let values = self.replicas[node].echoed.entry(slot).or_default();
        if values.len() >= 4 || !values.insert(v.vote.block) {
            return;
        }
        let first_value = values.iter().next().copied().flatten();
        let conflicting = values.len() > 1;
        let mut vote = v.vote.clone();
        vote.validator = self.replicas[node].public;
        let echo = ConsensusMessage::Vote(vote.clone().sign(&self.replicas[node].key));
        if conflicting {
            let mut first = vote;
            first.block = first_value;
            let first = ConsensusMessage::Vote(first.sign(&self.replicas[node].key));
            let (fb, eb) = (first.encode(), echo.encode());
            self.register_pair(&first, &echo, &fb, &eb);
        }
        if let Some(to) = self
            .replicas
            .iter()
            .position(|r| r.public == v.vote.validator)
        {
            self.send(node, to, NetMessage::Consensus(echo.encode()));
        }
    }
}
