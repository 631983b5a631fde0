//! Which replay-memory keys the store may hold: a Bloom filter in front of
//! the check "is this transaction new?", so that checking a new transaction
//! (nearly every one) does not read the store.
//!
//! The replay memory is keyed by transaction hashes, uniformly spread over
//! the key space: each check of a new hash was a store miss at a random
//! place in a large tree (on sled, a traversal to a random leaf that also did
//! the node splits and the epoch garbage of the concurrent writer), the most
//! expensive read of executing a certificate (docs/benchmarks-log.md). The filter
//! answers "certainly not" for all but about 1 % of new hashes, and "maybe"
//! for every key the store holds: it has no false negatives as long as every
//! replay entry reaches the store through the ledger that keeps the filter
//! ([`KeyFilter::note`] after each commit). It is used only by a ledger that
//! applies blocks; a second, read-only instance over the same store reads
//! the store. Keys of other
//! tables are always "maybe". Certificates are not covered: the filter is
//! built on open from the table it covers, which for the replay memory is
//! bounded by the transactions of the last `tx_lifetime_max_ms`, for
//! certificates it would be every certificate ever issued, read again on
//! every restart; and a new number is usually next to the issuer's previous
//! one, a cheap miss (covering them too made no measurable difference to a
//! catch-up of 1,000,000 certificates).
//!
//! Memory: about 10 bits per key noted since the last build, in layers of
//! doubling capacity (no rebuild while the chain only grows). Pruned hashes
//! stay in the layers; once they are three quarters of them, the filter is
//! rebuilt from the store (a scan of the live keys, amortised over as many
//! commits as keys it drops). Only a shortcut for reads: it never changes a
//! verdict, so replicas with and without it agree.

use crate::bloom::HashBloom;
use crate::keys;
use crate::store::{StateStore, StoreError};

/// Capacity of the first layer at least, and slack in the rebuild rule.
const CAPACITY_MIN: u64 = crate::bloom::CAPACITY_MIN;
/// Entries per page when scanning the store.
const SCAN_PAGE: usize = 4096;

/// The hash of a key the filter covers (a replay-memory key ends in a
/// transaction hash, already uniform), `None` for any other key.
fn digest(key: &[u8]) -> Option<&[u8; 32]> {
    match key {
        [keys::table::EXECUTED, keys::V1, rest @ ..] => rest.try_into().ok(),
        _ => None,
    }
}

/// A Bloom filter over the store's replay memory, valid for the store as of
/// one height.
#[derive(Clone, Debug)]
pub(crate) struct KeyFilter {
    bloom: HashBloom,
    /// Replay-memory keys in the store (exact after a build; then kept by
    /// counting puts of new keys and deletes).
    live: u64,
    /// The height whose state the filter describes.
    height: u64,
}

impl KeyFilter {
    /// Reads the replay memory of `store`, whose state is that of `height`.
    pub(crate) fn build<S: StateStore>(store: &S, height: u64) -> Result<Self, StoreError> {
        let prefix = keys::prefix(keys::table::EXECUTED);
        let mut digests = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&prefix, cursor.as_deref(), SCAN_PAGE)?;
            let exhausted = page.len() < SCAN_PAGE;
            cursor = page.last().map(|(k, _)| k.clone());
            digests.extend(page.iter().filter_map(|(k, _)| digest(k).copied()));
            if exhausted || cursor.is_none() {
                break;
            }
        }
        let live = digests.len() as u64;
        let mut bloom = HashBloom::with_capacity(2 * live);
        for d in &digests {
            bloom.insert(d);
        }
        Ok(KeyFilter {
            bloom,
            live,
            height,
        })
    }

    /// The height whose state the filter describes.
    pub(crate) fn height(&self) -> u64 {
        self.height
    }

    /// False only if the store (at [`KeyFilter::height`]) certainly does not
    /// hold `key`. True for keys of other tables.
    pub(crate) fn may_contain(&self, key: &[u8]) -> bool {
        match digest(key) {
            Some(d) => self.bloom.may_contain(d),
            None => true,
        }
    }

    /// Whether `key` is of the table the filter describes (other keys are
    /// ignored by [`KeyFilter::note`]).
    pub(crate) fn tracks(key: &[u8]) -> bool {
        digest(key).is_some()
    }

    /// Takes in the writes of the commit that brought the store to `height`
    /// (each key with whether it was put, and whether it was in the store
    /// before). Returns whether the filter should now be rebuilt from the
    /// store (pruned hashes make up most of it).
    pub(crate) fn note<'k, I>(&mut self, writes: I, height: u64) -> bool
    where
        I: IntoIterator<Item = (&'k [u8], bool, bool)>,
    {
        for (key, put, existed) in writes {
            let Some(d) = digest(key) else {
                continue;
            };
            match (put, existed) {
                (true, false) => {
                    self.bloom.insert(d);
                    self.live += 1;
                }
                (false, true) => self.live = self.live.saturating_sub(1),
                _ => {}
            }
        }
        self.height = height;
        self.noted() > 4 * self.live + CAPACITY_MIN
    }

    fn noted(&self) -> u64 {
        self.bloom.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemStore, WriteSet};
    use kp_types::Hash;

    fn hash(i: u64) -> Hash {
        Hash::of(kp_types::hash::Domain::Transaction, &i.to_le_bytes())
    }

    fn executed(i: u64) -> Vec<u8> {
        keys::executed(&hash(i))
    }

    fn number(i: u64) -> Vec<u8> {
        keys::certificate(&format!("BW{i:07}").parse().unwrap())
    }

    /// `(key, put, existed)` as `note` takes them.
    fn writes(keys: &[Vec<u8>], put: bool, existed: bool) -> Vec<(&[u8], bool, bool)> {
        keys.iter().map(|k| (k.as_slice(), put, existed)).collect()
    }

    #[test]
    fn no_false_negatives_across_layers_and_few_false_positives() {
        let mut f = KeyFilter::build(&MemStore::new(), 0).unwrap();
        let n = 5 * CAPACITY_MIN;
        let new: Vec<Vec<u8>> = (0..n).map(executed).collect();
        for (i, chunk) in new.chunks(1000).enumerate() {
            assert!(!f.note(writes(chunk, true, false), i as u64 + 1));
        }
        assert!(
            f.bloom.layers() >= 3,
            "grew in layers: {}",
            f.bloom.layers()
        );
        assert!(new.iter().all(|k| f.may_contain(k)));
        let false_positives = (n..n + 100_000)
            .filter(|i| f.may_contain(&executed(*i)))
            .count();
        // Each layer is at most at capacity: about 0.8 % each, a few layers.
        assert!(false_positives < 4_000, "{false_positives} false positives");
        assert_eq!(f.live, n);
        assert!(
            f.bloom.bytes() as u64 <= 2 * n * crate::bloom::BITS_PER_KEY / 8 + CAPACITY_MIN * 2
        );
    }

    #[test]
    fn uncovered_keys_are_maybe_and_rewrites_and_deletes_are_counted() {
        let mut f = KeyFilter::build(&MemStore::new(), 0).unwrap();
        let other = vec![keys::meta(crate::state::meta::HEIGHT), number(1)];
        assert!(other.iter().all(|k| f.may_contain(k)));
        assert!(!f.note(writes(&other, true, false), 1));
        assert_eq!(f.noted(), 0);
        let n = 2 * CAPACITY_MIN;
        let keys: Vec<Vec<u8>> = (0..n).map(executed).collect();
        assert!(!f.note(writes(&keys, true, false), 2));
        // A rewrite of a key already there grows neither the filter nor
        // the count.
        assert!(!f.note(writes(&keys, true, true), 3));
        assert_eq!((f.noted(), f.live), (n, n));
        assert!(
            f.note(writes(&keys, false, true), 4),
            "all deleted: rebuild"
        );
        assert_eq!(f.live, 0);
        assert_eq!(f.height(), 4);
    }

    #[test]
    fn a_build_reads_the_replay_memory_of_the_store() {
        let store = MemStore::new();
        let mut ws = WriteSet::default();
        for i in 0..10_000 {
            ws.put(executed(i), vec![0; 8]);
            ws.put(number(i), vec![1]);
        }
        ws.put(keys::meta(crate::state::meta::HEIGHT), vec![7]);
        store.commit(&ws).unwrap();
        let f = KeyFilter::build(&store, 7).unwrap();
        assert_eq!(f.live, 10_000);
        assert_eq!(f.height(), 7);
        assert!((0..10_000).all(|i| f.may_contain(&executed(i))));
        let false_positives = (10_000..110_000)
            .filter(|i| f.may_contain(&executed(*i)))
            .count();
        assert!(false_positives < 2_000, "{false_positives} false positives");
    }
}
