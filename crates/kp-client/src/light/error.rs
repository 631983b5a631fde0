//! Why a header is not believed: the light client's errors.

use kp_types::{Hash, Timestamp};
use std::path::PathBuf;
use thiserror::Error;

/// Why a header is not believed, or the light client cannot go on.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LightError {
    /// The header or its commit is for another chain.
    #[error("height {height}: chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// Height of the header.
        height: u64,
        /// The trusted chain.
        expected: String,
        /// The chain named.
        found: String,
    },
    /// The trust root itself is malformed.
    #[error("the trusted state is malformed: {reason}")]
    BadRoot {
        /// What is wrong.
        reason: String,
    },
    /// The header is malformed (height 0, proposer outside the set).
    #[error("height {height}: bad header: {reason}")]
    BadHeader {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The validator list does not hash to the header's, is too large, has
    /// duplicates, or is not the set the trusted header announced.
    #[error("height {height}: bad validator set: {reason}")]
    BadValidatorSet {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// The commit certificate does not decide this header.
    #[error("height {height}: bad commit: {reason}")]
    BadCommit {
        /// Height of the header.
        height: u64,
        /// What is wrong.
        reason: String,
    },
    /// Too few of the trusted validators signed a header skipped to, and
    /// bisection could not bridge the gap within [`FETCHES_MAX`] fetches.
    ///
    /// [`FETCHES_MAX`]: super::FETCHES_MAX
    #[error(
        "height {height}: {signed} signers belong to the set trusted at height \
         {trusted_height}; {needed} (more than a third) needed"
    )]
    NotEnoughTrust {
        /// Height of the header.
        height: u64,
        /// The trusted height it was checked from.
        trusted_height: u64,
        /// Signers in the trusted set.
        signed: usize,
        /// Signers needed.
        needed: usize,
    },
    /// The trusted state is older than the trust period.
    #[error(
        "the trusted header at height {trusted_height} ({trusted_time}) is older than the \
         trust period at {now}: its validators may have left and their keys be in other \
         hands; pin a recent header (height and hash) obtained from a source you trust"
    )]
    Expired {
        /// The trusted height.
        trusted_height: u64,
        /// Its time.
        trusted_time: Timestamp,
        /// The local time.
        now: Timestamp,
    },
    /// The header's time is ahead of the local clock by more than the drift.
    #[error("height {height}: header time {time} is in the future (now {now})")]
    FromTheFuture {
        /// Height of the header.
        height: u64,
        /// Its time.
        time: Timestamp,
        /// The local time.
        now: Timestamp,
    },
    /// The header's `prev_hash` is not the hash of the trusted header below.
    #[error("height {height}: prev_hash {found} is not the trusted header hash {expected}")]
    NotLinked {
        /// Height of the header.
        height: u64,
        /// Hash of the trusted header below.
        expected: Hash,
        /// The header's `prev_hash`.
        found: Hash,
    },
    /// Header times do not increase with height.
    #[error(
        "height {height}: time {time} is not after {trusted_time} of trusted height \
         {trusted_height}"
    )]
    NotMonotonic {
        /// Height of the header.
        height: u64,
        /// Its time.
        time: Timestamp,
        /// The trusted height compared with.
        trusted_height: u64,
        /// Its time.
        trusted_time: Timestamp,
    },
    /// A light block needed for verification could not be fetched, or the
    /// node answered with another height.
    #[error("cannot fetch the light block of height {height}: {reason}")]
    Fetch {
        /// The height asked for.
        height: u64,
        /// What failed.
        reason: String,
    },
    /// The header is more than [`FETCHES_MAX`] heights below every trusted
    /// header.
    ///
    /// [`FETCHES_MAX`]: super::FETCHES_MAX
    #[error(
        "height {height} lies too far below the lowest trusted header ({lowest}): pin an \
         older header"
    )]
    TooFarBack {
        /// Height of the header.
        height: u64,
        /// Lowest trusted height above it.
        lowest: u64,
    },
    /// Another header is already verified at this height: the chain forked
    /// (or a trusted source lied). Keep both as evidence.
    #[error(
        "FORK at height {height}: header {found} conflicts with the verified header \
         {trusted}; keep both as evidence and alert the other Participants"
    )]
    Conflict {
        /// The height.
        height: u64,
        /// The verified hash.
        trusted: Hash,
        /// The conflicting hash.
        found: Hash,
    },
    /// The light store cannot be read or written, or holds inconsistent data.
    #[error("light store {}: {detail}", .path.display())]
    Store {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
}
