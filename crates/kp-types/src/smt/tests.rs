//! Tests of the sparse Merkle tree: against an independent model, golden roots, hostile proofs.

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
const GOLDEN_KEY_ALPHA: &str = "48806ff07a4277b31b8511a2343fcc16865ff7f511ca63c4937934b0677e9b02";

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
