//! The state machine: [`Consensus::handle`] takes one [`Input`] and returns
//! the [`Action`]s the host must carry out, in order.

mod io;
mod receive;
mod rules;

pub use self::io::{Action, Input, Timeout, TimeoutKind};

use crate::config::ConsensusConfig;
use crate::message::ConsensusMessage;
use crate::safety::{SafetyState, Step};
use crate::votes::VoteKeeper;
use crate::SharedBlock;
use kp_types::consensus::{faults_tolerated, CommitError};
use kp_types::{
    quorum, CommitCertificate, Hash, Proposal, PublicKey, SignedProposal, SigningKey, Vote,
    VoteKind,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// "For the first time" flags of the current round (L34, L36, L47).
#[derive(Clone, Copy, Debug, Default)]
struct RoundFlags {
    prevote_timeout_scheduled: bool,
    valid_value_updated: bool,
    precommit_timeout_scheduled: bool,
}

/// The Tendermint core of one node.
#[derive(Debug)]
pub struct Consensus {
    config: ConsensusConfig,
    me: PublicKey,
    restored: Option<SafetyState>,
    started: bool,
    safety: SafetyState,
    dirty: bool,
    /// What the last persisted safety state signed (see
    /// [`SafetyState::assert_safe`]).
    persisted: Option<crate::safety::Signed>,
    /// The height of the restored safety state. A host that restarts below
    /// it lost blocks it had decided (and voted in) before: until it reaches
    /// this height again it follows without signing or persisting anything,
    /// so it can neither vote twice in a height it voted in nor overwrite
    /// the persisted state that guards this one.
    signs_from: u64,
    validators: Vec<PublicKey>,
    validator_set: BTreeSet<PublicKey>,
    votes: VoteKeeper,
    proposals: BTreeMap<u32, Vec<SignedProposal>>,
    blocks: BTreeMap<Hash, SharedBlock>,
    validity: BTreeMap<Hash, bool>,
    flags: RoundFlags,
    decided: bool,
    commit_requested: bool,
    future: BTreeMap<u64, BTreeMap<PublicKey, Vec<ConsensusMessage>>>,
    evidence_seen: BTreeSet<Hash>,
    evidence_order: VecDeque<Hash>,
    /// Laggards answered since the last rebroadcast, with the round answered
    /// (at most one entry per validator).
    answered: BTreeMap<PublicKey, u32>,
}

/// Whether `me` relays the votes of `round` to `laggard`: f+1 of the other
/// validators of the sorted set `validators` do, rotating with the round.
pub fn relay_helper(
    validators: &[PublicKey],
    me: PublicKey,
    laggard: PublicKey,
    round: u32,
) -> bool {
    let n = validators.len();
    let (Ok(mine), Ok(theirs)) = (
        validators.binary_search(&me),
        validators.binary_search(&laggard),
    ) else {
        return false;
    };
    if n < 2 || mine == theirs {
        return false;
    }
    let others = n - 1;
    let helpers = (faults_tolerated(n) + 1).min(others);
    // 1..=others: how far after the laggard we come in validator order.
    let distance = (mine + n - theirs) % n;
    let shift = round as usize % others;
    (distance - 1 + others - shift) % others < helpers
}

/// The proposer of `round` at `height`: validators rotate, one step per height
/// and per round.
pub fn proposer(validators: &[PublicKey], height: u64, round: u32) -> Option<PublicKey> {
    let n = validators.len() as u64;
    if n == 0 {
        return None;
    }
    let index = (height % n + u64::from(round) % n) % n;
    validators.get(index as usize).copied()
}

impl Consensus {
    /// A core that waits for [`Input::StartHeight`]. `restored` is the last
    /// safety state the host persisted, if any; it is resumed when its height
    /// is started.
    pub fn new(config: ConsensusConfig, restored: Option<SafetyState>) -> Self {
        let me = config.key.public();
        let persisted = restored.as_ref().map(SafetyState::signed);
        let signs_from = restored.as_ref().map_or(0, |s| s.height);
        Consensus {
            config,
            me,
            persisted,
            signs_from,
            restored,
            started: false,
            safety: SafetyState::new(0),
            dirty: false,
            validators: Vec::new(),
            validator_set: BTreeSet::new(),
            votes: VoteKeeper::default(),
            proposals: BTreeMap::new(),
            blocks: BTreeMap::new(),
            validity: BTreeMap::new(),
            flags: RoundFlags::default(),
            decided: false,
            commit_requested: false,
            future: BTreeMap::new(),
            evidence_seen: BTreeSet::new(),
            evidence_order: VecDeque::new(),
            answered: BTreeMap::new(),
        }
    }

    /// This node's key.
    pub fn public_key(&self) -> PublicKey {
        self.me
    }

    /// Signs with `key` from now on: the node's consensus key was rotated
    /// (ADR 0008). The safety state carries over. The core signs only at
    /// heights whose validator set lists its key, and a height's set lists
    /// one node key per government, so no height is signed by both keys: a
    /// switch during a height that lists the old key leaves the rest of that
    /// height unsigned by this node, and the new key signs from the first
    /// height that lists it.
    pub fn set_key(&mut self, key: SigningKey) {
        self.me = key.public();
        self.config.key = key;
    }

    /// `h_p`.
    pub fn height(&self) -> u64 {
        self.safety.height
    }

    /// `round_p`.
    pub fn round(&self) -> u32 {
        self.safety.round
    }

    /// `step_p`.
    pub fn step(&self) -> Step {
        self.safety.step
    }

    /// The current safety state.
    pub fn safety(&self) -> &SafetyState {
        &self.safety
    }

    /// Whether the current height is decided (the core waits for the next
    /// [`Input::StartHeight`]).
    pub fn is_decided(&self) -> bool {
        self.decided
    }

    /// The current height's validators, sorted.
    pub fn validators(&self) -> &[PublicKey] {
        &self.validators
    }

    /// Whether this node votes in the current height.
    pub fn is_validator(&self) -> bool {
        self.validator_set.contains(&self.me)
    }

    /// Whether this node signs in the current height: a validator at or
    /// above the height of the state it restarted from (`signs_from`).
    fn may_sign(&self) -> bool {
        self.is_validator() && self.safety.height >= self.signs_from
    }

    /// Votes kept for the current height.
    pub fn votes_kept(&self) -> usize {
        self.votes.len()
    }

    /// Messages buffered for later heights.
    pub fn future_buffered(&self) -> usize {
        self.future
            .values()
            .flat_map(|by_signer| by_signer.values())
            .map(Vec::len)
            .sum()
    }

    /// Evidence items remembered.
    pub fn evidence_held(&self) -> usize {
        self.evidence_seen.len()
    }

    /// Checks a commit certificate for the current height against the current
    /// validator set.
    pub fn verify_commit(&self, certificate: &CommitCertificate) -> Result<(), CommitError> {
        certificate.verify(&self.config.chain_id, &self.validators)
    }

    fn quorum(&self) -> usize {
        quorum(self.validators.len())
    }

    fn proposer_of(&self, round: u32) -> Option<PublicKey> {
        proposer(&self.validators, self.safety.height, round)
    }

    fn timeout_ms(&self, kind: TimeoutKind, round: u32) -> u64 {
        let base = match kind {
            TimeoutKind::Propose => self.config.timeout_propose_ms,
            TimeoutKind::Prevote => self.config.timeout_prevote_ms,
            TimeoutKind::Precommit => self.config.timeout_precommit_ms,
            TimeoutKind::Rebroadcast => return self.config.rebroadcast_interval_ms,
        };
        base.saturating_add(
            self.config
                .timeout_delta_ms
                .saturating_mul(u64::from(round)),
        )
    }

    fn schedule(&self, out: &mut Vec<Action>, kind: TimeoutKind, round: u32) {
        out.push(Action::ScheduleTimeout {
            timeout: Timeout {
                height: self.safety.height,
                round,
                kind,
            },
            duration_ms: self.timeout_ms(kind, round),
        });
    }

    /// Processes one input and returns what the host must do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::StartHeight { height, validators } => {
                self.start_height(height, validators, &mut out)
            }
            Input::Message { from, message } => {
                // A refused message changes nothing; `check` tells a host why.
                let _ = self.on_message(from, message, &mut out);
            }
            Input::TimeoutElapsed(timeout) => self.on_timeout(timeout, &mut out),
            Input::ProposalPayload {
                height,
                round,
                block,
            } => self.on_payload(height, round, block, &mut out),
            Input::BlockValidity {
                height,
                block_hash,
                valid,
            } => {
                if self.started
                    && height == self.safety.height
                    && self.blocks.contains_key(&block_hash)
                {
                    self.validity.insert(block_hash, valid);
                }
            }
            Input::CommitFromSync { block, certificate } => {
                self.on_synced_commit(block, certificate, &mut out)
            }
        }
        self.progress(&mut out);
        if self.dirty {
            self.persist(&mut out);
        }
        out
    }

    // ----- heights and rounds ------------------------------------------------

    fn start_height(&mut self, height: u64, validators: Vec<PublicKey>, out: &mut Vec<Action>) {
        if self.started && height <= self.safety.height {
            // A repeated or stale start: the host is confused; ignore it rather
            // than forget votes of the running height.
            return;
        }
        let mut validators = validators;
        validators.sort();
        validators.dedup();
        self.validator_set = validators.iter().copied().collect();
        self.validators = validators;
        self.votes = VoteKeeper::default();
        self.proposals.clear();
        self.blocks.clear();
        self.validity.clear();
        self.decided = false;
        self.commit_requested = false;
        self.answered.clear();
        self.started = true;
        // L53: locked and valid values reset with the new height (a fresh
        // safety state), unless we resume one persisted for this very height.
        let restored = match self.restored.take() {
            Some(state) if state.height == height => Some(state),
            // Kept for its own height (see `signs_from`).
            Some(state) if state.height > height => {
                self.restored = Some(state);
                None
            }
            _ => None,
        };
        self.schedule_rebroadcast(height, out);
        match restored {
            Some(state) => {
                self.safety = state;
                self.dirty = false;
                self.resume(out);
            }
            None => {
                self.safety = SafetyState::new(height);
                self.dirty = true;
                self.start_round(0, out); // L10
            }
        }
        // Messages that arrived early for this height are admitted now that
        // its validator set is known; older ones are dropped.
        let mut future = std::mem::take(&mut self.future);
        let current = future.remove(&height).unwrap_or_default();
        self.future = future.split_off(&height);
        for (signer, messages) in current {
            for message in messages {
                let _ = self.on_message(signer, message, out);
            }
        }
    }

    fn schedule_rebroadcast(&self, height: u64, out: &mut Vec<Action>) {
        out.push(Action::ScheduleTimeout {
            timeout: Timeout {
                height,
                round: 0,
                kind: TimeoutKind::Rebroadcast,
            },
            duration_ms: self.config.rebroadcast_interval_ms,
        });
    }

    /// After a restart in the middle of a height: pick up the persisted round
    /// and step, count our own persisted votes and re-send what we signed.
    fn resume(&mut self, out: &mut Vec<Action>) {
        self.flags = RoundFlags::default();
        for vote in self
            .safety
            .votes
            .iter()
            .chain(&self.safety.valid_pol)
            .cloned()
            .collect::<Vec<_>>()
        {
            let _ = self.votes.insert(vote);
        }
        if let Some(valid) = &self.safety.valid {
            self.remember_block(valid.block.clone(), true);
        }
        if let Some(locked) = &self.safety.locked {
            self.remember_block(locked.block.clone(), true);
        }
        let round = self.safety.round;
        if self.safety.step == Step::Propose {
            match self.safety.proposal.clone() {
                Some((signed, block)) => {
                    self.remember_block(block.clone(), true);
                    self.proposals
                        .entry(round)
                        .or_default()
                        .push(signed.clone());
                    out.push(Action::Broadcast(self.proposal_message(signed, block)));
                }
                None if self.proposer_of(round) == Some(self.me) => self.propose_or_request(out),
                None => {}
            }
            self.schedule(out, TimeoutKind::Propose, round);
        } else {
            self.rebroadcast_own(out);
            // The timers of this step may have been lost with the crash; the
            // step's own timer is harmless to re-arm (it checks the step).
            let kind = match self.safety.step {
                Step::Prevote => TimeoutKind::Prevote,
                _ => TimeoutKind::Precommit,
            };
            self.schedule(out, kind, round);
        }
    }

    /// L11–L21 `StartRound(round)`.
    fn start_round(&mut self, round: u32, out: &mut Vec<Action>) {
        self.safety.round = round; // L12
        self.safety.step = Step::Propose; // L13
        self.safety.votes.clear();
        self.safety.proposal = None;
        self.dirty = true;
        self.flags = RoundFlags::default();
        let keep_from = round.saturating_sub(self.config.limits.rounds_behind_max);
        self.votes.prune_below(keep_from);
        self.proposals = self.proposals.split_off(&keep_from);
        // Blocks stay only while a kept proposal, the lock or the valid value
        // names them, so a height that runs many rounds keeps a bounded set.
        let mut wanted: BTreeSet<Hash> = self
            .proposals
            .values()
            .flatten()
            .map(|p| p.proposal.block_hash)
            .collect();
        for value in [&self.safety.locked, &self.safety.valid]
            .into_iter()
            .flatten()
        {
            wanted.insert(value.block.hash());
        }
        if let Some((signed, _)) = &self.safety.proposal {
            wanted.insert(signed.proposal.block_hash);
        }
        self.blocks.retain(|h, _| wanted.contains(h));
        self.validity.retain(|h, _| wanted.contains(h));
        if self.proposer_of(round) == Some(self.me) {
            // L14
            self.propose_or_request(out);
        }
        // L21. Deviation: the proposer arms the timer too, so that a host
        // that never answers `RequestProposal` cannot stall the round here.
        self.schedule(out, TimeoutKind::Propose, round);
    }

    /// L15–L19: re-propose `validValue` if there is one, else ask the host.
    fn propose_or_request(&mut self, out: &mut Vec<Action>) {
        match self.safety.valid.clone() {
            Some(valid) => self.propose(valid.block, Some(valid.round), out), // L15–L16
            None => out.push(Action::RequestProposal {
                height: self.safety.height,
                round: self.safety.round,
            }), // L18
        }
    }

    /// L19: sign and broadcast `⟨PROPOSAL, h_p, round_p, v, validRound_p⟩`.
    fn propose(&mut self, block: SharedBlock, pol_round: Option<u32>, out: &mut Vec<Action>) {
        if !self.may_sign() {
            return;
        }
        if let Some((signed, block)) = self.safety.proposal.clone() {
            // Already proposed in this round (before a restart): never sign
            // a second proposal, re-send the first.
            out.push(Action::Broadcast(self.proposal_message(signed, block)));
            return;
        }
        let hash = block.hash();
        let signed = Proposal {
            chain_id: self.config.chain_id.clone(),
            height: self.safety.height,
            round: self.safety.round,
            pol_round,
            block_hash: hash,
            proposer: self.me,
        }
        .sign(&self.config.key);
        self.safety.proposal = Some((signed.clone(), block.clone()));
        self.dirty = true;
        self.remember_block(block.clone(), true);
        self.proposals
            .entry(self.safety.round)
            .or_default()
            .push(signed.clone());
        let message = self.proposal_message(signed, block);
        self.send_signed(out, message);
    }

    /// The wire form of our proposal: with the proof of lock when it
    /// re-proposes the valid value.
    fn proposal_message(&self, signed: SignedProposal, block: SharedBlock) -> ConsensusMessage {
        let pol = match (&self.safety.valid, signed.proposal.pol_round) {
            (Some(valid), Some(vr)) if valid.round == vr => self.safety.valid_pol.clone(),
            _ => Vec::new(),
        };
        ConsensusMessage::Proposal { signed, block, pol }
    }

    fn on_payload(&mut self, height: u64, round: u32, block: SharedBlock, out: &mut Vec<Action>) {
        let wanted = self.started
            && !self.decided
            && height == self.safety.height
            && round == self.safety.round
            && self.safety.step == Step::Propose
            && self.safety.proposal.is_none()
            && self.proposer_of(round) == Some(self.me)
            && block.header.height == height
            && block.header.chain_id == self.config.chain_id;
        if wanted {
            self.propose(block, None, out);
        }
    }

    fn remember_block(&mut self, block: SharedBlock, valid: bool) {
        let hash = block.hash();
        if valid {
            self.validity.insert(hash, true);
        }
        self.blocks.insert(hash, block);
    }

    // ----- signing ------------------------------------------------------------

    /// Hands the safety state to the host to persist, after checking that it
    /// contradicts neither itself nor what was persisted before.
    fn persist(&mut self, out: &mut Vec<Action>) {
        self.dirty = false;
        if self.safety.height < self.signs_from {
            // Nothing was signed here (`may_sign`), and the state on disk
            // guards a later height.
            return;
        }
        self.safety.assert_safe(self.persisted.as_ref());
        self.persisted = Some(self.safety.signed());
        out.push(Action::PersistSafety(Box::new(self.safety.clone())));
    }

    /// Persists first if anything changed, then broadcasts: the order that
    /// makes every sent signature recoverable after a crash.
    fn send_signed(&mut self, out: &mut Vec<Action>, message: ConsensusMessage) {
        if self.dirty {
            self.persist(out);
        }
        out.push(Action::Broadcast(message));
    }

    /// Signs and broadcasts a vote of `kind` for `block` in the current round,
    /// unless this node already signed a different one (which only a restart
    /// can bring about): then the old vote is re-sent instead.
    fn vote(&mut self, kind: VoteKind, block: Option<Hash>, out: &mut Vec<Action>) {
        if !self.may_sign() {
            return;
        }
        if let Some(existing) = self.safety.vote(kind).cloned() {
            out.push(Action::Broadcast(ConsensusMessage::Vote(existing)));
            return;
        }
        let signed = Vote {
            chain_id: self.config.chain_id.clone(),
            height: self.safety.height,
            round: self.safety.round,
            kind,
            block,
            validator: self.me,
        }
        .sign(&self.config.key);
        self.safety.votes.push(signed.clone());
        self.dirty = true;
        let _ = self.votes.insert(signed.clone());
        self.send_signed(out, ConsensusMessage::Vote(signed));
    }

    fn rebroadcast_own(&self, out: &mut Vec<Action>) {
        if let Some((signed, block)) = &self.safety.proposal {
            out.push(Action::Broadcast(
                self.proposal_message(signed.clone(), block.clone()),
            ));
        }
        for vote in &self.safety.votes {
            out.push(Action::Broadcast(ConsensusMessage::Vote(vote.clone())));
        }
    }

    // ----- timeouts ------------------------------------------------------------

    fn on_timeout(&mut self, timeout: Timeout, out: &mut Vec<Action>) {
        let current = self.started && !self.decided && timeout.height == self.safety.height;
        if !current {
            return;
        }
        let same_round = timeout.round == self.safety.round;
        match timeout.kind {
            TimeoutKind::Propose if same_round && self.safety.step == Step::Propose => {
                self.vote(VoteKind::Prevote, None, out); // L59
                self.safety.step = Step::Prevote; // L60
                self.dirty = true;
            }
            TimeoutKind::Prevote if same_round && self.safety.step == Step::Prevote => {
                self.vote(VoteKind::Precommit, None, out); // L63
                self.safety.step = Step::Precommit; // L64
                self.dirty = true;
            }
            TimeoutKind::Precommit if same_round => {
                self.start_round(self.safety.round.saturating_add(1), out); // L67
            }
            TimeoutKind::Rebroadcast => {
                self.rebroadcast_own(out);
                self.commit_requested = false;
                self.answered.clear();
                self.schedule_rebroadcast(timeout.height, out);
            }
            _ => {}
        }
    }

    fn on_synced_commit(
        &mut self,
        block: SharedBlock,
        certificate: CommitCertificate,
        out: &mut Vec<Action>,
    ) {
        if !self.started
            || self.decided
            || certificate.height != self.safety.height
            || block.hash() != certificate.block_hash
            || self.verify_commit(&certificate).is_err()
        {
            return;
        }
        self.decided = true;
        out.push(Action::Decide { block, certificate });
    }
}
