//! Configuration of one consensus instance: the chain, the node key, the
//! round timeouts and the bounds on everything the core keeps in memory.

use kp_types::SigningKey;

/// Bounds on what the core keeps, so that no peer can make it grow without
/// limit. Every field is a count, never bytes: the byte size of each kept item
/// is already bounded by the message size limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rounds above the current one for which votes and proposals are kept.
    /// Messages further ahead are dropped (a correct validator is never more
    /// than a few rounds ahead; the round-skip rule L55 still works inside
    /// the window).
    pub rounds_ahead_max: u32,
    /// Rounds below the current one whose votes are kept; older rounds are
    /// pruned. Pruning only costs liveness (a stale proof-of-lock is
    /// forgotten), never safety.
    pub rounds_behind_max: u32,
    /// Heights above the current one whose messages are buffered.
    pub future_heights_max: u64,
    /// Messages buffered per future height and signer.
    pub future_messages_per_signer_max: usize,
    /// Distinct proposals kept per round (a second one is equivocation; it is
    /// kept so that a quorum for it can still be decided; more are dropped).
    pub proposals_per_round_max: usize,
    /// Evidence items remembered (to report each equivocation once).
    pub evidence_held_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rounds_ahead_max: 16,
            rounds_behind_max: 32,
            future_heights_max: 2,
            future_messages_per_signer_max: 8,
            proposals_per_round_max: 2,
            evidence_held_max: 1024,
        }
    }
}

/// Configuration of a [`crate::Consensus`].
#[derive(Clone, Debug)]
pub struct ConsensusConfig {
    /// The chain; messages for another chain are dropped.
    pub chain_id: String,
    /// This node's key; it signs proposals and votes. A node whose key is not
    /// in a height's validator set follows that height without voting.
    pub key: SigningKey,
    /// `timeoutPropose(0)` in milliseconds.
    pub timeout_propose_ms: u64,
    /// `timeoutPrevote(0)` in milliseconds.
    pub timeout_prevote_ms: u64,
    /// `timeoutPrecommit(0)` in milliseconds.
    pub timeout_precommit_ms: u64,
    /// Growth of every timeout per round: `timeout(r) = timeout(0) + r * delta`.
    pub timeout_delta_ms: u64,
    /// Interval at which the node re-sends its own messages of the current
    /// round (a deviation: the paper assumes reliable gossip).
    pub rebroadcast_interval_ms: u64,
    /// Memory bounds.
    pub limits: Limits,
}

impl ConsensusConfig {
    /// A configuration with the default timeouts (3 s propose, 1 s prevote and
    /// precommit, +500 ms per round, rebroadcast every 2 s) and limits.
    pub fn new(chain_id: impl Into<String>, key: SigningKey) -> Self {
        ConsensusConfig {
            chain_id: chain_id.into(),
            key,
            timeout_propose_ms: 3_000,
            timeout_prevote_ms: 1_000,
            timeout_precommit_ms: 1_000,
            timeout_delta_ms: 500,
            rebroadcast_interval_ms: 2_000,
            limits: Limits::default(),
        }
    }
}
