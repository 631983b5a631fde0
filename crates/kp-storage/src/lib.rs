//! The sled binding of a kpledger node's stores: the state store and the
//! consensus safety store on one sled database.
//!
//! # Design
//!
//! One sled 0.34 database per node (ADR 0003,
//! `docs/adr/0003-sled-behind-a-store-trait.md`), used through our own
//! [`kp_ledger::StateStore`] trait so that sled stays replaceable and the
//! simulator can run on `kp_ledger::MemStore` with the same block-store code.
//!
//! * [`SledStore`] implements `StateStore` over sled's default tree. `commit`
//!   applies a whole [`kp_ledger::WriteSet`] atomically, crash included: as
//!   one `sled::Batch`, or, from [`redo::REDO_ENTRIES_MIN`] entries on (a
//!   stage of synced blocks), through a redo file and single writes, so that
//!   readers are not stopped meanwhile (ADR 0017). It then flushes and fsyncs
//!   before returning (durable; see [`sled_store`] for why sled's own flush
//!   is not enough).
//! * The chain's layout (blocks, certificates, indexes, receipts), the
//!   consistency check and the transaction filter are pure and generic over
//!   the store: they live in `kp-chain`, with the key layout, so that the
//!   simulator stores blocks exactly as the node does.
//! * [`SafetyStore`] keeps the consensus safety state (opaque bytes encoded
//!   by the node) in a separate sled tree and flushes on every save, before
//!   the vote that depends on it is sent.
//!
//! # A node's use, step by step
//!
//! ```
//! use kp_chain::{check_consistency, BlockStore};
//! use kp_ledger::{testkit, Ledger};
//! use kp_storage::SledStore;
//! # use kp_types::*;
//! # fn certify(block: &Block) -> CommitCertificate {
//! #     // (Consensus hands the node the certificate with the block.)
//! #     CommitCertificate {
//! #         chain_id: block.header.chain_id.clone(), height: block.header.height,
//! #         round: 0, block_hash: block.hash(), signatures: vec![],
//! #     }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! // Open once per process; clones share the database.
//! let store = SledStore::open(dir.path().join("db"))?;
//! let mut ledger = Ledger::open(&testkit::genesis(), store.clone())?;
//! // Resume where the last atomic commit left the store.
//! let resume = check_consistency(&store, ledger.height())?;
//! assert_eq!(resume.height, 0);
//!
//! // Before a vote leaves the node, its safety state is on disk.
//! store.safety_store()?.save(b"encoded safety state")?;
//!
//! // A block is decided: execute it, add the block and its receipts, and
//! // commit everything at once.
//! let proposer = ledger.validators()[0];
//! let time = testkit::at(2026, 1, 2);
//! let block = Block { header: ledger.next_header(proposer, time, merkle::root(&[])), txs: vec![] };
//! # let certificate = certify(&block);
//! let mut pending = ledger.execute(&block)?;
//! let receipts = kp_types::encode(&pending.receipt().receipts);
//! pending.add_host_writes(BlockStore::try_block_writes(&block, &certificate, &receipts)?)?;
//! ledger.advance(pending)?;
//!
//! assert_eq!(BlockStore::last_block_height(&store)?, 1);
//! assert_eq!(BlockStore::receipts(&store, 1)?, Some(receipts));
//! assert_eq!(BlockStore::block(&store, 1)?, Some(block));
//! # Ok(()) }
//! ```
//!
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod pieces;
pub mod redo;
pub mod safety;
pub mod sled_store;

pub use kp_chain::StoreError;
pub use safety::{SafetyStore, SavedSafety, SAFETY_STATE_BYTES_MAX};
pub use sled_store::SledStore;

/// Maps a sled error to ours, naming the operation that failed.
pub(crate) fn backend(operation: &'static str) -> impl Fn(sled::Error) -> StoreError {
    move |error| StoreError::Backend {
        operation,
        detail: error.to_string(),
    }
}
