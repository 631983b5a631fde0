//! Binary Merkle trees over 32-byte leaves (RFC 6962 shape: the left subtree
//! holds the largest power of two strictly below the leaf count), with leaf and
//! node hashes in separate domains so a leaf can never pose as a node.

use crate::hash::{Domain, Hash};
use serde::{Deserialize, Serialize};

/// Most leaves a tree may have (a proof has at most 32 steps).
pub const LEAVES_MAX: u64 = 1 << 32;

fn leaf(value: &Hash) -> Hash {
    Hash::of(Domain::MerkleLeaf, &value.0)
}

fn node(left: &Hash, right: &Hash) -> Hash {
    Hash::of_parts(Domain::MerkleNode, &[&left.0, &right.0])
}

fn split(n: usize) -> usize {
    // Largest power of two strictly less than n (n >= 2).
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The root over `leaves`; [`Hash::ZERO`] for none.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash::ZERO,
        _ => subtree(leaves),
    }
}

fn subtree(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaf(&leaves[0]);
    }
    let k = split(leaves.len());
    node(&subtree(&leaves[..k]), &subtree(&leaves[k..]))
}

/// One step of a path: the sibling hash and on which side it sits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStep {
    /// The sibling subtree's hash.
    pub sibling: Hash,
    /// Whether the sibling is on the left.
    pub sibling_is_left: bool,
}

/// A proof that a leaf sits at `index` of a tree of `leaf_count` leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Position of the leaf.
    pub index: u64,
    /// Leaves in the tree.
    pub leaf_count: u64,
    /// Steps from the leaf up to the root.
    pub path: Vec<ProofStep>,
}

/// The proof for the leaf at `index`, or `None` if out of range.
pub fn prove(leaves: &[Hash], index: usize) -> Option<MerkleProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    let (mut lo, mut hi, mut i) = (0usize, leaves.len(), index);
    // Walk down, recording siblings, then reverse to go leaf-to-root.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if i < k {
            path.push(ProofStep {
                sibling: subtree(&leaves[lo + k..hi]),
                sibling_is_left: false,
            });
            hi = lo + k;
        } else {
            path.push(ProofStep {
                sibling: subtree(&leaves[lo..lo + k]),
                sibling_is_left: true,
            });
            lo += k;
            i -= k;
        }
    }
    path.reverse();
    Some(MerkleProof {
        index: index as u64,
        leaf_count: leaves.len() as u64,
        path,
    })
}

impl MerkleProof {
    /// Whether `value` at this proof's position hashes up to `root`.
    ///
    /// The sides of the path are recomputed from `index` and `leaf_count`, so
    /// a proof cannot move a leaf to another position.
    pub fn verify(&self, value: &Hash, root: &Hash) -> bool {
        if self.index >= self.leaf_count || self.path.len() > 64 {
            return false;
        }
        // Expected sides, computed top-down as in `prove`.
        let mut sides = Vec::with_capacity(self.path.len());
        let (mut lo, mut hi, mut i) = (0u64, self.leaf_count, self.index);
        while hi - lo > 1 {
            let k = split((hi - lo) as usize) as u64;
            if i < k {
                sides.push(false);
                hi = lo + k;
            } else {
                sides.push(true);
                lo += k;
                i -= k;
            }
            if sides.len() > 64 {
                return false;
            }
        }
        sides.reverse();
        if sides.len() != self.path.len() {
            return false;
        }
        let mut acc = leaf(value);
        for (step, expected_left) in self.path.iter().zip(sides) {
            if step.sibling_is_left != expected_left {
                return false;
            }
            acc = if step.sibling_is_left {
                node(&step.sibling, &acc)
            } else {
                node(&acc, &step.sibling)
            };
        }
        acc == *root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| Hash::of(Domain::Document, &(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn every_leaf_proves_and_only_there() {
        for n in 1..=17 {
            let ls = leaves(n);
            let r = root(&ls);
            for i in 0..n {
                let p = prove(&ls, i).unwrap();
                assert!(p.verify(&ls[i], &r), "n={n} i={i}");
                let other = Hash::of(Domain::Document, b"x");
                assert!(!p.verify(&other, &r));
                if n > 1 {
                    let mut moved = p.clone();
                    moved.index = ((i + 1) % n) as u64;
                    assert!(!moved.verify(&ls[i], &r) || ls[i] == ls[(i + 1) % n]);
                }
            }
        }
    }

    #[test]
    fn tampered_path_fails() {
        let ls = leaves(5);
        let r = root(&ls);
        let mut p = prove(&ls, 2).unwrap();
        p.path[0].sibling.0[0] ^= 1;
        assert!(!p.verify(&ls[2], &r));
    }

    #[test]
    fn empty_root_is_zero() {
        assert_eq!(root(&[]), Hash::ZERO);
        assert!(prove(&[], 0).is_none());
    }
}
