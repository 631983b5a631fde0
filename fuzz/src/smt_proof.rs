//! `smt_proof`: a small sparse Merkle tree built from the first bytes, a
//! probe key and a claim about it (present with a value, or absent), then a
//! `smt::RecordProof` (decoded from the rest, or an honest proof edited by
//! the rest) verified against the tree's root.
//!
//! Soundness: whenever a proof verifies, the claim is what the tree holds
//! (`Tree::get`): no forged proof shows a wrong value or hides a record.
//! Completeness: the honest proof of the probe always verifies. The tree
//! built by one batch of updates equals the one built from its entries.

use crate::Input;
use kp_types::smt::{RecordProof, Tree, PROOF_SIBLINGS_MAX};
use kp_types::Hash;
use std::collections::BTreeMap;

/// Most entries of the tree.
const ENTRIES_MAX: u8 = 24;
/// Most edits applied to an honest proof.
const EDITS_MAX: usize = 48;
/// Most siblings an edited proof grows to (past the verifier's bound).
const SIBLINGS_CAP: usize = PROOF_SIBLINGS_MAX + 8;

/// The tree and what is asked of it.
pub struct Setup {
    /// Key hash to value hash, as the tree should hold it.
    pub model: BTreeMap<Hash, Hash>,
    /// The tree.
    pub tree: Tree,
    /// The key asked about.
    pub probe: Hash,
    /// The claim: present with this value hash, or absent.
    pub claim: Option<Hash>,
    /// How the proof is made: 0 decoded, 1 the probe's edited, 2 another
    /// key's edited.
    pub mode: u8,
    /// For mode 2: which key.
    pub other: u8,
}

/// A key hash: `t % 4` = 0 hashed byte, 1 all zero but the last byte (deep
/// trees), 2 raw 32 bytes, 3 `previous` with one bit flipped (a shared
/// prefix of any length).
fn key(input: &mut Input<'_>, previous: &Hash) -> Hash {
    let t = input.byte();
    match t % 4 {
        0 => Tree::key_hash(&[input.byte()]),
        1 => {
            let mut k = [0u8; 32];
            k[31] = input.byte();
            Hash(k)
        }
        2 => Hash(input.array::<32>()),
        _ => {
            let bit = usize::from(input.byte());
            let mut k = *previous;
            k.0[bit / 8] ^= 0x80 >> (bit % 8);
            k
        }
    }
}

/// Reads the tree, the probe and the claim.
pub fn setup(input: &mut Input<'_>) -> Setup {
    let n = input.byte() % (ENTRIES_MAX + 1);
    let mut changes = Vec::new();
    let mut model = BTreeMap::new();
    let mut previous = Hash::ZERO;
    for _ in 0..n {
        let k = key(input, &previous);
        previous = k;
        let v = input.byte();
        // 0xff deletes (the key may be present from an earlier change).
        let change = (v != 0xff).then(|| Tree::value_hash(&[v]));
        match change {
            Some(value) => model.insert(k, value),
            None => model.remove(&k),
        };
        changes.push((k, change));
    }
    let tree = Tree::new().update(&changes);
    let probe = key(input, &previous);
    let claim = match input.byte() % 3 {
        0 => None,
        1 => Some(Tree::value_hash(&[input.byte()])),
        _ => tree.get(&probe),
    };
    let mode = input.byte() % 3;
    let other = input.byte();
    Setup {
        model,
        tree,
        probe,
        claim,
        mode,
        other,
    }
}

/// One input.
pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let s = setup(&mut input);
    let root = s.tree.root();

    // The tree is the model, however it was built.
    assert_eq!(s.tree.len(), s.model.len());
    let built = Tree::from_entries(s.model.iter().map(|(k, v)| (*k, *v)).collect());
    assert_eq!(built.root(), root, "batch update and bulk build disagree");
    let truth = s.tree.get(&s.probe);
    assert_eq!(truth, s.model.get(&s.probe).copied());

    // Completeness.
    let honest = s.tree.prove(&s.probe);
    assert!(honest.siblings.len() <= PROOF_SIBLINGS_MAX);
    assert_eq!(honest.verify(&root, &s.probe, truth.as_ref()), Ok(()));

    let proof = match s.mode {
        0 => {
            let bytes = input.rest();
            let Ok(proof) = kp_types::decode::<RecordProof>(bytes, bytes.len()) else {
                return;
            };
            assert_eq!(kp_types::encode(&proof), bytes, "non-canonical proof bytes");
            proof
        }
        mode => {
            let keys: Vec<Hash> = s.model.keys().copied().collect();
            let start = if mode == 1 || keys.is_empty() {
                honest
            } else {
                s.tree.prove(&keys[usize::from(s.other) % keys.len()])
            };
            edit(start, &mut input, &s)
        }
    };
    let encoded = kp_types::encode(&proof);
    let leaf = if proof.leaf.is_some() { 65 } else { 1 };
    assert_eq!(encoded.len(), 8 + 32 * proof.siblings.len() + leaf);

    // Soundness.
    if proof.verify(&root, &s.probe, s.claim.as_ref()).is_ok() {
        assert_eq!(
            truth, s.claim,
            "a proof verified a claim the tree does not hold: root {root}, probe {}",
            s.probe
        );
    }
    // And the other claims about the probe.
    for claim in [None, truth, Some(Tree::value_hash(b"other"))] {
        if proof.verify(&root, &s.probe, claim.as_ref()).is_ok() {
            assert_eq!(truth, claim, "a proof verified a claim the tree does not hold");
        }
    }
}

/// Applies the edits the rest of the input describes.
fn edit(mut proof: RecordProof, input: &mut Input<'_>, s: &Setup) -> RecordProof {
    // Hashes a forger has at hand: every sibling of every honest proof.
    let mut pool = vec![Hash::ZERO, s.tree.root()];
    for k in s.model.keys().chain(std::iter::once(&s.probe)) {
        pool.extend(s.tree.prove(k).siblings);
    }
    let entries: Vec<(Hash, Hash)> = s.model.iter().map(|(k, v)| (*k, *v)).collect();
    let pick = |pool: &[Hash], b: u8| pool[usize::from(b) % pool.len()];
    for _ in 0..EDITS_MAX {
        if input.is_empty() {
            break;
        }
        let (op, a, b) = (input.byte(), input.byte(), input.byte());
        let len = proof.siblings.len();
        let i = if len == 0 { 0 } else { usize::from(a) % len };
        match op % 12 {
            0 => {
                proof.siblings.pop();
            }
            1 if len < SIBLINGS_CAP => proof.siblings.push(Hash::ZERO),
            2 if len < SIBLINGS_CAP => proof.siblings.push(pick(&pool, a)),
            3 if len < SIBLINGS_CAP => {
                proof.siblings.insert(usize::from(a) % (len + 1), pick(&pool, b))
            }
            4 if len > 0 => {
                proof.siblings.remove(i);
            }
            5 => proof.leaf = None,
            6 if !entries.is_empty() => proof.leaf = Some(entries[usize::from(a) % entries.len()]),
            7 => {
                let value = proof.leaf.map_or(Tree::value_hash(&[b]), |(_, v)| v);
                proof.leaf = Some((s.probe, value));
            }
            8 if len > 0 => proof.siblings[i].0[usize::from(b) % 32] ^= 1 << (b % 8),
            9 if len > 0 => proof.siblings.swap(i, usize::from(b) % len),
            10 if len > 0 => proof.siblings[i] = pick(&pool, b),
            11 => {
                let key = proof.leaf.map_or(s.probe, |(k, _)| k);
                proof.leaf = Some((key, Tree::value_hash(&[a])));
            }
            _ => {}
        }
    }
    proof
}

/// Seeds: trees of several shapes, each probe asked in each mode.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // 6 hashed keys, 3 deep keys, 2 keys one bit apart, one deleted.
    let mut tree_bytes = vec![12u8];
    for i in 0..6u8 {
        tree_bytes.extend([0, i, i % 4]);
    }
    for i in 0..3u8 {
        tree_bytes.extend([1, i, 7]);
    }
    tree_bytes.extend([3, 200, 9]); // flips bit 200 of the last deep key
    tree_bytes.extend([3, 255, 9]); // and bit 255: a key one bit from it
    tree_bytes.extend([0, 3, 0xff]); // deletes hashed key 3
    // Probes: a present hashed key, a deep key, an absent deep neighbour,
    // the deleted key, an absent hashed key.
    let probes: [&[u8]; 5] = [&[0, 1], &[1, 2], &[1, 9], &[0, 3], &[0, 77]];
    for probe in probes {
        for (claim, mode, edits) in [
            (&[2u8][..], 0u8, &[][..]),
            (&[2], 1, &[][..]),
            (&[0], 1, &[1, 0, 0, 7, 0, 0][..]),
            (&[1, 2], 2, &[6, 1, 0][..]),
        ] {
            let mut bytes = tree_bytes.clone();
            bytes.extend(probe);
            bytes.extend(claim);
            bytes.extend([mode, 1]);
            if mode == 0 {
                let s = setup(&mut Input::new(&bytes));
                bytes.extend(kp_types::encode(&s.tree.prove(&s.probe)));
            } else {
                bytes.extend(edits);
            }
            out.push(bytes);
        }
    }
    out
}
