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
use kp_types::{EncodingError, SignedProposal, SignedVote, VoteKind};
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

    /// The canonical encoding (what a host writes).
    pub fn encode(&self) -> Vec<u8> {
        kp_types::encode(self)
    }

    /// Decodes what a host wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        kp_types::decode(bytes, SAFETY_BYTES_MAX)
    }
}
