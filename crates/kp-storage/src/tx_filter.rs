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
//! 10 bits per indexed transaction, in layers of doubling capacity.

use crate::error::StorageError;
use crate::keys::{table_prefix, TABLE_TX};
use kp_ledger::StateStore;
use kp_types::TxHash;

/// Bits per hash of a layer's capacity (about 1 % false positives).
const BITS_PER_HASH: u64 = 10;
/// Bit positions probed per hash.
const PROBES: u64 = 7;
/// Capacity of the first layer.
const CAPACITY_MIN: u64 = 65_536;
/// Index entries read per page while building.
const BUILD_PAGE: usize = 4_096;

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct TxFilter {
    layers: Vec<Layer>,
    noted: u64,
}

#[derive(Clone)]
struct Layer {
    bits: Vec<u64>,
    capacity: u64,
    noted: u64,
}

// The bits themselves would flood any debug output.
impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("bits", &self.bit_count())
            .field("capacity", &self.capacity)
            .field("noted", &self.noted)
            .finish_non_exhaustive()
    }
}

impl Layer {
    fn with_capacity(capacity: u64) -> Layer {
        let words = (capacity * BITS_PER_HASH).div_ceil(64);
        Layer {
            bits: vec![0; usize::try_from(words).unwrap_or(usize::MAX)],
            capacity,
            noted: 0,
        }
    }

    fn bit_count(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    fn insert(&mut self, hash: &TxHash) {
        for bit in probes(hash, self.bit_count()) {
            self.bits[(bit / 64) as usize] |= 1 << (bit % 64);
        }
        self.noted += 1;
    }

    fn may_contain(&self, hash: &TxHash) -> bool {
        probes(hash, self.bit_count())
            .all(|bit| self.bits[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
}

/// The bit positions of `hash` in a layer of `bits` bits (double hashing
/// over two words of the hash, which is already uniformly random).
fn probes(hash: &TxHash, bits: u64) -> impl Iterator<Item = u64> {
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hash.0[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let (h1, h2) = (word(0), word(1) | 1);
    (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

impl Default for TxFilter {
    fn default() -> Self {
        TxFilter::new()
    }
}

impl TxFilter {
    /// A filter of an empty index.
    pub fn new() -> TxFilter {
        TxFilter {
            layers: Vec::new(),
            noted: 0,
        }
    }

    /// A filter of every hash in the transaction index of `store`.
    pub fn build<S: StateStore + ?Sized>(store: &S) -> Result<TxFilter, StorageError> {
        let prefix = table_prefix(TABLE_TX);
        let mut filter = TxFilter::new();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&prefix, after.as_deref(), BUILD_PAGE)?;
            for (key, _) in &page {
                let hash = key
                    .get(prefix.len()..prefix.len() + 32)
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                    .ok_or_else(|| StorageError::Corrupt {
                        key_hex: crate::error::key_hex(key),
                        detail: "transaction index key too short".into(),
                    })?;
                filter.note(&kp_types::Hash(hash));
            }
            match page.last() {
                Some((key, _)) if page.len() == BUILD_PAGE => after = Some(key.clone()),
                _ => return Ok(filter),
            }
        }
    }

    /// Remembers that the index holds (or is about to hold) `hash`.
    pub fn note(&mut self, hash: &TxHash) {
        let full = self.layers.last().is_none_or(|l| l.noted >= l.capacity);
        if full {
            let capacity = self
                .layers
                .last()
                .map_or(CAPACITY_MIN, |l| l.capacity.saturating_mul(2));
            self.layers.push(Layer::with_capacity(capacity));
        }
        if let Some(layer) = self.layers.last_mut() {
            layer.insert(hash);
        }
        self.noted += 1;
    }

    /// False only if `hash` was never noted: then the index does not hold it.
    pub fn may_contain(&self, hash: &TxHash) -> bool {
        self.layers.iter().any(|l| l.may_contain(hash))
    }

    /// Hashes noted so far.
    pub fn len(&self) -> u64 {
        self.noted
    }

    /// Whether no hash was noted.
    pub fn is_empty(&self) -> bool {
        self.noted == 0
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
    fn noted_hashes_are_never_missed_and_few_others_pass() {
        let mut filter = TxFilter::new();
        // Three layers' worth.
        let n = CAPACITY_MIN * 5;
        for i in 0..n {
            filter.note(&hash(i));
        }
        assert!((0..n).all(|i| filter.may_contain(&hash(i))));
        let false_positives = (n..n + 100_000)
            .filter(|&i| filter.may_contain(&hash(i)))
            .count();
        assert!(false_positives < 3_000, "{false_positives} of 100000");
        assert_eq!(filter.len(), n);
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
