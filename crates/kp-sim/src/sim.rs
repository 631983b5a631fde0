//! The simulation loop: replicas, the simulated network, faults, byzantine
//! behaviours, workload and governance, all driven by one seeded event queue
//! in simulated time.

use crate::check::{Checker, Violation};
use crate::config::{BrokenRule, Byzantine, SimConfig};
use crate::fixture::{self, Workload};
use kp_consensus::{
    Action, Consensus, ConsensusConfig, ConsensusMessage, Input, SafetyState, Timeout,
};
use kp_ledger::records::ResolutionOutcome;
use kp_ledger::{testkit, Genesis, Ledger, LedgerEvent, MemStore, StateStore, WriteSet};
use kp_types::{
    consensus::faults_tolerated, Block, CommitCertificate, Domain, Evidence, Hash, Payload,
    PublicKey, ResolutionAction, ResolutionProposal, SignedTransaction, SigningKey, Timestamp,
    Transaction, Vote, VoteKind,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

/// Most events pending at once; a run that needs more is a bug (or a
/// message storm), reported as a violation rather than eating memory.
pub const QUEUE_EVENTS_MAX: usize = 2_000_000;
/// Transactions a replica's mempool holds.
pub const MEMPOOL_TXS_MAX: usize = 500;
/// Gossip message hashes a replica remembers to drop duplicates.
pub const SEEN_MESSAGES_MAX: usize = 20_000;
/// Copies of one message closer together than this reach the core once
/// (below the 500 ms rebroadcast interval of the simulated nodes).
pub const GOSSIP_DEDUP_WINDOW_MS: u64 = 400;
/// Rule-breaking transactions kept for byzantine proposers to stuff in blocks.
pub const JUNK_TXS_MAX: usize = 16;
/// Old messages a stale replayer keeps to replay.
pub const REPLAY_LOG_MAX: usize = 256;
/// Inputs processed for one event (an input's actions may feed more inputs).
pub const INPUTS_PER_EVENT_MAX: usize = 10_000;
/// Chance (per thousand own votes sent, with crashes on, before healing) that
/// an honest validator crashes between persisting a vote and sending it.
pub const CRASH_BEFORE_SEND_PERMILLE: u32 = 3;
/// How far ahead of a replica's clock a proposed block's time may be.
pub const BLOCK_TIME_DRIFT_MAX_MS: u64 = 5_000;
/// Where replicas keep decided blocks and certificates in their store (host
/// key range, written in the same commit as the block's state).
const BLOCK_KEY_PREFIX: u8 = 0x80;

/// Genesis time of simulated chains: 2026-01-01T00:00:00Z.
fn genesis_time() -> Timestamp {
    testkit::at(2026, 1, 1)
}

/// What travels between replicas.
#[derive(Clone, Debug)]
enum NetMessage {
    /// An encoded [`ConsensusMessage`] (decoded defensively on receipt).
    Consensus(Vec<u8>),
    /// Block sync: "send me the decided block of this height".
    SyncRequest { height: u64 },
    /// Block sync answer.
    SyncResponse {
        block: Box<Block>,
        certificate: Box<CommitCertificate>,
        /// The responder's height, so the requester knows how far to go.
        tip: u64,
    },
    /// Transaction gossip.
    Tx(Box<SignedTransaction>),
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        to: usize,
        from: usize,
        message: NetMessage,
    },
    Timer {
        node: usize,
        incarnation: u64,
        timeout: Timeout,
    },
    NextHeight {
        node: usize,
        incarnation: u64,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Partition {
        id: u64,
        blocked: BTreeSet<(usize, usize)>,
    },
    PartitionEnd {
        id: u64,
    },
    Heal,
    Workload,
}

impl Event {
    fn tag(&self) -> (u8, usize) {
        match self {
            Event::Deliver { to, .. } => (0, *to),
            Event::Timer { node, .. } => (1, *node),
            Event::NextHeight { node, .. } => (2, *node),
            Event::Crash { node } => (3, *node),
            Event::Restart { node } => (4, *node),
            Event::Partition { .. } => (5, 0),
            Event::PartitionEnd { .. } => (6, 0),
            Event::Heal => (7, 0),
            Event::Workload => (8, 0),
        }
    }
}

/// A consensus slot: height, round and step (0 proposal, 1 prevote, 2 precommit).
type SlotKey = (u64, u32, u8);
/// The two encodings an equivocator sends for one slot.
type SentPair = (Vec<u8>, Vec<u8>);

/// One simulated node: consensus core, ledger and store, mempool.
struct Replica {
    key: SigningKey,
    /// `key.public()`, cached (deriving it is not free).
    public: PublicKey,
    code: String,
    byzantine: Option<Byzantine>,
    alive: bool,
    incarnation: u64,
    core: Consensus,
    ledger: Ledger<MemStore>,
    /// Durable: survives crashes.
    store: MemStore,
    /// Durable: the last persisted safety state, encoded.
    safety: Option<Vec<u8>>,
    /// Durable: evidence transactions not yet seen on the ledger.
    evidence_pool: BTreeMap<Hash, SignedTransaction>,
    mempool: Vec<(Hash, SignedTransaction)>,
    mempool_hashes: BTreeSet<Hash>,
    /// Evidence ids with a transaction in the mempool.
    pending_evidence: BTreeSet<Hash>,
    /// Gossip digests seen, with when a copy last reached the core.
    seen: BTreeMap<Hash, u64>,
    seen_order: VecDeque<Hash>,
    nonce: u64,
    /// Byzantine: the conflicting pair sent per slot, so re-sends repeat it.
    pairs: BTreeMap<SlotKey, SentPair>,
    /// Byzantine: values echoed per slot.
    echoed: BTreeMap<SlotKey, BTreeSet<Option<Hash>>>,
    replay_log: VecDeque<Vec<u8>>,
    /// Block sync: the highest height a peer reported, and that peer.
    sync_tip: (u64, usize),
}

/// The outcome of a successful run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Hash of every processed event and decision, in order: equal for equal seeds.
    pub trace_hash: Hash,
    /// Lowest height among honest replicas at the end.
    pub min_height: u64,
    /// Highest height applied.
    pub max_height: u64,
    /// Events processed.
    pub events: u64,
    /// Simulated milliseconds elapsed.
    pub elapsed_ms: u64,
    /// Conflicting pairs byzantine validators sent.
    pub equivocations_injected: usize,
    /// Of those, pairs an honest validator received both halves of.
    pub equivocations_observed: usize,
    /// Evidence items recorded on the ledger.
    pub evidence_recorded: usize,
    /// Validator-set changes applied by resolutions.
    pub validator_set_changes: usize,
    /// Transactions rejected inside decided blocks (by the first honest replica to apply).
    pub txs_rejected_in_blocks: usize,
    /// Transactions accepted inside decided blocks.
    pub txs_accepted_in_blocks: usize,
    /// Crashes injected.
    pub crashes: usize,
}

/// A failed run: the broken invariant, and how to replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFailure {
    /// The seed.
    pub seed: u64,
    /// Simulated time of the failure.
    pub time_ms: u64,
    /// What broke.
    pub violation: Violation,
    /// A one-line command that replays the run.
    pub replay: String,
    /// Each replica's state at the failure (for debugging a replay).
    pub replicas: String,
}

impl fmt::Display for SimFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} t={}ms: {}\n  replay: {}",
            self.seed, self.time_ms, self.violation, self.replay
        )
    }
}

/// The governance scenario: expel a validator, then readmit it.
#[derive(Clone, Debug)]
enum Governance {
    Idle,
    Pending {
        readmit: bool,
        target: String,
        propose: Box<SignedTransaction>,
        signs: Vec<SignedTransaction>,
        since_ms: u64,
    },
    Expelled {
        target: String,
        since_ms: u64,
    },
    Done,
}

/// A simulation in progress.
pub struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    replicas: Vec<Replica>,
    genesis: Genesis,
    validators_at_genesis: usize,
    blocked: BTreeSet<(usize, usize)>,
    partition_id: u64,
    healed: bool,
    checker: Checker,
    workload: Workload,
    governance: Governance,
    trace: Hash,
    events: u64,
    heal_target: u64,
    /// Injected pairs: evidence id -> (offender, height).
    injected: BTreeMap<Hash, PublicKey>,
    /// Message hash -> (evidence id, half).
    halves: BTreeMap<Hash, (Hash, u8)>,
    /// (evidence id, replica) -> halves received.
    received_halves: BTreeMap<(Hash, usize), BTreeSet<u8>>,
    /// Evidence id -> honest validators that received both halves.
    observed: BTreeMap<Hash, BTreeSet<usize>>,
    recorded_evidence: BTreeSet<Hash>,
    /// `observed` when the network healed: the evidence that must be on the
    /// ledger by the end (later equivocations may still be in flight).
    observed_at_heal: BTreeMap<Hash, BTreeSet<usize>>,
    validator_set_changes: usize,
    txs_rejected: usize,
    txs_accepted: usize,
    crashes: usize,
    debug: bool,
    /// Well-signed transactions that broke a rule at admission.
    junk: VecDeque<SignedTransaction>,
    /// Set when an honest replica applied a block (the goal can only be met then).
    progressed: bool,
}

/// Runs one simulation to the end.
pub fn run(cfg: SimConfig) -> Result<SimReport, Box<SimFailure>> {
    let mut sim = Sim::new(cfg);
    sim.run()
}

fn slot_kind(kind: VoteKind) -> u8 {
    match kind {
        VoteKind::Prevote => 1,
        VoteKind::Precommit => 2,
    }
}

fn nil_value() -> Hash {
    Hash::of(Domain::Document, b"kp-sim nil vote")
}

impl Sim {
    /// Builds the replicas and schedules the faults of `cfg`.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let genesis = fixture::genesis(cfg.validators, cfg.observers, genesis_time());
        let mut byzantine_slots: Vec<usize> = (0..cfg.validators).collect();
        byzantine_slots.shuffle(&mut rng);
        let mut roles: BTreeMap<usize, Byzantine> = BTreeMap::new();
        for (slot, behaviour) in byzantine_slots.into_iter().zip(cfg.byzantine.iter()) {
            roles.insert(slot, *behaviour);
        }
        let mut replicas = Vec::new();
        for i in 0..cfg.validators + cfg.observers {
            let code = if i < cfg.validators {
                fixture::government_code(i)
            } else {
                fixture::observer_code(i - cfg.validators)
            };
            let key = testkit::node_key(&code);
            let store = MemStore::new();
            let ledger = Ledger::open(&genesis, store.clone()).unwrap_or_else(|e| {
                // The fixture genesis is valid by construction.
                unreachable_genesis(&e.to_string())
            });
            replicas.push(Replica {
                core: Consensus::new(consensus_config(&key), None),
                public: key.public(),
                key,
                code,
                byzantine: roles.get(&i).copied(),
                alive: true,
                incarnation: 0,
                ledger,
                store,
                safety: None,
                evidence_pool: BTreeMap::new(),
                mempool: Vec::new(),
                mempool_hashes: BTreeSet::new(),
                pending_evidence: BTreeSet::new(),
                seen: BTreeMap::new(),
                seen_order: VecDeque::new(),
                nonce: 0,
                pairs: BTreeMap::new(),
                echoed: BTreeMap::new(),
                replay_log: VecDeque::new(),
                sync_tip: (0, 0),
            });
        }
        let validators_at_genesis = cfg.validators;
        let mut sim = Sim {
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            replicas,
            genesis,
            validators_at_genesis,
            blocked: BTreeSet::new(),
            partition_id: 0,
            healed: false,
            checker: Checker::default(),
            workload: Workload::default(),
            governance: Governance::Idle,
            trace: Hash::ZERO,
            events: 0,
            heal_target: 0,
            injected: BTreeMap::new(),
            halves: BTreeMap::new(),
            received_halves: BTreeMap::new(),
            observed: BTreeMap::new(),
            recorded_evidence: BTreeSet::new(),
            observed_at_heal: BTreeMap::new(),
            validator_set_changes: 0,
            txs_rejected: 0,
            txs_accepted: 0,
            crashes: 0,
            debug: std::env::var("KP_SIM_DEBUG").is_ok(),
            progressed: false,
            junk: VecDeque::new(),
            cfg,
        };
        sim.schedule_faults();
        sim
    }

    fn push(&mut self, delay_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay_ms, self.seq), event);
    }

    fn schedule_faults(&mut self) {
        let phase = self.cfg.fault_phase_ms;
        self.push(self.cfg.tx_interval_ms, Event::Workload);
        if self.cfg.faults.partitions {
            let episodes = self.rng.gen_range(1..=3u64);
            for _ in 0..episodes {
                let start = self.rng.gen_range(0..phase.max(1));
                let length = self.rng.gen_range(300..=3_000);
                let blocked = self.random_partition();
                self.partition_id += 1;
                let id = self.partition_id;
                self.push(start, Event::Partition { id, blocked });
                self.push((start + length).min(phase), Event::PartitionEnd { id });
            }
        }
        if self.cfg.faults.crashes {
            let honest: Vec<usize> = (0..self.replicas.len())
                .filter(|i| self.replicas[*i].byzantine.is_none())
                .collect();
            let episodes = self.rng.gen_range(1..=3u64);
            for _ in 0..episodes {
                let node = honest[self.rng.gen_range(0..honest.len())];
                let start = self.rng.gen_range(0..phase.max(1));
                let down = self.rng.gen_range(100..=3_000);
                self.push(start, Event::Crash { node });
                self.push((start + down).min(phase), Event::Restart { node });
            }
        }
        self.push(phase, Event::Heal);
    }

    /// A random split of the replicas: symmetric, or one-way.
    fn random_partition(&mut self) -> BTreeSet<(usize, usize)> {
        let n = self.replicas.len();
        let side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
        let one_way = self.rng.gen_bool(0.3);
        let mut blocked = BTreeSet::new();
        for a in 0..n {
            for b in 0..n {
                if side[a] && !side[b] {
                    blocked.insert((a, b));
                    if !one_way {
                        blocked.insert((b, a));
                    }
                }
            }
        }
        blocked
    }

    fn failure(&self, violation: Violation) -> Box<SimFailure> {
        Box::new(SimFailure {
            seed: self.cfg.seed,
            time_ms: self.now,
            violation,
            replay: self.cfg.replay.clone(),
            replicas: self.status(),
        })
    }

    /// One line per replica: role, liveness, ledger height, core round and step.
    pub fn status(&self) -> String {
        let mut out = String::new();
        for (i, r) in self.replicas.iter().enumerate() {
            out.push_str(&format!(
                "  replica {i} {} {:?} alive={} ledger={} core h={} r={} {:?} decided={} validator={} votes={} buffered={} mempool={}\n",
                r.code,
                r.byzantine,
                r.alive,
                r.ledger.height(),
                r.core.height(),
                r.core.round(),
                r.core.step(),
                r.core.is_decided(),
                r.core.is_validator(),
                r.core.votes_kept(),
                r.core.future_buffered(),
                r.mempool.len(),
            ));
        }
        out
    }

    fn honest(&self, i: usize) -> bool {
        self.replicas[i].byzantine.is_none()
    }

    /// Runs until the liveness goal after healing is met, or its deadline.
    pub fn run(&mut self) -> Result<SimReport, Box<SimFailure>> {
        for i in 0..self.replicas.len() {
            self.start(i).map_err(|v| self.failure(v))?;
        }
        let deadline = self.cfg.fault_phase_ms + self.cfg.liveness_window_ms;
        while let Some(((time, seq), event)) = self.queue.pop_first() {
            if time > deadline {
                break;
            }
            self.now = time;
            self.events += 1;
            let (tag, node) = event.tag();
            self.trace = Hash::of_parts(
                Domain::Document,
                &[
                    &self.trace.0,
                    &time.to_be_bytes(),
                    &seq.to_be_bytes(),
                    &[tag],
                    &(node as u64).to_be_bytes(),
                ],
            );
            self.step(event).map_err(|v| self.failure(v))?;
            if self.queue.len() > QUEUE_EVENTS_MAX {
                let len = self.queue.len();
                return Err(self.failure(Violation::QueueOverflow { len }));
            }
            if self.debug && self.events.checked_rem(2_000) == Some(0) {
                eprintln!(
                    "t={} events={} queue={}\n{}",
                    self.now,
                    self.events,
                    self.queue.len(),
                    self.status()
                );
            }
            if self.healed && std::mem::take(&mut self.progressed) && self.goal_met() {
                return Ok(self.report());
            }
        }
        self.now = self.now.max(deadline);
        Err(self.failure(self.missed_goal()))
    }

    fn honest_heights(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        (0..self.replicas.len())
            .filter(|i| self.honest(*i))
            .map(|i| (i, self.replicas[i].ledger.height()))
    }

    /// Evidence that honest validators (still validators) saw and that is not
    /// yet on the ledger.
    fn evidence_outstanding(&self) -> Option<(Hash, PublicKey)> {
        let validators: BTreeSet<PublicKey> =
            self.reference().ledger.validators().into_iter().collect();
        self.observed_at_heal.iter().find_map(|(id, by)| {
            let relevant = by
                .iter()
                .any(|i| validators.contains(&self.replicas[*i].public));
            (relevant && !self.recorded_evidence.contains(id)).then(|| {
                (
                    *id,
                    self.injected.get(id).copied().unwrap_or(PublicKey([0; 32])),
                )
            })
        })
    }

    fn goal_met(&self) -> bool {
        self.honest_heights().all(|(_, h)| h >= self.heal_target)
            && self.evidence_outstanding().is_none()
    }

    fn missed_goal(&self) -> Violation {
        if let Some((replica, height)) = self.honest_heights().find(|(_, h)| *h < self.heal_target)
        {
            return Violation::Liveness {
                replica,
                height,
                target: self.heal_target,
            };
        }
        match self.evidence_outstanding() {
            Some((id, offender)) => Violation::EvidenceMissing { id, offender },
            None => Violation::Liveness {
                replica: 0,
                height: 0,
                target: self.heal_target,
            },
        }
    }

    fn report(&self) -> SimReport {
        let heights: Vec<u64> = self.honest_heights().map(|(_, h)| h).collect();
        SimReport {
            seed: self.cfg.seed,
            trace_hash: self.trace,
            min_height: heights.iter().copied().min().unwrap_or(0),
            max_height: self.checker.highest(),
            events: self.events,
            elapsed_ms: self.now,
            equivocations_injected: self.injected.len(),
            equivocations_observed: self.observed.len(),
            evidence_recorded: self.recorded_evidence.len(),
            validator_set_changes: self.validator_set_changes,
            txs_rejected_in_blocks: self.txs_rejected,
            txs_accepted_in_blocks: self.txs_accepted,
            crashes: self.crashes,
        }
    }

    /// The most advanced honest live replica (the "operator's view").
    fn reference(&self) -> &Replica {
        let mut best = &self.replicas[0];
        for (i, r) in self.replicas.iter().enumerate() {
            let better = r.alive
                && self.honest(i)
                && (r.ledger.height() > best.ledger.height() || !best.alive);
            if better {
                best = r;
            }
        }
        best
    }

    // ----- events -------------------------------------------------------------

    fn step(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Deliver { to, from, message } => self.deliver(to, from, message),
            Event::Timer {
                node,
                incarnation,
                timeout,
            } => {
                if self.replicas[node].alive && self.replicas[node].incarnation == incarnation {
                    self.feed(node, Input::TimeoutElapsed(timeout))?;
                }
                Ok(())
            }
            Event::NextHeight { node, incarnation } => {
                if self.replicas[node].alive && self.replicas[node].incarnation == incarnation {
                    self.start(node)?;
                }
                Ok(())
            }
            Event::Crash { node } => {
                if !self.healed && self.replicas[node].alive {
                    self.crash(node);
                }
                Ok(())
            }
            Event::Restart { node } => self.restart(node),
            Event::Partition { id, blocked } => {
                if !self.healed {
                    self.partition_id = id;
                    self.blocked = blocked;
                }
                Ok(())
            }
            Event::PartitionEnd { id } => {
                if self.partition_id == id {
                    self.blocked.clear();
                }
                Ok(())
            }
            Event::Heal => {
                self.healed = true;
                self.blocked.clear();
                for node in 0..self.replicas.len() {
                    if !self.replicas[node].alive {
                        self.restart(node)?;
                    }
                }
                let highest = self.honest_heights().map(|(_, h)| h).max().unwrap_or(0);
                self.heal_target = highest + self.cfg.liveness_heights;
                self.observed_at_heal = self.observed.clone();
                Ok(())
            }
            Event::Workload => {
                self.workload_tick();
                let interval = if self.healed {
                    self.cfg.tx_interval_ms * 4
                } else {
                    self.cfg.tx_interval_ms
                };
                self.push(interval, Event::Workload);
                Ok(())
            }
        }
    }

    fn crash(&mut self, node: usize) {
        // Halves received before the crash are forgotten with the core's votes.
        self.received_halves
            .retain(|(_, replica), _| *replica != node);
        let r = &mut self.replicas[node];
        r.alive = false;
        r.incarnation += 1;
        r.mempool.clear();
        r.mempool_hashes.clear();
        r.pending_evidence.clear();
        r.seen.clear();
        r.seen_order.clear();
        self.crashes += 1;
    }

    /// Restarts a crashed replica from what it persisted: its store and its
    /// safety state; everything else is rebuilt.
    fn restart(&mut self, node: usize) -> Result<(), Violation> {
        if self.replicas[node].alive {
            return Ok(());
        }
        let genesis = self.genesis.clone();
        let amnesia = self.cfg.broken == Some(BrokenRule::ForgetSafetyOnRestart);
        let r = &mut self.replicas[node];
        let store = r.store.snapshot();
        r.store = store.clone();
        r.ledger = Ledger::open(&genesis, store).map_err(|e| Violation::Validity {
            height: 0,
            replica: node,
            error: format!("reopen: {e}"),
        })?;
        let restored = r
            .safety
            .as_deref()
            .filter(|_| !amnesia)
            .and_then(|b| SafetyState::decode(b).ok());
        r.core = Consensus::new(consensus_config(&r.key), restored);
        r.alive = true;
        r.incarnation += 1;
        let pool: Vec<SignedTransaction> = r.evidence_pool.values().cloned().collect();
        for tx in pool {
            self.mempool_add(node, tx);
        }
        self.start(node)
    }

    fn start(&mut self, node: usize) -> Result<(), Violation> {
        let r = &self.replicas[node];
        let height = r.ledger.height() + 1;
        let validators = r.ledger.validators();
        self.feed(node, Input::StartHeight { height, validators })
    }

    // ----- the network ---------------------------------------------------------

    fn send(&mut self, from: usize, to: usize, message: NetMessage) {
        if from == to {
            return;
        }
        if !self.healed {
            if self.blocked.contains(&(from, to)) {
                return;
            }
            if self.rng.gen_range(0..1000) < self.cfg.faults.loss_permille {
                return;
            }
        }
        let delay = self.cfg.faults.latency_ms + self.rng.gen_range(0..=self.cfg.faults.jitter_ms);
        let duplicate =
            !self.healed && self.rng.gen_range(0..1000) < self.cfg.faults.duplicate_permille;
        if duplicate {
            let again =
                self.cfg.faults.latency_ms + self.rng.gen_range(0..=self.cfg.faults.jitter_ms * 2);
            self.push(
                again,
                Event::Deliver {
                    to,
                    from,
                    message: message.clone(),
                },
            );
        }
        self.push(delay, Event::Deliver { to, from, message });
    }

    fn send_all(&mut self, from: usize, message: NetMessage) {
        for to in 0..self.replicas.len() {
            self.send(from, to, message.clone());
        }
    }

    fn deliver(&mut self, to: usize, from: usize, message: NetMessage) -> Result<(), Violation> {
        if !self.replicas[to].alive {
            return Ok(());
        }
        match message {
            NetMessage::Consensus(bytes) => self.deliver_consensus(to, from, bytes),
            NetMessage::SyncRequest { height } => {
                if let Some((block, certificate)) = stored_block(&self.replicas[to].store, height) {
                    let tip = self.replicas[to].ledger.height();
                    self.send(
                        to,
                        from,
                        NetMessage::SyncResponse {
                            block: Box::new(block),
                            certificate: Box::new(certificate),
                            tip,
                        },
                    );
                }
                Ok(())
            }
            NetMessage::SyncResponse {
                block,
                certificate,
                tip,
            } => {
                let r = &mut self.replicas[to];
                r.sync_tip = (r.sync_tip.0.max(tip), from);
                let fits = r.ledger.height() + 1 == block.header.height
                    && r.ledger.validate_block(&block).is_ok();
                if fits {
                    self.feed(
                        to,
                        Input::CommitFromSync {
                            block: std::sync::Arc::new(*block),
                            certificate: *certificate,
                        },
                    )?;
                }
                Ok(())
            }
            NetMessage::Tx(tx) => {
                self.mempool_add(to, *tx);
                Ok(())
            }
        }
    }

    fn deliver_consensus(
        &mut self,
        to: usize,
        from: usize,
        bytes: Vec<u8>,
    ) -> Result<(), Violation> {
        let digest = Hash::of(Domain::Document, &bytes);
        self.trace = Hash::of_parts(Domain::Document, &[&self.trace.0, &digest.0]);
        // The seen-set decides whether to relay, and drops copies that come
        // within a short window of the last one handed to the core (gossip
        // echoes). Later copies (a peer's periodic re-send) reach the core
        // again: it may need them now (a new height), or answer them (a
        // laggard asking for help, a validator ahead of us).
        let first_sight = {
            let now = self.now;
            let r = &mut self.replicas[to];
            match r.seen.get(&digest).copied() {
                Some(then) if now.saturating_sub(then) < GOSSIP_DEDUP_WINDOW_MS => return Ok(()),
                Some(_) => {
                    r.seen.insert(digest, now);
                    false
                }
                None => {
                    r.seen.insert(digest, now);
                    r.seen_order.push_back(digest);
                    if r.seen_order.len() > SEEN_MESSAGES_MAX {
                        if let Some(old) = r.seen_order.pop_front() {
                            r.seen.remove(&old);
                        }
                    }
                    true
                }
            }
        };
        let core_height = self.replicas[to].core.height();
        let Ok(message) = ConsensusMessage::decode(&bytes) else {
            return Ok(()); // garbage: dropped before it reaches the core
        };
        match self.replicas[to].byzantine {
            None => {
                // Gossip: an honest node relays what is new and current, as
                // gossipsub would, so that every equivocation reaches someone
                // with both halves.
                if first_sight && message.height() >= core_height {
                    for peer in 0..self.replicas.len() {
                        if peer != from && peer != to {
                            self.send(to, peer, NetMessage::Consensus(bytes.clone()));
                        }
                    }
                }
                self.observe_half(to, digest, &message);
            }
            Some(Byzantine::StaleReplayer) => {
                let r = &mut self.replicas[to];
                r.replay_log.push_back(bytes.clone());
                if r.replay_log.len() > REPLAY_LOG_MAX {
                    r.replay_log.pop_front();
                }
            }
            Some(Byzantine::Echo) => self.echo(to, &message),
            Some(_) => {}
        }
        let sender = self.replicas[from].public;
        self.feed(
            to,
            Input::Message {
                from: sender,
                message,
            },
        )
    }

    /// Tracks which halves of injected equivocations an honest validator's
    /// core admitted at the height they are for.
    fn observe_half(&mut self, to: usize, digest: Hash, message: &ConsensusMessage) {
        let Some((id, half)) = self.halves.get(&digest).copied() else {
            return;
        };
        let core = &self.replicas[to].core;
        let admitted = core.is_validator()
            && core.height() == message.height()
            && !core.is_decided()
            && core.check(message).is_ok();
        if !admitted {
            return;
        }
        let halves = self.received_halves.entry((id, to)).or_default();
        halves.insert(half);
        if halves.len() == 2 {
            self.observed.entry(id).or_default().insert(to);
        }
    }

    fn mempool_add(&mut self, node: usize, tx: SignedTransaction) {
        let now = self.block_clock();
        let r = &mut self.replicas[node];
        if !r.alive || r.mempool.len() >= MEMPOOL_TXS_MAX {
            return;
        }
        let hash = tx.hash();
        // One pending transaction per equivocation is enough: other
        // validators' copies of the same evidence are not even checked.
        let evidence = match &tx.tx.payload {
            Payload::SubmitEvidence(e) => Some(e.id()),
            _ => None,
        };
        if evidence.is_some_and(|id| r.pending_evidence.contains(&id)) {
            return;
        }
        if r.mempool_hashes.contains(&hash) || r.ledger.check_tx(&tx, now).is_err() {
            return;
        }
        if let Some(id) = evidence {
            r.pending_evidence.insert(id);
        }
        r.mempool_hashes.insert(hash);
        r.mempool.push((hash, tx));
    }

    fn block_clock(&self) -> Timestamp {
        genesis_time().plus_ms(self.now)
    }

    // ----- driving a replica ------------------------------------------------------

    fn feed(&mut self, node: usize, input: Input) -> Result<(), Violation> {
        let mut work = VecDeque::from([input]);
        let mut processed = 0;
        while let Some(input) = work.pop_front() {
            processed += 1;
            if processed > INPUTS_PER_EVENT_MAX || !self.replicas[node].alive {
                break;
            }
            let actions = self.replicas[node].core.handle(input);
            for action in actions {
                if !self.replicas[node].alive {
                    // Crashed in the middle of the batch: the rest is lost.
                    return Ok(());
                }
                self.execute(node, action, &mut work)?;
            }
        }
        Ok(())
    }

    fn execute(
        &mut self,
        node: usize,
        action: Action,
        work: &mut VecDeque<Input>,
    ) -> Result<(), Violation> {
        match action {
            Action::PersistSafety(state) => {
                // What is persisted was signed, sent or not: the double-sign
                // check covers votes a crash kept from leaving the node.
                if let Some((signed, block)) = &state.proposal {
                    let message = ConsensusMessage::Proposal {
                        signed: signed.clone(),
                        block: block.clone(),
                        pol: Vec::new(),
                    };
                    self.record_signed(node, &message)?;
                }
                for vote in &state.votes {
                    self.record_signed(node, &ConsensusMessage::Vote(vote.clone()))?;
                }
                self.replicas[node].safety = Some(state.encode());
            }
            Action::Broadcast(message) => {
                self.record_signed(node, &message)?;
                if self.crash_before_send(node, &message) {
                    return Ok(());
                }
                self.outgoing(node, None, message);
            }
            Action::SendTo(to_key, message) => {
                self.record_signed(node, &message)?;
                if let Some(to) = self.replicas.iter().position(|r| r.public == to_key) {
                    self.outgoing(node, Some(to), message);
                }
            }
            Action::ScheduleTimeout {
                timeout,
                duration_ms,
            } => {
                let incarnation = self.replicas[node].incarnation;
                self.push(
                    duration_ms,
                    Event::Timer {
                        node,
                        incarnation,
                        timeout,
                    },
                );
            }
            Action::RequestProposal { height, round } => {
                let clock = self.block_clock();
                let r = &self.replicas[node];
                if r.ledger.height() + 1 == height {
                    let time = Timestamp(clock.0.max(r.ledger.last_block_time().0 + 1));
                    let candidates: Vec<SignedTransaction> =
                        r.mempool.iter().map(|(_, tx)| tx.clone()).collect();
                    let block = r.ledger.build_block(r.public, time, &candidates);
                    // What the builder skipped fails in the current state:
                    // drop it rather than re-check the whole pool after every
                    // block (a client whose transaction was dropped resubmits).
                    let kept: BTreeSet<Hash> =
                        block.txs.iter().map(SignedTransaction::hash).collect();
                    let r = &mut self.replicas[node];
                    r.mempool.retain(|(h, _)| kept.contains(h));
                    r.mempool_hashes = kept;
                    r.reindex_evidence();
                    let block = if self.honest(node) {
                        block
                    } else {
                        self.stuff_junk(block)
                    };
                    work.push_back(Input::ProposalPayload {
                        height,
                        round,
                        block: std::sync::Arc::new(block),
                    });
                }
            }
            Action::ValidateBlock { height, block } => {
                let clock = self.block_clock();
                let r = &self.replicas[node];
                let valid = r.ledger.height() + 1 == height
                    && block.header.time.0 <= clock.0 + BLOCK_TIME_DRIFT_MAX_MS
                    && r.ledger.validate_block(&block).is_ok();
                work.push_back(Input::BlockValidity {
                    height,
                    block_hash: block.hash(),
                    valid,
                });
            }
            Action::Decide { block, certificate } => self.decide(node, block, certificate)?,
            Action::Evidence(evidence) => self.submit_evidence(node, evidence),
            Action::RequestCommit { height } => {
                let mut peers: Vec<usize> =
                    (0..self.replicas.len()).filter(|p| *p != node).collect();
                peers.shuffle(&mut self.rng);
                for peer in peers.into_iter().take(2) {
                    self.send(node, peer, NetMessage::SyncRequest { height });
                }
            }
        }
        Ok(())
    }

    /// The crash fault at its worst moment: an honest validator dies after
    /// persisting a vote and before sending it (rarely, during the fault
    /// phase, when crashes are on). It restarts a little later.
    fn crash_before_send(&mut self, node: usize, message: &ConsensusMessage) -> bool {
        let own_vote = matches!(message, ConsensusMessage::Vote(v) if v.vote.validator == self.replicas[node].public);
        if self.healed || !self.cfg.faults.crashes || !own_vote || !self.honest(node) {
            return false;
        }
        if self.rng.gen_range(0..1000) >= CRASH_BEFORE_SEND_PERMILLE {
            return false;
        }
        self.crash(node);
        let down = self.rng.gen_range(50..=1_000);
        self.push(down, Event::Restart { node });
        true
    }

    /// A byzantine proposer's block: what it built plus up to two well-signed,
    /// rule-breaking transactions. The block is still valid (`valid(v)` does
    /// not judge ledger rules); the ledger keeps them with rejection receipts.
    fn stuff_junk(&mut self, mut block: Block) -> Block {
        let count = self.rng.gen_range(0..=2).min(self.junk.len());
        for tx in self.junk.iter().take(count) {
            block.txs.push(tx.clone());
        }
        let hashes: Vec<Hash> = block.txs.iter().map(SignedTransaction::hash).collect();
        block.header.txs_root = kp_types::merkle::root(&hashes);
        block
    }

    /// Double-sign check of what an honest validator sends under its own key.
    fn record_signed(&mut self, node: usize, message: &ConsensusMessage) -> Result<(), Violation> {
        if !self.honest(node) || message.signer() != self.replicas[node].public {
            return Ok(());
        }
        match message {
            ConsensusMessage::Vote(v) => {
                let step = match v.vote.kind {
                    VoteKind::Prevote => "prevote",
                    VoteKind::Precommit => "precommit",
                };
                let value = v.vote.block.unwrap_or_else(nil_value);
                self.checker
                    .signed(v.vote.validator, v.vote.height, v.vote.round, step, value)
            }
            ConsensusMessage::Proposal { signed, .. } => {
                let p = &signed.proposal;
                self.checker
                    .signed(p.proposer, p.height, p.round, "proposal", p.block_hash)
            }
        }
    }

    fn decide(
        &mut self,
        node: usize,
        block: kp_consensus::SharedBlock,
        certificate: CommitCertificate,
    ) -> Result<(), Violation> {
        let mut block = std::sync::Arc::unwrap_or_clone(block);
        if let Some(BrokenRule::TamperDecision { height }) = self.cfg.broken {
            if node == 0 && block.header.height == height {
                let r = &self.replicas[0];
                block = r
                    .ledger
                    .build_block(r.public, block.header.time.plus_ms(1), &[]);
            }
        }
        let height = block.header.height;
        let mut writes = WriteSet::default();
        writes.put(block_key(height), kp_types::encode(&(&block, &certificate)));
        let honest = self.honest(node);
        let r = &mut self.replicas[node];
        let receipt = match r.ledger.apply_block(&block, writes) {
            Ok(receipt) => receipt,
            Err(e) if honest => {
                return Err(Violation::Validity {
                    height,
                    replica: node,
                    error: e.to_string(),
                })
            }
            Err(_) => return Ok(()),
        };
        let included: BTreeSet<Hash> = block.txs.iter().map(SignedTransaction::hash).collect();
        r.mempool.retain(|(h, _)| !included.contains(h));
        r.evidence_pool.retain(|h, _| !included.contains(h));
        let clock = genesis_time().plus_ms(self.now);
        r.mempool.retain(|(_, tx)| tx.tx.expires_at > clock);
        r.mempool_hashes = r.mempool.iter().map(|(h, _)| *h).collect();
        r.reindex_evidence();
        // Own evidence whose transaction left the mempool without landing
        // goes back in; evidence the ledger refuses now (recorded, or its
        // signer no longer a validator) is forgotten.
        let retry: Vec<(Hash, SignedTransaction)> = r
            .evidence_pool
            .iter()
            .filter(|(_, tx)| match &tx.tx.payload {
                Payload::SubmitEvidence(e) => !r.pending_evidence.contains(&e.id()),
                _ => false,
            })
            .map(|(h, tx)| (*h, tx.clone()))
            .collect();
        for (hash, tx) in retry {
            let r = &mut self.replicas[node];
            if r.ledger.check_tx(&tx, clock).is_err() {
                r.evidence_pool.remove(&hash);
            } else {
                self.mempool_add(node, tx);
            }
        }
        let r = &mut self.replicas[node];
        let incarnation = r.incarnation;
        self.trace = Hash::of_parts(
            Domain::Document,
            &[&self.trace.0, &receipt.block_hash.0, &receipt.state_root.0],
        );
        if honest {
            self.progressed = true;
            let first = self.checker.highest() < height;
            self.checker
                .applied(node, height, receipt.block_hash, receipt.state_root)?;
            for event in &receipt.events {
                match event {
                    LedgerEvent::EvidenceRecorded { id, .. } => {
                        self.recorded_evidence.insert(*id);
                    }
                    LedgerEvent::ValidatorSetChanged { .. } if first => {
                        self.validator_set_changes += 1
                    }
                    _ => {}
                }
            }
            if first {
                for tx in &receipt.receipts {
                    match tx.result {
                        Ok(()) => self.txs_accepted += 1,
                        Err(_) => self.txs_rejected += 1,
                    }
                }
            }
        }
        let (tip, peer) = self.replicas[node].sync_tip;
        if height < tip {
            // Catching up: no pause between heights, and fetch the next one
            // right away instead of waiting for consensus traffic.
            self.push(0, Event::NextHeight { node, incarnation });
            self.send(node, peer, NetMessage::SyncRequest { height: height + 1 });
        } else {
            self.push(
                self.cfg.commit_delay_ms,
                Event::NextHeight { node, incarnation },
            );
        }
        Ok(())
    }

    fn submit_evidence(&mut self, node: usize, evidence: Evidence) {
        if !self.honest(node) || !self.replicas[node].core.is_validator() {
            return;
        }
        let known = self.replicas[node]
            .pending_evidence
            .contains(&evidence.id());
        let expires_at = self.block_clock().plus_ms(30 * 60_000);
        let r = &mut self.replicas[node];
        r.nonce += 1;
        let tx = Transaction {
            chain_id: testkit::CHAIN_ID.to_string(),
            signer: r.public,
            nonce: (node as u64) << 40 | r.nonce,
            expires_at,
            payload: Payload::SubmitEvidence(evidence),
        }
        .sign(&r.key);
        r.evidence_pool.insert(tx.hash(), tx.clone());
        if !known {
            self.mempool_add(node, tx.clone());
            self.send_all(node, NetMessage::Tx(Box::new(tx)));
        }
    }

    // ----- byzantine behaviours ---------------------------------------------------

    fn outgoing(&mut self, node: usize, to: Option<usize>, message: ConsensusMessage) {
        let behaviour = self.replicas[node].byzantine;
        let own = message.signer() == self.replicas[node].public;
        let bytes = message.encode();
        let targets: Vec<usize> = match to {
            Some(t) => vec![t],
            None => (0..self.replicas.len()).filter(|p| *p != node).collect(),
        };
        match behaviour {
            None => {
                for t in targets {
                    self.send(node, t, NetMessage::Consensus(bytes.clone()));
                }
            }
            Some(Byzantine::Silent) => {}
            Some(Byzantine::GarbageSender) => {
                for t in targets {
                    let len = self.rng.gen_range(1..256);
                    let noise: Vec<u8> = (0..len).map(|_| self.rng.gen()).collect();
                    self.send(node, t, NetMessage::Consensus(noise));
                    let mut corrupt = bytes.clone();
                    let at = self.rng.gen_range(0..corrupt.len());
                    corrupt[at] ^= 1 << self.rng.gen_range(0..8);
                    self.send(node, t, NetMessage::Consensus(corrupt));
                }
            }
            Some(Byzantine::StaleReplayer) => {
                for t in targets {
                    self.send(node, t, NetMessage::Consensus(bytes.clone()));
                }
                let log_len = self.replicas[node].replay_log.len();
                if log_len > 0 {
                    for _ in 0..3 {
                        let old =
                            self.replicas[node].replay_log[self.rng.gen_range(0..log_len)].clone();
                        let peer = self.rng.gen_range(0..self.replicas.len());
                        self.send(node, peer, NetMessage::Consensus(old));
                    }
                }
            }
            Some(b) => {
                let pair = if own && to.is_none() {
                    self.conflicting_pair(node, b, &message)
                } else {
                    None
                };
                let echo_vote =
                    b == Byzantine::Echo && matches!(message, ConsensusMessage::Vote(_));
                match pair {
                    // Colluding byzantine validators split the honest ones in
                    // two halves (the strongest split), and see the first.
                    Some((first, second)) => {
                        let mut honest_seen = 0;
                        for t in targets {
                            let half = if self.honest(t) {
                                honest_seen += 1;
                                if honest_seen % 2 == 1 {
                                    &first
                                } else {
                                    &second
                                }
                            } else {
                                &first
                            };
                            self.send(node, t, NetMessage::Consensus(half.clone()));
                        }
                    }
                    // The echo validator's own votes stay home: it only
                    // agrees with whoever it hears.
                    None if echo_vote && own => {}
                    None => {
                        for t in targets {
                            self.send(node, t, NetMessage::Consensus(bytes.clone()));
                        }
                    }
                }
            }
        }
    }

    /// The pair of conflicting encodings an equivocating validator sends for
    /// this message's slot (made once per slot, then repeated).
    fn conflicting_pair(
        &mut self,
        node: usize,
        behaviour: Byzantine,
        message: &ConsensusMessage,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let (slot, second) = match (behaviour, message) {
            (
                Byzantine::EquivocatingProposer | Byzantine::Echo,
                ConsensusMessage::Proposal { signed, block, pol },
            ) => {
                let slot = (signed.proposal.height, signed.proposal.round, 0u8);
                if let Some(pair) = self.replicas[node].pairs.get(&slot) {
                    return Some(pair.clone());
                }
                let mut other = (**block).clone();
                other.header.time = other.header.time.plus_ms(1);
                let mut proposal = signed.proposal.clone();
                proposal.block_hash = other.hash();
                let second = ConsensusMessage::Proposal {
                    signed: proposal.sign(&self.replicas[node].key),
                    block: std::sync::Arc::new(other),
                    pol: pol.clone(),
                };
                (slot, second)
            }
            (Byzantine::DoubleVoter, ConsensusMessage::Vote(v)) => {
                let slot = (v.vote.height, v.vote.round, slot_kind(v.vote.kind));
                if let Some(pair) = self.replicas[node].pairs.get(&slot) {
                    return Some(pair.clone());
                }
                let mut vote: Vote = v.vote.clone();
                vote.block = match vote.block {
                    Some(_) => None,
                    None => Some(fixture::phantom_block()),
                };
                (
                    slot,
                    ConsensusMessage::Vote(vote.sign(&self.replicas[node].key)),
                )
            }
            _ => return None,
        };
        let first = message.encode();
        let second_bytes = second.encode();
        self.register_pair(message, &second, &first, &second_bytes);
        self.replicas[node]
            .pairs
            .insert(slot, (first.clone(), second_bytes.clone()));
        Some((first, second_bytes))
    }

    fn register_pair(
        &mut self,
        a: &ConsensusMessage,
        b: &ConsensusMessage,
        a_bytes: &[u8],
        b_bytes: &[u8],
    ) {
        let evidence = match (a, b) {
            (ConsensusMessage::Vote(first), ConsensusMessage::Vote(second)) => {
                Evidence::DuplicateVote {
                    first: first.clone(),
                    second: second.clone(),
                }
            }
            (
                ConsensusMessage::Proposal { signed: first, .. },
                ConsensusMessage::Proposal { signed: second, .. },
            ) => Evidence::DuplicateProposal {
                first: first.clone(),
                second: second.clone(),
            },
            _ => return,
        };
        let id = evidence.id();
        self.injected.insert(id, evidence.offender());
        self.halves
            .insert(Hash::of(Domain::Document, a_bytes), (id, 0));
        self.halves
            .insert(Hash::of(Domain::Document, b_bytes), (id, 1));
    }

    /// The echo behaviour: agree with every voter by signing its value back.
    fn echo(&mut self, node: usize, message: &ConsensusMessage) {
        let ConsensusMessage::Vote(v) = message else {
            return;
        };
        if v.vote.validator == self.replicas[node].public {
            return;
        }
        let slot = (v.vote.height, v.vote.round, slot_kind(v.vote.kind));
        let values = self.replicas[node].echoed.entry(slot).or_default();
        if values.len() >= 4 || !values.insert(v.vote.block) {
            return;
        }
        let first_value = values.iter().next().copied().flatten();
        let conflicting = values.len() > 1;
        let mut vote = v.vote.clone();
        vote.validator = self.replicas[node].public;
        let echo = ConsensusMessage::Vote(vote.clone().sign(&self.replicas[node].key));
        if conflicting {
            let mut first = vote;
            first.block = first_value;
            let first = ConsensusMessage::Vote(first.sign(&self.replicas[node].key));
            let (fb, eb) = (first.encode(), echo.encode());
            self.register_pair(&first, &echo, &fb, &eb);
        }
        if let Some(to) = self
            .replicas
            .iter()
            .position(|r| r.public == v.vote.validator)
        {
            self.send(node, to, NetMessage::Consensus(echo.encode()));
        }
    }

    // ----- workload and governance -------------------------------------------------

    fn workload_tick(&mut self) {
        let now = self.block_clock();
        let active: Vec<String> = self
            .reference()
            .ledger
            .validator_codes()
            .into_iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect();
        if let Some(tx) = self.workload.next(&mut self.rng, &active, now) {
            self.submit(tx);
        }
        if self.cfg.governance {
            self.governance_tick();
        }
    }

    /// A client hands `tx` to a random live honest replica, which checks it
    /// and gossips it.
    fn submit(&mut self, tx: SignedTransaction) {
        let live: Vec<usize> = (0..self.replicas.len())
            .filter(|i| self.replicas[*i].alive && self.honest(*i))
            .collect();
        if live.is_empty() {
            return;
        }
        let entry = live[self.rng.gen_range(0..live.len())];
        let admitted = self.replicas[entry]
            .ledger
            .check_tx(&tx, self.block_clock())
            .is_ok();
        if admitted {
            self.mempool_add(entry, tx.clone());
            self.send_all(entry, NetMessage::Tx(Box::new(tx)));
        } else if tx.verify_signature().is_ok() {
            // Well signed but rule-breaking: byzantine proposers stuff such
            // transactions into their blocks, which stay valid blocks.
            self.junk.push_back(tx);
            if self.junk.len() > JUNK_TXS_MAX {
                self.junk.pop_front();
            }
        }
    }

    fn governance_tick(&mut self) {
        let now_ms = self.now;
        let clock = self.block_clock();
        let state = std::mem::replace(&mut self.governance, Governance::Done);
        self.governance = match state {
            Governance::Idle if now_ms >= self.cfg.fault_phase_ms / 5 => {
                match self.expel_target() {
                    Some(target) => self.resolution(false, target, clock),
                    None => Governance::Done,
                }
            }
            Governance::Pending {
                readmit,
                target,
                propose,
                signs,
                since_ms,
            } => {
                let id = propose.hash();
                let record = self.reference().ledger.resolution(&id).ok().flatten();
                match record.map(|r| r.outcome) {
                    Some(ResolutionOutcome::Adopted { .. }) if readmit => Governance::Done,
                    Some(ResolutionOutcome::Adopted { .. }) => Governance::Expelled {
                        target,
                        since_ms: now_ms,
                    },
                    Some(ResolutionOutcome::Pending) => {
                        if now_ms.saturating_sub(since_ms) % 2_000 < self.cfg.tx_interval_ms {
                            for tx in &signs {
                                self.submit(tx.clone());
                            }
                        }
                        Governance::Pending {
                            readmit,
                            target,
                            propose,
                            signs,
                            since_ms,
                        }
                    }
                    Some(_) => Governance::Done,
                    None => {
                        self.submit((*propose).clone());
                        Governance::Pending {
                            readmit,
                            target,
                            propose,
                            signs,
                            since_ms,
                        }
                    }
                }
            }
            Governance::Expelled { target, since_ms }
                if now_ms >= since_ms + self.cfg.fault_phase_ms / 4 =>
            {
                self.resolution(true, target, clock)
            }
            other => other,
        };
    }

    /// Whom to expel without ever letting byzantine validators exceed `f`:
    /// a byzantine validator if there is one, else an honest one if the
    /// smaller set still tolerates the byzantine count (zero here).
    fn expel_target(&self) -> Option<String> {
        let validators = self.reference().ledger.validator_codes();
        let byzantine: Vec<String> = self
            .replicas
            .iter()
            .filter(|r| r.byzantine.is_some())
            .map(|r| r.code.clone())
            .collect();
        if let Some(b) = validators
            .iter()
            .find(|(c, _)| byzantine.contains(&c.as_str().to_string()))
        {
            let remaining_byzantine = byzantine.len() - 1;
            return (remaining_byzantine <= faults_tolerated(validators.len() - 1))
                .then(|| b.0.as_str().to_string());
        }
        if validators.len() < 2 || byzantine.len() > faults_tolerated(validators.len() - 1) {
            return None;
        }
        validators.last().map(|(c, _)| c.as_str().to_string())
    }

    fn resolution(&mut self, readmit: bool, target: String, clock: Timestamp) -> Governance {
        let governments: Vec<String> = self
            .reference()
            .ledger
            .validator_codes()
            .into_iter()
            .map(|(c, _)| c.as_str().to_string())
            .collect();
        let Some(proposer) = governments.iter().find(|c| **c != target).cloned() else {
            return Governance::Done;
        };
        let participant = testkit::code(&target);
        let action = if readmit {
            ResolutionAction::Readmit { participant }
        } else {
            ResolutionAction::Expel { participant }
        };
        let expires = clock.plus_ms(50 * 60_000);
        let nonce = self.now;
        let propose = testkit::sign(
            &testkit::node_key(&proposer),
            nonce,
            expires,
            Payload::ProposeResolution(ResolutionProposal {
                title: format!("{} {target}", if readmit { "readmit" } else { "expel" }),
                action,
                deadline: None,
            }),
        );
        let id = propose.hash();
        let signs = governments
            .iter()
            .filter(|c| **c != proposer)
            .map(|c| {
                testkit::sign(
                    &testkit::node_key(c),
                    nonce,
                    expires,
                    Payload::SignResolution { resolution: id },
                )
            })
            .collect();
        self.submit(propose.clone());
        Governance::Pending {
            readmit,
            target,
            propose: Box::new(propose),
            signs,
            since_ms: self.now,
        }
    }

    /// Validators at genesis (for reports).
    pub fn validators_at_genesis(&self) -> usize {
        self.validators_at_genesis
    }
}

impl Replica {
    /// Recomputes which evidence ids have a transaction in the mempool.
    fn reindex_evidence(&mut self) {
        self.pending_evidence = self
            .mempool
            .iter()
            .filter_map(|(_, tx)| match &tx.tx.payload {
                Payload::SubmitEvidence(e) => Some(e.id()),
                _ => None,
            })
            .collect();
    }
}

fn consensus_config(key: &SigningKey) -> ConsensusConfig {
    let mut c = ConsensusConfig::new(testkit::CHAIN_ID, key.clone());
    c.timeout_propose_ms = 400;
    c.timeout_prevote_ms = 200;
    c.timeout_precommit_ms = 200;
    c.timeout_delta_ms = 100;
    c.rebroadcast_interval_ms = 500;
    c
}

fn block_key(height: u64) -> Vec<u8> {
    let mut key = vec![BLOCK_KEY_PREFIX];
    key.extend_from_slice(&height.to_be_bytes());
    key
}

fn stored_block(store: &MemStore, height: u64) -> Option<(Block, CommitCertificate)> {
    let bytes = store.get(&block_key(height)).ok().flatten()?;
    kp_types::decode(&bytes, kp_consensus::MESSAGE_BYTES_MAX).ok()
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_genesis(error: &str) -> Ledger<MemStore> {
    panic!("the simulator's genesis is invalid: {error}")
}
