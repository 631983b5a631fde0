//! The simulation loop: simulated nodes, each driving a shipped
//! [`kp_replica::Replica`] (consensus core, ledger, pool), the simulated
//! network, faults, byzantine behaviours, workload and governance, all
//! driven by one seeded event queue in simulated time.

mod byzantine;
mod catch_up;
mod faults;
mod host;
mod network;
mod queue;
mod workload;

use self::queue::Event;
use self::workload::Governance;
use crate::check::{Checker, Violation};
use crate::config::{Byzantine, SimConfig};
use crate::fixture::{self, Workload};
use kp_consensus::{Consensus, ConsensusConfig};
use kp_ledger::{testkit, Genesis, Ledger, MemStore};
use kp_replica::{Replica, ReplicaConfig};
use kp_types::{
    Block, CommitCertificate, Domain, Hash, PublicKey, SignedTransaction, SigningKey, Timestamp,
};
use rand::seq::SliceRandom;
use rand::SeedableRng;
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
/// A block request unanswered for this long is given up (a simulated answer
/// may be lost; the node's network times its requests out the same way).
pub const SYNC_TIMEOUT_MS: u64 = 1_500;
/// Most blocks one sync answer carries.
pub const SYNC_BATCH_MAX: u32 = 32;
/// Chance (per thousand own votes sent, with crashes on, before healing) that
/// an honest validator crashes between persisting a vote and sending it.
pub const CRASH_BEFORE_SEND_PERMILLE: u32 = 3;
/// Transactions after which a catch-up's blocks are written (small, so that
/// an answer is written in several stages, as a long catch-up is).
pub const SYNC_STAGE_TXS_MAX: usize = 8;
/// Chance (per thousand stages of a catch-up, with crashes on, before
/// healing) that a replica crashes while a stage is being written: before
/// its commit, or after it and before the replica hears of it.
pub const CRASH_IN_STAGE_PERMILLE: u32 = 60;
/// How far ahead of a replica's clock a proposed block's time may be.
pub const BLOCK_TIME_DRIFT_MAX_MS: u64 = 5_000;

/// Genesis time of simulated chains: 2026-01-01T00:00:00Z.
fn genesis_time() -> Timestamp {
    testkit::at(2026, 1, 1)
}

/// A consensus slot: height, round and step (0 proposal, 1 prevote, 2 precommit).
type SlotKey = (u64, u32, u8);
/// The two encodings an equivocator sends for one slot.
type SentPair = (Vec<u8>, Vec<u8>);

/// One simulated node: the shipped replica (consensus core, ledger over a
/// store, pool) plus what the simulated world keeps around it.
struct Node {
    key: SigningKey,
    /// `key.public()`, cached (deriving it is not free).
    public: PublicKey,
    code: String,
    byzantine: Option<Byzantine>,
    alive: bool,
    incarnation: u64,
    /// The replica this node drives; its ledger's store is durable (a restart
    /// reopens a copy of it), everything else is lost in a crash.
    replica: Replica<MemStore>,
    /// Durable: the last persisted safety state, encoded.
    safety: Option<Vec<u8>>,
    /// Gossip digests seen, with when a copy last reached the core.
    seen: BTreeMap<Hash, u64>,
    seen_order: VecDeque<Hash>,
    /// Byzantine: the conflicting pair sent per slot, so re-sends repeat it.
    pairs: BTreeMap<SlotKey, SentPair>,
    /// Byzantine: values echoed per slot.
    echoed: BTreeMap<SlotKey, BTreeSet<Option<Hash>>>,
    replay_log: VecDeque<Vec<u8>>,
}

impl Node {
    fn ledger(&self) -> &Ledger<MemStore> {
        self.replica.ledger()
    }
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
    /// Synced blocks honest replicas refused (a tampered block, or a
    /// certificate without a quorum, from a lying peer).
    pub sync_refused: usize,
    /// Catch-up stages written (blocks of sync answers applied ahead of
    /// the store, written in one commit).
    pub stages_written: usize,
    /// Crashes injected while a catch-up stage was written.
    pub stage_crashes: usize,
    /// For each workload transaction decided: simulated milliseconds from
    /// its submission to the first honest replica's commit of its block.
    pub finality_ms: Vec<u64>,
    /// Each height's first honest commit: (height, simulated ms, round of
    /// its commit certificate, transactions in the block).
    pub decided_at: Vec<(u64, u64, u32, usize)>,
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

/// A simulation in progress.
pub struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    replicas: Vec<Node>,
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
    /// Injected pairs: evidence id -> offender.
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
    /// Synced blocks honest replicas refused for a bad certificate or block.
    sync_refused: usize,
    stages_written: usize,
    stage_crashes: usize,
    /// When each workload transaction was submitted (until decided).
    submitted_at: BTreeMap<Hash, u64>,
    finality_ms: Vec<u64>,
    decided_at: Vec<(u64, u64, u32, usize)>,
}

/// Runs one simulation to the end.
pub fn run(cfg: SimConfig) -> Result<SimReport, Box<SimFailure>> {
    let mut sim = Sim::new(cfg);
    sim.run()
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
            let ledger = Ledger::open(&genesis, MemStore::new()).unwrap_or_else(|e| {
                // The fixture genesis is valid by construction.
                unreachable_genesis(&e.to_string())
            });
            let consensus = Consensus::new(consensus_config(&key, cfg.timeouts_ms), None);
            replicas.push(Node {
                replica: Replica::new(replica_config(&cfg), key.clone(), consensus, ledger)
                    .unwrap_or_else(|e| unreachable_genesis(&e.to_string())),
                public: key.public(),
                key,
                code,
                byzantine: roles.get(&i).copied(),
                alive: true,
                incarnation: 0,
                safety: None,
                seen: BTreeMap::new(),
                seen_order: VecDeque::new(),
                pairs: BTreeMap::new(),
                echoed: BTreeMap::new(),
                replay_log: VecDeque::new(),
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
            sync_refused: 0,
            stages_written: 0,
            stage_crashes: 0,
            submitted_at: BTreeMap::new(),
            finality_ms: Vec::new(),
            decided_at: Vec::new(),
            junk: VecDeque::new(),
            cfg,
        };
        sim.schedule_faults();
        sim
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
            let core = r.replica.consensus();
            out.push_str(&format!(
                "  replica {i} {} {:?} alive={} ledger={} core h={} r={} {:?} decided={} validator={} votes={} buffered={} mempool={}\n",
                r.code,
                r.byzantine,
                r.alive,
                r.ledger().height(),
                core.height(),
                core.round(),
                core.step(),
                core.is_decided(),
                core.is_validator(),
                core.votes_kept(),
                core.future_buffered(),
                r.replica.mempool().len(),
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
            .map(|i| (i, self.replicas[i].ledger().height()))
    }

    /// Evidence that honest validators (still validators) saw and that is not
    /// yet on the ledger.
    fn evidence_outstanding(&self) -> Option<(Hash, PublicKey)> {
        let validators: BTreeSet<PublicKey> =
            self.reference().ledger().validators().into_iter().collect();
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
            sync_refused: self.sync_refused,
            stages_written: self.stages_written,
            stage_crashes: self.stage_crashes,
            finality_ms: self.finality_ms.clone(),
            decided_at: self.decided_at.clone(),
        }
    }

    /// The most advanced honest live replica (the "operator's view").
    fn reference(&self) -> &Node {
        let mut best = &self.replicas[0];
        for (i, r) in self.replicas.iter().enumerate() {
            let better = r.alive
                && self.honest(i)
                && (r.ledger().height() > best.ledger().height() || !best.alive);
            if better {
                best = r;
            }
        }
        best
    }

    fn block_clock(&self) -> Timestamp {
        genesis_time().plus_ms(self.now)
    }

    /// Validators at genesis (for reports).
    pub fn validators_at_genesis(&self) -> usize {
        self.validators_at_genesis
    }
}

fn consensus_config(key: &SigningKey, timeouts_ms: [u64; 4]) -> ConsensusConfig {
    let mut c = ConsensusConfig::new(testkit::CHAIN_ID, key.clone());
    let [propose, prevote, precommit, delta] = timeouts_ms;
    c.timeout_propose_ms = propose;
    c.timeout_prevote_ms = prevote;
    c.timeout_precommit_ms = precommit;
    c.timeout_delta_ms = delta;
    c.rebroadcast_interval_ms = 500;
    c
}

/// How a simulated node's replica paces blocks and bounds its work.
fn replica_config(cfg: &SimConfig) -> ReplicaConfig {
    ReplicaConfig {
        block_interval_ms: cfg.commit_delay_ms,
        empty_block_interval_ms: cfg.empty_block_interval_ms.unwrap_or(cfg.commit_delay_ms),
        clock_drift_max_ms: BLOCK_TIME_DRIFT_MAX_MS,
        mempool_size_max: MEMPOOL_TXS_MAX,
        inputs_per_event_max: INPUTS_PER_EVENT_MAX,
        sync: kp_replica::SyncConfig {
            batch_max: SYNC_BATCH_MAX,
            timeout_ms: SYNC_TIMEOUT_MS,
            stage_txs_max: SYNC_STAGE_TXS_MAX,
            ..kp_replica::SyncConfig::default()
        },
        ..ReplicaConfig::default()
    }
}

/// The decided block at `height` with its certificate, as the node's block
/// store holds them (`kp_chain`, the same layout and readers).
fn stored_block(store: &MemStore, height: u64) -> Option<(Block, CommitCertificate)> {
    let block = kp_chain::BlockStore::block(store, height).ok().flatten()?;
    let certificate = kp_chain::BlockStore::commit_certificate(store, height)
        .ok()
        .flatten()?;
    Some((block, certificate))
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_genesis<T>(error: &str) -> T {
    panic!("the simulator's genesis is invalid: {error}")
}
