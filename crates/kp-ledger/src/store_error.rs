//! The one storage error: what any store (in memory, the block store, sled)
//! reports, and what the consistency check finds.

use kp_types::Hash;
use thiserror::Error;

/// Why a storage operation failed: the one error of every store (the
/// [`StateStore`](crate::StateStore) trait, the block store of `kp-chain`,
/// and the sled binding of `kp-storage`). A node treats it as fatal: it
/// stops rather than guess.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database could not be opened (missing permissions, held by another
    /// process, not a sled database).
    #[error("cannot open the store at {path}: {detail}")]
    Open {
        /// The directory that was opened.
        path: String,
        /// What sled reported.
        detail: String,
    },
    /// The backend failed to read, write or flush.
    #[error("storage backend failed during {operation}: {detail}")]
    Backend {
        /// What was being done.
        operation: &'static str,
        /// What the backend reported.
        detail: String,
    },
    /// Stored bytes do not decode, or decode to something that contradicts
    /// their key: the store is damaged or was written by another program.
    #[error("stored value under key {key_hex} is corrupt: {detail}")]
    Corrupt {
        /// The key, in hex.
        key_hex: String,
        /// What is wrong with the value.
        detail: String,
    },
    /// The store was written with a schema this build does not know.
    #[error(
        "store schema version {found} is not supported (this build reads version {supported})"
    )]
    UnknownSchemaVersion {
        /// The version recorded in the store.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The directory holds a sled database with data but no kpledger schema
    /// marker: it is not ours, and writing into it could destroy someone's data.
    #[error("the store at {path} holds data but no kpledger schema marker")]
    NotAKpledgerStore {
        /// The directory that was opened.
        path: String,
    },
    /// A value is larger than this crate stores under its key.
    #[error("{what} of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was being stored.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The block store and the ledger disagree, or the block store has a hole.
    #[error("store is inconsistent: {0}")]
    Inconsistent(Inconsistency),
}

/// What the consistency check of the block store against the ledger found
/// wrong (`kp_chain::check_consistency`).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Inconsistency {
    /// The last stored block and the ledger's applied height differ; they are
    /// written in one batch, so this cannot follow from a crash.
    #[error("last stored block is at height {last_block_height} but the ledger has applied height {ledger_height}")]
    HeightMismatch {
        /// Height recorded by the block store (0 when it holds no block).
        last_block_height: u64,
        /// Height the ledger reports as applied.
        ledger_height: u64,
    },
    /// No block at a height at or below the last stored one.
    #[error("block {height} is missing")]
    MissingBlock {
        /// The height.
        height: u64,
    },
    /// No commit certificate for a stored block.
    #[error("commit certificate of block {height} is missing")]
    MissingCommitCertificate {
        /// The height.
        height: u64,
    },
    /// No receipts for a stored block.
    #[error("receipts of block {height} are missing")]
    MissingReceipts {
        /// The height.
        height: u64,
    },
    /// A commit certificate does not certify the block stored at its height.
    #[error("commit certificate at height {height} certifies block {certified_hash} at height {certified_height}, but the stored block is {block_hash}")]
    CertificateMismatch {
        /// The height.
        height: u64,
        /// The height the certificate names.
        certified_height: u64,
        /// The block hash the certificate names.
        certified_hash: Hash,
        /// The stored block's hash.
        block_hash: Hash,
    },
    /// The transaction hashes handed with a block to store are not one per
    /// transaction (a bug of the caller).
    #[error("block {height} has {txs} transactions but {hashes} transaction hashes were given")]
    TxHashesMismatch {
        /// The block's height.
        height: u64,
        /// Transactions in the block.
        txs: usize,
        /// Hashes given.
        hashes: usize,
    },
    /// The block-hash index does not point at the block.
    #[error("hash index of block {height} ({block_hash}) points at {indexed_height:?}")]
    HashIndexMismatch {
        /// The height.
        height: u64,
        /// The block's hash.
        block_hash: Hash,
        /// Where the index points, if anywhere.
        indexed_height: Option<u64>,
    },
    /// A transaction of a stored block is missing from the transaction index.
    #[error("transaction {position} of block {height} is missing from the index")]
    MissingTxIndex {
        /// The block's height.
        height: u64,
        /// The transaction's position in the block.
        position: u32,
    },
    /// A block does not extend the block below it.
    #[error("block {height} has previous hash {prev_hash}, but block {} is {expected}", height.saturating_sub(1))]
    BrokenChain {
        /// The height.
        height: u64,
        /// The block's `prev_hash`.
        prev_hash: Hash,
        /// The hash of the block below (or zero at height 1).
        expected: Hash,
    },
    /// A block claims height 0, which is genesis and has no block.
    #[error("a block claims height 0, which is genesis and has no block")]
    BlockAtGenesis,
    /// A block is stored above the recorded last height.
    #[error("block {height} is stored above the last recorded height {last_block_height}")]
    BlockAboveLast {
        /// The stray block's height.
        height: u64,
        /// The recorded last height.
        last_block_height: u64,
    },
}

impl From<Inconsistency> for StoreError {
    fn from(problem: Inconsistency) -> StoreError {
        StoreError::Inconsistent(problem)
    }
}
