//! The votes of one height, tallied per round, kind and value.
//!
//! A validator normally has one vote per round and kind. A second, different
//! vote for the same slot is equivocation: it becomes
//! [`Evidence::DuplicateVote`], and it is kept too (at most
//! [`VOTES_PER_SLOT_MAX`] distinct votes per validator and slot), counted for
//! its own value. Counting an equivocator for every value it signed is safe,
//! because two quorums for different values in one round would still need an
//! honest validator in both; and it is needed for liveness, because honest
//! validators may have locked on a value whose proof of lock includes the
//! equivocator's "other" vote (Tendermint's vote sets do the same through
//! their peer-claimed majorities). Tallies count distinct validators per
//! value; `count_any` counts distinct validators.

use kp_types::consensus::CommitSignature;
use kp_types::{Evidence, Hash, PublicKey, SignedVote, VoteKind};
use std::collections::{BTreeMap, BTreeSet};

/// Distinct votes kept per validator, round and kind (the first and one
/// conflicting vote; further ones only produce evidence).
pub const VOTES_PER_SLOT_MAX: usize = 2;

type Slot = BTreeMap<PublicKey, Vec<SignedVote>>;

/// Validators per value (`None` = nil) of one round and kind, kept as votes
/// are inserted: the core asks for tallies after every message, and counting
/// them from the votes each time was the node's largest cost with 60
/// validators.
type Tally = BTreeMap<Option<Hash>, usize>;

/// The votes of one round.
#[derive(Clone, Debug, Default)]
struct RoundVotes {
    prevotes: Slot,
    precommits: Slot,
    prevote_tally: Tally,
    precommit_tally: Tally,
}

impl RoundVotes {
    fn of(&self, kind: VoteKind) -> &Slot {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    fn tally(&self, kind: VoteKind) -> &Tally {
        match kind {
            VoteKind::Prevote => &self.prevote_tally,
            VoteKind::Precommit => &self.precommit_tally,
        }
    }

    fn of_mut(&mut self, kind: VoteKind) -> (&mut Slot, &mut Tally) {
        match kind {
            VoteKind::Prevote => (&mut self.prevotes, &mut self.prevote_tally),
            VoteKind::Precommit => (&mut self.precommits, &mut self.precommit_tally),
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
    /// Counts `vote`; a conflicting one is also reported as evidence.
    pub fn insert(&mut self, vote: SignedVote) -> Inserted {
        let (slot, tally) = self
            .rounds
            .entry(vote.vote.round)
            .or_default()
            .of_mut(vote.vote.kind);
        let kept = slot.entry(vote.vote.validator).or_default();
        if kept.iter().any(|v| v.vote.block == vote.vote.block) {
            return Inserted::Duplicate;
        }
        let Some(first) = kept.first().cloned() else {
            *tally.entry(vote.vote.block).or_default() += 1;
            kept.push(vote);
            return Inserted::New;
        };
        if kept.len() < VOTES_PER_SLOT_MAX {
            // Kept votes of one validator differ in value, so each counts
            // once for its own value.
            *tally.entry(vote.vote.block).or_default() += 1;
            kept.push(vote.clone());
        }
        Inserted::Equivocation(Box::new(Evidence::DuplicateVote {
            first,
            second: vote,
        }))
    }

    fn all(&self, round: u32, kind: VoteKind) -> impl Iterator<Item = &SignedVote> {
        self.rounds
            .get(&round)
            .into_iter()
            .flat_map(move |r| r.of(kind).values().flatten())
    }

    /// Whether exactly this vote is already counted.
    pub fn contains(&self, vote: &SignedVote) -> bool {
        self.rounds
            .get(&vote.vote.round)
            .and_then(|r| r.of(vote.vote.kind).get(&vote.vote.validator))
            .is_some_and(|kept| kept.contains(vote))
    }

    /// Validators with a vote of `kind` in `round` for `value` (`None` = nil).
    pub fn count(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> usize {
        self.rounds
            .get(&round)
            .and_then(|r| r.tally(kind).get(&value))
            .copied()
            .unwrap_or(0)
    }

    /// Validators with a vote of `kind` in `round`, whatever its value (the paper's `∗`).
    pub fn count_any(&self, round: u32, kind: VoteKind) -> usize {
        self.rounds.get(&round).map_or(0, |r| r.of(kind).len())
    }

    /// The block hash that has at least `quorum` votes of `kind` in `round`.
    pub fn block_with_quorum(&self, round: u32, kind: VoteKind, quorum: usize) -> Option<Hash> {
        self.rounds.get(&round).and_then(|r| {
            r.tally(kind)
                .iter()
                .find_map(|(value, count)| value.filter(|_| *count >= quorum))
        })
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
        self.all(round, VoteKind::Precommit)
            .filter(|v| v.vote.block == Some(block))
            .map(|v| CommitSignature {
                validator: v.vote.validator,
                signature: v.signature,
            })
            .collect()
    }

    /// The votes of `kind` in `round` for `block`.
    pub fn votes_for(&self, round: u32, kind: VoteKind, block: Hash) -> Vec<SignedVote> {
        self.all(round, kind)
            .filter(|v| v.vote.block == Some(block))
            .cloned()
            .collect()
    }

    /// Every vote kept for `round` (for answering a lagging peer).
    pub fn votes_in(&self, round: u32) -> Vec<SignedVote> {
        self.all(round, VoteKind::Prevote)
            .chain(self.all(round, VoteKind::Precommit))
            .cloned()
            .collect()
    }

    /// Forgets rounds below `round`.
    pub fn prune_below(&mut self, round: u32) {
        self.rounds = self.rounds.split_off(&round);
    }

    /// Total votes kept.
    pub fn len(&self) -> usize {
        self.rounds
            .values()
            .map(|r| {
                r.prevotes.values().map(Vec::len).sum::<usize>()
                    + r.precommits.values().map(Vec::len).sum::<usize>()
            })
            .sum()
    }

    /// Whether no vote is kept.
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_types::{SigningKey, Vote};

    fn vote(key: &SigningKey, block: Option<Hash>) -> SignedVote {
        Vote {
            chain_id: "c".into(),
            height: 1,
            round: 0,
            kind: VoteKind::Prevote,
            block,
            validator: key.public(),
        }
        .sign(key)
    }

    #[test]
    fn an_equivocator_counts_once_per_value_and_is_reported() {
        let k = SigningKey::from_seed([1; 32]);
        let a = Hash::of(kp_types::Domain::Document, b"a");
        let b = Hash::of(kp_types::Domain::Document, b"b");
        let mut keeper = VoteKeeper::default();
        assert_eq!(keeper.insert(vote(&k, Some(a))), Inserted::New);
        assert_eq!(keeper.insert(vote(&k, Some(a))), Inserted::Duplicate);
        assert!(matches!(
            keeper.insert(vote(&k, Some(b))),
            Inserted::Equivocation(_)
        ));
        assert!(matches!(
            keeper.insert(vote(&k, None)),
            Inserted::Equivocation(_)
        ));
        assert_eq!(keeper.count(0, VoteKind::Prevote, Some(a)), 1);
        assert_eq!(keeper.count(0, VoteKind::Prevote, Some(b)), 1);
        assert_eq!(
            keeper.count(0, VoteKind::Prevote, None),
            0,
            "third vote not kept"
        );
        assert_eq!(keeper.count_any(0, VoteKind::Prevote), 1, "one validator");
        assert_eq!(keeper.len(), 2);
    }

    #[test]
    fn kept_tallies_match_a_recount() {
        let keys: Vec<SigningKey> = (0..7u8).map(|i| SigningKey::from_seed([i; 32])).collect();
        let values = [
            None,
            Some(Hash::of(kp_types::Domain::Document, b"a")),
            Some(Hash::of(kp_types::Domain::Document, b"b")),
        ];
        let mut keeper = VoteKeeper::default();
        // A fixed pseudo-random walk over (validator, round, kind, value),
        // equivocations and duplicates included.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..400 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = &keys[(x % 7) as usize];
            let kind = if x & 8 == 0 {
                VoteKind::Prevote
            } else {
                VoteKind::Precommit
            };
            let vote = Vote {
                chain_id: "c".into(),
                height: 1,
                round: ((x >> 8) % 3) as u32,
                kind,
                block: values[((x >> 16) % 3) as usize],
                validator: key.public(),
            }
            .sign(key);
            keeper.insert(vote);
        }
        for round in 0..3 {
            for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                for value in values {
                    let recount = keeper
                        .all(round, kind)
                        .filter(|v| v.vote.block == value)
                        .count();
                    assert_eq!(keeper.count(round, kind, value), recount);
                }
                for quorum in 1..=7 {
                    // The lowest hash with a quorum, as the recount finds it.
                    let mut blocks: Vec<Hash> = values.iter().flatten().copied().collect();
                    blocks.sort();
                    let expected = blocks.into_iter().find(|h| {
                        keeper
                            .all(round, kind)
                            .filter(|v| v.vote.block == Some(*h))
                            .count()
                            >= quorum
                    });
                    assert_eq!(keeper.block_with_quorum(round, kind, quorum), expected);
                }
            }
        }
    }
}
