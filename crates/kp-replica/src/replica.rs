//! The replica: events in, [`Ready`] batches out (see the crate docs for
//! the order a host carries them out in).

use crate::mempool::{Mempool, MempoolError};
use crate::sync::{Sync, SyncConfig, SyncRequest};
use kp_chain::{BlockStore, TxFilter};
use kp_consensus::{Action, Consensus, ConsensusMessage, Input, SafetyState, SharedBlock, Timeout};
use kp_ledger::{BlockReceipt, Ledger, LedgerError, Pending, Rejection, StateStore, StoreError};
use kp_types::tx::{Payload, Transaction};
use kp_types::{
    Block, CommitCertificate, Evidence, PublicKey, Signature, SignedTransaction, SigningKey,
    Timestamp, TxHash,
};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use thiserror::Error;

mod catch_up;
pub use catch_up::{Applied, CatchUpError, Stage};

/// Transaction signatures known to verify, by transaction hash (the host
/// verified them in a batch, off its event loop).
pub type VerifiedSignatures = HashMap<TxHash, Signature>;

/// How a replica paces blocks and bounds its work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// Pause after a block before the next height starts.
    pub block_interval_ms: u64,
    /// Pause after an empty block while the pool is empty too: the idle
    /// network's heartbeat. A transaction, another validator starting the
    /// height, or the ledger's next time-driven work
    /// ([`kp_ledger::Ledger::next_housekeeping_at`]) ends it early.
    pub empty_block_interval_ms: u64,
    /// How far ahead of the replica's clock a proposed block's time may be.
    pub clock_drift_max_ms: u64,
    /// Transactions the pool holds.
    pub mempool_size_max: usize,
    /// Pending transactions re-checked against the state after each block.
    pub recheck_per_block: usize,
    /// Lifetime of the evidence transactions the replica signs.
    pub evidence_tx_lifetime_ms: u64,
    /// Inputs the core handles for one event at most (each input yields a
    /// bounded number of actions, and only proposal building and block
    /// validation feed back; the loop is bounded regardless).
    pub inputs_per_event_max: usize,
    /// How the replica asks peers for decided blocks.
    pub sync: SyncConfig,
}

impl Default for ReplicaConfig {
    fn default() -> ReplicaConfig {
        ReplicaConfig {
            block_interval_ms: 200,
            empty_block_interval_ms: 60_000,
            clock_drift_max_ms: 10_000,
            mempool_size_max: 20_000,
            recheck_per_block: 256,
            evidence_tx_lifetime_ms: 60 * 60 * 1000,
            inputs_per_event_max: 256,
            sync: SyncConfig::default(),
        }
    }
}

/// A timer the replica asked for; the host hands it back when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// A consensus timeout.
    Consensus(Timeout),
    /// Start this height (after the pause that follows a block).
    StartHeight(u64),
    /// Check whether block sync is needed (every `SyncConfig::check_ms`).
    SyncCheck,
}

/// What happened, as the host tells it.
// Moved once from the host into the replica, never stored: boxing the
// message would cost an allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Event {
    /// The host started: run the height after the last applied block.
    Start,
    /// A consensus message from a peer (`from`: the authenticated sender or
    /// gossip author; the core trusts only the signature inside).
    Message {
        /// Who handed it over.
        from: PublicKey,
        /// The decoded message.
        message: ConsensusMessage,
    },
    /// A timer the replica asked for has fired.
    Timer(Timer),
    /// A peer is connected: it may be asked for blocks.
    PeerConnected(PublicKey),
    /// A peer is gone.
    PeerDisconnected(PublicKey),
    /// A peer showed a decided block beyond the next height (gossip): this
    /// replica missed blocks, which that peer has.
    PeerAhead(PublicKey),
}

/// A consensus message to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// To every validator.
    Broadcast(ConsensusMessage),
    /// To one peer (the votes a lagging validator needs).
    To(PublicKey, ConsensusMessage),
}

/// Something the host should record (the replica has no log of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A proposed block failed validation.
    InvalidProposal {
        /// Its height.
        height: u64,
        /// Why.
        error: String,
    },
    /// The core saw an equivocation; the replica signed evidence of it.
    EvidenceSigned {
        /// The evidence transaction.
        hash: TxHash,
    },
    /// The evidence the replica signed was refused by its own pool.
    EvidenceRefused {
        /// Why.
        error: String,
    },
    /// One event fed the core more inputs than allowed; the rest were dropped.
    InputBudgetExhausted,
}

/// What the host must do, in this order: [`Ready::safety`] durable, then
/// [`Ready::decided`] applied with [`Replica::store_decided`] and durable,
/// then [`Ready::messages`] sent, then the rest.
#[derive(Debug, Default)]
#[must_use = "a Ready holds durable writes and messages the host must carry out"]
pub struct Ready {
    /// The consensus safety state to make durable (replacing the previous
    /// one) before any message of this batch leaves.
    pub safety: Option<Box<SafetyState>>,
    /// A decided block of the next height with its commit certificate. The
    /// replica does nothing more until the host has called
    /// [`Replica::store_decided`] with it.
    pub decided: Option<(SharedBlock, CommitCertificate)>,
    /// Consensus messages, in the order the core produced them.
    pub messages: Vec<Outgoing>,
    /// Timers to schedule: after this many milliseconds, hand the timer back.
    pub timers: Vec<(u64, Timer)>,
    /// Transactions the replica made (evidence) and pooled, to gossip.
    pub gossip: Vec<SignedTransaction>,
    /// Ask a peer for decided blocks; its answer goes to
    /// [`Replica::sync_answered`].
    pub sync_request: Option<SyncRequest>,
    /// Things worth a log line.
    pub notes: Vec<Note>,
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.safety.is_none()
            && self.decided.is_none()
            && self.messages.is_empty()
            && self.timers.is_empty()
            && self.gossip.is_empty()
            && self.sync_request.is_none()
            && self.notes.is_empty()
    }
}

/// Why a transaction did not enter the pool.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// The ledger's rules (or the signature) refuse it in the current state.
    #[error("the ledger refuses this transaction: {0}")]
    Refused(Rejection),
    /// The pool is full, or holds it already.
    #[error(transparent)]
    Pool(#[from] MempoolError),
    /// It is in a decided block already (accepted or refused there).
    #[error("transaction {hash} is already in a decided block")]
    AlreadyDecided {
        /// The transaction.
        hash: TxHash,
    },
}

/// Why a decided block from a peer was not taken.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SyncRefusal {
    /// It is not the block of the next height.
    #[error("block {height} does not follow on (the next height is {expected})")]
    NotNext {
        /// Its height.
        height: u64,
        /// The height expected.
        expected: u64,
    },
    /// The certificate is for another block or height.
    #[error("the commit certificate of block {height} is for another block")]
    CertificateMismatch {
        /// The block's height.
        height: u64,
    },
    /// The certificate does not carry a quorum of this height's validators.
    #[error("the commit certificate of block {height} is refused: {detail}")]
    Certificate {
        /// The block's height.
        height: u64,
        /// What is wrong.
        detail: String,
    },
    /// The block is invalid for this ledger.
    #[error("block {height} is refused: {detail}")]
    Block {
        /// Its height.
        height: u64,
        /// What is wrong.
        detail: String,
    },
}

/// How a synced block was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synced {
    /// Handed to the consensus core, which runs this height: its decision
    /// comes out of [`Replica::ready`].
    ToConsensus,
    /// Decided directly: [`Replica::ready`] returns it in [`Ready::decided`].
    Decided,
}

/// One node's replica: consensus core, ledger and pool.
pub struct Replica<S: StateStore> {
    key: SigningKey,
    public: PublicKey,
    config: ReplicaConfig,
    consensus: Consensus,
    ledger: Ledger<S>,
    mempool: Mempool,
    /// The next height, while its start waits because the network is idle.
    idle_height: Option<u64>,
    /// Inputs for the core not yet handled.
    inputs: VecDeque<Input>,
    /// Actions of handled inputs not yet carried out.
    actions: VecDeque<Action>,
    /// A decided block handed out in a `Ready` and not yet applied, and
    /// whether it came from block sync (the next height then starts at once).
    awaiting: Option<(u64, bool)>,
    /// Inputs the core may still take for the current event.
    budget: usize,
    /// The host's clock at the current event.
    now: Timestamp,
    ready: Ready,
    /// Test-only byzantine proposer: well-signed transactions that break a
    /// rule, stuffed into own proposals without checks.
    junk: Vec<SignedTransaction>,
    /// A verified synced block handed to the core: decided directly if the
    /// core has not decided its height once its work is done.
    synced_to_core: Option<(SharedBlock, CommitCertificate)>,
    /// Block sync, the asking side.
    sync: Sync,
    /// Synced blocks applied ahead of the store, not yet taken to be written.
    catch_up: catch_up::CatchUp,
    /// The transaction hashes the block index may hold: a submitted
    /// transaction it rules out is not looked up there.
    decided: TxFilter,
}

impl<S: StateStore> Replica<S> {
    /// A replica of `ledger` whose core (built by the host, with the safety
    /// state it restored) signs with `key`.
    ///
    /// Reads the block store's transaction index once (the filter of
    /// decided transactions); fails only if the store does.
    pub fn new(
        config: ReplicaConfig,
        key: SigningKey,
        consensus: Consensus,
        ledger: Ledger<S>,
    ) -> Result<Replica<S>, StoreError> {
        let mempool = Mempool::new(config.mempool_size_max.max(1));
        let decided = TxFilter::build(ledger.store())?;
        Ok(Replica {
            public: key.public(),
            key,
            budget: config.inputs_per_event_max,
            config,
            consensus,
            ledger,
            mempool,
            idle_height: None,
            inputs: VecDeque::new(),
            actions: VecDeque::new(),
            awaiting: None,
            now: Timestamp(0),
            ready: Ready::default(),
            junk: Vec::new(),
            synced_to_core: None,
            sync: Sync::default(),
            catch_up: catch_up::CatchUp::default(),
            decided,
        })
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<S> {
        &self.ledger
    }

    /// The consensus core.
    pub fn consensus(&self) -> &Consensus {
        &self.consensus
    }

    /// The pool.
    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// This replica's key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Signs with `key` from now on (votes, proposals, evidence): the node's
    /// consensus key was rotated and the ledger lists the new one (ADR 0008;
    /// [`Consensus::set_key`] says why no height is signed by both keys).
    pub fn set_key(&mut self, key: SigningKey) {
        self.public = key.public();
        self.consensus.set_key(key.clone());
        self.key = key;
    }

    /// The config.
    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// Whether this replica votes at the next height.
    pub fn is_validator(&self) -> bool {
        self.ledger.validators().contains(&self.public)
    }

    /// Peers connected (that block sync may ask).
    pub fn peers(&self) -> usize {
        self.sync.peers()
    }

    /// The block request in flight, if any.
    pub fn sync_in_flight(&self) -> Option<SyncRequest> {
        self.sync.in_flight()
    }

    /// Whether a decided block waits for [`Replica::store_decided`].
    pub fn is_awaiting_apply(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Test-only byzantine mode: each own proposal carries one or two of
    /// `txs` (by height and round) without any check. An honest
    /// replica never calls this.
    pub fn stuff_proposals(&mut self, txs: Vec<SignedTransaction>) {
        self.junk = txs;
    }

    /// Takes in one event at the host's time `now`; the work it causes comes
    /// out of [`Replica::ready`].
    pub fn handle(&mut self, event: Event, now: Timestamp) {
        self.now = now;
        self.budget = self.config.inputs_per_event_max;
        match event {
            Event::Start => {
                let next = self.ledger.height() + 1;
                self.sync.progressed(now);
                self.ready
                    .timers
                    .push((self.config.sync.check_ms, Timer::SyncCheck));
                self.start_height(next);
            }
            Event::PeerConnected(peer) => {
                self.sync.peer_connected(peer, self.config.sync.peers_max);
                // A peer just met may be ahead: ask it now rather than at
                // the next stall check (a second later for a node that
                // starts behind; one empty answer for a peer level with
                // this one). One request in flight at a time bounds it.
                self.ask_sync(Some(peer));
            }
            Event::PeerDisconnected(peer) => self.sync.peer_disconnected(&peer),
            Event::PeerAhead(peer) => self.ask_sync(Some(peer)),
            Event::Timer(Timer::SyncCheck) => {
                let next = self.ledger.height() + 1;
                // An idle network rightly makes no block for a heartbeat:
                // asking peers every check meanwhile would be a request a
                // second from every node for nothing. A peer ahead, or a
                // message of a later height, still asks at once.
                let quiet_ms = if self.idle_height == Some(next) {
                    self.config.empty_block_interval_ms
                } else {
                    0
                };
                let asked = self.sync.check(next, now, &self.config.sync, quiet_ms);
                self.ready.sync_request = self.ready.sync_request.or(asked);
                self.ready
                    .timers
                    .push((self.config.sync.check_ms, Timer::SyncCheck));
            }
            Event::Message { from, message } => {
                if !self.is_validator() {
                    return;
                }
                let next = self.ledger.height() + 1;
                if message.height() > next {
                    // We missed decisions: fetch them from the one who has.
                    self.ask_sync(Some(from));
                } else if message.height() == next {
                    self.wake_idle();
                }
                self.inputs.push_back(Input::Message { from, message });
            }
            Event::Timer(Timer::Consensus(timeout)) => {
                self.inputs.push_back(Input::TimeoutElapsed(timeout));
            }
            Event::Timer(Timer::StartHeight(height)) => {
                if self.idle_height == Some(height) {
                    self.idle_height = None;
                }
                if height == self.ledger.height() + 1 {
                    self.start_height(height);
                }
            }
        }
    }

    /// The next batch of work, or `None` when there is none (or a decided
    /// block waits for [`Replica::store_decided`]). Call until `None` after
    /// each event, carrying out each batch before asking for the next.
    pub fn ready(&mut self) -> Option<Ready> {
        while self.awaiting.is_none() {
            if let Some(action) = self.actions.pop_front() {
                let slow = matches!(
                    action,
                    Action::RequestProposal { .. }
                        | Action::ValidateBlock { .. }
                        | Action::Decide { .. }
                );
                if slow && !self.ready.messages.is_empty() {
                    // What is due leaves before the slow work.
                    self.actions.push_front(action);
                    return Some(std::mem::take(&mut self.ready));
                }
                self.act(action);
                continue;
            }
            let Some(input) = self.inputs.pop_front() else {
                break;
            };
            if self.budget == 0 {
                self.inputs.clear();
                self.ready.notes.push(Note::InputBudgetExhausted);
                break;
            }
            self.budget -= 1;
            let actions = self.consensus.handle(input);
            self.actions.extend(actions);
        }
        if self.awaiting.is_none() {
            if let Some((block, certificate)) = self.synced_to_core.take() {
                // The core took the block without deciding it: the
                // certificate verified, so the block is decided regardless.
                let height = block.header.height;
                if height == self.ledger.height() + 1 {
                    self.awaiting = Some((height, true));
                    self.ready.decided = Some((block, certificate));
                }
            }
        }
        (!self.ready.is_empty()).then(|| std::mem::take(&mut self.ready))
    }

    /// Applies the decided block of the last [`Ready`] and stores it with
    /// its certificate, its receipts and its transactions' index entries
    /// (the block store's layout, `kp_chain`), in one durable store commit.
    /// On an error the decision is dropped, the ledger is unchanged, and
    /// the host stops (or, in a simulation, records it).
    pub fn store_decided(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<BlockReceipt, LedgerError> {
        let mut pending = self.execute_decided(block)?;
        if let Err(e) = self.add_block_writes(block, certificate, &mut pending) {
            self.abandon_decided();
            return Err(e);
        }
        self.advance_decided(pending)
    }

    /// Adds the block store's entries for an executed block to its commit,
    /// and notes its transactions as decided (before the write is durable:
    /// the filter may hold a hash the index does not yet hold, never the
    /// other way round).
    fn add_block_writes(
        &mut self,
        block: &Block,
        certificate: &CommitCertificate,
        pending: &mut Pending,
    ) -> Result<(), LedgerError> {
        let receipts = &pending.receipt().receipts;
        let receipts_bytes = kp_types::encode(receipts);
        // The receipts hold each transaction's hash, in block order.
        let tx_hashes: Vec<kp_types::TxHash> = receipts.iter().map(|r| r.tx_hash).collect();
        let writes =
            BlockStore::try_block_writes_hashed(block, certificate, &receipts_bytes, &tx_hashes)?;
        for r in receipts {
            self.decided.note(&r.tx_hash);
        }
        pending.add_host_writes(writes)
    }

    /// Executes the decided block of the last [`Ready`] without changing
    /// the ledger. On an error the decision is dropped.
    fn execute_decided(&mut self, block: &Block) -> Result<Pending, LedgerError> {
        let executed = self.ledger.execute(block);
        if executed.is_err() {
            self.awaiting = None;
        }
        executed
    }

    /// The decided block could not be stored: the replica forgets the
    /// decision (the host stops, or a simulation records the failure).
    fn abandon_decided(&mut self) {
        self.awaiting = None;
    }

    /// Commits the executed decided block (its writes and the host's, in
    /// one store commit, durable when this returns), then drops what it
    /// included from the pool and schedules the next height. On an error
    /// the ledger is unchanged and the host stops.
    fn advance_decided(&mut self, pending: Pending) -> Result<BlockReceipt, LedgerError> {
        let awaited = self.awaiting.take();
        let synced = awaited.is_some_and(|(_, synced)| synced);
        let block_empty = pending.receipt().receipts.is_empty();
        let before = self.ledger.height();
        let receipt = self.ledger.advance(pending)?;
        // On in release builds too: the block advanced is the one handed out.
        assert!(
            awaited.is_some_and(|(height, _)| height == receipt.height)
                && self.ledger.height() == before + 1,
            "replica: advanced to block {} while block {awaited:?} was awaited",
            receipt.height
        );
        let now = self.now;
        self.note_committed(&receipt, now);
        let next = self.ledger.height() + 1;
        let pause = self.pause_before(next, block_empty, synced);
        self.ready.timers.push((pause, Timer::StartHeight(next)));
        Ok(receipt)
    }

    /// How long the next height waits after a block. With nothing to order
    /// (an empty block, an empty pool), until the heartbeat or the ledger's
    /// next time-driven work, whichever comes first, unless woken
    /// (`wake_idle`); this holds for a block taken from a peer too, since a
    /// node that synced an empty tip and started the next height at once
    /// would wake every validator of an idle network with its messages.
    /// Otherwise at once after a synced block (more may follow), or after
    /// the block interval.
    pub(crate) fn pause_before(&mut self, next: u64, block_empty: bool, synced: bool) -> u64 {
        if block_empty && self.mempool.is_empty() {
            self.idle_height = Some(next);
            let heartbeat = self
                .config
                .empty_block_interval_ms
                .max(self.config.block_interval_ms);
            let until_due = match self.ledger.next_housekeeping_at() {
                Ok(Some(at)) => at.0.saturating_sub(self.now.0),
                // Nothing scheduled; a read that fails leaves the heartbeat.
                Ok(None) | Err(_) => heartbeat,
            };
            heartbeat.min(until_due).max(self.config.block_interval_ms)
        } else if synced {
            0
        } else {
            self.config.block_interval_ms
        }
    }

    /// What follows any applied block in the pool: what it included leaves,
    /// and a bounded slice of the rest, round-robin, is checked again against
    /// the new state (a number the block took, a sanction it adopted, an
    /// expiry), so that a large pool costs no more per block than the block.
    fn note_committed(&mut self, receipt: &BlockReceipt, now: Timestamp) {
        self.now = now;
        self.sync.progressed(now);
        let included: BTreeSet<TxHash> = receipt.receipts.iter().map(|r| r.tx_hash).collect();
        self.mempool.remove_included(&included);
        let ledger = &self.ledger;
        // Signatures were verified on entry; only the state has changed.
        self.mempool
            .recheck_some(self.config.recheck_per_block, |tx, hash| {
                ledger.check_tx_rules_hashed(tx, *hash, now).is_ok()
            });
    }

    /// Admits a transaction (`hash` is `tx.hash()`) to the pool if the
    /// ledger's rules accept it now; with `verified`, its signature was
    /// already verified and only the rules are checked. One already pending
    /// is accepted again without a second check. Wakes an idle network.
    pub fn submit(
        &mut self,
        tx: SignedTransaction,
        hash: TxHash,
        verified: bool,
        now: Timestamp,
    ) -> Result<(), SubmitError> {
        self.now = now;
        if self.mempool.contains(&hash) {
            return Ok(());
        }
        // Most submissions are new: the filter spares their index lookup.
        let indexed = self.decided.may_contain(&hash)
            && matches!(
                BlockStore::tx_location(self.ledger.store(), &hash),
                Ok(Some(_))
            );
        if indexed {
            return Err(SubmitError::AlreadyDecided { hash });
        }
        let checked = if verified {
            self.ledger.check_tx_rules_hashed(&tx, hash, now)
        } else {
            self.ledger.check_tx(&tx, now)
        };
        checked.map_err(SubmitError::Refused)?;
        self.mempool.insert(hash, tx)?;
        self.wake_idle();
        Ok(())
    }

    /// Checks a decided block from a peer: the next height, a certificate for
    /// it by a quorum of this height's validators, and valid for the ledger
    /// (signatures in `verified`, or held by the pool, are known good).
    pub fn verify_synced(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
        verified: &VerifiedSignatures,
    ) -> Result<(), SyncRefusal> {
        self.verify_synced_certificate(block, certificate)?;
        let mempool = &self.mempool;
        let known = |h: &TxHash, s: &Signature| mempool.knows_signature(verified, h, s);
        self.ledger
            .validate_block_with(block, &known)
            .map_err(|e| SyncRefusal::Block {
                height: block.header.height,
                detail: e.to_string(),
            })
    }

    /// The part of [`Replica::verify_synced`] before the block itself: the
    /// next height, and a certificate for it by a quorum of this height's
    /// validators.
    pub(crate) fn verify_synced_certificate(
        &self,
        block: &Block,
        certificate: &CommitCertificate,
    ) -> Result<(), SyncRefusal> {
        let height = block.header.height;
        let expected = self.ledger.height() + 1;
        if height != expected {
            return Err(SyncRefusal::NotNext { height, expected });
        }
        if certificate.height != height || certificate.block_hash != block.hash() {
            return Err(SyncRefusal::CertificateMismatch { height });
        }
        certificate
            .verify(self.ledger.chain_id(), &self.ledger.validators())
            .map_err(|e| SyncRefusal::Certificate {
                height,
                detail: e.to_string(),
            })
    }

    /// Takes a decided block from a peer after [`Replica::verify_synced`]. A
    /// validator whose core runs this height hands it to the core, so that
    /// the core moves on consistently; otherwise it is decided at once.
    /// Either way the decision comes out of [`Replica::ready`] (if the core
    /// does not decide it, the replica does once the core's work is done:
    /// the certificate was verified).
    pub fn synced(
        &mut self,
        block: Block,
        certificate: CommitCertificate,
        verified: &VerifiedSignatures,
        now: Timestamp,
    ) -> Result<Synced, SyncRefusal> {
        self.now = now;
        self.budget = self.config.inputs_per_event_max;
        if let Some((awaited, _)) = self.awaiting {
            // A decision is out and not applied yet: this block comes after.
            return Err(SyncRefusal::NotNext {
                height: block.header.height,
                expected: awaited,
            });
        }
        self.verify_synced(&block, &certificate, verified)?;
        let height = block.header.height;
        let block = Arc::new(block);
        if self.is_validator() && self.consensus.height() == height {
            self.synced_to_core = Some((block.clone(), certificate.clone()));
            self.inputs
                .push_back(Input::CommitFromSync { block, certificate });
            return Ok(Synced::ToConsensus);
        }
        self.awaiting = Some((height, true));
        self.ready.decided = Some((block, certificate));
        Ok(Synced::Decided)
    }

    /// An answer to the block request in flight, or its failure (`None`):
    /// the blocks that follow on from the ledger, for the host to hand over
    /// with [`Replica::synced`] (or apply in a batch after
    /// [`Replica::verify_synced`]). If there are any, the next range is
    /// asked of the same peer at once ([`Ready::sync_request`]), so that it
    /// travels while these are applied.
    pub fn sync_answered(
        &mut self,
        peer: PublicKey,
        answer: Option<Vec<(Block, CommitCertificate)>>,
        now: Timestamp,
    ) -> Vec<(Block, CommitCertificate)> {
        self.now = now;
        let next = self.ledger.height() + 1;
        let blocks = self.sync.answered(&peer, answer, next);
        if !blocks.is_empty() {
            let after = next + blocks.len() as u64;
            let asked = self.sync.ask(peer, after, now, &self.config.sync);
            self.ready.sync_request = self.ready.sync_request.or(asked);
        }
        blocks
    }

    /// Asks `peer` (or any connected peer) for the blocks after the ledger's.
    fn ask_sync(&mut self, peer: Option<PublicKey>) {
        let next = self.ledger.height() + 1;
        let (now, config) = (self.now, &self.config.sync);
        let asked = match peer {
            Some(peer) => self.sync.ask(peer, next, now, config),
            None => self.sync.ask_any(next, now, config),
        };
        self.ready.sync_request = self.ready.sync_request.or(asked);
    }

    fn start_height(&mut self, height: u64) {
        if !self.is_validator() {
            return;
        }
        let validators = self.ledger.validators();
        self.inputs
            .push_back(Input::StartHeight { height, validators });
    }

    /// Starts the next height now if it waits only because the network was
    /// idle: a transaction arrived, or another validator started that
    /// height. A start already due later is then a repeat, which the core
    /// ignores.
    fn wake_idle(&mut self) {
        if let Some(height) = self.idle_height.take() {
            if height == self.ledger.height() + 1 {
                self.ready.timers.push((0, Timer::StartHeight(height)));
            }
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::PersistSafety(state) => self.ready.safety = Some(state),
            Action::Broadcast(message) => self.ready.messages.push(Outgoing::Broadcast(message)),
            Action::SendTo(peer, message) => self.ready.messages.push(Outgoing::To(peer, message)),
            Action::ScheduleTimeout {
                timeout,
                duration_ms,
            } => self
                .ready
                .timers
                .push((duration_ms, Timer::Consensus(timeout))),
            Action::RequestProposal { height, round } => {
                if height != self.ledger.height() + 1 {
                    return;
                }
                let time = Timestamp(
                    self.now
                        .0
                        .max(self.ledger.last_block_time().0.saturating_add(1)),
                );
                // The pool admits only transactions whose signature verified.
                let (mut block, refused) =
                    self.ledger
                        .build_block_from_verified(self.public, time, self.mempool.iter());
                // No longer valid in this state (a number taken, a sanction
                // adopted): not worth keeping.
                self.mempool.remove(&refused);
                if !self.junk.is_empty() {
                    let count = 1 + ((height + u64::from(round)) % 2) as usize;
                    block.txs.extend(self.junk.iter().take(count).cloned());
                    block.header.txs_root = block.compute_txs_root();
                }
                self.inputs.push_back(Input::ProposalPayload {
                    height,
                    round,
                    block: Arc::new(block),
                });
            }
            Action::ValidateBlock { height, block } => {
                let valid = self.validate_proposal(height, &block);
                self.inputs.push_back(Input::BlockValidity {
                    height,
                    block_hash: block.hash(),
                    valid,
                });
            }
            Action::Decide { block, certificate } => {
                let height = block.header.height;
                // On in release builds too: a decision is handed out only
                // when the last one has been applied (`ready` stops at each).
                assert!(
                    self.awaiting.is_none(),
                    "replica: block {height} decided while block {:?} awaits its apply",
                    self.awaiting
                );
                if height == self.ledger.height() + 1 {
                    self.awaiting = Some((height, false));
                    self.ready.decided = Some((block, certificate));
                } else {
                    // Applied already (from sync): go on as after any block;
                    // an empty one waits like an idle block, or this node
                    // alone would start the next height and wake an idle
                    // network with its messages.
                    let next = self.ledger.height() + 1;
                    let pause = self.pause_before(next, block.txs.is_empty(), false);
                    self.ready.timers.push((pause, Timer::StartHeight(next)));
                }
            }
            Action::Evidence(evidence) => self.sign_evidence(evidence),
            Action::RequestCommit { .. } => self.ask_sync(None),
        }
    }

    fn validate_proposal(&mut self, height: u64, block: &Block) -> bool {
        if height != self.ledger.height() + 1 {
            return false;
        }
        let mempool = &self.mempool;
        let pooled = |h: &TxHash, s: &Signature| mempool.holds_verified(h, s);
        match self.ledger.validate_block_with(block, &pooled) {
            Ok(()) => {
                block.header.time.0 <= self.now.0.saturating_add(self.config.clock_drift_max_ms)
            }
            Err(e) => {
                self.ready.notes.push(Note::InvalidProposal {
                    height,
                    error: e.to_string(),
                });
                false
            }
        }
    }

    fn sign_evidence(&mut self, evidence: Evidence) {
        let tx = Transaction {
            chain_id: self.ledger.chain_id().to_string(),
            signer: self.public,
            nonce: evidence.height(),
            expires_at: self.now.plus_ms(self.config.evidence_tx_lifetime_ms),
            payload: Payload::SubmitEvidence(evidence),
        }
        .sign(&self.key);
        let hash = tx.hash();
        let now = self.now;
        match self.submit(tx.clone(), hash, true, now) {
            Ok(()) => {
                self.ready.notes.push(Note::EvidenceSigned { hash });
                self.ready.gossip.push(tx);
            }
            Err(e) => self.ready.notes.push(Note::EvidenceRefused {
                error: e.to_string(),
            }),
        }
    }
}
