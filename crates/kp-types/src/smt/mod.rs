//! A sparse Merkle tree: an authenticated map from 256-bit key hashes to value
//! hashes whose root commits to the whole map, with proofs of inclusion *and*
//! of absence of one record that a light client checks against a root (in a
//! block header) without holding the map.
//!
//! The tree is binary and compressed, in the style of the binary variant of
//! Diem/Aptos's Jellyfish Merkle tree ("SparseMerkleProof"): a leaf sits at the
//! shallowest depth where it is alone in its subtree, not at depth 256. It is
//! persistent: nodes are immutable and shared through [`Arc`], [`Tree::update`]
//! copies only the paths it changes, and cloning a [`Tree`] is O(1), so every
//! version stays readable for as long as someone holds it.
//!
//! # Hashing, byte by byte
//!
//! Every hash below is blake3 in key-derivation mode,
//! `blake3::derive_key(context, input)`, i.e. [`Hash::of`] in a [`Domain`]:
//!
//! | what | context | input | in code |
//! |---|---|---|---|
//! | key hash | `"kpledger v1 record key"` | the record's key bytes | [`Tree::key_hash`] |
//! | value hash | `"kpledger v1 record value"` | the record's value bytes | [`Tree::value_hash`] |
//! | leaf | `"kpledger v1 record leaf"` | key hash (32 bytes) ‖ value hash (32 bytes) | `Hash::of_parts(Domain::RecordLeaf, &[&key_hash.0, &value_hash.0])` |
//! | internal node | `"kpledger v1 record node"` | left child hash (32 bytes) ‖ right child hash (32 bytes) | `Hash::of_parts(Domain::RecordNode, &[&left.0, &right.0])` |
//! | empty subtree | (none) | (none) | 32 zero bytes, [`Hash::ZERO`] |
//!
//! Leaves and internal nodes hash 64 bytes each in different contexts, so a
//! leaf can never pose as a node or the other way round.
//!
//! # Shape
//!
//! The path of a key hash `k` goes down from the root (depth 0): at depth `i`
//! it takes bit `i` of `k`, `(k.0[i / 8] >> (7 - i % 8)) & 1`, the most
//! significant bit of byte 0 first; 0 goes left, 1 goes right. The shape is
//! canonical:
//!
//! * a subtree holding no record is empty (hash [`Hash::ZERO`]);
//! * a subtree holding exactly one record is that record's leaf, with no chain
//!   of internal nodes above it;
//! * an internal node has at least two leaves beneath it (one of its children
//!   may still be empty, when all of its leaves share the next bit).
//!
//! So the root depends only on the set of (key hash, value hash) pairs, never
//! on insertion order or on how changes were split into batches. Two distinct
//! key hashes differ in one of their 256 bits, so leaves are at most 256 deep
//! and a proof has at most [`PROOF_SIBLINGS_MAX`] siblings.
//!
//! # Proofs
//!
//! A [`RecordProof`] for key hash `k` lists the sibling hashes along `k`'s path
//! from the root down (index `i` = the sibling at depth `i + 1`, the other
//! child of the node at depth `i`), and what the path ends on: `k`'s own leaf
//! (inclusion), another key's leaf (absence: that leaf is alone in the subtree
//! that `k` would be in), or an empty subtree (absence). Its canonical
//! encoding ([`crate::encode`]) is the number of siblings as a big-endian
//! `u64`, the siblings (32 bytes each), then `0` for no leaf or `1` followed by
//! the leaf's key hash and value hash (32 bytes each).
//!
//! [`RecordProof::verify`] with `n` siblings:
//!
//! 1. refuses `n > PROOF_SIBLINGS_MAX`;
//! 2. for inclusion of value hash `v`: the leaf must be present, its key hash
//!    must be `k` and its value hash `v`; the bottom hash is the leaf's hash;
//! 3. for absence: either there is no leaf (the bottom hash is
//!    [`Hash::ZERO`]), or the leaf's key hash differs from `k` but shares its
//!    first `n` bits (so the leaf sits where `k` would), and the bottom hash is
//!    that leaf's hash;
//! 4. folds the siblings bottom-up, from index `n - 1` to 0: with bit `i` of
//!    `k` equal to 0 the node is `node(h, sibling[i])`, else
//!    `node(sibling[i], h)`; the result must equal the expected root.
//!
//! A hostile prover cannot pad a proof with [`Hash::ZERO`] siblings to move a
//! leaf deeper than its canonical depth: `node(leaf, ZERO)` is not the leaf's
//! hash, so the recomputed root differs from the real one.

use crate::hash::{Domain, Hash};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// Most siblings a proof may have: one per bit of a key hash.
pub const PROOF_SIBLINGS_MAX: usize = 256;

/// Bits in a key hash, hence the deepest a leaf can sit.
const KEY_BITS: usize = 256;

/// One change of a batch: put a value hash (`Some`) or delete (`None`).
type Change = (Hash, Option<Hash>);

fn leaf_hash(key_hash: &Hash, value_hash: &Hash) -> Hash {
    #[cfg(test)]
    counters::LEAVES.with(|c| c.set(c.get() + 1));
    Hash::of_parts(Domain::RecordLeaf, &[&key_hash.0, &value_hash.0])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    #[cfg(test)]
    counters::NODES.with(|c| c.set(c.get() + 1));
    Hash::of_parts(Domain::RecordNode, &[&left.0, &right.0])
}

/// Bit `depth` of `key` (0 = left); `false` past the last bit, which no caller
/// reaches (see [`KEY_BITS`]).
fn bit(key: &Hash, depth: usize) -> bool {
    key.0
        .get(depth / 8)
        .is_some_and(|byte| (byte >> (7 - depth % 8)) & 1 == 1)
}

/// How many leading bits `a` and `b` share (256 if equal).
fn common_prefix_bits(a: &Hash, b: &Hash) -> usize {
    let mut bits = 0;
    for (x, y) in a.0.iter().zip(b.0.iter()) {
        let diff = x ^ y;
        if diff != 0 {
            return bits + diff.leading_zeros() as usize;
        }
        bits += 8;
    }
    bits
}

/// Index of the first change whose key has bit `depth` set. `changes` is
/// sorted by key and all its keys share their first `depth` bits, so those
/// with the bit clear all come first.
fn split_at_bit(changes: &[Change], depth: usize) -> usize {
    changes.partition_point(|(key, _)| !bit(key, depth))
}

struct Leaf {
    hash: Hash,
    key: Hash,
    value: Hash,
}

struct Internal {
    hash: Hash,
    left: Child,
    right: Child,
}

/// A subtree: nothing, one leaf, or an internal node with at least two leaves
/// beneath it.
#[derive(Clone, Default)]
enum Child {
    #[default]
    Empty,
    Leaf(Arc<Leaf>),
    Internal(Arc<Internal>),
}

/// Leaves added and removed by one update.
#[derive(Default)]
struct Delta {
    added: usize,
    removed: usize,
}

impl Child {
    fn hash(&self) -> Hash {
        match self {
            Child::Empty => Hash::ZERO,
            Child::Leaf(leaf) => leaf.hash,
            Child::Internal(node) => node.hash,
        }
    }

    fn leaf(key: Hash, value: Hash) -> Child {
        Child::Leaf(Arc::new(Leaf {
            hash: leaf_hash(&key, &value),
            key,
            value,
        }))
    }

    /// The canonical subtree over two children: empty over two empties, a
    /// lone leaf moves up, anything else gets an internal node.
    fn join(left: Child, right: Child) -> Child {
        match (&left, &right) {
            (Child::Empty, Child::Empty) => Child::Empty,
            (Child::Leaf(_), Child::Empty) => left,
            (Child::Empty, Child::Leaf(_)) => right,
            _ => Child::Internal(Arc::new(Internal {
                hash: node_hash(&left.hash(), &right.hash()),
                left,
                right,
            })),
        }
    }

    /// Whether `self` and `other` are the same subtree object.
    fn same(&self, other: &Child) -> bool {
        match (self, other) {
            (Child::Empty, Child::Empty) => true,
            (Child::Leaf(a), Child::Leaf(b)) => Arc::ptr_eq(a, b),
            (Child::Internal(a), Child::Internal(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The subtree at `depth` over the puts of `changes` (sorted, distinct
    /// keys sharing their first `depth` bits); deletes are ignored.
    fn build(depth: usize, changes: &[Change], delta: &mut Delta) -> Child {
        let mut puts = changes
            .iter()
            .filter_map(|(key, value)| value.map(|value| (*key, value)));
        let Some((key, value)) = puts.next() else {
            return Child::Empty;
        };
        if puts.next().is_none() || depth >= KEY_BITS {
            // One put: its leaf. (Two distinct keys differ before bit 256, so
            // the depth test never decides anything.)
            delta.added += 1;
            return Child::leaf(key, value);
        }
        let (left, right) = changes.split_at(split_at_bit(changes, depth));
        Child::join(
            Child::build(depth + 1, left, delta),
            Child::build(depth + 1, right, delta),
        )
    }

    /// This subtree (at `depth`) with `changes` applied: sorted, distinct
    /// keys that share their first `depth` bits with this subtree's position.
    /// Untouched subtrees are shared, not copied; each new internal node is
    /// hashed once.
    fn apply(&self, depth: usize, changes: &[Change], delta: &mut Delta) -> Child {
        if changes.is_empty() {
            return self.clone();
        }
        match self {
            Child::Empty => Child::build(depth, changes, delta),
            Child::Leaf(leaf) => {
                if let [(key, change)] = changes {
                    if *key == leaf.key {
                        return match change {
                            Some(value) if *value == leaf.value => self.clone(),
                            Some(value) => Child::leaf(*key, *value),
                            None => {
                                delta.removed += 1;
                                Child::Empty
                            }
                        };
                    }
                }
                if depth >= KEY_BITS
                    || changes
                        .iter()
                        .all(|(key, change)| change.is_none() && *key != leaf.key)
                {
                    // Only deletes of other (absent) keys: nothing changes.
                    // (At depth 256 every key equals the leaf's, handled above.)
                    return self.clone();
                }
                // Push the leaf one level down, next to the changes on its side.
                let (left, right) = changes.split_at(split_at_bit(changes, depth));
                let (left_child, right_child) = if bit(&leaf.key, depth) {
                    (Child::Empty, self.clone())
                } else {
                    (self.clone(), Child::Empty)
                };
                Child::join(
                    left_child.apply(depth + 1, left, delta),
                    right_child.apply(depth + 1, right, delta),
                )
            }
            Child::Internal(node) => {
                if depth >= KEY_BITS {
                    // Unreachable: internal nodes sit above depth 256.
                    return self.clone();
                }
                let (left, right) = changes.split_at(split_at_bit(changes, depth));
                let new_left = node.left.apply(depth + 1, left, delta);
                let new_right = node.right.apply(depth + 1, right, delta);
                if new_left.same(&node.left) && new_right.same(&node.right) {
                    return self.clone();
                }
                Child::join(new_left, new_right)
            }
        }
    }
}

/// Sorts `changes` by key and keeps, for each key, the last change given.
fn sort_last_wins(changes: &mut Vec<Change>) {
    // Stable: equal keys keep their input order, so the last is the latest.
    changes.sort_by_key(|change| change.0);
    changes.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            *earlier = *later;
            true
        } else {
            false
        }
    });
}

/// One version of the sparse Merkle tree: an immutable map from key hashes to
/// value hashes with its root hash. Cloning is O(1) (the root is shared).
#[derive(Clone, Default)]
pub struct Tree {
    root: Child,
    len: usize,
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("root", &self.root().to_hex())
            .field("len", &self.len)
            .finish()
    }
}

impl Tree {
    /// The empty tree (root [`Hash::ZERO`]).
    pub fn new() -> Tree {
        Tree::default()
    }

    /// The key hash of a record's key: `Hash::of(Domain::RecordKey, key)`.
    pub fn key_hash(key: &[u8]) -> Hash {
        Hash::of(Domain::RecordKey, key)
    }

    /// The value hash of a record's value: `Hash::of(Domain::RecordValue, value)`.
    pub fn value_hash(value: &[u8]) -> Hash {
        Hash::of(Domain::RecordValue, value)
    }

    /// The root hash; [`Hash::ZERO`] when the tree is empty.
    pub fn root(&self) -> Hash {
        self.root.hash()
    }

    /// Number of records (leaves), in O(1).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value hash stored under `key_hash`, if any.
    pub fn get(&self, key_hash: &Hash) -> Option<Hash> {
        let mut node = &self.root;
        let mut depth = 0;
        loop {
            match node {
                Child::Empty => return None,
                Child::Leaf(leaf) => return (leaf.key == *key_hash).then_some(leaf.value),
                Child::Internal(inner) => {
                    node = if bit(key_hash, depth) {
                        &inner.right
                    } else {
                        &inner.left
                    };
                    depth += 1;
                }
            }
        }
    }

    /// A new version with `changes` applied (Some = put value hash, None =
    /// delete); `self` is unchanged.
    ///
    /// Input need not be sorted; if a key appears twice the LAST one wins.
    /// Batched: each touched internal node is rebuilt and hashed once per
    /// call, and untouched subtrees are shared with `self`.
    pub fn update(&self, changes: &[(Hash, Option<Hash>)]) -> Tree {
        let mut sorted = changes.to_vec();
        sort_last_wins(&mut sorted);
        self.apply_sorted(&sorted)
    }

    /// Bulk build from (key hash, value hash) pairs (any order, last wins).
    pub fn from_entries(entries: Vec<(Hash, Hash)>) -> Tree {
        let mut changes: Vec<Change> = entries
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        sort_last_wins(&mut changes);
        Tree::new().apply_sorted(&changes)
    }

    fn apply_sorted(&self, changes: &[Change]) -> Tree {
        let mut delta = Delta::default();
        let root = self.root.apply(0, changes, &mut delta);
        Tree {
            root,
            len: (self.len + delta.added).saturating_sub(delta.removed),
        }
    }

    /// The proof of inclusion or absence of `key_hash` in this version.
    pub fn prove(&self, key_hash: &Hash) -> RecordProof {
        let mut siblings = Vec::new();
        let mut node = &self.root;
        loop {
            match node {
                Child::Empty => {
                    return RecordProof {
                        siblings,
                        leaf: None,
                    }
                }
                Child::Leaf(leaf) => {
                    return RecordProof {
                        siblings,
                        leaf: Some((leaf.key, leaf.value)),
                    }
                }
                Child::Internal(inner) => {
                    // The depth of `inner` is the number of siblings so far.
                    if bit(key_hash, siblings.len()) {
                        siblings.push(inner.left.hash());
                        node = &inner.right;
                    } else {
                        siblings.push(inner.right.hash());
                        node = &inner.left;
                    }
                }
            }
        }
    }
}

/// A proof that a key hash maps to a value hash, or to nothing, under a root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "RecordPath"))]
pub struct RecordProof {
    /// Sibling hashes from the root down (index 0 = the root's other child).
    pub siblings: Vec<Hash>,
    /// The leaf found where the key's path ends: the key's own leaf
    /// (inclusion), another key's leaf (absence), or None for an empty
    /// subtree (absence). As (key hash, value hash).
    pub leaf: Option<(Hash, Hash)>,
}

/// Why a [`RecordProof`] does not prove what was asked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SmtError {
    /// The proof has more siblings than a key hash has bits.
    #[error("proof has {siblings} siblings, more than {PROOF_SIBLINGS_MAX}")]
    TooDeep {
        /// How many siblings the proof has.
        siblings: usize,
    },
    /// Inclusion was asked, but the proof ends on an empty subtree or on
    /// another key's leaf.
    #[error("expected the key to be present, but the proof ends on an empty subtree or another key's leaf")]
    ExpectedPresent,
    /// Absence was asked, but the proof ends on the key's own leaf.
    #[error("expected the key to be absent, but the proof ends on its own leaf")]
    ExpectedAbsent,
    /// The proof ends on the key's own leaf, with another value hash.
    #[error("the key's leaf holds value hash {proven}, not {expected}")]
    ValueMismatch {
        /// The value hash in the proof's leaf.
        proven: Hash,
        /// The value hash asked about.
        expected: Hash,
    },
    /// The proof's leaf (of another key) is not where the key's path ends:
    /// the two key hashes part before the proof's depth.
    #[error("the proof's leaf parts from the key's path at bit {common_bits}, above the proof's depth {depth}")]
    LeafNotOnPath {
        /// Leading bits the leaf's key hash shares with the key hash.
        common_bits: usize,
        /// The proof's depth (number of siblings).
        depth: usize,
    },
    /// The root recomputed from the proof is not the expected root.
    #[error("proof computes root {computed}, expected {expected}")]
    RootMismatch {
        /// The root the proof computes.
        computed: Hash,
        /// The root it was checked against.
        expected: Hash,
    },
}

impl RecordProof {
    /// Inclusion when `value_hash` is Some (the key maps to exactly that
    /// value hash), absence when None; checked against `root`. Sound against
    /// a hostile prover (see the [module documentation](self)).
    pub fn verify(
        &self,
        root: &Hash,
        key_hash: &Hash,
        value_hash: Option<&Hash>,
    ) -> Result<(), SmtError> {
        let depth = self.siblings.len();
        if depth > PROOF_SIBLINGS_MAX {
            return Err(SmtError::TooDeep { siblings: depth });
        }
        let bottom = match (value_hash, &self.leaf) {
            (Some(_), None) => return Err(SmtError::ExpectedPresent),
            (Some(expected), Some((leaf_key, leaf_value))) => {
                if leaf_key != key_hash {
                    return Err(SmtError::ExpectedPresent);
                }
                if leaf_value != expected {
                    return Err(SmtError::ValueMismatch {
                        proven: *leaf_value,
                        expected: *expected,
                    });
                }
                leaf_hash(leaf_key, leaf_value)
            }
            (None, None) => Hash::ZERO,
            (None, Some((leaf_key, leaf_value))) => {
                if leaf_key == key_hash {
                    return Err(SmtError::ExpectedAbsent);
                }
                let common_bits = common_prefix_bits(leaf_key, key_hash);
                if common_bits < depth {
                    return Err(SmtError::LeafNotOnPath { common_bits, depth });
                }
                leaf_hash(leaf_key, leaf_value)
            }
        };
        let computed =
            self.siblings
                .iter()
                .enumerate()
                .rev()
                .fold(bottom, |below, (i, sibling)| {
                    if bit(key_hash, i) {
                        node_hash(sibling, &below)
                    } else {
                        node_hash(&below, sibling)
                    }
                });
        if computed != *root {
            return Err(SmtError::RootMismatch {
                computed,
                expected: *root,
            });
        }
        Ok(())
    }

    /// Convenience: hashes the raw key and value bytes ([`Tree::key_hash`],
    /// [`Tree::value_hash`]) and calls [`verify`](Self::verify).
    pub fn verify_record(
        &self,
        root: &Hash,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), SmtError> {
        let value_hash = value.map(Tree::value_hash);
        self.verify(root, &Tree::key_hash(key), value_hash.as_ref())
    }
}

#[cfg(test)]
mod counters {
    //! Hashes computed on this thread, to check that an update hashes each
    //! new node once.
    use std::cell::Cell;
    thread_local! {
        pub static LEAVES: Cell<usize> = const { Cell::new(0) };
        pub static NODES: Cell<usize> = const { Cell::new(0) };
    }
}

#[cfg(test)]
mod tests;
