//! Received messages: the checks that admit one, buffering for later heights,
//! answers to laggards, and the evidence of equivocation they reveal.

use super::{relay_helper, Action, Consensus};
use crate::message::{ConsensusMessage, MessageError};
use crate::votes::Inserted;
use crate::SharedBlock;
use kp_types::{Evidence, PublicKey, SignedProposal, SignedVote, VoteKind};

/// How a received message was admitted.
enum Admitted {
    Current,
    Buffered,
}

impl Consensus {
    /// Checks a received message without changing anything: what
    /// [`Input::Message`](super::Input::Message) does first. Hosts may use it
    /// to score peers.
    pub fn check(&self, message: &ConsensusMessage) -> Result<(), MessageError> {
        self.admit(message).map(|_| ())
    }

    fn admit(&self, message: &ConsensusMessage) -> Result<Admitted, MessageError> {
        if !self.started {
            return Err(MessageError::NotStarted);
        }
        if message.chain_id() != self.config.chain_id {
            return Err(MessageError::WrongChain {
                expected: self.config.chain_id.clone(),
                found: message.chain_id().to_string(),
            });
        }
        let (height, current) = (message.height(), self.safety.height);
        let signer = message.signer();
        if height < current || (height == current && self.decided) {
            return Err(MessageError::HeightPast { height, current });
        }
        if !self.validator_set.contains(&signer) {
            // For a later height this uses the current set: a validator that
            // joins at the next height is heard once that height starts.
            return Err(MessageError::NotAValidator { signer, height });
        }
        if height > current {
            self.verify_signature(message)?;
            if height - current > self.config.limits.future_heights_max {
                return Err(MessageError::HeightTooFar { height, current });
            }
            return Ok(Admitted::Buffered);
        }
        let (round, now) = (message.round(), self.safety.round);
        let limits = &self.config.limits;
        if round > now.saturating_add(limits.rounds_ahead_max)
            || round.saturating_add(limits.rounds_behind_max) < now
        {
            return Err(MessageError::RoundOutOfWindow {
                round,
                current: now,
            });
        }
        if let ConsensusMessage::Proposal { signed, block, pol } = message {
            if pol.len() > self.validators.len() {
                return Err(MessageError::PolTooLarge {
                    votes: pol.len(),
                    validators: self.validators.len(),
                });
            }
            let p = &signed.proposal;
            if self.proposer_of(p.round) != Some(signer) {
                return Err(MessageError::WrongProposer {
                    signer,
                    height,
                    round,
                });
            }
            if let Some(pol_round) = p.pol_round {
                if pol_round >= p.round {
                    return Err(MessageError::BadPolRound { round, pol_round });
                }
            }
            let found = block.hash();
            if found != p.block_hash
                || block.header.height != height
                || block.header.chain_id != self.config.chain_id
            {
                return Err(MessageError::BlockMismatch {
                    expected: p.block_hash,
                    found,
                });
            }
        }
        self.verify_signature(message)?;
        if let ConsensusMessage::Proposal { block, .. } = message {
            // After the signature, so that only a proposer's own header costs
            // this: a body altered on the way must not become "the block" of
            // that header, whose verdict is kept for the whole height (the
            // genuine copy, arriving later, would then be judged by it).
            if block.compute_txs_root() != block.header.txs_root {
                return Err(MessageError::BodyMismatch {
                    block_hash: block.hash(),
                });
            }
        }
        Ok(Admitted::Current)
    }

    fn verify_signature(&self, message: &ConsensusMessage) -> Result<(), MessageError> {
        let ok = match message {
            ConsensusMessage::Proposal { signed, .. } => signed.verify().is_ok(),
            ConsensusMessage::Vote(v) => v.verify().is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(MessageError::BadSignature {
                signer: message.signer(),
            })
        }
    }

    fn is_known(&self, message: &ConsensusMessage) -> bool {
        match message {
            ConsensusMessage::Vote(v) => self.votes.contains(v),
            ConsensusMessage::Proposal { signed, .. } => self
                .proposals
                .get(&signed.proposal.round)
                .is_some_and(|ps| ps.contains(signed)),
        }
    }

    pub(super) fn on_message(
        &mut self,
        from: PublicKey,
        message: ConsensusMessage,
        out: &mut Vec<Action>,
    ) -> Result<(), MessageError> {
        if self.started && message.height() == self.safety.height && self.is_known(&message) {
            // Cheap exit before signature checks: gossip delivers duplicates.
            // A known vote is authentic, and a re-sent one from an earlier
            // round is how a stuck laggard asks for help.
            self.answer_laggard(from, &message, out);
            return Err(MessageError::Duplicate);
        }
        let admitted = match self.admit(&message) {
            Ok(admitted) => admitted,
            Err(e @ MessageError::HeightTooFar { .. }) => {
                // A validator (signature checked) is far ahead: we missed
                // decisions and must fetch them rather than buffer.
                self.request_commit(out);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match admitted {
            Admitted::Buffered => self.buffer(message, out),
            Admitted::Current => {
                self.answer_laggard(from, &message, out);
                match message {
                    ConsensusMessage::Vote(vote) => self.on_vote(vote, out),
                    ConsensusMessage::Proposal { signed, block, pol } => {
                        self.on_pol(&signed, pol, out);
                        self.on_proposal(signed, block, out)
                    }
                }
                Ok(())
            }
        }
    }

    fn buffer(
        &mut self,
        message: ConsensusMessage,
        out: &mut Vec<Action>,
    ) -> Result<(), MessageError> {
        let cap = self.config.limits.future_messages_per_signer_max;
        let slot = self
            .future
            .entry(message.height())
            .or_default()
            .entry(message.signer())
            .or_default();
        let outcome = if slot.contains(&message) {
            Err(MessageError::Duplicate)
        } else if slot.len() >= cap {
            Err(MessageError::BufferFull)
        } else {
            slot.push(message);
            Ok(())
        };
        // A validator is already at a later height: we may have missed the
        // decision of ours. Asked again (at most once per rebroadcast
        // interval) even for a re-sent message, since that validator may be
        // the only one able to answer.
        self.request_commit(out);
        outcome
    }

    pub(super) fn request_commit(&mut self, out: &mut Vec<Action>) {
        if !self.commit_requested {
            self.commit_requested = true;
            out.push(Action::RequestCommit {
                height: self.safety.height,
            });
        }
    }

    /// A validator still voting in an earlier round of our height gets, once
    /// per rebroadcast interval, our own votes of the current round (with
    /// those of f+1 validators it skips ahead, L55) and, from f+1 of us
    /// (at least one correct), every vote we hold for its round, what it
    /// needs to finish that round. This is the state-based part of
    /// Tendermint's gossip, which the paper assumes.
    ///
    /// Only a vote that comes from its own signer (`from`) shows that the
    /// signer lags: a vote relayed in another laggard's answer is old news
    /// about its signer. Answering those too, and from every validator, made
    /// each answer start new ones; with 60 validators the network spent
    /// itself on answers and stopped deciding blocks.
    fn answer_laggard(
        &mut self,
        from: PublicKey,
        message: &ConsensusMessage,
        out: &mut Vec<Action>,
    ) {
        let ConsensusMessage::Vote(v) = message else {
            return;
        };
        let (peer, round) = (v.vote.validator, v.vote.round);
        if from != peer
            || round >= self.safety.round
            || peer == self.me
            || self.answered.get(&peer) == Some(&round)
        {
            return;
        }
        self.answered.insert(peer, round);
        if self.relays_for(peer, round) {
            for vote in self.votes.votes_in(round) {
                if vote.vote.validator != peer {
                    out.push(Action::SendTo(peer, ConsensusMessage::Vote(vote)));
                }
            }
        }
        for own in &self.safety.votes {
            out.push(Action::SendTo(peer, ConsensusMessage::Vote(own.clone())));
        }
    }

    /// Whether this node is one of the f+1 validators that relay votes of
    /// `round` to `laggard`: the ones following the laggard in validator
    /// order, starting `round` places further on, so the set rotates with
    /// the round and no fixed group of faulty validators can be the only
    /// helpers for long.
    fn relays_for(&self, laggard: PublicKey, round: u32) -> bool {
        relay_helper(&self.validators, self.me, laggard, round)
    }
    /// Counts the proof-of-lock prevotes carried by a proposal, each checked
    /// like any received vote.
    fn on_pol(&mut self, signed: &SignedProposal, pol: Vec<SignedVote>, out: &mut Vec<Action>) {
        let Some(vr) = signed.proposal.pol_round else {
            return;
        };
        for vote in pol {
            let v = &vote.vote;
            let fits = v.kind == VoteKind::Prevote
                && v.round == vr
                && v.block == Some(signed.proposal.block_hash)
                && v.height == self.safety.height;
            if !fits || self.votes.contains(&vote) {
                continue;
            }
            if self.check(&ConsensusMessage::Vote(vote.clone())).is_ok() {
                self.on_vote(vote, out);
            }
        }
    }

    fn on_vote(&mut self, vote: SignedVote, out: &mut Vec<Action>) {
        if let Inserted::Equivocation(evidence) = self.votes.insert(vote) {
            self.record_evidence(*evidence, out);
        }
    }

    fn on_proposal(&mut self, signed: SignedProposal, block: SharedBlock, out: &mut Vec<Action>) {
        let round = signed.proposal.round;
        let cap = self.config.limits.proposals_per_round_max;
        let kept = self.proposals.entry(round).or_default();
        let first = kept.first().cloned();
        if kept.len() >= cap {
            // Already at the bound: this can only be a further equivocation.
            if let Some(first) = first {
                self.record_evidence(
                    Evidence::DuplicateProposal {
                        first,
                        second: signed,
                    },
                    out,
                );
            }
            return;
        }
        kept.push(signed.clone());
        if let Some(first) = first {
            self.record_evidence(
                Evidence::DuplicateProposal {
                    first,
                    second: signed,
                },
                out,
            );
        }
        let hash = block.hash();
        self.blocks.entry(hash).or_insert_with(|| block.clone());
        if !self.validity.contains_key(&hash) {
            out.push(Action::ValidateBlock {
                height: self.safety.height,
                block,
            });
        }
    }

    fn record_evidence(&mut self, evidence: Evidence, out: &mut Vec<Action>) {
        let id = evidence.id();
        if !self.evidence_seen.insert(id) {
            return;
        }
        self.evidence_order.push_back(id);
        while self.evidence_order.len() > self.config.limits.evidence_held_max {
            if let Some(old) = self.evidence_order.pop_front() {
                self.evidence_seen.remove(&old);
            }
        }
        out.push(Action::Evidence(evidence));
    }
}
