//! The safety state: everything a validator must remember across a crash so
//! that it never signs two different messages for one height, round and step,
//! and never abandons a lock it still owes.
//!
//! The host makes it durable whenever the core emits
//! [`crate::Action::PersistSafety`], *before* executing any later action of the
//! same batch; every signed message the core sends comes after the persist
//! that records it, so a restarted node finds in its safety state every vote
//! and proposal it may already have sent.

use crate::SharedBlock;
use kp_types::{EncodingError, Hash, SignedProposal, SignedVote, VoteKind};
use serde::{Deserialize, Serialize};

/// The step of a round (the paper's `step_p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Waiting for the proposal.
    Propose,
    /// Prevoted; waiting for prevotes.
    Prevote,
    /// Precommitted; waiting for precommits.
    Precommit,
}

/// A value with the round in which it became locked or valid
/// (`lockedValue_p`/`lockedRound_p`, `validValue_p`/`validRound_p`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundValue {
    /// The round.
    pub round: u32,
    /// The block.
    pub block: SharedBlock,
}

/// What must survive a crash. `height`, `round` and `step` only grow while the
/// node runs; `votes` and `proposal` are the messages this node signed in
/// `round` of `height` (earlier rounds need no record, because the core never
/// signs anything for a round below its current one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyState {
    /// `h_p`.
    pub height: u64,
    /// `round_p`.
    pub round: u32,
    /// `step_p`.
    pub step: Step,
    /// `lockedValue_p`, `lockedRound_p` (`None` is the paper's `nil`, `-1`).
    pub locked: Option<RoundValue>,
    /// `validValue_p`, `validRound_p`.
    pub valid: Option<RoundValue>,
    /// The quorum of prevotes that made `valid` valid (its proof of lock),
    /// sent along when the value is proposed again.
    pub valid_pol: Vec<SignedVote>,
    /// The proposal this node signed in `round`, with its block.
    pub proposal: Option<(SignedProposal, SharedBlock)>,
    /// The votes this node signed in `round` (at most one per kind).
    pub votes: Vec<SignedVote>,
}

/// Largest encoded safety state accepted when reading it back: two blocks
/// (locked and valid) plus a proposed one, plus slack.
pub const SAFETY_BYTES_MAX: usize = 3 * kp_types::block::BLOCK_BYTES_MAX + 64 * 1024;

impl SafetyState {
    /// The state at the start of `height`, before anything was signed.
    pub fn new(height: u64) -> Self {
        SafetyState {
            height,
            round: 0,
            step: Step::Propose,
            locked: None,
            valid: None,
            valid_pol: Vec::new(),
            proposal: None,
            votes: Vec::new(),
        }
    }

    /// The vote of `kind` this node signed in the current round, if any.
    pub fn vote(&self, kind: VoteKind) -> Option<&SignedVote> {
        self.votes.iter().find(|v| v.vote.kind == kind)
    }

    /// What of this state a later one must keep: its height, round and the
    /// votes signed in that round.
    pub fn signed(&self) -> Signed {
        Signed {
            height: self.height,
            round: self.round,
            votes: self
                .votes
                .iter()
                .map(|v| (v.vote.kind, v.vote.block))
                .collect(),
        }
    }

    /// Checks, in release builds too, what keeps this node from signing
    /// twice: at most one own vote per kind, every own vote and the proposal
    /// of the current height and round, a lock and a valid value from no
    /// later round, and, against what was persisted before at the same
    /// height (`previous`), a round that never goes back and votes of the
    /// same round that stay as they were. Called before every persist: a broken invariant
    /// stops the node rather than let it sign a conflicting vote.
    pub fn assert_safe(&self, previous: Option<&Signed>) {
        for (i, v) in self.votes.iter().enumerate() {
            assert!(
                v.vote.height == self.height && v.vote.round == self.round,
                "safety: an own vote of height {} round {} is kept at height {} round {}",
                v.vote.height,
                v.vote.round,
                self.height,
                self.round
            );
            assert!(
                self.votes[..i].iter().all(|w| w.vote.kind != v.vote.kind),
                "safety: two own {:?} votes at height {} round {}",
                v.vote.kind,
                self.height,
                self.round
            );
        }
        if let Some((p, _)) = &self.proposal {
            assert!(
                p.proposal.height == self.height && p.proposal.round == self.round,
                "safety: an own proposal of height {} round {} is kept at height {} round {}",
                p.proposal.height,
                p.proposal.round,
                self.height,
                self.round
            );
        }
        for (what, value) in [("lock", &self.locked), ("valid value", &self.valid)] {
            if let Some(v) = value {
                assert!(
                    v.round <= self.round,
                    "safety: the {what} of round {} is ahead of round {}",
                    v.round,
                    self.round
                );
            }
        }
        // Against what was persisted before: within a height, the round
        // never goes back and the votes of the same round stay. (A restart
        // may start a lower height than the persisted one, when the block
        // below it was not yet durable; that is not checked here.)
        let Some(before) = previous.filter(|b| b.height == self.height) else {
            return;
        };
        assert!(
            self.round >= before.round,
            "safety: round {} follows the persisted round {} at height {}",
            self.round,
            before.round,
            self.height
        );
        if self.round == before.round {
            for (kind, block) in &before.votes {
                assert!(
                    self.votes
                        .iter()
                        .any(|v| v.vote.kind == *kind && v.vote.block == *block),
                    "safety: the persisted {kind:?} vote of height {} round {} changed or vanished",
                    self.height,
                    self.round
                );
            }
        }
    }

    /// The canonical encoding (what a host writes).
    pub fn encode(&self) -> Vec<u8> {
        kp_types::encode(self)
    }

    /// Decodes what a host wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        kp_types::decode(bytes, SAFETY_BYTES_MAX)
    }
}

/// What a persisted safety state signed: a later state must not contradict
/// it ([`SafetyState::assert_safe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Its height.
    pub height: u64,
    /// Its round.
    pub round: u32,
    /// The kind and block of each vote it signed in that round.
    pub votes: Vec<(VoteKind, Option<Hash>)>,
}

/// The safety state with its blocks named by hash: what a host writes at
/// every step, while the blocks themselves (at most three, usually one
/// block locked, valid and proposed at once) are written only when that
/// set changes. See [`SafetyState::to_record`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyRecord {
    /// `h_p`.
    pub height: u64,
    /// `round_p`.
    pub round: u32,
    /// `step_p`.
    pub step: Step,
    /// The locked round and block.
    pub locked: Option<(u32, Hash)>,
    /// The valid round and block.
    pub valid: Option<(u32, Hash)>,
    /// As in [`SafetyState::valid_pol`].
    pub valid_pol: Vec<SignedVote>,
    /// The signed proposal (its block is the one it names).
    pub proposal: Option<(SignedProposal, Hash)>,
    /// As in [`SafetyState::votes`].
    pub votes: Vec<SignedVote>,
}

impl SafetyState {
    /// The state as a record that names its blocks by hash, and those blocks
    /// with their hashes (each once, in the order locked, valid, proposed).
    pub fn to_record(&self) -> (SafetyRecord, Vec<(Hash, SharedBlock)>) {
        let mut blocks: Vec<(Hash, SharedBlock)> = Vec::new();
        let mut name = |block: &SharedBlock| {
            let hash = block.hash();
            if !blocks.iter().any(|(h, _)| *h == hash) {
                blocks.push((hash, block.clone()));
            }
            hash
        };
        let locked = self.locked.as_ref().map(|v| (v.round, name(&v.block)));
        let valid = self.valid.as_ref().map(|v| (v.round, name(&v.block)));
        let proposal = self
            .proposal
            .as_ref()
            .map(|(signed, block)| (signed.clone(), name(block)));
        let record = SafetyRecord {
            height: self.height,
            round: self.round,
            step: self.step,
            locked,
            valid,
            valid_pol: self.valid_pol.clone(),
            proposal,
            votes: self.votes.clone(),
        };
        (record, blocks)
    }

    /// The state a record and its blocks describe; `None` if the record
    /// names a block that is not among `blocks`.
    pub fn from_record(record: SafetyRecord, blocks: &[SharedBlock]) -> Option<SafetyState> {
        let named: Vec<(Hash, &SharedBlock)> = blocks.iter().map(|b| (b.hash(), b)).collect();
        let find = |hash: &Hash| {
            named
                .iter()
                .find(|(h, _)| h == hash)
                .map(|(_, b)| SharedBlock::clone(b))
        };
        let value = |v: Option<(u32, Hash)>| match v {
            None => Some(None),
            Some((round, hash)) => find(&hash).map(|block| Some(RoundValue { round, block })),
        };
        let proposal = match record.proposal {
            None => None,
            Some((signed, hash)) => Some((signed, find(&hash)?)),
        };
        Some(SafetyState {
            height: record.height,
            round: record.round,
            step: record.step,
            locked: value(record.locked)?,
            valid: value(record.valid)?,
            valid_pol: record.valid_pol,
            proposal,
            votes: record.votes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::{Block, BlockHeader, Proposal, PublicKey, SigningKey, Timestamp};
    use std::sync::Arc;

    pub(super) fn block(height: u64) -> SharedBlock {
        Arc::new(Block {
            header: BlockHeader {
                chain_id: "c".into(),
                height,
                time: Timestamp(height),
                proposer: PublicKey([0; 32]),
                prev_hash: Hash::ZERO,
                txs_root: Hash::ZERO,
                state_root: Hash::ZERO,
                validators_hash: Hash::ZERO,
                next_validators_hash: Hash::ZERO,
                results_root: Hash::ZERO,
                records_root: Hash::ZERO,
            },
            txs: Vec::new(),
        })
    }

    #[test]
    fn a_record_names_each_block_once_and_rebuilds_the_state() {
        let key = SigningKey::from_seed([3; 32]);
        let (a, b) = (block(1), block(2));
        let mut state = SafetyState::new(1);
        state.round = 2;
        state.step = Step::Precommit;
        state.locked = Some(RoundValue {
            round: 1,
            block: a.clone(),
        });
        state.valid = Some(RoundValue {
            round: 1,
            block: a.clone(),
        });
        let proposal = Proposal {
            chain_id: "c".into(),
            height: 1,
            round: 2,
            pol_round: None,
            block_hash: b.hash(),
            proposer: key.public(),
        };
        state.proposal = Some((proposal.sign(&key), b.clone()));
        let (record, named) = state.to_record();
        let blocks: Vec<SharedBlock> = named.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(blocks, vec![a.clone(), b.clone()]);
        assert_eq!(named[1].0, b.hash());
        assert_eq!(record.locked, Some((1, a.hash())));
        assert_eq!(
            SafetyState::from_record(record.clone(), &blocks),
            Some(state.clone())
        );
        // A block the record names must be there.
        assert_eq!(SafetyState::from_record(record, &blocks[..1]), None);
        // Nothing locked, nothing proposed: no blocks.
        let (record, blocks) = SafetyState::new(5).to_record();
        assert!(blocks.is_empty());
        assert_eq!(
            SafetyState::from_record(record, &[]),
            Some(SafetyState::new(5))
        );
    }
}

#[cfg(test)]
mod invariant_tests {
    use super::tests::block;
    use super::*;
    use kp_types::{SigningKey, Vote};

    fn vote(height: u64, round: u32, kind: VoteKind, block: Option<Hash>) -> SignedVote {
        let key = SigningKey::from_seed([3; 32]);
        Vote {
            chain_id: "kp-test".into(),
            height,
            round,
            kind,
            block,
            validator: key.public(),
        }
        .sign(&key)
    }

    fn state(height: u64, round: u32, votes: Vec<SignedVote>) -> SafetyState {
        let mut s = SafetyState::new(height);
        s.round = round;
        s.votes = votes;
        s
    }

    #[test]
    fn a_state_that_keeps_its_signatures_passes() {
        let a = Some(Hash([0xa; 32]));
        let before = state(5, 1, vec![vote(5, 1, VoteKind::Prevote, a)]);
        let after = state(
            5,
            1,
            vec![
                vote(5, 1, VoteKind::Prevote, a),
                vote(5, 1, VoteKind::Precommit, None),
            ],
        );
        after.assert_safe(Some(&before.signed()));
        // A later round or height starts afresh.
        state(5, 2, vec![]).assert_safe(Some(&after.signed()));
        state(6, 0, vec![]).assert_safe(Some(&after.signed()));
    }

    #[test]
    #[should_panic(expected = "two own Prevote votes")]
    fn two_votes_of_one_kind_in_a_round_stop_the_node() {
        state(
            5,
            1,
            vec![
                vote(5, 1, VoteKind::Prevote, Some(Hash([0xa; 32]))),
                vote(5, 1, VoteKind::Prevote, None),
            ],
        )
        .assert_safe(None);
    }

    #[test]
    #[should_panic(expected = "changed or vanished")]
    fn a_persisted_vote_that_changes_stops_the_node() {
        let before = state(
            5,
            1,
            vec![vote(5, 1, VoteKind::Prevote, Some(Hash([0xa; 32])))],
        );
        state(5, 1, vec![vote(5, 1, VoteKind::Prevote, None)]).assert_safe(Some(&before.signed()));
    }

    #[test]
    #[should_panic(expected = "follows the persisted round")]
    fn a_round_that_goes_back_stops_the_node() {
        let before = state(5, 3, vec![]);
        state(5, 2, vec![]).assert_safe(Some(&before.signed()));
    }

    #[test]
    #[should_panic(expected = "is ahead of round")]
    fn a_lock_from_a_later_round_stops_the_node() {
        let mut s = state(5, 1, vec![]);
        s.locked = Some(RoundValue {
            round: 2,
            block: block(5),
        });
        s.assert_safe(None);
    }
}
