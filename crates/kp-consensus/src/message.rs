//! The messages validators exchange, their wire encoding and the checks every
//! received message passes before it may touch consensus state.

use crate::SharedBlock;
use kp_types::block::BLOCK_BYTES_MAX;
use kp_types::{EncodingError, Hash, PublicKey, SignedProposal, SignedVote};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest encoded consensus message accepted from a peer: a full block plus
/// room for the signed proposal around it.
pub const MESSAGE_BYTES_MAX: usize = BLOCK_BYTES_MAX + 64 * 1024;

/// A consensus message on the wire.
// A proposal is much larger than a vote; boxing the block would only move
// the allocation, since every message is built once and handed over by value.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    /// The paper's `⟨PROPOSAL, h, r, v, vr⟩`: the signed proposal names the
    /// block by hash, and the block travels beside it.
    Proposal {
        /// The signed proposal.
        signed: SignedProposal,
        /// The proposed block; its hash must equal `signed.proposal.block_hash`.
        block: SharedBlock,
        /// When the proposal names a proof-of-lock round `vr`, the proposer's
        /// prevotes of round `vr` for the block, so that a validator that
        /// missed them can still apply L28 (Tendermint's gossip sends them
        /// separately; here they travel with the proposal). Empty otherwise.
        pol: Vec<SignedVote>,
    },
    /// The paper's `⟨PREVOTE, h, r, id(v)⟩` or `⟨PRECOMMIT, h, r, id(v)⟩`.
    Vote(SignedVote),
}

impl ConsensusMessage {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        kp_types::encode(self)
    }

    /// Decodes untrusted bytes (at most [`MESSAGE_BYTES_MAX`], no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        kp_types::decode(bytes, MESSAGE_BYTES_MAX)
    }

    /// Height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMessage::Proposal { signed, .. } => signed.proposal.height,
            ConsensusMessage::Vote(v) => v.vote.height,
        }
    }

    /// Round the message is about.
    pub fn round(&self) -> u32 {
        match self {
            ConsensusMessage::Proposal { signed, .. } => signed.proposal.round,
            ConsensusMessage::Vote(v) => v.vote.round,
        }
    }

    /// The validator that signed it.
    pub fn signer(&self) -> PublicKey {
        match self {
            ConsensusMessage::Proposal { signed, .. } => signed.proposal.proposer,
            ConsensusMessage::Vote(v) => v.vote.validator,
        }
    }

    /// The chain it was signed for.
    pub fn chain_id(&self) -> &str {
        match self {
            ConsensusMessage::Proposal { signed, .. } => &signed.proposal.chain_id,
            ConsensusMessage::Vote(v) => &v.vote.chain_id,
        }
    }
}

/// Why a received message was not admitted. None of these is an error of the
/// node: they describe the peer's message, so a host may use them to score
/// peers, and the core simply drops the message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// Signed for another chain.
    #[error("message for chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Our chain.
        expected: String,
        /// The message's chain.
        found: String,
    },
    /// For a height already decided here.
    #[error("message for height {height}, already past (current {current})")]
    HeightPast {
        /// The message's height.
        height: u64,
        /// Our height.
        current: u64,
    },
    /// Too far ahead to buffer.
    #[error("message for height {height}, too far ahead of {current}")]
    HeightTooFar {
        /// The message's height.
        height: u64,
        /// Our height.
        current: u64,
    },
    /// For a round outside the kept window.
    #[error("message for round {round}, outside the kept window around {current}")]
    RoundOutOfWindow {
        /// The message's round.
        round: u32,
        /// Our round.
        current: u32,
    },
    /// The signer is not a validator of the height.
    #[error("signer {signer} is not a validator of height {height}")]
    NotAValidator {
        /// The signer.
        signer: PublicKey,
        /// The height.
        height: u64,
    },
    /// The signature does not verify.
    #[error("bad signature by {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: PublicKey,
    },
    /// A proposal from someone who is not the proposer of its round.
    #[error("proposal by {signer}, who is not the proposer of height {height} round {round}")]
    WrongProposer {
        /// The signer.
        signer: PublicKey,
        /// The height.
        height: u64,
        /// The round.
        round: u32,
    },
    /// The block does not match the proposal (hash, height or chain).
    #[error("proposed block {found} does not match proposal for {expected}")]
    BlockMismatch {
        /// The hash in the proposal.
        expected: Hash,
        /// The block's actual hash.
        found: Hash,
    },
    /// The block's transactions are not the ones its header commits to (a
    /// copy altered on the way): it is not the proposed block at all, so it
    /// is dropped without a verdict on the block the header names.
    #[error("the transactions of proposed block {block_hash} do not match its header")]
    BodyMismatch {
        /// The header's hash.
        block_hash: Hash,
    },
    /// A proof-of-lock round that is not below the proposal's round.
    #[error("proposal for round {round} names pol round {pol_round}")]
    BadPolRound {
        /// The proposal's round.
        round: u32,
        /// Its pol round.
        pol_round: u32,
    },
    /// A proof of lock with more votes than there are validators.
    #[error("proof of lock of {votes} votes for {validators} validators")]
    PolTooLarge {
        /// Votes carried.
        votes: usize,
        /// Validators of the height.
        validators: usize,
    },
    /// No height has been started yet.
    #[error("no height started yet")]
    NotStarted,
    /// Already seen (an exact duplicate).
    #[error("duplicate message")]
    Duplicate,
    /// A buffer or window is full.
    #[error("buffer for future messages is full")]
    BufferFull,
}
