//! The state machine: [`Consensus::handle`] takes one [`Input`] and returns
//! the [`Action`]s the host must carry out, in order.

use crate::config::ConsensusConfig;
use crate::message::{ConsensusMessage, MessageError};
use crate::safety::{RoundValue, SafetyState, Step};
use crate::votes::{Inserted, VoteKeeper};
use crate::SharedBlock;
use kp_types::consensus::{faults_tolerated, CommitError};
use kp_types::{
    quorum, CommitCertificate, Evidence, Hash, Proposal, PublicKey, SignedProposal, SignedVote,
    Vote, VoteKind,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Upper bound on rule firings while processing one input. Each rule fires at
/// most once per round and step, and a round skip is followed by at most a
/// handful of firings, so a correct run never comes near it; the bound makes
/// the loop terminate even if a future change breaks that reasoning.
const PROGRESS_STEPS_MAX: usize = 64;

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

/// "For the first time" flags of the current round (L34, L36, L47).
#[derive(Clone, Copy, Debug, Default)]
struct RoundFlags {
    prevote_timeout_scheduled: bool,
    valid_value_updated: bool,
    precommit_timeout_scheduled: bool,
}

/// How a received message was admitted.
enum Admitted {
    Current,
    Buffered,
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
        Consensus {
            config,
            me,
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
            self.dirty = false;
            out.push(Action::PersistSafety(Box::new(self.safety.clone())));
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
        let restored = self.restored.take().filter(|s| s.height == height);
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
        if !self.is_validator() {
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

    /// Persists first if anything changed, then broadcasts: the order that
    /// makes every sent signature recoverable after a crash.
    fn send_signed(&mut self, out: &mut Vec<Action>, message: ConsensusMessage) {
        if self.dirty {
            self.dirty = false;
            out.push(Action::PersistSafety(Box::new(self.safety.clone())));
        }
        out.push(Action::Broadcast(message));
    }

    /// Signs and broadcasts a vote of `kind` for `block` in the current round,
    /// unless this node already signed a different one (which only a restart
    /// can bring about): then the old vote is re-sent instead.
    fn vote(&mut self, kind: VoteKind, block: Option<Hash>, out: &mut Vec<Action>) {
        if !self.is_validator() {
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

    // ----- received messages -------------------------------------------------

    /// Checks a received message without changing anything: what
    /// [`Input::Message`] does first. Hosts may use it to score peers.
    pub fn check(&self, message: &ConsensusMessage) -> Result<(), MessageError> {
        self.admit(message).map(|_| ())
    }

    fn admit(&self, message: &ConsensusMessage) -> Result<Admitted, MessageError> {
        if !self.started {
            return Err(MessageError::NotStarted);
        }
        if message.chain_id() != self.config.chain_id {
            return Err(MessageError::WrongChain {
                expected: self.config.chain_id.clone(),
                found: message.chain_id().to_string(),
            });
        }
        let (height, current) = (message.height(), self.safety.height);
        let signer = message.signer();
        if height < current || (height == current && self.decided) {
            return Err(MessageError::HeightPast { height, current });
        }
        if !self.validator_set.contains(&signer) {
            // For a later height this uses the current set: a validator that
            // joins at the next height is heard once that height starts.
            return Err(MessageError::NotAValidator { signer, height });
        }
        if height > current {
            self.verify_signature(message)?;
            if height - current > self.config.limits.future_heights_max {
                return Err(MessageError::HeightTooFar { height, current });
            }
            return Ok(Admitted::Buffered);
        }
        let (round, now) = (message.round(), self.safety.round);
        let limits = &self.config.limits;
        if round > now.saturating_add(limits.rounds_ahead_max)
            || round.saturating_add(limits.rounds_behind_max) < now
        {
            return Err(MessageError::RoundOutOfWindow {
                round,
                current: now,
            });
        }
        if let ConsensusMessage::Proposal { signed, block, pol } = message {
            if pol.len() > self.validators.len() {
                return Err(MessageError::PolTooLarge {
                    votes: pol.len(),
                    validators: self.validators.len(),
                });
            }
            let p = &signed.proposal;
            if self.proposer_of(p.round) != Some(signer) {
                return Err(MessageError::WrongProposer {
                    signer,
                    height,
                    round,
                });
            }
            if let Some(pol_round) = p.pol_round {
                if pol_round >= p.round {
                    return Err(MessageError::BadPolRound { round, pol_round });
                }
            }
            let found = block.hash();
            if found != p.block_hash
                || block.header.height != height
                || block.header.chain_id != self.config.chain_id
            {
                return Err(MessageError::BlockMismatch {
                    expected: p.block_hash,
                    found,
                });
            }
        }
        self.verify_signature(message)?;
        Ok(Admitted::Current)
    }

    fn verify_signature(&self, message: &ConsensusMessage) -> Result<(), MessageError> {
        let ok = match message {
            ConsensusMessage::Proposal { signed, .. } => signed.verify().is_ok(),
            ConsensusMessage::Vote(v) => v.verify().is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(MessageError::BadSignature {
                signer: message.signer(),
            })
        }
    }

    fn is_known(&self, message: &ConsensusMessage) -> bool {
        match message {
            ConsensusMessage::Vote(v) => self.votes.contains(v),
            ConsensusMessage::Proposal { signed, .. } => self
                .proposals
                .get(&signed.proposal.round)
                .is_some_and(|ps| ps.contains(signed)),
        }
    }

    fn on_message(
        &mut self,
        from: PublicKey,
        message: ConsensusMessage,
        out: &mut Vec<Action>,
    ) -> Result<(), MessageError> {
        if self.started && message.height() == self.safety.height && self.is_known(&message) {
            // Cheap exit before signature checks: gossip delivers duplicates.
            // A known vote is authentic, and a re-sent one from an earlier
            // round is how a stuck laggard asks for help.
            self.answer_laggard(from, &message, out);
            return Err(MessageError::Duplicate);
        }
        let admitted = match self.admit(&message) {
            Ok(admitted) => admitted,
            Err(e @ MessageError::HeightTooFar { .. }) => {
                // A validator (signature checked) is far ahead: we missed
                // decisions and must fetch them rather than buffer.
                self.request_commit(out);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        match admitted {
            Admitted::Buffered => self.buffer(message, out),
            Admitted::Current => {
                self.answer_laggard(from, &message, out);
                match message {
                    ConsensusMessage::Vote(vote) => self.on_vote(vote, out),
                    ConsensusMessage::Proposal { signed, block, pol } => {
                        self.on_pol(&signed, pol, out);
                        self.on_proposal(signed, block, out)
                    }
                }
                Ok(())
            }
        }
    }

    fn buffer(
        &mut self,
        message: ConsensusMessage,
        out: &mut Vec<Action>,
    ) -> Result<(), MessageError> {
        let cap = self.config.limits.future_messages_per_signer_max;
        let slot = self
            .future
            .entry(message.height())
            .or_default()
            .entry(message.signer())
            .or_default();
        let outcome = if slot.contains(&message) {
            Err(MessageError::Duplicate)
        } else if slot.len() >= cap {
            Err(MessageError::BufferFull)
        } else {
            slot.push(message);
            Ok(())
        };
        // A validator is already at a later height: we may have missed the
        // decision of ours. Asked again (at most once per rebroadcast
        // interval) even for a re-sent message, since that validator may be
        // the only one able to answer.
        self.request_commit(out);
        outcome
    }

    fn request_commit(&mut self, out: &mut Vec<Action>) {
        if !self.commit_requested {
            self.commit_requested = true;
            out.push(Action::RequestCommit {
                height: self.safety.height,
            });
        }
    }

    /// A validator still voting in an earlier round of our height gets, once
    /// per rebroadcast interval, our own votes of the current round (with
    /// those of f+1 validators it skips ahead, L55) and, from f+1 of us
    /// (at least one correct), every vote we hold for its round, what it
    /// needs to finish that round. This is the state-based part of
    /// Tendermint's gossip, which the paper assumes.
    ///
    /// Only a vote that comes from its own signer (`from`) shows that the
    /// signer lags: a vote relayed in another laggard's answer is old news
    /// about its signer. Answering those too, and from every validator, made
    /// each answer start new ones; with 60 validators the network spent
    /// itself on answers and stopped deciding blocks.
    fn answer_laggard(
        &mut self,
        from: PublicKey,
        message: &ConsensusMessage,
        out: &mut Vec<Action>,
    ) {
        let ConsensusMessage::Vote(v) = message else {
            return;
        };
        let (peer, round) = (v.vote.validator, v.vote.round);
        if from != peer
            || round >= self.safety.round
            || peer == self.me
            || self.answered.get(&peer) == Some(&round)
        {
            return;
        }
        self.answered.insert(peer, round);
        if self.relays_for(peer, round) {
            for vote in self.votes.votes_in(round) {
                if vote.vote.validator != peer {
                    out.push(Action::SendTo(peer, ConsensusMessage::Vote(vote)));
                }
            }
        }
        for own in &self.safety.votes {
            out.push(Action::SendTo(peer, ConsensusMessage::Vote(own.clone())));
        }
    }

    /// Whether this node is one of the f+1 validators that relay votes of
    /// `round` to `laggard`: the ones following the laggard in validator
    /// order, starting `round` places further on, so the set rotates with
    /// the round and no fixed group of faulty validators can be the only
    /// helpers for long.
    fn relays_for(&self, laggard: PublicKey, round: u32) -> bool {
        relay_helper(&self.validators, self.me, laggard, round)
    }
    /// Counts the proof-of-lock prevotes carried by a proposal, each checked
    /// like any received vote.
    fn on_pol(&mut self, signed: &SignedProposal, pol: Vec<SignedVote>, out: &mut Vec<Action>) {
        let Some(vr) = signed.proposal.pol_round else {
            return;
        };
        for vote in pol {
            let v = &vote.vote;
            let fits = v.kind == VoteKind::Prevote
                && v.round == vr
                && v.block == Some(signed.proposal.block_hash)
                && v.height == self.safety.height;
            if !fits || self.votes.contains(&vote) {
                continue;
            }
            if self.check(&ConsensusMessage::Vote(vote.clone())).is_ok() {
                self.on_vote(vote, out);
            }
        }
    }

    fn on_vote(&mut self, vote: SignedVote, out: &mut Vec<Action>) {
        if let Inserted::Equivocation(evidence) = self.votes.insert(vote) {
            self.record_evidence(*evidence, out);
        }
    }

    fn on_proposal(&mut self, signed: SignedProposal, block: SharedBlock, out: &mut Vec<Action>) {
        let round = signed.proposal.round;
        let cap = self.config.limits.proposals_per_round_max;
        let kept = self.proposals.entry(round).or_default();
        let first = kept.first().cloned();
        if kept.len() >= cap {
            // Already at the bound: this can only be a further equivocation.
            if let Some(first) = first {
                self.record_evidence(
                    Evidence::DuplicateProposal {
                        first,
                        second: signed,
                    },
                    out,
                );
            }
            return;
        }
        kept.push(signed.clone());
        if let Some(first) = first {
            self.record_evidence(
                Evidence::DuplicateProposal {
                    first,
                    second: signed,
                },
                out,
            );
        }
        let hash = block.hash();
        self.blocks.entry(hash).or_insert_with(|| block.clone());
        if !self.validity.contains_key(&hash) {
            out.push(Action::ValidateBlock {
                height: self.safety.height,
                block,
            });
        }
    }

    fn record_evidence(&mut self, evidence: Evidence, out: &mut Vec<Action>) {
        let id = evidence.id();
        if !self.evidence_seen.insert(id) {
            return;
        }
        self.evidence_order.push_back(id);
        while self.evidence_order.len() > self.config.limits.evidence_held_max {
            if let Some(old) = self.evidence_order.pop_front() {
                self.evidence_seen.remove(&old);
            }
        }
        out.push(Action::Evidence(evidence));
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

    // ----- the upon rules --------------------------------------------------------

    /// Fires every rule whose condition holds until none does.
    fn progress(&mut self, out: &mut Vec<Action>) {
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
