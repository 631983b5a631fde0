//! Which transaction hashes the store may remember as executed: a Bloom
//! filter in front of the replay check, so that the check of a new
//! transaction (nearly every transaction is new) does not read the store.
//!
//! The replay memory keys are transaction hashes, uniformly spread over the
//! store's key space: each check of a new hash was a store miss at a random
//! place in a large tree (on a sled store the single most expensive read of
//! executing a certificate, see docs/benchmarks.md). The filter answers
//! "certainly not" for all but about 1 % of new hashes, and "maybe" for every
//! hash the store holds: it has no false negatives as long as every executed
//! entry reaches the store through the ledger that keeps the filter
//! ([`ExecutedFilter::note`] after each commit). A ledger that did not write
//! the entries itself (a second, read-only instance over the same store) sees
//! that its filter is of another height and does not use it.
//!
//! Memory: about 10 bits per hash noted since the last build, in layers of
//! doubling capacity (no rebuild while the chain only grows). Pruned hashes
//! stay in the layers; once they are three quarters of them, the filter is
//! rebuilt from the store (a scan of the live replay memory, amortised over as
//! many commits as hashes it drops). Only a shortcut for reads: it never
//! changes a verdict, so replicas with and without it agree.

use crate::keys;
use crate::store::{StateStore, StoreError};
use kp_types::Hash;

/// Bits per expected hash, and probes per hash: a false-positive rate of
/// about 0.8 % at capacity.
const BITS_PER_HASH: u64 = 10;
const PROBES: u64 = 7;
/// Capacity of the first layer at least, and slack in the rebuild rule.
const CAPACITY_MIN: u64 = 1 << 16;
/// Entries per page when scanning the store.
const SCAN_PAGE: usize = 4096;

/// One Bloom filter of fixed capacity.
#[derive(Clone, Debug)]
struct Layer {
    words: Vec<u64>,
    /// Number of bits (`words.len() * 64`).
    bits: u64,
    capacity: u64,
    noted: u64,
}

impl Layer {
    fn with_capacity(capacity: u64) -> Layer {
        let words = (capacity * BITS_PER_HASH).div_ceil(64).max(1);
        Layer {
            words: vec![0; words as usize],
            bits: words * 64,
            capacity,
            noted: 0,
        }
    }

    /// The probe positions of `hash` (double hashing over two independent
    /// 64-bit parts of a uniformly distributed hash).
    fn positions(&self, hash: &Hash) -> impl Iterator<Item = u64> + '_ {
        let (a, b) = halves(hash);
        let b = b | 1;
        (0..PROBES).map(move |i| {
            let x = a.wrapping_add(i.wrapping_mul(b));
            // Multiply-shift: x scaled to [0, bits) without a division.
            ((u128::from(x) * u128::from(self.bits)) >> 64) as u64
        })
    }

    fn insert(&mut self, hash: &Hash) {
        let positions: [u64; PROBES as usize] = {
            let mut p = [0; PROBES as usize];
            for (slot, pos) in p.iter_mut().zip(self.positions(hash)) {
                *slot = pos;
            }
            p
        };
        for pos in positions {
            self.words[(pos / 64) as usize] |= 1 << (pos % 64);
        }
        self.noted += 1;
    }

    fn may_contain(&self, hash: &Hash) -> bool {
        self.positions(hash)
            .all(|pos| self.words[(pos / 64) as usize] & (1 << (pos % 64)) != 0)
    }
}

fn halves(hash: &Hash) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&hash.0[..8]);
    b.copy_from_slice(&hash.0[8..16]);
    (u64::from_le_bytes(a), u64::from_le_bytes(b))
}

/// The hash of a replay-memory key, if it is one.
fn executed_hash(key: &[u8]) -> Option<Hash> {
    match key {
        [keys::table::EXECUTED, keys::V1, rest @ ..] => Some(Hash(rest.try_into().ok()?)),
        _ => None,
    }
}

/// A Bloom filter over the hashes of the store's replay memory, valid for
/// the store as of one height.
#[derive(Clone, Debug)]
pub(crate) struct ExecutedFilter {
    layers: Vec<Layer>,
    /// Hashes in the store's replay memory (exact after a build; then kept
    /// by counting puts and deletes).
    live: u64,
    /// The height whose state the filter describes.
    height: u64,
}

impl ExecutedFilter {
    /// Reads the replay memory of `store`, whose state is that of `height`.
    pub(crate) fn build<S: StateStore>(store: &S, height: u64) -> Result<Self, StoreError> {
        let prefix = keys::prefix(keys::table::EXECUTED);
        let mut hashes = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&prefix, cursor.as_deref(), SCAN_PAGE)?;
            let exhausted = page.len() < SCAN_PAGE;
            cursor = page.last().map(|(k, _)| k.clone());
            hashes.extend(page.iter().filter_map(|(k, _)| executed_hash(k)));
            if exhausted || cursor.is_none() {
                break;
            }
        }
        let live = hashes.len() as u64;
        let mut layer = Layer::with_capacity((2 * live).max(CAPACITY_MIN));
        for h in &hashes {
            layer.insert(h);
        }
        Ok(ExecutedFilter {
            layers: vec![layer],
            live,
            height,
        })
    }

    /// The height whose state the filter describes.
    pub(crate) fn height(&self) -> u64 {
        self.height
    }

    /// False only if the store (at [`ExecutedFilter::height`]) certainly
    /// holds no replay memory of `hash`.
    pub(crate) fn may_contain(&self, hash: &Hash) -> bool {
        self.layers.iter().any(|l| l.may_contain(hash))
    }

    /// Takes in the writes of the commit that brought the store to `height`.
    /// Returns whether the filter should now be rebuilt from the store
    /// (pruned hashes make up most of it).
    pub(crate) fn note<'k, I>(&mut self, writes: I, height: u64) -> bool
    where
        I: IntoIterator<Item = (&'k Vec<u8>, bool)>,
    {
        for (key, put) in writes {
            let Some(hash) = executed_hash(key) else {
                continue;
            };
            if put {
                self.insert(&hash);
                self.live += 1;
            } else {
                self.live = self.live.saturating_sub(1);
            }
        }
        self.height = height;
        self.noted() > 4 * self.live + CAPACITY_MIN
    }

    fn insert(&mut self, hash: &Hash) {
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
    }

    fn noted(&self) -> u64 {
        self.layers.iter().map(|l| l.noted).sum()
    }

    /// Bytes of filter memory.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.layers.iter().map(|l| l.words.len() * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, WriteSet};

    fn hash(i: u64) -> Hash {
        Hash::of(kp_types::hash::Domain::Transaction, &i.to_le_bytes())
    }

    fn writes(keys: &[(Vec<u8>, bool)]) -> Vec<(&Vec<u8>, bool)> {
        keys.iter().map(|(k, p)| (k, *p)).collect()
    }

    #[test]
    fn no_false_negatives_across_layers_and_few_false_positives() {
        let mut f = ExecutedFilter::build(&MemStore::new(), 0).unwrap();
        let n = 5 * CAPACITY_MIN;
        let put: Vec<(Vec<u8>, bool)> = (0..n).map(|i| (keys::executed(&hash(i)), true)).collect();
        for (i, chunk) in put.chunks(1000).enumerate() {
            assert!(!f.note(writes(chunk), i as u64 + 1));
        }
        assert!(f.layers.len() >= 3, "grew in layers: {}", f.layers.len());
        assert!((0..n).all(|i| f.may_contain(&hash(i))));
        let false_positives = (n..n + 100_000)
            .filter(|i| f.may_contain(&hash(*i)))
            .count();
        // Each layer is at most at capacity: about 0.8 % each, a few layers.
        assert!(false_positives < 4_000, "{false_positives} false positives");
        assert_eq!(f.live, n);
        assert!(f.bytes() as u64 <= 2 * n * BITS_PER_HASH / 8 + CAPACITY_MIN * 2);
    }

    #[test]
    fn other_keys_are_ignored_and_deletes_ask_for_a_rebuild_once_most_are_gone() {
        let mut f = ExecutedFilter::build(&MemStore::new(), 0).unwrap();
        let other = vec![(keys::meta(crate::state::meta::HEIGHT), true)];
        assert!(!f.note(writes(&other), 1));
        assert_eq!(f.noted(), 0);
        let n = 2 * CAPACITY_MIN;
        let put: Vec<(Vec<u8>, bool)> = (0..n).map(|i| (keys::executed(&hash(i)), true)).collect();
        assert!(!f.note(writes(&put), 2));
        let del: Vec<(Vec<u8>, bool)> = (0..n).map(|i| (keys::executed(&hash(i)), false)).collect();
        assert!(f.note(writes(&del), 3), "all pruned: rebuild");
        assert_eq!(f.live, 0);
        assert_eq!(f.height(), 3);
    }

    #[test]
    fn a_build_reads_the_stores_replay_memory() {
        let store = MemStore::new();
        let mut ws = WriteSet::default();
        for i in 0..10_000 {
            ws.put(keys::executed(&hash(i)), vec![0; 8]);
        }
        ws.put(keys::meta(crate::state::meta::HEIGHT), vec![7]);
        store.commit(&ws).unwrap();
        let f = ExecutedFilter::build(&store, 7).unwrap();
        assert_eq!(f.live, 10_000);
        assert_eq!(f.height(), 7);
        assert!((0..10_000).all(|i| f.may_contain(&hash(i))));
        let false_positives = (10_000..110_000)
            .filter(|i| f.may_contain(&hash(*i)))
            .count();
        assert!(false_positives < 2_000, "{false_positives} false positives");
    }
}
