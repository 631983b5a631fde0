//! A Bloom filter of the transaction index: the transaction hashes the block
//! store may hold.
//!
//! A node asks the index whether a transaction submitted to it is already in
//! a decided block, so that a resubmission is answered "already decided".
//! Almost every transaction submitted is new, and the index is keyed by
//! hash, so that question is a store lookup at a random key that nearly
//! always misses. The filter answers most misses without the store: it
//! never forgets a hash it was given (no false negatives), and about 1 % of
//! hashes never given are "maybe" (then the store is read, as before).
//!
//! It is built from the index on start and given the hashes of every block
//! the node applies, before the block's write is durable (a hash the filter
//! holds but the store does not yet hold only costs a lookup). Memory: about
//! 10 bits per indexed transaction ([`kp_ledger::bloom::HashBloom`]).

use crate::keys::{table_prefix, TABLE_TX};
use kp_ledger::bloom::HashBloom;
use kp_ledger::StateStore;
use kp_ledger::StoreError;
use kp_types::TxHash;

/// Index entries read per page while building.
const BUILD_PAGE: usize = 4_096;

/// See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct TxFilter {
    bloom: HashBloom,
}

impl TxFilter {
    /// A filter of an empty index.
    pub fn new() -> TxFilter {
        TxFilter::default()
    }

    /// A filter of every hash in the transaction index of `store`.
    pub fn build<S: StateStore + ?Sized>(store: &S) -> Result<TxFilter, StoreError> {
        let prefix = table_prefix(TABLE_TX);
        let mut filter = TxFilter::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&prefix, after.as_deref(), BUILD_PAGE)?;
            for (key, _) in &page {
                let hash = key
                    .get(prefix.len()..prefix.len() + 32)
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                    .ok_or_else(|| StoreError::Corrupt {
                        key_hex: crate::error::key_hex(key),
                        detail: "transaction index key too short".into(),
                    })?;
                filter.bloom.insert(&hash);
            }
            match page.last() {
                Some((key, _)) if page.len() == BUILD_PAGE => after = Some(key.clone()),
                _ => return Ok(filter),
            }
        }
    }

    /// Remembers that the index holds (or is about to hold) `hash`.
    pub fn note(&mut self, hash: &TxHash) {
        self.bloom.insert(&hash.0);
    }

    /// False only if `hash` was never noted: then the index does not hold it.
    pub fn may_contain(&self, hash: &TxHash) -> bool {
        self.bloom.may_contain(&hash.0)
    }

    /// Hashes noted so far.
    pub fn len(&self) -> u64 {
        self.bloom.len()
    }

    /// Whether no hash was noted.
    pub fn is_empty(&self) -> bool {
        self.bloom.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_ledger::{MemStore, WriteSet};
    use kp_types::Hash;

    fn hash(i: u64) -> TxHash {
        Hash::of(kp_types::Domain::Transaction, &i.to_le_bytes())
    }

    #[test]
    fn noted_hashes_are_never_missed() {
        let mut filter = TxFilter::new();
        assert!(filter.is_empty() && !filter.may_contain(&hash(1)));
        for i in 0..1000 {
            filter.note(&hash(i));
        }
        assert!((0..1000).all(|i| filter.may_contain(&hash(i))));
        assert_eq!(filter.len(), 1000);
    }

    #[test]
    fn built_from_the_index_it_holds_every_indexed_hash() {
        let store = MemStore::new();
        let mut writes = WriteSet::default();
        let count = BUILD_PAGE as u64 * 2 + 17;
        for i in 0..count {
            writes.put(
                crate::keys::tx_key(&hash(i), i / 100 + 1, (i % 100) as u32),
                vec![0; 12],
            );
        }
        // Entries of the neighbouring tables are not hashes.
        writes.put(
            crate::keys::height_key(crate::keys::TABLE_RECEIPTS, 1),
            vec![1],
        );
        store.commit(&writes).expect("commit");
        let filter = TxFilter::build(&store).expect("build");
        assert_eq!(filter.len(), count);
        assert!((0..count).all(|i| filter.may_contain(&hash(i))));
        assert!(TxFilter::build(&MemStore::new()).expect("empty").is_empty());
    }
}
