//! The invariants checked after every simulation step, and what a broken one
//! reports.

use kp_types::{Hash, PublicKey};
use std::collections::BTreeMap;
use std::fmt;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest replicas applied different blocks at one height.
    Agreement {
        /// The height.
        height: u64,
        /// The block applied first.
        first: Hash,
        /// The other block.
        second: Hash,
        /// The replica that applied `second`.
        replica: usize,
    },
    /// Two honest replicas reached different state roots at one height.
    StateRoot {
        /// The height.
        height: u64,
        /// The root reached first.
        first: Hash,
        /// The other root.
        second: Hash,
        /// The replica that reached `second`.
        replica: usize,
    },
    /// A decided block could not be applied.
    Validity {
        /// The height.
        height: u64,
        /// The replica.
        replica: usize,
        /// The ledger's complaint.
        error: String,
    },
    /// An honest validator signed two different messages for one slot.
    DoubleSign {
        /// The validator.
        validator: PublicKey,
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// `proposal`, `prevote` or `precommit`.
        step: &'static str,
    },
    /// An equivocation seen by an honest validator never reached the ledger.
    EvidenceMissing {
        /// The evidence id.
        id: Hash,
        /// The equivocating validator.
        offender: PublicKey,
    },
    /// After healing, an honest replica did not decide enough new heights in time.
    Liveness {
        /// The replica.
        replica: usize,
        /// Its height at the deadline.
        height: u64,
        /// The height it had to reach.
        target: u64,
    },
    /// An honest replica refused a decided block an honest peer served (its
    /// certificate or the block did not check out): block sync is broken.
    SyncRefused {
        /// The block's height.
        height: u64,
        /// The replica that refused it.
        replica: usize,
        /// The peer that served it.
        from: usize,
        /// Why.
        error: String,
    },
    /// The event queue outgrew its bound.
    QueueOverflow {
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Agreement { height, first, second, replica } => write!(
                f,
                "agreement: replica {replica} applied {second:?} at height {height}, another honest replica applied {first:?}"
            ),
            Violation::StateRoot { height, first, second, replica } => write!(
                f,
                "state root: replica {replica} reached {second:?} at height {height}, another reached {first:?}"
            ),
            Violation::Validity { height, replica, error } => {
                write!(f, "validity: replica {replica} cannot apply the decided block {height}: {error}")
            }
            Violation::DoubleSign { validator, height, round, step } => write!(
                f,
                "double sign: honest validator {validator:?} signed two {step}s at height {height} round {round}"
            ),
            Violation::EvidenceMissing { id, offender } => write!(
                f,
                "evidence {id:?} against {offender:?} was seen by an honest validator but never recorded"
            ),
            Violation::Liveness { replica, height, target } => write!(
                f,
                "liveness: replica {replica} is at height {height} after healing, needed {target}"
            ),
            Violation::SyncRefused { height, replica, from, error } => write!(
                f,
                "sync: replica {replica} refused block {height} from honest replica {from}: {error}"
            ),
            Violation::QueueOverflow { len } => write!(f, "event queue overflow: {len} events"),
        }
    }
}

/// What honest replicas did, to compare as they go.
#[derive(Debug, Default)]
pub struct Checker {
    blocks: BTreeMap<u64, Hash>,
    roots: BTreeMap<u64, Hash>,
    signed: BTreeMap<(PublicKey, u64, u32, &'static str), Hash>,
}

impl Checker {
    /// Records a block applied by an honest replica and the root it reached.
    pub fn applied(
        &mut self,
        replica: usize,
        height: u64,
        block: Hash,
        root: Hash,
    ) -> Result<(), Violation> {
        let first = *self.blocks.entry(height).or_insert(block);
        if first != block {
            return Err(Violation::Agreement {
                height,
                first,
                second: block,
                replica,
            });
        }
        let first = *self.roots.entry(height).or_insert(root);
        if first != root {
            return Err(Violation::StateRoot {
                height,
                first,
                second: root,
                replica,
            });
        }
        Ok(())
    }

    /// Records a message an honest validator signed (`value` identifies what
    /// it signed for the slot: the block hash, or a fixed hash for nil).
    pub fn signed(
        &mut self,
        validator: PublicKey,
        height: u64,
        round: u32,
        step: &'static str,
        value: Hash,
    ) -> Result<(), Violation> {
        let first = *self
            .signed
            .entry((validator, height, round, step))
            .or_insert(value);
        if first != value {
            return Err(Violation::DoubleSign {
                validator,
                height,
                round,
                step,
            });
        }
        Ok(())
    }

    /// Highest height any honest replica applied.
    pub fn highest(&self) -> u64 {
        self.blocks.keys().next_back().copied().unwrap_or(0)
    }
}
