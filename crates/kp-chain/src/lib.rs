//! The decided chain as a node stores it, over any
//! [`kp_ledger::StateStore`]: the same code for the node's sled store
//! (`kp-storage`) and the simulator's `kp_ledger::MemStore`.
//!
//! * [`BlockStore`] turns a decided block, its commit certificate and the
//!   ledger's receipts into write-set entries in the host key range. The host
//!   adds them to the block the ledger executed (`Ledger::execute`, whose
//!   receipts exist before anything is written) with
//!   `Pending::add_host_writes`, so the block, its indexes, its receipts, the
//!   new last stored height and the ledger's state changes (including the
//!   ledger's own applied height) land in one atomic commit
//!   (`Ledger::advance`). Its readers take any `StateStore`.
//! * [`check_consistency`] runs at startup: the last stored block height must
//!   equal the ledger's applied height, and every block up to it must be
//!   present with its certificate, receipts and indexes. It returns where to
//!   resume.
//! * [`TxFilter`] tells which transaction hashes the block index may hold,
//!   so that most new submissions skip the index lookup.
//! * [`StoreError`] (`kp_ledger::StoreError`, re-exported) is the one error
//!   type of every store: the trait, this crate and the sled binding.
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
//! | transaction index | `84` `01` tx hash (32) height (8) position (4) | `02` alone (schema 1 wrote `01` `encode((height: u64, position: u32))`, still read) |
//! | receipts | `85` `01` height (8) | `01` receipts bytes as the ledger encoded them |
//! | last stored block | `86` `01` | `01` `encode(height: u64)` |
//!
//! The safety state is kept apart, in the sled tree
//! `kpledger/consensus-safety` (`kp_storage::safety::SAFETY_TREE`), under
//! the single key `01` (its key version), with value `01` followed by the
//! node's bytes.
//!
//! Versions: the second key byte is the table's key-format version and the
//! first value byte is the value-format version (`0x01`, but `0x02` for a
//! transaction-index entry, whose location is in its key: ADR 0014); a
//! reader refuses any other value version as [`StoreError::Corrupt`]. `encode` is
//! [`kp_types::encode`] (bincode 2, big-endian fixed-width integers, ADR
//! 0001); every stored value is decoded with [`kp_types::decode`] and a size
//! limit, and checked against its key. The schema marker (written on first
//! open, checked on every open) names the layout as a whole (2 now; a
//! schema-1 store is upgraded on open by rewriting the marker alone, since
//! its entries are all readable as they are): a store of another schema
//! version is refused with
//! [`StoreError::UnknownSchemaVersion`] (by `kp-storage`, which opens the
//! database), and a database with data but no marker with
//! [`StoreError::NotAKpledgerStore`].
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
pub mod tx_filter;

pub use blocks::{
    BlockStore, BLOCK_RANGE_MAX, COMMIT_CERTIFICATE_BYTES_MAX, RECEIPTS_BYTES_MAX, TX_LOCATIONS_MAX,
};
pub use consistency::{check_consistency, check_consistency_with, CheckDepth, ConsistentHeight};
pub use error::key_hex;
pub use kp_ledger::{Inconsistency, StoreError};
pub use tx_filter::TxFilter;
