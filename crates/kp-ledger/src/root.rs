//! The state root: one hash that commits to every committed ledger entry,
//! maintained per block at a cost proportional to what the block changed,
//! whatever the size of the state.
//!
//! * The state hash is a lattice homomorphic hash (LtHash: a vector of
//!   [`LANES`] 16-bit lanes, added lane by lane modulo 2^16) of the multiset
//!   of committed entries `(key, value)` (tables below 0x7D but 0x19, see
//!   `kp_api::keys::is_committed`).
//! * An entry's element is the 2,048-byte blake3 output (XOF) of
//!   `len(key) as u32 BE || key || value` in the `StateEntry` domain, read as
//!   1,024 little-endian u16 lanes.
//! * Writing an entry adds its element; deleting it subtracts it; changing a
//!   value subtracts the old element and adds the new one. The result does not
//!   depend on the order of writes, so two replicas with equal committed
//!   entries have equal state hashes.
//! * The root is `H(StateRoot, the 2,048 lane bytes)`.
//! * The state hash is stored with every commit (`0x7D 01 "lattice"`) next to
//!   the root (`0x7D 01 "root"`); on open the root of the stored state hash
//!   must equal the stored root. [`recompute`] rebuilds the state hash from
//!   every committed entry (one walk of the store), for checks.
//!
//! A block costs two element computations (about 0.3 µs each) and one point
//! read of the previous value per changed key, and no write beyond the two
//! meta entries. The scheme is the one of Bellare and Micciancio's AdHash
//! generalised to lattices, with the parameters (n = 1024, 16-bit lanes) that
//! Lewi et al. ("Securing update propagation with homomorphic hashing", 2019)
//! analyse; finding two different multisets of entries with equal hashes
//! reduces to a short-integer-solution problem.

use crate::keys;
use crate::store::{StateStore, StoreError};
use kp_types::{Domain, Hash};

/// Lanes of the state hash.
pub const LANES: usize = 1024;

/// Bytes of a stored state hash.
pub const STATE_HASH_BYTES: usize = 2 * LANES;

/// The homomorphic hash of a multiset of committed entries.
#[derive(Clone, PartialEq, Eq)]
pub struct StateHash {
    lanes: Box<[u16; LANES]>,
}

impl std::fmt::Debug for StateHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateHash({:?})", self.root())
    }
}

impl Default for StateHash {
    fn default() -> Self {
        StateHash::empty()
    }
}

/// Lanes from their little-endian bytes.
fn lanes_of(bytes: &[u8; STATE_HASH_BYTES]) -> [u16; LANES] {
    let mut lanes = [0u16; LANES];
    for (lane, pair) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
        *lane = u16::from_le_bytes([pair[0], pair[1]]);
    }
    lanes
}

/// An entry's element: its key and value expanded to [`LANES`] lanes.
fn element(key: &[u8], value: &[u8]) -> [u16; LANES] {
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut hasher = Domain::StateEntry.hasher();
    hasher.update(&len);
    hasher.update(key);
    hasher.update(value);
    let mut bytes = [0u8; STATE_HASH_BYTES];
    hasher.finalize_xof().fill(&mut bytes);
    lanes_of(&bytes)
}

impl StateHash {
    /// The hash of no entries (all lanes zero).
    pub fn empty() -> StateHash {
        StateHash {
            lanes: Box::new([0; LANES]),
        }
    }

    /// Adds an entry.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        let e = element(key, value);
        for (a, b) in self.lanes.iter_mut().zip(e.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Removes an entry that was added before.
    pub fn remove(&mut self, key: &[u8], value: &[u8]) {
        let e = element(key, value);
        for (a, b) in self.lanes.iter_mut().zip(e.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// Replaces the entry of `key`: `old` and `new` are its values before and
    /// after (`None`: absent).
    pub fn update(&mut self, key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            self.remove(key, old);
        }
        if let Some(new) = new {
            self.insert(key, new);
        }
    }

    /// The root this state hash commits to.
    pub fn root(&self) -> Hash {
        Hash::of(Domain::StateRoot, &self.to_bytes())
    }

    /// The stored form: the lanes, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_HASH_BYTES);
        for lane in self.lanes.iter() {
            out.extend_from_slice(&lane.to_le_bytes());
        }
        out
    }

    /// From the stored form (`None` unless exactly [`STATE_HASH_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Option<StateHash> {
        let bytes: &[u8; STATE_HASH_BYTES] = bytes.try_into().ok()?;
        Some(StateHash {
            lanes: Box::new(lanes_of(bytes)),
        })
    }
}

/// Page size of the walk in [`recompute`].
const RECOMPUTE_PAGE: usize = 4096;

/// The state hash of every committed entry of `store`, from one paged walk
/// of the committed tables (memory bounded whatever the state's size).
pub fn recompute<S: StateStore>(store: &S) -> Result<StateHash, StoreError> {
    let mut hash = StateHash::empty();
    for table in 0..keys::table::ROOT_MACHINERY_MIN {
        if !keys::is_committed(&[table]) {
            continue;
        }
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(&[table], cursor.as_deref(), RECOMPUTE_PAGE)?;
            for (k, v) in &page {
                hash.insert(k, v);
            }
            if page.len() < RECOMPUTE_PAGE {
                break;
            }
            cursor = page.last().map(|(k, _)| k.clone());
        }
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    i.to_be_bytes().to_vec(),
                    vec![(i % 251) as u8; i as usize % 40],
                )
            })
            .collect()
    }

    #[test]
    fn order_of_writes_does_not_matter() {
        let all = entries(200);
        let mut forward = StateHash::empty();
        for (k, v) in &all {
            forward.insert(k, v);
        }
        let mut backward = StateHash::empty();
        for (k, v) in all.iter().rev() {
            backward.insert(k, v);
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.root(), backward.root());
        assert_ne!(forward.root(), StateHash::empty().root());
    }

    #[test]
    fn removing_undoes_inserting_and_updates_compose() {
        let all = entries(50);
        let mut h = StateHash::empty();
        for (k, v) in &all {
            h.insert(k, v);
        }
        let before = h.clone();
        h.update(b"k", None, Some(b"one"));
        h.update(b"k", Some(b"one"), Some(b"two"));
        let mut direct = before.clone();
        direct.insert(b"k", b"two");
        assert_eq!(h, direct);
        h.update(b"k", Some(b"two"), None);
        assert_eq!(h, before);
        // A no-op update changes nothing.
        h.update(b"k", Some(b"x"), Some(b"x"));
        assert_eq!(h, before);
    }

    #[test]
    fn key_and_value_boundaries_are_distinct() {
        let mut a = StateHash::empty();
        a.insert(b"ab", b"c");
        let mut b = StateHash::empty();
        b.insert(b"a", b"bc");
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn stored_form_round_trips_and_rejects_wrong_lengths() {
        let mut h = StateHash::empty();
        h.insert(b"k", b"v");
        let bytes = h.to_bytes();
        assert_eq!(bytes.len(), STATE_HASH_BYTES);
        assert_eq!(StateHash::from_bytes(&bytes), Some(h));
        assert_eq!(StateHash::from_bytes(&bytes[1..]), None);
        assert_eq!(StateHash::from_bytes(&[]), None);
    }
}
