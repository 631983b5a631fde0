//! Deterministic simulator of a kpledger network.
//!
//! [`run`] builds `n` validator nodes and a few observers, each driving the
//! replica the node ships ([`kp_replica::Replica`]: the real consensus core,
//! the real ledger over a [`kp_ledger::MemStore`] and the real pool) with a
//! durable safety state, all in one thread from one event queue ordered by
//! simulated time and sequence number. All randomness comes from one seeded
//! `ChaCha8Rng`, so a seed replays a run exactly (the run's
//! [`SimReport::trace_hash`] chains every event and applied block).
//!
//! Design:
//! * [`config`]: what a run looks like; [`SimConfig::from_seed`] derives a
//!   random configuration (4, 7 or 13 validators, faults, up to `f` byzantine
//!   validators, workload, governance) from the seed alone.
//! * [`sim`]: the nodes as hosts of their replica (they carry out its
//!   `Ready` batches in order, persisting safety state before sending), the
//!   network (latency, jitter, loss, duplication, partitions, gossip relay,
//!   block sync and block announcements), crashes and restarts from persisted
//!   state only, byzantine behaviours that rewrite what a validator sends
//!   (or the blocks it serves), the workload and a governance scenario that
//!   changes the validator set mid-run.
//! * [`check`]: agreement, validity, identical state roots, no double signing
//!   by honest validators (across restarts), no decided block an honest peer
//!   served refused by block sync, then liveness after healing and evidence
//!   on the ledger for every equivocation an honest validator saw.
//! * [`fixture`]: the simulated genesis and transaction generator.
//!
//! Every failure carries its seed, the violation and a one-line replay
//! command (`docs/consensus.md` explains the fault model and replaying).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod check;
pub mod config;
pub mod fixture;
pub mod geo;
pub mod sim;

pub use check::Violation;
pub use config::{BrokenRule, Byzantine, Faults, SimConfig};
pub use sim::{run, SimFailure, SimReport};

/// The one-line command that replays the random configuration of `seed`.
pub fn replay_command(seed: u64) -> String {
    format!("KP_SIM_SEED={seed} cargo test -p kp-sim --test sweep replay -- --nocapture")
}
