//! The state root: one hash that commits to every committed ledger entry,
//! maintained per block at a cost proportional to what the block changed.
//!
//! * Every committed entry `(key, value)` (tables below 0x7D) has an entry hash
//!   `H(StateEntry, len(key) as u32 BE || key || value)`.
//! * It falls into one of 2^16 buckets, chosen by the first two bytes of
//!   `H(StateBucket, "select" || key)`, so buckets fill evenly whatever the
//!   key layout.
//! * The store keeps a bucket index `0x7E 01 bucket key -> entry hash`; a
//!   bucket's digest is `H(StateBucket, "digest" || entry hashes in key order)`,
//!   or zero for an empty bucket.
//! * The root is a binary Merkle tree over the 2^16 bucket digests, held in
//!   memory (4 MiB). An inner node whose children are both zero is zero, so
//!   empty subtrees cost nothing; other nodes are `H(MerkleNode, left || right)`.
//! * Digests are not stored: on open, one walk of the bucket index (in key
//!   order, so bucket by bucket) recomputes them, and the root they give must
//!   equal the root stored with the last commit (`0x7D 01 "root"`). A block
//!   thus writes one index entry per changed key and nothing per bucket; the
//!   price is an open that reads the whole index (one entry per committed key).
//!
//! Per block, only buckets holding a changed key are rehashed (a scan of that
//! bucket's index, a handful of entries on average) and only their 16-step
//! paths are recomputed. Two replicas with equal committed entries have equal
//! indexes, digests and so roots, whatever order the writes came in.

use kp_types::{Domain, Hash};

/// Number of buckets (a power of two: the tree is complete).
pub const BUCKETS: usize = 1 << 16;

/// A bucket number.
pub type Bucket = u16;

/// The bucket of a committed key.
pub fn bucket_of(key: &[u8]) -> Bucket {
    let h = Hash::of_parts(Domain::StateBucket, &[b"select", key]);
    u16::from_be_bytes([h.0[0], h.0[1]])
}

/// The hash of one committed entry.
pub fn entry_hash(key: &[u8], value: &[u8]) -> Hash {
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes();
    Hash::of_parts(Domain::StateEntry, &[&len, key, value])
}

/// The digest of a bucket from its entry hashes in key order.
pub fn bucket_digest<'a>(entries: impl Iterator<Item = &'a [u8]>) -> Hash {
    let mut hasher = bucket_hasher();
    let mut any = false;
    for e in entries {
        any = true;
        hasher.update(e);
    }
    if any {
        Hash(*hasher.finalize().as_bytes())
    } else {
        Hash::ZERO
    }
}

/// A hasher primed for a bucket digest: feed it the entry hashes in key
/// order (a bucket with none has digest zero, not this hasher's output).
pub(crate) fn bucket_hasher() -> blake3::Hasher {
    let mut hasher = blake3::Hasher::new_derive_key(Domain::StateBucket.context());
    hasher.update(b"digest");
    hasher
}

fn node(left: &Hash, right: &Hash) -> Hash {
    if *left == Hash::ZERO && *right == Hash::ZERO {
        Hash::ZERO
    } else {
        Hash::of_parts(Domain::MerkleNode, &[&left.0, &right.0])
    }
}

/// The Merkle tree over bucket digests, as an array: node `i` has children
/// `2i` and `2i + 1`, the root is node 1, leaves are `BUCKETS..2 * BUCKETS`.
#[derive(Clone)]
pub struct RootTree {
    nodes: Vec<Hash>,
}

impl std::fmt::Debug for RootTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootTree({:?})", self.root())
    }
}

impl RootTree {
    /// The tree of an empty state.
    pub fn empty() -> RootTree {
        RootTree {
            nodes: vec![Hash::ZERO; 2 * BUCKETS],
        }
    }

    /// A tree from the non-empty buckets' digests.
    pub fn from_leaves(leaves: impl Iterator<Item = (Bucket, Hash)>) -> RootTree {
        let mut tree = RootTree::empty();
        for (b, h) in leaves {
            tree.nodes[BUCKETS + usize::from(b)] = h;
        }
        for i in (1..BUCKETS).rev() {
            tree.nodes[i] = node(&tree.nodes[2 * i], &tree.nodes[2 * i + 1]);
        }
        tree
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.nodes[1]
    }

    /// A bucket's digest.
    pub fn leaf(&self, bucket: Bucket) -> Hash {
        self.nodes[BUCKETS + usize::from(bucket)]
    }

    /// Sets bucket digests and recomputes only the paths above them.
    pub fn update(&mut self, leaves: &[(Bucket, Hash)]) {
        let mut dirty: Vec<usize> = Vec::with_capacity(leaves.len());
        for (b, h) in leaves {
            let i = BUCKETS + usize::from(*b);
            self.nodes[i] = *h;
            dirty.push(i / 2);
        }
        // Level by level: parents of sorted, deduplicated indexes.
        while !dirty.is_empty() {
            dirty.sort_unstable();
            dirty.dedup();
            for &i in &dirty {
                self.nodes[i] = node(&self.nodes[2 * i], &self.nodes[2 * i + 1]);
            }
            if dirty[0] == 1 {
                break;
            }
            for i in dirty.iter_mut() {
                *i /= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_update_equals_rebuild() {
        let leaves: Vec<(Bucket, Hash)> = (0u16..300)
            .map(|i| {
                (
                    i.wrapping_mul(7919),
                    Hash::of(Domain::Document, &i.to_be_bytes()),
                )
            })
            .collect();
        let full = RootTree::from_leaves(leaves.iter().copied());
        let mut incremental = RootTree::empty();
        for chunk in leaves.chunks(37) {
            incremental.update(chunk);
        }
        assert_eq!(full.root(), incremental.root());
        assert_ne!(full.root(), Hash::ZERO);
        // Clearing every bucket returns to the empty root.
        let cleared: Vec<_> = leaves.iter().map(|(b, _)| (*b, Hash::ZERO)).collect();
        incremental.update(&cleared);
        assert_eq!(incremental.root(), Hash::ZERO);
    }

    #[test]
    fn one_leaf_changes_the_root() {
        let mut tree = RootTree::empty();
        tree.update(&[(5, Hash::of(Domain::Document, b"a"))]);
        let a = tree.root();
        tree.update(&[(5, Hash::of(Domain::Document, b"b"))]);
        assert_ne!(a, tree.root());
    }
}
