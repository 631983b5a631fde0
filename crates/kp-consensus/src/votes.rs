//! The votes of one height, tallied per round, kind and value.
//!
//! Each validator has at most one counted vote per round and kind: the first
//! one received. A later, different vote for the same slot is not counted; it
//! is turned into [`Evidence::DuplicateVote`] instead. Counting only the first
//! vote keeps every tally a count of distinct validators, which is what the
//! quorum rules of the paper count.

use kp_types::consensus::CommitSignature;
use kp_types::{Evidence, Hash, PublicKey, SignedVote, VoteKind};
use std::collections::{BTreeMap, BTreeSet};

/// The votes of one round.
#[derive(Clone, Debug, Default)]
struct RoundVotes {
    prevotes: BTreeMap<PublicKey, SignedVote>,
    precommits: BTreeMap<PublicKey, SignedVote>,
}

impl RoundVotes {
    fn of(&self, kind: VoteKind) -> &BTreeMap<PublicKey, SignedVote> {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    fn of_mut(&mut self, kind: VoteKind) -> &mut BTreeMap<PublicKey, SignedVote> {
        match kind {
            VoteKind::Prevote => &mut self.prevotes,
            VoteKind::Precommit => &mut self.precommits,
        }
    }
}

/// What inserting a vote did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new vote, now counted.
    New,
    /// The same vote was already counted.
    Duplicate,
    /// The validator had already voted differently in this slot.
    Equivocation(Box<Evidence>),
}

/// The votes of one height. Signatures and membership are checked by the
/// caller before insertion.
#[derive(Clone, Debug, Default)]
pub struct VoteKeeper {
    rounds: BTreeMap<u32, RoundVotes>,
}

impl VoteKeeper {
    /// Counts `vote` unless its validator already voted in that slot.
    pub fn insert(&mut self, vote: SignedVote) -> Inserted {
        let slot = self
            .rounds
            .entry(vote.vote.round)
            .or_default()
            .of_mut(vote.vote.kind);
        match slot.get(&vote.vote.validator) {
            None => {
                slot.insert(vote.vote.validator, vote);
                Inserted::New
            }
            Some(first) if first.vote.block == vote.vote.block => Inserted::Duplicate,
            Some(first) => Inserted::Equivocation(Box::new(Evidence::DuplicateVote {
                first: first.clone(),
                second: vote,
            })),
        }
    }

    /// Whether exactly this vote is already counted.
    pub fn contains(&self, vote: &SignedVote) -> bool {
        self.rounds
            .get(&vote.vote.round)
            .and_then(|r| r.of(vote.vote.kind).get(&vote.vote.validator))
            .is_some_and(|known| known == vote)
    }

    /// Votes of `kind` in `round` for `value` (`None` = nil).
    pub fn count(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> usize {
        self.rounds.get(&round).map_or(0, |r| {
            r.of(kind)
                .values()
                .filter(|v| v.vote.block == value)
                .count()
        })
    }

    /// Votes of `kind` in `round`, whatever their value (the paper's `∗`).
    pub fn count_any(&self, round: u32, kind: VoteKind) -> usize {
        self.rounds.get(&round).map_or(0, |r| r.of(kind).len())
    }

    /// The block hash that has at least `quorum` votes of `kind` in `round`.
    pub fn block_with_quorum(&self, round: u32, kind: VoteKind, quorum: usize) -> Option<Hash> {
        let r = self.rounds.get(&round)?;
        let mut tally: BTreeMap<Hash, usize> = BTreeMap::new();
        for v in r.of(kind).values() {
            if let Some(h) = v.vote.block {
                *tally.entry(h).or_default() += 1;
            }
        }
        tally
            .into_iter()
            .find(|(_, c)| *c >= quorum)
            .map(|(h, _)| h)
    }

    /// Rounds with at least one vote, ascending.
    pub fn rounds(&self) -> Vec<u32> {
        self.rounds.keys().copied().collect()
    }

    /// Validators with a vote of any kind in `round`.
    pub fn voters(&self, round: u32) -> BTreeSet<PublicKey> {
        self.rounds.get(&round).map_or_else(BTreeSet::new, |r| {
            r.prevotes
                .keys()
                .chain(r.precommits.keys())
                .copied()
                .collect()
        })
    }

    /// The precommits for `block` in `round`, as commit signatures.
    pub fn commit_signatures(&self, round: u32, block: Hash) -> Vec<CommitSignature> {
        self.rounds.get(&round).map_or_else(Vec::new, |r| {
            r.precommits
                .values()
                .filter(|v| v.vote.block == Some(block))
                .map(|v| CommitSignature {
                    validator: v.vote.validator,
                    signature: v.signature,
                })
                .collect()
        })
    }

    /// The counted votes of `kind` in `round` for `block`.
    pub fn votes_for(&self, round: u32, kind: VoteKind, block: Hash) -> Vec<SignedVote> {
        self.rounds.get(&round).map_or_else(Vec::new, |r| {
            r.of(kind)
                .values()
                .filter(|v| v.vote.block == Some(block))
                .cloned()
                .collect()
        })
    }

    /// Every counted vote of `round` (for rebroadcast or inspection).
    pub fn votes_in(&self, round: u32) -> Vec<SignedVote> {
        self.rounds.get(&round).map_or_else(Vec::new, |r| {
            r.prevotes
                .values()
                .chain(r.precommits.values())
                .cloned()
                .collect()
        })
    }

    /// Forgets rounds below `round`.
    pub fn prune_below(&mut self, round: u32) {
        self.rounds = self.rounds.split_off(&round);
    }

    /// Total votes kept.
    pub fn len(&self) -> usize {
        self.rounds
            .values()
            .map(|r| r.prevotes.len() + r.precommits.len())
            .sum()
    }

    /// Whether no vote is kept.
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }
}
