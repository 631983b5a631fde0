//! sled-backed block, state and consensus stores of a kpledger node.
//!
//! # Design
//!
//! One sled 0.34 database per node (ADR 0003,
//! `docs/adr/0003-sled-behind-a-store-trait.md`), used through our own
//! [`kp_ledger::StateStore`] trait so that sled stays replaceable and the
//! simulator can run on `kp_ledger::MemStore` with the same block-store code.
//!
//! * [`SledStore`] implements `StateStore` over sled's default tree. `commit`
//!   applies a whole [`kp_ledger::WriteSet`] as one `sled::Batch` (atomic,
//!   crash included), then flushes and fsyncs before returning (durable; see
//!   [`sled_store`] for why sled's own flush is not enough).
//! * [`BlockStore`] turns a decided block, its commit certificate and the
//!   ledger's receipts into write-set entries in the host key range. The node
//!   adds them to the block the ledger executed (`Ledger::execute`, whose
//!   receipts exist before anything is written) with
//!   `Pending::add_host_writes`, so the block, its indexes, its receipts, the
//!   new last stored height and the ledger's state changes (including the
//!   ledger's own applied height) land in one atomic commit
//!   (`Ledger::advance`). Readers take any `StateStore`.
//! * [`SafetyStore`] keeps the consensus safety state (opaque bytes encoded
//!   by the node) in a separate sled tree and flushes on every save, before
//!   the vote that depends on it is sent.
//! * [`check_consistency`] runs at startup: the last stored block height must
//!   equal the ledger's applied height, and every block up to it must be
//!   present with its certificate, receipts and indexes. It returns where to
//!   resume.
//!
//! # A node's use, step by step
//!
//! ```
//! use kp_ledger::{testkit, Ledger};
//! use kp_storage::{check_consistency, BlockStore, SledStore};
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
//! # Key layout
//!
//! The ledger owns keys whose first byte is below `0x80`
//! ([`kp_ledger::HOST_KEY_PREFIX_MIN`]); their layout is the ledger's. This
//! crate owns the keys from `0x80` up. Every block-store key is
//! `table (1 byte) || key version (1 byte, 0x01) || fields`, integers
//! big-endian so that key order is numeric order:
//!
//! | table | key bytes | value |
//! |---|---|---|
//! | meta | `80` `73 63 68 65 6d 61` (`0x80 "schema"`) | schema version, `u32` BE, bare (4 bytes) |
//! | block | `81` `01` height (8) | `01` `encode(Block)` |
//! | block hash | `82` `01` block hash (32) | `01` `encode(height: u64)` |
//! | commit certificate | `83` `01` height (8) | `01` `encode(CommitCertificate)` |
//! | transaction index | `84` `01` tx hash (32) height (8) position (4) | `01` `encode((height: u64, position: u32))` |
//! | receipts | `85` `01` height (8) | `01` receipts bytes as the ledger encoded them |
//! | last stored block | `86` `01` | `01` `encode(height: u64)` |
//!
//! The safety state is in the sled tree `kpledger/consensus-safety`
//! ([`safety::SAFETY_TREE`]), under the single key `01` (its key version),
//! with value `01` followed by the node's bytes.
//!
//! Versions: the second key byte is the table's key-format version and the
//! first value byte is the value-format version (both `0x01` now); a reader
//! refuses any other value version as [`StorageError::Corrupt`]. `encode` is
//! [`kp_types::encode`] (bincode 2, big-endian fixed-width integers, ADR
//! 0001); every stored value is decoded with [`kp_types::decode`] and a size
//! limit, and checked against its key. The schema marker (written on first
//! open, checked on every open) names the layout as a whole: a store of
//! another schema version is refused with
//! [`StorageError::UnknownSchemaVersion`], and a database with data but no
//! marker with [`StorageError::NotAKpledgerStore`].
//!
//! The transaction index puts the location in the key, not only in the value,
//! so that a hash ordered twice (a replay the ledger rejected and kept with
//! its receipt) does not overwrite the first occurrence; a prefix scan on the
//! hash lists the occurrences in chain order.
//!
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod blocks;
pub mod consistency;
pub mod error;
pub mod keys;
pub mod safety;
pub mod sled_store;
pub mod tx_filter;

pub use blocks::{
    BlockStore, BLOCK_RANGE_MAX, COMMIT_CERTIFICATE_BYTES_MAX, RECEIPTS_BYTES_MAX, TX_LOCATIONS_MAX,
};
pub use consistency::{check_consistency, check_consistency_with, CheckDepth, ConsistentHeight};
pub use error::{Inconsistency, StorageError};
pub use safety::{SafetyStore, SavedSafety, SAFETY_STATE_BYTES_MAX};
pub use sled_store::SledStore;
pub use tx_filter::TxFilter;
