//! Sans-IO Tendermint consensus core of kpledger.
//!
//! This crate implements Algorithm 1 of *The latest gossip on BFT consensus*
//! (Buchman, Kwon, Milosevic, 2018) as a pure state machine:
//! [`Consensus::handle`] takes one [`Input`] (a peer's message, a fired timer,
//! a block the host built, the host's verdict on a proposed block, a block
//! obtained by sync, or the start of a height) and returns the [`Action`]s the
//! host must carry out, in order. There is no clock, no randomness, no thread
//! and no IO inside: the same code runs in the node (driven by tokio) and in
//! `kp-sim` (driven by a seeded event queue). Comments in [`core`] name the
//! line of the paper's pseudocode each transition implements (`// L22`).
//!
//! # Heights, validators and quorums
//!
//! The host starts each height with [`Input::StartHeight`], passing the
//! validators the ledger lists after executing the previous height, so a
//! resolution that admits or expels a government Participant changes who votes
//! from the next height on. With `n` validators the core tolerates
//! `f = floor((n-1)/3)` faults, counts a quorum as [`kp_types::quorum`]`(n)` and
//! skips rounds on `f + 1` senders. The proposer of round `r` at height `h` is
//! the validator at index `(h + r) mod n` of the set sorted by key.
//!
//! # Persist before you speak
//!
//! Everything a validator must not forget ([`SafetyState`]: height, round,
//! step, locked and valid values with the valid value's proof of lock, and
//! the proposal and votes it signed in the current round) is handed out in [`Action::PersistSafety`]. Actions are
//! executed in order and the host makes each `PersistSafety` durable before it
//! executes the next action; every broadcast of a newly signed vote or proposal
//! comes after the `PersistSafety` that records it. A node restarted with
//! [`Consensus::new`]`(config, Some(state))` resumes that round and step, and
//! re-sends rather than re-signs: it never signs two different votes for one
//! height, round and step, nor two proposals for one round.
//!
//! # Equivocation
//!
//! A second, different vote of a validator for one height, round and kind
//! becomes [`kp_types::Evidence::DuplicateVote`]; a second proposal of a
//! round's proposer becomes [`kp_types::Evidence::DuplicateProposal`]. Each
//! item is reported once with [`Action::Evidence`]; the host puts it on the
//! ledger in a later block. See [`votes`] for how equivocators are counted.
//!
//! # Bounds
//!
//! [`Limits`] bounds the rounds whose votes and proposals are kept around the
//! current one, the proposals kept per round, the heights and the messages per
//! signer buffered ahead of the current height, and the evidence remembered.
//! Messages are decoded with [`ConsensusMessage::decode`], which refuses more
//! than [`MESSAGE_BYTES_MAX`] bytes. Signatures and membership are checked
//! before a message touches any state.
//!
//! # Deviations from the paper
//!
//! 1. **Quorum.** The paper assumes `n = 3f + 1` and counts `2f + 1`; we count
//!    `floor(2n/3) + 1`, which equals `2f + 1` when `n = 3f + 1` and keeps any
//!    two quorums intersecting in an honest validator for every other `n`
//!    (plain `2f + 1` would not: 3 of 5). Round skips (L55) need `f + 1`
//!    senders with `f = floor((n-1)/3)`.
//! 2. **`valid(v)` is asked of the host.** A proposal's block is handed out in
//!    [`Action::ValidateBlock`]; rules that need `valid(v)` wait until the host
//!    answers with [`Input::BlockValidity`]. Blocks this node built are valid.
//! 3. **Decision (L49) by hash.** The paper requires the proposal of round `r`
//!    itself; we decide on `2f + 1` precommits of round `r` for `id(v)` as long
//!    as we hold a valid block `v` with that id from any proposal of the height.
//!    Safety rests on the precommits, which are unchanged.
//! 4. **Heights are started by the host.** L52–L54 (next height) wait for
//!    [`Input::StartHeight`], because the next validator set is only known
//!    after the ledger executes the decided block.
//! 5. **Proposer timer.** The proposer also arms `timeoutPropose` (L21), so a
//!    host that never answers [`Action::RequestProposal`] cannot stall it.
//! 6. **Retransmission.** The paper assumes gossip that eventually delivers
//!    every message; our transports may lose messages, so a node re-sends its
//!    own proposal and votes of the current round every
//!    `rebroadcast_interval_ms` ([`TimeoutKind::Rebroadcast`]), answers a
//!    vote from an earlier round of its height with the votes it holds for
//!    that round and its own current votes ([`Action::SendTo`], once per peer
//!    and interval), and asks the host to fetch a decided block
//!    ([`Action::RequestCommit`]) when it sees a later height or a precommit
//!    quorum for a block it lacks. [`Input::CommitFromSync`] then decides the
//!    height on a verified [`kp_types::CommitCertificate`].
//! 7. **Bounded memory.** Votes outside `[round - rounds_behind_max,
//!    round + rounds_ahead_max]` are dropped; pruning a stale round can only
//!    delay a decision, never break agreement. Messages for later heights are
//!    accepted only from current validators.
//! 8. **Proof of lock travels with the proposal.** A re-proposed valid value
//!    carries the prevotes that made it valid (`ConsensusMessage::Proposal`'s
//!    `pol`, persisted as [`SafetyState::valid_pol`]), where Tendermint's
//!    gossip sends them separately.
//! 9. **Equivocators count for every value they signed** (at most two per
//!    slot, see [`votes`]): safe, and needed for a proof of lock that
//!    contains an equivocator's other vote to be recognised.
//! 10. **Restart.** A node restarted in step prevote or precommit re-arms
//!     that step's timer at once (the paper has no crash recovery); moving to
//!     a later round is always safe.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod config;
pub mod core;
pub mod message;
pub mod safety;
pub mod votes;

pub use crate::config::{ConsensusConfig, Limits};

/// A block as the core passes it around: proposals, the locked and valid
/// values, validation and decision all share one copy of a block of
/// thousands of transactions instead of cloning it at each step. Encoded
/// exactly as the block itself.
pub type SharedBlock = std::sync::Arc<kp_types::Block>;
pub use crate::core::{proposer, Action, Consensus, Input, Timeout, TimeoutKind};
pub use crate::message::{ConsensusMessage, MessageError, MESSAGE_BYTES_MAX};
pub use crate::safety::{RoundValue, SafetyRecord, SafetyState, Step};
