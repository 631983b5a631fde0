//! What crosses the boundary between the core and its host: the [`Input`]s
//! the core takes, the [`Action`]s it returns and the timers ([`Timeout`]) it
//! asks for.

use crate::message::ConsensusMessage;
use crate::safety::SafetyState;
use crate::SharedBlock;
use kp_types::{CommitCertificate, Evidence, Hash, PublicKey};

/// Which timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeoutKind {
    /// `OnTimeoutPropose` (L57).
    Propose,
    /// `OnTimeoutPrevote` (L61).
    Prevote,
    /// `OnTimeoutPrecommit` (L65).
    Precommit,
    /// Not in the paper: re-send this node's own messages of the current
    /// round, because the transport may lose them.
    Rebroadcast,
}

/// A timer, identified by the height and round it was set for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout {
    /// Height it was set in.
    pub height: u64,
    /// Round it was set in.
    pub round: u32,
    /// Which timer.
    pub kind: TimeoutKind,
}

/// An event the host hands to the core.
#[derive(Clone, Debug)]
pub enum Input {
    /// Start `height` with its validator set: the validators the ledger lists
    /// after executing `height - 1`. The host sends it once at boot (with the
    /// height after its last applied block) and after applying each decided
    /// block.
    StartHeight {
        /// The height to run.
        height: u64,
        /// Its validators (order does not matter; the core sorts them).
        validators: Vec<PublicKey>,
    },
    /// A message from a peer (`from` is the transport's authenticated peer or
    /// gossip author; the core trusts only the signature inside the message,
    /// and uses `from` only to tell a laggard's own vote from a relayed one).
    Message {
        /// Who handed it over.
        from: PublicKey,
        /// The decoded message.
        message: ConsensusMessage,
    },
    /// A timer the core scheduled has fired.
    TimeoutElapsed(Timeout),
    /// The host's answer to [`Action::RequestProposal`] (the paper's `getValue()`).
    ProposalPayload {
        /// Height it was asked for.
        height: u64,
        /// Round it was asked for.
        round: u32,
        /// The block.
        block: SharedBlock,
    },
    /// The host's answer to [`Action::ValidateBlock`] (the paper's `valid(v)`).
    BlockValidity {
        /// Height of the block.
        height: u64,
        /// The block's hash.
        block_hash: Hash,
        /// Whether it is valid.
        valid: bool,
    },
    /// A decided block of the current height obtained by block sync, with the
    /// certificate that proves it. The host checks the block against its ledger
    /// (`validate_block`) first; the core checks the certificate.
    CommitFromSync {
        /// The block.
        block: SharedBlock,
        /// Its commit certificate.
        certificate: CommitCertificate,
    },
}

/// Something the host must do. Actions are executed in order; in particular a
/// [`Action::PersistSafety`] must be durable before any later action of the
/// same batch is carried out, because the broadcasts after it may carry the
/// votes it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make this safety state durable (replacing the previous one) before going on.
    PersistSafety(Box<SafetyState>),
    /// Send to every peer.
    Broadcast(ConsensusMessage),
    /// Send to one peer (a validator, by node key).
    SendTo(PublicKey, ConsensusMessage),
    /// Call back with [`Input::TimeoutElapsed`] after `duration_ms`.
    ScheduleTimeout {
        /// The timer.
        timeout: Timeout,
        /// Delay in milliseconds.
        duration_ms: u64,
    },
    /// Build a block for this height and round and answer with
    /// [`Input::ProposalPayload`].
    RequestProposal {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
    },
    /// Check this proposed block and answer with [`Input::BlockValidity`].
    ValidateBlock {
        /// Height.
        height: u64,
        /// The block.
        block: SharedBlock,
    },
    /// The block is decided: execute it, store it with its certificate, then
    /// send [`Input::StartHeight`] for the next height.
    Decide {
        /// The decided block.
        block: SharedBlock,
        /// The proof.
        certificate: CommitCertificate,
    },
    /// A validator equivocated: put the evidence on the ledger (as a
    /// `SubmitEvidence` transaction). Each item is reported once.
    Evidence(Evidence),
    /// This node seems to be behind (it saw messages for a later height, or a
    /// quorum of precommits for a block it does not have): fetch the decided
    /// block of `height` and its certificate from peers and send
    /// [`Input::CommitFromSync`].
    RequestCommit {
        /// The height to fetch.
        height: u64,
    },
}
