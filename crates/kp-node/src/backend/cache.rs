//! Decided blocks decoded once for transaction lookups, and the bounded cache that keeps them.

use super::*;

/// A decided block with its receipts, decoded, and what it took in the store.
#[derive(Debug)]
pub(super) struct DecidedBlock {
    pub(super) height: u64,
    pub(super) block: Option<Block>,
    pub(super) receipts: Option<Vec<TxReceipt>>,
    pub(super) stored_bytes: usize,
}

/// The decided blocks transaction lookups looked into last, at most
/// [`BLOCK_CACHE_BLOCKS_MAX`] of them and [`BLOCK_CACHE_BYTES_MAX`] stored
/// bytes; the oldest entry leaves first.
#[derive(Debug, Default)]
pub struct BlockCache {
    pub(super) entries: VecDeque<Arc<DecidedBlock>>,
    pub(super) stored_bytes: usize,
}

impl BlockCache {
    pub(super) fn get(&self, height: u64) -> Option<Arc<DecidedBlock>> {
        self.entries.iter().find(|e| e.height == height).cloned()
    }

    pub(super) fn insert(&mut self, entry: Arc<DecidedBlock>) {
        if entry.stored_bytes > BLOCK_CACHE_BYTES_MAX || self.get(entry.height).is_some() {
            return;
        }
        while self.entries.len() >= BLOCK_CACHE_BLOCKS_MAX
            || self.stored_bytes + entry.stored_bytes > BLOCK_CACHE_BYTES_MAX
        {
            let Some(oldest) = self.entries.pop_front() else {
                break;
            };
            self.stored_bytes -= oldest.stored_bytes;
        }
        self.stored_bytes += entry.stored_bytes;
        self.entries.push_back(entry);
        assert!(self.entries.len() <= BLOCK_CACHE_BLOCKS_MAX);
        assert!(self.stored_bytes <= BLOCK_CACHE_BYTES_MAX);
    }
}

/// The block at `height` and its receipts, decoded, with their stored size.
pub(super) fn read_decided_block(store: &SledStore, height: u64) -> Result<DecidedBlock, ApiError> {
    use kp_chain::keys::{decode_value, height_key, TABLE_BLOCK};
    // Read raw (not through `BlockStore::block`) to know the stored size the
    // cache budgets; the checks are those of `BlockStore::block`.
    let key = height_key(TABLE_BLOCK, height);
    let mut stored_bytes = 0;
    let block = match StateStore::get(store, &key).map_err(internal)? {
        None => None,
        Some(value) => {
            stored_bytes += value.len();
            let block: Block = decode_value(&key, &value, BLOCK_BYTES_MAX).map_err(internal)?;
            if block.header.height != height {
                return Err(internal(format!(
                    "block of height {} stored at height {height}",
                    block.header.height
                )));
            }
            Some(block)
        }
    };
    let receipts = match BlockStore::receipts(store, height).map_err(internal)? {
        Some(bytes) if !bytes.is_empty() => {
            stored_bytes += bytes.len();
            Some(kp_types::decode(&bytes, kp_chain::RECEIPTS_BYTES_MAX).map_err(internal)?)
        }
        _ => None,
    };
    Ok(DecidedBlock {
        height,
        block,
        receipts,
        stored_bytes,
    })
}
