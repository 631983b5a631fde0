//! The upon rules of Algorithm 1 (L22–L56), fired by `Consensus::progress`
//! until none holds.

use super::{Action, Consensus, TimeoutKind};
use crate::safety::{RoundValue, Step};
use kp_types::consensus::faults_tolerated;
use kp_types::{CommitCertificate, Hash, SignedProposal, VoteKind};
use std::collections::BTreeSet;

/// Upper bound on rule firings while processing one input. Each rule fires at
/// most once per round and step, and a round skip is followed by at most a
/// handful of firings, so a correct run never comes near it; the bound makes
/// the loop terminate even if a future change breaks that reasoning.
const PROGRESS_STEPS_MAX: usize = 64;

impl Consensus {
    /// Fires every rule whose condition holds until none does.
    pub(super) fn progress(&mut self, out: &mut Vec<Action>) {
        for _ in 0..PROGRESS_STEPS_MAX {
            if !self.started || self.decided || self.validators.is_empty() {
                return;
            }
            if self.try_decide(out) {
                return;
            }
            let fired = self.try_skip_round(out)
                || self.try_prevote_on_proposal(out)
                || self.try_schedule_prevote_timeout(out)
                || self.try_lock(out)
                || self.try_precommit_nil(out)
                || self.try_schedule_precommit_timeout(out);
            if !fired {
                return;
            }
        }
    }

    /// The first proposal of the current round with a known validity.
    fn current_proposal(&self) -> Option<(SignedProposal, bool)> {
        let first = self.proposals.get(&self.safety.round)?.first()?.clone();
        let valid = *self.validity.get(&first.proposal.block_hash)?;
        Some((first, valid))
    }

    fn is_locked_on(&self, hash: Hash) -> bool {
        self.safety
            .locked
            .as_ref()
            .is_some_and(|l| l.block.hash() == hash)
    }

    /// L22–L27 and L28–L33: prevote on the round's proposal.
    fn try_prevote_on_proposal(&mut self, out: &mut Vec<Action>) -> bool {
        if self.safety.step != Step::Propose {
            return false;
        }
        let Some((signed, valid)) = self.current_proposal() else {
            return false;
        };
        let hash = signed.proposal.block_hash;
        let vote_for = match signed.proposal.pol_round {
            // L22–L23
            None => valid && (self.safety.locked.is_none() || self.is_locked_on(hash)),
            // L28–L29
            Some(vr) => {
                if vr >= self.safety.round
                    || self.votes.count(vr, VoteKind::Prevote, Some(hash)) < self.quorum()
                {
                    return false;
                }
                let locked_round_ok = self.safety.locked.as_ref().is_none_or(|l| l.round <= vr);
                valid && (locked_round_ok || self.is_locked_on(hash))
            }
        };
        // L24/L26, L30/L32
        self.vote(VoteKind::Prevote, vote_for.then_some(hash), out);
        self.safety.step = Step::Prevote; // L27, L33
        self.dirty = true;
        true
    }

    /// L34–L35.
    fn try_schedule_prevote_timeout(&mut self, out: &mut Vec<Action>) -> bool {
        if self.safety.step != Step::Prevote
            || self.flags.prevote_timeout_scheduled
            || self.votes.count_any(self.safety.round, VoteKind::Prevote) < self.quorum()
        {
            return false;
        }
        self.flags.prevote_timeout_scheduled = true;
        self.schedule(out, TimeoutKind::Prevote, self.safety.round);
        true
    }

    /// L36–L43: a quorum of prevotes for the round's valid proposal locks it.
    fn try_lock(&mut self, out: &mut Vec<Action>) -> bool {
        if self.safety.step < Step::Prevote || self.flags.valid_value_updated {
            return false;
        }
        let round = self.safety.round;
        let Some(hash) = self
            .votes
            .block_with_quorum(round, VoteKind::Prevote, self.quorum())
        else {
            return false;
        };
        let proposed = self
            .proposals
            .get(&round)
            .is_some_and(|ps| ps.iter().any(|p| p.proposal.block_hash == hash));
        if !proposed || self.validity.get(&hash) != Some(&true) {
            return false;
        }
        let Some(block) = self.blocks.get(&hash).cloned() else {
            return false;
        };
        self.flags.valid_value_updated = true;
        if self.safety.step == Step::Prevote {
            // L37
            self.safety.locked = Some(RoundValue {
                round,
                block: block.clone(),
            }); // L38–L39
            self.dirty = true;
            self.vote(VoteKind::Precommit, Some(hash), out); // L40
            self.safety.step = Step::Precommit; // L41
        }
        self.safety.valid = Some(RoundValue { round, block }); // L42–L43
        self.safety.valid_pol = self.votes.votes_for(round, VoteKind::Prevote, hash);
        self.dirty = true;
        true
    }

    /// L44–L46.
    fn try_precommit_nil(&mut self, out: &mut Vec<Action>) -> bool {
        if self.safety.step != Step::Prevote
            || self.votes.count(self.safety.round, VoteKind::Prevote, None) < self.quorum()
        {
            return false;
        }
        self.vote(VoteKind::Precommit, None, out); // L45
        self.safety.step = Step::Precommit; // L46
        self.dirty = true;
        true
    }

    /// L47–L48.
    fn try_schedule_precommit_timeout(&mut self, out: &mut Vec<Action>) -> bool {
        if self.flags.precommit_timeout_scheduled
            || self.votes.count_any(self.safety.round, VoteKind::Precommit) < self.quorum()
        {
            return false;
        }
        self.flags.precommit_timeout_scheduled = true;
        self.schedule(out, TimeoutKind::Precommit, self.safety.round);
        true
    }

    /// L49–L54: a quorum of precommits for a valid block we hold decides it.
    fn try_decide(&mut self, out: &mut Vec<Action>) -> bool {
        let q = self.quorum();
        for round in self.votes.rounds() {
            let Some(hash) = self.votes.block_with_quorum(round, VoteKind::Precommit, q) else {
                continue;
            };
            let Some(block) = self.blocks.get(&hash).cloned() else {
                // Decided by the others, but the block never reached us.
                self.request_commit(out);
                continue;
            };
            if self.validity.get(&hash) != Some(&true) {
                continue; // L50: wait for the host's verdict
            }
            let certificate = CommitCertificate {
                chain_id: self.config.chain_id.clone(),
                height: self.safety.height,
                round,
                block_hash: hash,
                signatures: self.votes.commit_signatures(round, hash),
            };
            self.decided = true; // L51
            out.push(Action::Decide { block, certificate });
            return true;
        }
        false
    }

    /// L55–L56: f+1 validators already in a later round pull us there.
    fn try_skip_round(&mut self, out: &mut Vec<Action>) -> bool {
        let needed = faults_tolerated(self.validators.len()) + 1;
        let current = self.safety.round;
        let mut target = None;
        let mut rounds: BTreeSet<u32> = self.votes.rounds().into_iter().collect();
        rounds.extend(self.proposals.keys().copied());
        for round in rounds.into_iter().filter(|r| *r > current) {
            let mut senders = self.votes.voters(round);
            if let Some(ps) = self.proposals.get(&round) {
                senders.extend(ps.iter().map(|p| p.proposal.proposer));
            }
            if senders.len() >= needed {
                target = Some(round);
            }
        }
        match target {
            Some(round) => {
                self.start_round(round, out);
                true
            }
            None => false,
        }
    }
}
