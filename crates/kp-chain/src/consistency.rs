//! The startup check: does the block store agree with the ledger, and is the
//! chain of stored blocks whole?
//!
//! A block, its certificate, receipts, indexes, the "last stored block
//! height" and the ledger's applied height are written in one atomic commit
//! (see [`crate::BlockStore`]). So after a crash at any instant the store is
//! exactly as after some committed block, and this check must pass; if it
//! does not, the store was damaged or written by something else, and the node
//! must stop instead of building on it.
//!
//! The ledger's key layout belongs to the ledger, so the caller reads the
//! ledger's applied height and passes it in.

use crate::blocks::BlockStore;
use crate::keys::{height_key, tx_key, TABLE_RECEIPTS};
use kp_ledger::StateStore;
use kp_ledger::{Inconsistency, StoreError};
use kp_types::Hash;

/// Where a node resumes: the last block that is stored and applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsistentHeight {
    /// Height of the last stored and applied block (0: genesis, nothing stored).
    pub height: u64,
    /// Its hash: the `prev_hash` of the next block ([`Hash::ZERO`] at genesis).
    pub block_hash: Hash,
}

/// How much of the chain [`check_consistency_with`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckDepth {
    /// Every stored block, from height 1: reads the whole history.
    Full,
    /// The last `n` blocks (at least one), and the block below them for the
    /// chain link. Enough after a crash, where only the tail can be affected,
    /// and bounded in time however long the history grows.
    Recent(u64),
}

/// [`check_consistency_with`] over the whole chain.
pub fn check_consistency<S: StateStore + ?Sized>(
    store: &S,
    ledger_height: u64,
) -> Result<ConsistentHeight, StoreError> {
    check_consistency_with(store, ledger_height, CheckDepth::Full)
}

/// Checks that the last stored block height equals `ledger_height` (the
/// ledger's applied height), that no block is stored above it, and that each
/// checked height holds a block whose header names that height and extends
/// the block below, with its commit certificate for that block, its receipts,
/// its hash-index entry and an index entry for every transaction.
///
/// Returns where to resume, or the first problem found as
/// [`StoreError::Inconsistent`] (or [`StoreError::Corrupt`] for a value
/// that does not decode or contradicts its key).
pub fn check_consistency_with<S: StateStore + ?Sized>(
    store: &S,
    ledger_height: u64,
    depth: CheckDepth,
) -> Result<ConsistentHeight, StoreError> {
    let last = BlockStore::last_block_height(store)?;
    if last != ledger_height {
        return Err(Inconsistency::HeightMismatch {
            last_block_height: last,
            ledger_height,
        }
        .into());
    }
    if let Some(height) = BlockStore::first_block_above(store, last)? {
        return Err(Inconsistency::BlockAboveLast {
            height,
            last_block_height: last,
        }
        .into());
    }
    if last == 0 {
        return Ok(ConsistentHeight {
            height: 0,
            block_hash: Hash::ZERO,
        });
    }
    // A store restored from a state snapshot holds no block up to its base.
    let base = BlockStore::base(store)?;
    let (floor, floor_hash) = base.unwrap_or((0, Hash::ZERO));
    if last < floor {
        return Err(Inconsistency::HeightMismatch {
            last_block_height: last,
            ledger_height: floor,
        }
        .into());
    }
    if last == floor {
        return Ok(ConsistentHeight {
            height: last,
            block_hash: floor_hash,
        });
    }
    let first = match depth {
        CheckDepth::Full => floor + 1,
        CheckDepth::Recent(n) => last.saturating_sub(n.max(1) - 1).max(floor + 1),
    };
    let mut prev_hash = if first == floor + 1 {
        floor_hash
    } else {
        let below = first - 1;
        match BlockStore::block(store, below)? {
            Some(block) => block.hash(),
            None => return Err(Inconsistency::MissingBlock { height: below }.into()),
        }
    };
    // Bounded by the stored height: one block in memory at a time.
    for height in first..=last {
        prev_hash = check_height(store, height, prev_hash)?;
    }
    Ok(ConsistentHeight {
        height: last,
        block_hash: prev_hash,
    })
}

/// Checks one stored height; returns its block's hash.
fn check_height<S: StateStore + ?Sized>(
    store: &S,
    height: u64,
    expected_prev: Hash,
) -> Result<Hash, StoreError> {
    // The reader already refuses a block whose header names another height.
    let Some(block) = BlockStore::block(store, height)? else {
        return Err(Inconsistency::MissingBlock { height }.into());
    };
    let block_hash = block.hash();
    if block.header.prev_hash != expected_prev {
        return Err(Inconsistency::BrokenChain {
            height,
            prev_hash: block.header.prev_hash,
            expected: expected_prev,
        }
        .into());
    }
    let Some(certificate) = BlockStore::commit_certificate(store, height)? else {
        return Err(Inconsistency::MissingCommitCertificate { height }.into());
    };
    if certificate.block_hash != block_hash {
        return Err(Inconsistency::CertificateMismatch {
            height,
            certified_height: certificate.height,
            certified_hash: certificate.block_hash,
            block_hash,
        }
        .into());
    }
    let indexed_height = BlockStore::height_of(store, &block_hash)?;
    if indexed_height != Some(height) {
        return Err(Inconsistency::HashIndexMismatch {
            height,
            block_hash,
            indexed_height,
        }
        .into());
    }
    if store.get(&height_key(TABLE_RECEIPTS, height))?.is_none() {
        return Err(Inconsistency::MissingReceipts { height }.into());
    }
    for (index, tx) in block.txs.iter().enumerate() {
        // The block decoded within BLOCK_BYTES_MAX, so it has far fewer than
        // u32::MAX transactions; saturating keeps this total anyway.
        let position = u32::try_from(index).unwrap_or(u32::MAX);
        if store.get(&tx_key(&tx.hash(), height, position))?.is_none() {
            return Err(Inconsistency::MissingTxIndex { height, position }.into());
        }
    }
    Ok(block_hash)
}
