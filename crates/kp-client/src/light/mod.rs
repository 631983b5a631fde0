//! The light client: which decided headers to believe, from a genesis (or a
//! header hash the user pins) and commit certificates alone.
//!
//! The model is CometBFT's. Every validator has power 1. Header `h` carries
//! `validators_hash`, the hash of the set whose precommits decide `h`, and
//! `next_validators_hash`, the hash of the set deciding `h + 1`; `prev_hash`
//! of `h + 1` is the hash of header `h` (header 1: [`Hash::ZERO`]).
//!
//! [`LightClient::verify`] checks a [`LightBlock`] from the newest trusted
//! state at or below its height:
//! * adjacent (`h + 1`): the target's set must be the announced next set,
//!   its `prev_hash` must link, and a quorum of its set must have signed;
//! * skipping (`h + k`): a quorum of the target's own set signed, and the
//!   signers that belong to the trusted set of `h + 1` (when known, else of
//!   `h`) hold more than a third of it, so at least one of them is honest
//!   under the trust assumption;
//! * when skipping lacks trust, bisection: the block halfway is fetched,
//!   verified the same way, and the target retried from it (at most
//!   [`FETCHES_MAX`] fetches);
//! * below every trusted header, backwards: the headers down to the target
//!   are fetched and each must hash to the `prev_hash` of the one above.
//!
//! A trusted state older than the trust period is refused (its validators
//! may have left and their keys be sold: pin a recent header instead), and
//! so is a header from more than the clock drift in the future. A header
//! that differs from one already verified at its height is a fork
//! ([`LightError::Conflict`]): both are evidence.
//!
//! Verified headers are kept in a [`LightStore`] on disk, so that the next
//! run starts from the newest of them rather than from genesis.
//!
//! [`Hash::ZERO`]: kp_types::Hash::ZERO
//! [`LightBlock`]: kp_api::proof::LightBlock

mod check;
mod client;
mod error;
mod store;
mod trust;

pub use client::LightClient;
pub use error::LightError;
pub use store::LightStore;
pub use trust::TrustedState;

use kp_types::{ParticipantCode, PublicKey};
use serde::{Deserialize, Serialize};

/// Default trust period: 14 days.
pub const TRUST_PERIOD_MS_DEFAULT: u64 = 14 * 86_400_000;
/// Default tolerated clock drift: 60 seconds.
pub const CLOCK_DRIFT_MS_DEFAULT: u64 = 60_000;
/// Most light blocks fetched by one verification (bisection or backwards).
pub const FETCHES_MAX: usize = 64;
/// Most verified light blocks kept (the newest ones), in memory and on disk.
pub const STORE_BLOCKS_MAX: usize = 256;
/// Largest light store file read.
pub const STORE_BYTES_MAX: u64 = 128 * 1024 * 1024;

/// A validator set: member codes and node keys, ordered by code.
pub type ValidatorSet = Vec<(ParticipantCode, PublicKey)>;

/// How long a verified header stays a root of trust, and how far ahead of
/// the local clock a header may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustOptions {
    /// A trusted header older than this (at `now`) is no longer trusted.
    pub trust_period_ms: u64,
    /// A header whose time is more than this ahead of `now` is refused.
    pub clock_drift_ms: u64,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            trust_period_ms: TRUST_PERIOD_MS_DEFAULT,
            clock_drift_ms: CLOCK_DRIFT_MS_DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests;
