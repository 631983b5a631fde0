//! What a simulation run looks like: network size, faults, byzantine
//! validators, workload and phase lengths. [`SimConfig::from_seed`] derives a
//! whole random configuration from one seed, so that a seed alone replays a
//! run.

use kp_types::consensus::faults_tolerated;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A byzantine validator's behaviour. The replica runs the real core with
/// its real key; the behaviour rewrites what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Byzantine {
    /// Sends one proposal to half of its peers and a second, different one
    /// (same height and round, another valid block) to the other half.
    EquivocatingProposer,
    /// Sends each vote to half of its peers and a conflicting vote for the
    /// same height, round and step to the other half.
    DoubleVoter,
    /// Sends nothing at all.
    Silent,
    /// Sends random bytes and corrupted copies of its messages.
    GarbageSender,
    /// Re-sends old messages it received (any signer, any height) to random peers.
    StaleReplayer,
    /// Equivocating proposer that also signs, for every vote it receives, a
    /// vote of its own for the same value and sends it back (agreeing with
    /// everyone). Harmless up to `f`; with more than `f` it splits the
    /// network, which the broken-rule test uses.
    Echo,
    /// Serves lies through block sync: every decided block it sends (sync
    /// answers, and the announcements of blocks it proposed) is tampered
    /// with, or carries a commit certificate short of a quorum. Its
    /// consensus messages are honest. Replicas must refuse what it serves
    /// and still catch up from honest peers.
    LyingSyncPeer,
}

impl Byzantine {
    /// Every behaviour.
    pub const ALL: [Byzantine; 7] = [
        Byzantine::EquivocatingProposer,
        Byzantine::DoubleVoter,
        Byzantine::Silent,
        Byzantine::GarbageSender,
        Byzantine::StaleReplayer,
        Byzantine::Echo,
        Byzantine::LyingSyncPeer,
    ];

    /// Whether it signs conflicting messages.
    pub fn equivocates(self) -> bool {
        matches!(
            self,
            Byzantine::EquivocatingProposer | Byzantine::DoubleVoter | Byzantine::Echo
        )
    }
}

/// Network and node faults of the fault phase. After it the network heals:
/// partitions end, crashed nodes restart, loss stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Faults {
    /// Base one-way latency.
    pub latency_ms: u64,
    /// Extra random latency, uniform in `0..=jitter_ms` (this also reorders).
    pub jitter_ms: u64,
    /// Messages lost, per thousand.
    pub loss_permille: u32,
    /// Messages delivered twice, per thousand.
    pub duplicate_permille: u32,
    /// Whether random (symmetric or one-way) partitions come and go.
    pub partitions: bool,
    /// Whether honest nodes crash and restart from their persisted state.
    pub crashes: bool,
}

impl Faults {
    /// No faults: a fast, reliable network.
    pub fn none() -> Faults {
        Faults {
            latency_ms: 5,
            jitter_ms: 5,
            loss_permille: 0,
            duplicate_permille: 0,
            partitions: false,
            crashes: false,
        }
    }
}

/// A deliberately broken rule, to prove that the checker notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenRule {
    /// Replica 0's host applies a block of its own making instead of the one
    /// consensus decided at this height.
    TamperDecision {
        /// The height.
        height: u64,
    },
    /// Crashed replicas restart without their safety state (amnesia), so
    /// they may sign a second, different vote for a slot they already voted in.
    ForgetSafetyOnRestart,
}

/// One simulation run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Drives every random choice.
    pub seed: u64,
    /// Government Participants (validators at genesis).
    pub validators: usize,
    /// Non-voting observer replicas.
    pub observers: usize,
    /// Byzantine behaviours, given to distinct validators chosen by the seed.
    pub byzantine: Vec<Byzantine>,
    /// Faults of the fault phase.
    pub faults: Faults,
    /// Length of the fault phase in simulated milliseconds.
    pub fault_phase_ms: u64,
    /// After healing, every honest replica must decide this many new heights...
    pub liveness_heights: u64,
    /// ...within this many simulated milliseconds.
    pub liveness_window_ms: u64,
    /// Interval between submitted workload transactions.
    pub tx_interval_ms: u64,
    /// Whether resolutions expel and readmit a validator mid-run.
    pub governance: bool,
    /// Whether one observer lags: it is down from the start until late in
    /// the fault phase, then catches up by block sync (answers of many
    /// blocks, pipelined) while a partition cuts it from half its peers.
    pub laggard: bool,
    /// A deliberately broken rule (tests of the checker only).
    pub broken: Option<BrokenRule>,
    /// Delay between applying a block and starting the next height
    /// (CometBFT's `timeout_commit`): paces heights in simulated time.
    pub commit_delay_ms: u64,
    /// The idle network's heartbeat: after an empty block with nothing
    /// pending, the next height starts after this long (the node's
    /// `[consensus] empty_block_interval_ms`); `None`: `commit_delay_ms`.
    pub empty_block_interval_ms: Option<u64>,
    /// One-way latency between each pair of replicas, in milliseconds
    /// (`geo::latency_table`), in place of `faults.latency_ms`; the
    /// jitter is added as usual.
    pub latency_table: Option<Vec<Vec<u64>>>,
    /// Consensus timeouts in milliseconds: propose, prevote, precommit,
    /// and the increase per round ([`SimConfig::TIMEOUTS_MS`] by default).
    pub timeouts_ms: [u64; 4],
    /// The command that replays this configuration, printed on failure.
    pub replay: String,
}

impl SimConfig {
    /// The simulator's consensus timeouts (propose, prevote, precommit,
    /// delta): short, for a network of a few milliseconds.
    pub const TIMEOUTS_MS: [u64; 4] = [400, 200, 200, 100];

    /// A fault-free run of `validators` validators.
    pub fn calm(seed: u64, validators: usize) -> SimConfig {
        SimConfig {
            seed,
            validators,
            observers: 1,
            byzantine: Vec::new(),
            faults: Faults::none(),
            fault_phase_ms: 5_000,
            liveness_heights: 3,
            liveness_window_ms: 30_000,
            tx_interval_ms: 150,
            governance: false,
            laggard: false,
            broken: None,
            commit_delay_ms: 200,
            empty_block_interval_ms: None,
            latency_table: None,
            timeouts_ms: SimConfig::TIMEOUTS_MS,
            replay: format!(
                "cargo test -p kp-sim --test scenarios -- --nocapture   # SimConfig::calm({seed}, {validators}) with the test's overrides"
            ),
        }
    }

    /// The random configuration of `seed`: 4, 7 or 13 validators, up to two
    /// observers, up to `f` byzantine validators, random faults and workload.
    pub fn from_seed(seed: u64) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b70_2d73_696d);
        let validators = match rng.gen_range(0..10) {
            0..=5 => 4,
            6..=8 => 7,
            _ => 13,
        };
        let f = faults_tolerated(validators);
        let byzantine_count = rng.gen_range(0..=f);
        let byzantine = (0..byzantine_count)
            .map(|_| Byzantine::ALL[rng.gen_range(0..Byzantine::ALL.len())])
            .collect();
        let faults = Faults {
            latency_ms: rng.gen_range(1..=40),
            jitter_ms: rng.gen_range(0..=60),
            loss_permille: if rng.gen_bool(0.6) {
                rng.gen_range(0..=150)
            } else {
                0
            },
            duplicate_permille: if rng.gen_bool(0.5) {
                rng.gen_range(0..=100)
            } else {
                0
            },
            partitions: rng.gen_bool(0.5),
            crashes: rng.gen_bool(0.5),
        };
        SimConfig {
            seed,
            validators,
            observers: rng.gen_range(0..=2),
            byzantine,
            faults,
            fault_phase_ms: if validators >= 13 { 4_000 } else { 6_000 },
            liveness_heights: 3,
            liveness_window_ms: 60_000,
            tx_interval_ms: rng.gen_range(50..=400),
            governance: rng.gen_bool(0.4),
            laggard: rng.gen_bool(0.3),
            broken: None,
            commit_delay_ms: 200,
            empty_block_interval_ms: None,
            latency_table: None,
            timeouts_ms: SimConfig::TIMEOUTS_MS,
            replay: crate::replay_command(seed),
        }
    }
}
