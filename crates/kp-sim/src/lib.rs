//! Deterministic simulator of a kpledger network (see `docs/consensus.md`).
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod check;
pub mod config;
pub mod fixture;
pub mod sim;

pub use check::Violation;
pub use config::{BrokenRule, Byzantine, Faults, SimConfig};
pub use sim::{run, SimFailure, SimReport};

/// The one-line command that replays `seed`.
pub fn replay_command(seed: u64) -> String {
    format!("KP_SIM_SEED={seed} cargo test -p kp-sim --test sweep replay -- --nocapture")
}
