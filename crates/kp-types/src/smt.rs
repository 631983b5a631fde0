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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashSet};

    /// The canonical root of a set, computed independently of [`Tree`].
    fn model_root(entries: &BTreeMap<Hash, Hash>) -> Hash {
        fn subtree(entries: &[(Hash, Hash)], depth: usize) -> Hash {
            match entries {
                [] => Hash::ZERO,
                [(key, value)] => Hash::of_parts(Domain::RecordLeaf, &[&key.0, &value.0]),
                _ => {
                    let (left, right): (Vec<_>, Vec<_>) = entries
                        .iter()
                        .partition(|(key, _)| (key.0[depth / 8] >> (7 - depth % 8)) & 1 == 0);
                    Hash::of_parts(
                        Domain::RecordNode,
                        &[&subtree(&left, depth + 1).0, &subtree(&right, depth + 1).0],
                    )
                }
            }
        }
        let entries: Vec<_> = entries.iter().map(|(k, v)| (*k, *v)).collect();
        subtree(&entries, 0)
    }

    fn kh(i: u32) -> Hash {
        Tree::key_hash(&i.to_be_bytes())
    }

    fn vh(i: u32) -> Hash {
        Tree::value_hash(&i.to_be_bytes())
    }

    /// Key hashes sharing 31 leading bytes, to build deep paths.
    fn deep(last: u8) -> Hash {
        let mut bytes = [0xa5; 32];
        bytes[31] = last;
        Hash(bytes)
    }

    fn tree_of(n: u32) -> Tree {
        Tree::from_entries((0..n).map(|i| (kh(i), vh(i))).collect())
    }

    /// Checks every node of the tree: hashes, canonical shape, prefixes;
    /// returns the number of leaves.
    fn check_invariants(tree: &Tree) {
        fn walk(node: &Child, depth: usize, prefix: &Hash) -> usize {
            match node {
                Child::Empty => 0,
                Child::Leaf(leaf) => {
                    assert!(common_prefix_bits(&leaf.key, prefix) >= depth);
                    assert_eq!(leaf.hash, leaf_hash(&leaf.key, &leaf.value));
                    1
                }
                Child::Internal(inner) => {
                    assert_eq!(
                        inner.hash,
                        node_hash(&inner.left.hash(), &inner.right.hash())
                    );
                    let mut right_prefix = *prefix;
                    right_prefix.0[depth / 8] |= 0x80 >> (depth % 8);
                    let mut left_prefix = *prefix;
                    left_prefix.0[depth / 8] &= !(0x80 >> (depth % 8));
                    let n = walk(&inner.left, depth + 1, &left_prefix)
                        + walk(&inner.right, depth + 1, &right_prefix);
                    assert!(n >= 2, "internal node with fewer than two leaves");
                    n
                }
            }
        }
        assert_eq!(walk(&tree.root, 0, &Hash::ZERO), tree.len());
    }

    #[test]
    fn empty_tree() {
        let tree = Tree::new();
        assert_eq!(tree.root(), Hash::ZERO);
        assert_eq!(tree.len(), 0);
        assert!(tree.is_empty());
        assert_eq!(tree.get(&kh(1)), None);
        let proof = tree.prove(&kh(1));
        assert_eq!(
            proof,
            RecordProof {
                siblings: vec![],
                leaf: None
            }
        );
        proof.verify(&Hash::ZERO, &kh(1), None).unwrap();
        assert_eq!(
            proof.verify(&Hash::ZERO, &kh(1), Some(&vh(1))),
            Err(SmtError::ExpectedPresent)
        );
        // An empty proof does not prove absence under a non-empty root.
        assert!(matches!(
            proof.verify(&tree_of(1).root(), &kh(1), None),
            Err(SmtError::RootMismatch { .. })
        ));
        assert_eq!(Tree::from_entries(vec![]).root(), Hash::ZERO);
        assert_eq!(tree.update(&[(kh(1), None)]).root(), Hash::ZERO);
    }

    #[test]
    fn single_leaf_tree() {
        let tree = tree_of(1);
        assert_eq!(tree.len(), 1);
        assert_eq!(tree.root(), leaf_hash(&kh(0), &vh(0)));
        let proof = tree.prove(&kh(0));
        assert_eq!(
            proof,
            RecordProof {
                siblings: vec![],
                leaf: Some((kh(0), vh(0)))
            }
        );
        proof.verify(&tree.root(), &kh(0), Some(&vh(0))).unwrap();
        proof
            .verify_record(&tree.root(), &0u32.to_be_bytes(), Some(&0u32.to_be_bytes()))
            .unwrap();
        // Absence of any other key: the lone leaf at depth 0 is another key's.
        let absent = tree.prove(&kh(7));
        assert_eq!(absent, proof);
        absent.verify(&tree.root(), &kh(7), None).unwrap();
        absent
            .verify_record(&tree.root(), &7u32.to_be_bytes(), None)
            .unwrap();
        assert_eq!(
            absent.verify(&tree.root(), &kh(7), Some(&vh(0))),
            Err(SmtError::ExpectedPresent)
        );
    }

    #[test]
    fn golden_roots() {
        // Changing any of these means changing the commitment format: every
        // light client and stored root depends on it.
        let one = Tree::from_entries(vec![(Tree::key_hash(b"alpha"), Tree::value_hash(b"1"))]);
        assert_eq!(
            one.root(),
            Hash::of_parts(
                Domain::RecordLeaf,
                &[&Tree::key_hash(b"alpha").0, &Tree::value_hash(b"1").0]
            )
        );
        let tree = Tree::from_entries(
            [
                ("alpha", "1"),
                ("beta", "2"),
                ("gamma", "3"),
                ("delta", "4"),
            ]
            .iter()
            .map(|(k, v)| (Tree::key_hash(k.as_bytes()), Tree::value_hash(v.as_bytes())))
            .collect(),
        );
        assert_eq!(tree.root().to_hex(), GOLDEN_FOUR);
        assert_eq!(Tree::key_hash(b"alpha").to_hex(), GOLDEN_KEY_ALPHA);
        // Two hand-placed keys that part at bit 0: node(leaf(left), leaf(right)).
        let (left, right) = (Hash([0x00; 32]), Hash([0xff; 32]));
        let two = Tree::from_entries(vec![(right, vh(1)), (left, vh(0))]);
        assert_eq!(
            two.root(),
            Hash::of_parts(
                Domain::RecordNode,
                &[&leaf_hash(&left, &vh(0)).0, &leaf_hash(&right, &vh(1)).0]
            )
        );
        // Keys that part at bit 1: an internal node at depth 1 under the root,
        // with an empty right child at depth 0.
        let (a, b) = (Hash([0x00; 32]), Hash([0x40; 32]));
        let two = Tree::from_entries(vec![(a, vh(0)), (b, vh(1))]);
        let inner = node_hash(&leaf_hash(&a, &vh(0)), &leaf_hash(&b, &vh(1)));
        assert_eq!(two.root(), node_hash(&inner, &Hash::ZERO));
        assert_eq!(
            two.prove(&a).siblings,
            vec![Hash::ZERO, leaf_hash(&b, &vh(1))]
        );
    }

    const GOLDEN_FOUR: &str = "7f786ddd89fba8b53c291f6adf7d49c5e5470c8f961a6456d9bbe83858c5179f";
    const GOLDEN_KEY_ALPHA: &str =
        "48806ff07a4277b31b8511a2343fcc16865ff7f511ca63c4937934b0677e9b02";

    #[test]
    fn fast_paths_hash_like_the_domains() {
        let (a, b) = (kh(1), kh(2));
        assert_eq!(
            leaf_hash(&a, &b),
            Hash::of(Domain::RecordLeaf, &[a.0, b.0].concat())
        );
        assert_eq!(
            node_hash(&a, &b),
            Hash::of(Domain::RecordNode, &[a.0, b.0].concat())
        );
        assert_eq!(Domain::RecordKey.context(), "kpledger v1 record key");
        assert_eq!(Domain::RecordValue.context(), "kpledger v1 record value");
        assert_eq!(Domain::RecordLeaf.context(), "kpledger v1 record leaf");
        assert_eq!(Domain::RecordNode.context(), "kpledger v1 record node");
    }

    #[test]
    fn bits_and_prefixes() {
        let mut key = Hash::ZERO;
        key.0[0] = 0b1010_0000;
        key.0[31] = 1;
        assert!(bit(&key, 0));
        assert!(!bit(&key, 1));
        assert!(bit(&key, 2));
        assert!(bit(&key, 255));
        assert!(!bit(&key, 254));
        assert!(!bit(&key, 256));
        assert_eq!(common_prefix_bits(&key, &key), 256);
        assert_eq!(common_prefix_bits(&key, &Hash::ZERO), 0);
        let mut other = key;
        other.0[31] = 0;
        assert_eq!(common_prefix_bits(&key, &other), 255);
    }

    #[test]
    fn deepest_leaves() {
        // Keys that differ only in their last bit sit at depth 256.
        let a = Hash::ZERO;
        let mut b = Hash::ZERO;
        b.0[31] = 1;
        let tree = Tree::from_entries(vec![(a, vh(0)), (b, vh(1))]);
        check_invariants(&tree);
        let proof = tree.prove(&a);
        assert_eq!(proof.siblings.len(), PROOF_SIBLINGS_MAX);
        proof.verify(&tree.root(), &a, Some(&vh(0))).unwrap();
        tree.prove(&b)
            .verify(&tree.root(), &b, Some(&vh(1)))
            .unwrap();
        let mut c = Hash::ZERO;
        c.0[31] = 2;
        tree.prove(&c).verify(&tree.root(), &c, None).unwrap();
        // Deleting one lifts the other to the root.
        let one = tree.update(&[(b, None)]);
        assert_eq!(one.root(), leaf_hash(&a, &vh(0)));
        assert_eq!(one.prove(&a).siblings.len(), 0);
    }

    #[test]
    fn last_change_wins() {
        let tree = Tree::new().update(&[
            (kh(1), Some(vh(1))),
            (kh(2), Some(vh(2))),
            (kh(1), Some(vh(3))),
            (kh(2), None),
            (kh(4), None),
            (kh(4), Some(vh(4))),
        ]);
        assert_eq!(tree.len(), 2);
        assert_eq!(tree.get(&kh(1)), Some(vh(3)));
        assert_eq!(tree.get(&kh(2)), None);
        assert_eq!(tree.get(&kh(4)), Some(vh(4)));
        let built = Tree::from_entries(vec![(kh(4), vh(0)), (kh(1), vh(3)), (kh(4), vh(4))]);
        assert_eq!(built.root(), tree.root());
        assert_eq!(built.len(), 2);
    }

    #[test]
    fn deleting_restores_roots() {
        let mut versions = vec![Tree::new()];
        for i in 0..200 {
            let next = versions[versions.len() - 1].update(&[(kh(i), Some(vh(i)))]);
            versions.push(next);
        }
        let full = versions[versions.len() - 1].clone();
        // Delete in reverse order: each step gives back the earlier root.
        let mut tree = full.clone();
        for i in (0..200).rev() {
            tree = tree.update(&[(kh(i), None)]);
            assert_eq!(tree.root(), versions[i as usize].root());
            assert_eq!(tree.len(), i as usize);
            check_invariants(&tree);
        }
        assert_eq!(tree.root(), Hash::ZERO);
        assert!(tree.is_empty());
        // All at once, in any order.
        let all: Vec<_> = (0..200).map(|i| (kh(i), None)).collect();
        let none = full.update(&all);
        assert_eq!(none.root(), Hash::ZERO);
        assert_eq!(none.len(), 0);
        // Deleting one key from the middle restores the tree built without it.
        let without = full.update(&[(kh(77), None)]);
        assert_eq!(
            without.root(),
            Tree::from_entries(
                (0..200)
                    .filter(|&i| i != 77)
                    .map(|i| (kh(i), vh(i)))
                    .collect()
            )
            .root()
        );
        // Old versions are untouched.
        assert_eq!(full.len(), 200);
        for (i, version) in versions.iter().enumerate() {
            assert_eq!(version.len(), i);
            let model: BTreeMap<_, _> = (0..i as u32).map(|j| (kh(j), vh(j))).collect();
            assert_eq!(version.root(), model_root(&model));
        }
    }

    #[test]
    fn no_op_updates_share_everything() {
        let tree = tree_of(300);
        let same = tree.update(&[(kh(5), Some(vh(5))), (kh(1000), None), (kh(1001), None)]);
        assert!(same.root.same(&tree.root));
        assert_eq!(same.len(), 300);
    }

    /// Pointers of the internal nodes and leaves of a tree.
    fn node_set(tree: &Tree) -> HashSet<usize> {
        fn walk(node: &Child, out: &mut HashSet<usize>) {
            match node {
                Child::Empty => {}
                Child::Leaf(leaf) => {
                    out.insert(Arc::as_ptr(leaf) as usize);
                }
                Child::Internal(inner) => {
                    out.insert(Arc::as_ptr(inner) as usize);
                    walk(&inner.left, out);
                    walk(&inner.right, out);
                }
            }
        }
        let mut out = HashSet::new();
        walk(&tree.root, &mut out);
        out
    }

    fn count_new(old: &HashSet<usize>, tree: &Tree) -> (usize, usize) {
        fn walk(node: &Child, old: &HashSet<usize>, counts: &mut (usize, usize)) {
            match node {
                Child::Empty => {}
                Child::Leaf(leaf) => {
                    if !old.contains(&(Arc::as_ptr(leaf) as usize)) {
                        counts.0 += 1;
                    }
                }
                Child::Internal(inner) => {
                    if !old.contains(&(Arc::as_ptr(inner) as usize)) {
                        counts.1 += 1;
                        walk(&inner.left, old, counts);
                        walk(&inner.right, old, counts);
                    }
                }
            }
        }
        let mut counts = (0, 0);
        walk(&tree.root, old, &mut counts);
        counts
    }

    #[test]
    fn batch_hashes_each_new_node_once() {
        let tree = tree_of(5_000);
        let old = node_set(&tree);
        let mut changes: Vec<_> = (5_000..5_300).map(|i| (kh(i), Some(vh(i)))).collect();
        changes.extend((0..100).map(|i| (kh(i * 7), None)));
        changes.extend((1..50).map(|i| (kh(i * 11), Some(vh(i)))));
        let (leaves_before, nodes_before) = (
            counters::LEAVES.with(|c| c.get()),
            counters::NODES.with(|c| c.get()),
        );
        let next = tree.update(&changes);
        let hashed_leaves = counters::LEAVES.with(|c| c.get()) - leaves_before;
        let hashed_nodes = counters::NODES.with(|c| c.get()) - nodes_before;
        let (new_leaves, new_nodes) = count_new(&old, &next);
        assert_eq!(hashed_leaves, new_leaves);
        assert_eq!(hashed_nodes, new_nodes);
        check_invariants(&next);
        let mut model: BTreeMap<_, _> = (0..5_000).map(|i| (kh(i), vh(i))).collect();
        for (key, change) in &changes {
            match change {
                Some(value) => model.insert(*key, *value),
                None => model.remove(key),
            };
        }
        assert_eq!(next.root(), model_root(&model));
        assert_eq!(next.len(), model.len());
        assert_eq!(tree.root(), tree_of(5_000).root());
    }

    fn fixed_tree() -> Tree {
        let mut entries: Vec<_> = (0..100).map(|i| (kh(i), vh(i))).collect();
        entries.extend((0..8u8).map(|i| (deep(i * 2), vh(u32::from(i)))));
        Tree::from_entries(entries)
    }

    #[test]
    fn tampered_proofs_fail() {
        let tree = fixed_tree();
        let root = tree.root();
        let (key, value) = (kh(42), vh(42));
        let proof = tree.prove(&key);
        proof.verify(&root, &key, Some(&value)).unwrap();
        assert!(!proof.siblings.is_empty());

        // A flipped sibling.
        for i in 0..proof.siblings.len() {
            let mut bad = proof.clone();
            bad.siblings[i].0[3] ^= 1;
            assert!(matches!(
                bad.verify(&root, &key, Some(&value)),
                Err(SmtError::RootMismatch { .. })
            ));
        }
        // The wrong value.
        assert_eq!(
            proof.verify(&root, &key, Some(&vh(43))),
            Err(SmtError::ValueMismatch {
                proven: value,
                expected: vh(43)
            })
        );
        // A forged leaf value.
        let mut bad = proof.clone();
        bad.leaf = Some((key, vh(43)));
        assert!(matches!(
            bad.verify(&root, &key, Some(&vh(43))),
            Err(SmtError::RootMismatch { .. })
        ));
        // Inclusion proof used as absence.
        assert_eq!(
            proof.verify(&root, &key, None),
            Err(SmtError::ExpectedAbsent)
        );
        // A wrong root.
        assert!(proof
            .verify(&tree_of(3).root(), &key, Some(&value))
            .is_err());
        // Extra sibling, at either end, and a removed one.
        for sibling in [Hash::ZERO, kh(9)] {
            let mut bad = proof.clone();
            bad.siblings.push(sibling);
            assert!(bad.verify(&root, &key, Some(&value)).is_err());
            let mut bad = proof.clone();
            bad.siblings.insert(0, sibling);
            assert!(bad.verify(&root, &key, Some(&value)).is_err());
        }
        let mut bad = proof.clone();
        bad.siblings.pop();
        assert!(bad.verify(&root, &key, Some(&value)).is_err());
        let mut bad = proof.clone();
        bad.siblings.remove(0);
        assert!(bad.verify(&root, &key, Some(&value)).is_err());
        // The leaf of another key claimed as inclusion of that value.
        let other = kh(1_000);
        assert_eq!(tree.get(&other), None);
        assert_eq!(
            proof.verify(&root, &other, Some(&value)),
            Err(SmtError::ExpectedPresent)
        );
        // ... or with the leaf's key rewritten.
        let mut bad = proof.clone();
        bad.leaf = Some((other, value));
        assert!(matches!(
            bad.verify(&root, &other, Some(&value)),
            Err(SmtError::RootMismatch { .. })
        ));
        // Too many siblings, whatever they are.
        let bad = RecordProof {
            siblings: vec![Hash::ZERO; PROOF_SIBLINGS_MAX + 1],
            leaf: None,
        };
        assert_eq!(
            bad.verify(&root, &key, None),
            Err(SmtError::TooDeep {
                siblings: PROOF_SIBLINGS_MAX + 1
            })
        );

        // Absence proofs.
        let absent = (1_000..1_100)
            .map(kh)
            .map(|k| (k, tree.prove(&k)))
            .collect::<Vec<_>>();
        assert!(absent.iter().any(|(_, p)| p.leaf.is_none()));
        assert!(absent.iter().any(|(_, p)| p.leaf.is_some()));
        for (k, p) in &absent {
            p.verify(&root, k, None).unwrap();
            // Absence proof used as inclusion.
            assert_eq!(
                p.verify(&root, k, Some(&vh(0))),
                Err(SmtError::ExpectedPresent)
            );
            // Used for a key it does not cover.
            assert!(p.verify(&root, &key, None).is_err());
            let mut bad = p.clone();
            if let Some(sibling) = bad.siblings.last_mut() {
                sibling.0[0] ^= 0x80;
                assert!(bad.verify(&root, k, None).is_err());
            }
        }
        // An absence proof ending on a leaf that is not on the key's path.
        let (k, p) = absent.iter().find(|(_, p)| p.leaf.is_some()).unwrap();
        let (leaf_key, _) = p.leaf.unwrap();
        let common_bits = common_prefix_bits(&leaf_key, k);
        assert!(common_bits >= p.siblings.len());
        let mut stranger = *k;
        // Flip a bit above the proof's depth, so the leaf parts from the path there.
        let at = p.siblings.len() - 1;
        stranger.0[at / 8] ^= 0x80 >> (at % 8);
        assert_eq!(
            p.verify(&root, &stranger, None),
            Err(SmtError::LeafNotOnPath {
                common_bits: common_prefix_bits(&leaf_key, &stranger),
                depth: p.siblings.len()
            })
        );
        // An empty-subtree absence proof replaced by a leaf that is on the path.
        let (k, p) = absent.iter().find(|(_, p)| p.leaf.is_none()).unwrap();
        let mut bad = p.clone();
        bad.leaf = Some((kh(42), vh(42)));
        assert!(bad.verify(&root, k, None).is_err());
    }

    #[test]
    fn zero_padding_attack_fails() {
        // A lone leaf is the root: a prover may not claim it deeper, under a
        // chain of ZERO siblings, to prove absence of a key that shares those
        // leading bits with it.
        let (key, value) = (deep(0x00), vh(0));
        let tree = Tree::from_entries(vec![(key, value)]);
        let root = tree.root();
        let target = deep(0x01); // Shares 255 bits with `key`.
        tree.prove(&target).verify(&root, &target, None).unwrap();
        for depth in [1, 8, 100, 255] {
            let forged = RecordProof {
                siblings: vec![Hash::ZERO; depth],
                leaf: Some((key, value)),
            };
            assert!(matches!(
                forged.verify(&root, &key, Some(&value)),
                Err(SmtError::RootMismatch { .. })
            ));
            assert!(matches!(
                forged.verify(&root, &target, None),
                Err(SmtError::RootMismatch { .. })
            ));
            // An empty subtree under ZERO siblings does not compute the root either.
            let forged = RecordProof {
                siblings: vec![Hash::ZERO; depth],
                leaf: None,
            };
            assert!(forged.verify(&root, &target, None).is_err());
        }
        // Same inside a bigger tree: pad the proof of a leaf that has
        // siblings with ZEROs below them.
        let tree = fixed_tree();
        let root = tree.root();
        let proof = tree.prove(&deep(4));
        proof.verify(&root, &deep(4), Some(&vh(2))).unwrap();
        let mut forged = proof.clone();
        forged.siblings.extend([Hash::ZERO; 3]);
        assert!(forged.verify(&root, &deep(4), Some(&vh(2))).is_err());
        assert!(forged.verify(&root, &deep(5), None).is_err());
        // The honest absence proof for the neighbour uses the canonical depth.
        tree.prove(&deep(5)).verify(&root, &deep(5), None).unwrap();
    }

    #[test]
    fn proof_encoding() {
        let tree = fixed_tree();
        for key in [kh(3), kh(5_000), deep(6)] {
            let proof = tree.prove(&key);
            let bytes = crate::encode(&proof);
            let leaf = if proof.leaf.is_some() { 65 } else { 1 };
            assert_eq!(bytes.len(), 8 + 32 * proof.siblings.len() + leaf);
            assert_eq!(
                crate::decode::<RecordProof>(&bytes, bytes.len()).unwrap(),
                proof
            );
            let json = serde_json::to_string(&proof).unwrap();
            assert_eq!(serde_json::from_str::<RecordProof>(&json).unwrap(), proof);
        }
    }

    #[test]
    fn debug_and_clone() {
        let tree = tree_of(3);
        let text = format!("{tree:?}");
        assert!(text.contains(&tree.root().to_hex()));
        assert!(text.contains("len: 3"));
        let copy = tree.clone();
        assert!(copy.root.same(&tree.root));
    }

    /// A key hash: from a small pool (so keys repeat), or a deep one.
    fn key_strategy() -> impl Strategy<Value = Hash> {
        prop_oneof![
            (0u32..64).prop_map(kh),
            any::<u8>().prop_map(deep),
            any::<[u8; 32]>().prop_map(Hash),
        ]
    }

    fn change_strategy() -> impl Strategy<Value = (Hash, Option<Hash>)> {
        (
            key_strategy(),
            proptest::option::weighted(0.7, (0u32..4).prop_map(vh)),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn matches_model_whatever_the_batching(
            changes in proptest::collection::vec(change_strategy(), 0..120),
            cuts in proptest::collection::vec(0usize..120, 0..6),
        ) {
            let mut model = BTreeMap::new();
            for (key, change) in &changes {
                match change {
                    Some(value) => model.insert(*key, *value),
                    None => model.remove(key),
                };
            }
            let expected = model_root(&model);

            // All at once.
            let once = Tree::new().update(&changes);
            prop_assert_eq!(once.root(), expected);
            prop_assert_eq!(once.len(), model.len());
            check_invariants(&once);

            // In batches cut at arbitrary points, keeping every version.
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(changes.len())).collect();
            cuts.push(0);
            cuts.push(changes.len());
            cuts.sort_unstable();
            let mut versions = vec![(Tree::new(), BTreeMap::new())];
            for window in cuts.windows(2) {
                let (tree, mut partial) = versions[versions.len() - 1].clone();
                let batch = &changes[window[0]..window[1]];
                for (key, change) in batch {
                    match change {
                        Some(value) => partial.insert(*key, *value),
                        None => partial.remove(key),
                    };
                }
                let next = tree.update(batch);
                check_invariants(&next);
                versions.push((next, partial));
            }
            let last = &versions[versions.len() - 1].0;
            prop_assert_eq!(last.root(), expected);
            prop_assert_eq!(last.len(), model.len());
            // One change at a time.
            let mut single = Tree::new();
            for change in &changes {
                single = single.update(std::slice::from_ref(change));
            }
            prop_assert_eq!(single.root(), expected);
            // Every version still is what it was (persistence).
            for (tree, partial) in &versions {
                prop_assert_eq!(tree.root(), model_root(partial));
                prop_assert_eq!(tree.len(), partial.len());
                for (key, value) in partial {
                    prop_assert_eq!(tree.get(key), Some(*value));
                }
            }
            // Bulk build, in reverse order, with a stale duplicate first.
            let mut entries: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
            entries.reverse();
            if let Some((key, _)) = entries.first().copied() {
                entries.insert(0, (key, vh(99)));
            }
            let built = Tree::from_entries(entries);
            prop_assert_eq!(built.root(), expected);
            prop_assert_eq!(built.len(), model.len());
            // Lookups, present and absent.
            for (key, _) in &changes {
                prop_assert_eq!(once.get(key), model.get(key).copied());
            }
        }

        #[test]
        fn proofs_verify_in_and_out(
            entries in proptest::collection::vec((key_strategy(), (0u32..4).prop_map(vh)), 0..80),
            probes in proptest::collection::vec(key_strategy(), 0..40),
        ) {
            let tree = Tree::from_entries(entries.clone());
            let root = tree.root();
            let model: BTreeMap<_, _> = entries.into_iter().collect();
            prop_assert_eq!(root, model_root(&model));
            for key in model.keys().chain(probes.iter()) {
                let proof = tree.prove(key);
                prop_assert!(proof.siblings.len() <= PROOF_SIBLINGS_MAX);
                match model.get(key) {
                    Some(value) => {
                        prop_assert_eq!(proof.verify(&root, key, Some(value)), Ok(()));
                        prop_assert_eq!(proof.verify(&root, key, None), Err(SmtError::ExpectedAbsent));
                        let other = Tree::value_hash(b"other");
                        prop_assert!(proof.verify(&root, key, Some(&other)).is_err());
                    }
                    None => {
                        prop_assert_eq!(proof.verify(&root, key, None), Ok(()));
                        prop_assert_eq!(
                            proof.verify(&root, key, Some(&vh(0))),
                            Err(SmtError::ExpectedPresent)
                        );
                    }
                }
                // Any single flipped bit in the siblings breaks the proof.
                if !proof.siblings.is_empty() {
                    let mut bad = proof.clone();
                    let i = key.0[0] as usize % bad.siblings.len();
                    bad.siblings[i].0[31] ^= 1;
                    prop_assert!(bad.verify(&root, key, model.get(key)).is_err());
                }
            }
        }
    }
}
