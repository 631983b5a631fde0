//! Errors of the ledger's own operations (as opposed to [`crate::Rejection`],
//! which is a verdict on a transaction and part of the replicated state).

use crate::genesis::GenesisError;
use crate::store::StoreError;
use kp_types::{Hash, PublicKey, Timestamp};
use thiserror::Error;

/// Why a block is not a valid block for the next height (the consensus
/// paper's `valid(v)` is false). Independent of ledger rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// The block names another chain.
    #[error("block is for chain {found:?}, expected {expected:?}")]
    WrongChain {
        /// This chain.
        expected: String,
        /// The block's.
        found: String,
    },
    /// Not the next height.
    #[error("block height {found}, expected {expected}")]
    WrongHeight {
        /// Next height.
        expected: u64,
        /// The block's.
        found: u64,
    },
    /// Does not extend the last block.
    #[error("block extends {found}, expected {expected}")]
    WrongPrevHash {
        /// Last block hash.
        expected: Hash,
        /// The block's previous hash.
        found: Hash,
    },
    /// Does not commit to the current state.
    #[error("block commits to state {found}, expected {expected}")]
    WrongStateRoot {
        /// Current state root.
        expected: Hash,
        /// The block's.
        found: Hash,
    },
    /// A header commitment (validators, next validators, results or
    /// records root) differs from the ledger's own.
    #[error("header {field} is {found}, the ledger's is {expected}")]
    WrongCommitment {
        /// Which field of the header.
        field: &'static str,
        /// The ledger's value.
        expected: Hash,
        /// The header's.
        found: Hash,
    },
    /// Time does not move forward.
    #[error("block time {found} is not after {previous}")]
    TimeNotAfter {
        /// Last block time.
        previous: Timestamp,
        /// The block's.
        found: Timestamp,
    },
    /// The transactions' Merkle root does not match.
    #[error("transactions root {found} does not match computed {computed}")]
    TxsRootMismatch {
        /// Computed over the transactions.
        computed: Hash,
        /// In the header.
        found: Hash,
    },
    /// Too many transactions.
    #[error("{count} transactions exceed the limit {max}")]
    TooManyTxs {
        /// Count.
        count: usize,
        /// Limit.
        max: u32,
    },
    /// Too many bytes of transactions (or one transaction too large).
    #[error("{bytes} bytes of transactions exceed the limit {max}")]
    TooManyBytes {
        /// Bytes.
        bytes: usize,
        /// Limit.
        max: usize,
    },
    /// The proposer is not a validator of this height.
    #[error("proposer {proposer} is not a validator")]
    ProposerNotValidator {
        /// The proposer.
        proposer: PublicKey,
    },
    /// A transaction's signature does not verify.
    #[error("transaction {index} ({tx_hash}) has a bad signature")]
    BadTxSignature {
        /// Position in the block.
        index: usize,
        /// Its hash.
        tx_hash: Hash,
    },
}

/// Why a ledger operation failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// A write of blocks applied ahead of the store was taken and is not
    /// yet written: the next one must wait (writes reach the store in order).
    #[error("a write of blocks applied ahead of the store is not yet written")]
    WriteBehindInFlight,
    /// An executed block no longer follows the ledger (it moved on since).
    #[error("the executed block {height} no longer follows the ledger at height {current}")]
    StalePending {
        /// The block's height.
        height: u64,
        /// The ledger's height.
        current: u64,
    },
    /// The store failed; the node must stop.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The genesis document is invalid.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The store holds another chain.
    #[error("store holds chain with genesis {stored}, not {expected}")]
    WrongGenesis {
        /// The genesis given.
        expected: Hash,
        /// The genesis in the store.
        stored: Hash,
    },
    /// The block is not valid for the next height; nothing was written.
    #[error(transparent)]
    InvalidBlock(#[from] BlockError),
    /// A host write used a ledger key (first byte below 0x80).
    #[error("host write to ledger key {key_hex}")]
    HostKeyInLedgerRange {
        /// The key, in hex.
        key_hex: String,
    },
    /// The state root recomputed on open differs from the one stored.
    #[error("state root recomputed {computed}, stored {stored}")]
    RootMismatch {
        /// Recomputed.
        computed: Hash,
        /// Stored.
        stored: Hash,
    },
    /// The records tree rebuilt from the store differs from the root
    /// stored with the last commit.
    #[error("records root rebuilt {computed}, stored {stored}: the store was changed behind the ledger's back")]
    RecordsRootMismatch {
        /// Rebuilt.
        computed: Hash,
        /// Stored.
        stored: Hash,
    },
    /// The store was written by a build with the earlier bucket-tree state
    /// root: its blocks' roots cannot be checked by this one.
    #[error("the store predates the lattice state root: start from an empty data directory (the node syncs the chain again)")]
    OldRootScheme,
    /// Expected state is missing (a corrupt or foreign store).
    #[error("state entry {what} is missing")]
    Missing {
        /// What.
        what: &'static str,
    },
}
