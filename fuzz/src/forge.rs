//! What a hostile node can do to a certificate proof without holding any
//! key: recompute every hash, Merkle path and records root so that the proof
//! is consistent with an anchor of its own making. `kp_client::proof::verify`
//! checks a proof against an anchor the caller has verified with the light
//! client; fed an unverified anchor (as here) it must still never panic, and
//! whatever it concludes must follow from what the proof proves.
//!
//! The fuzzer mutates a proof; [`forge`] then makes it consistent again, so
//! that mutations reach the logic behind the hash checks.

use crate::small_order;
use kp_api::keys;
use kp_api::proof::{act_authority, CertificateProof, RecordProof, PROOF_ACTS_MAX};
use kp_api::{AuthorityRecord, CertificateRecord, SeizureIndex, SeizureRecord};
use kp_types::smt::{self, Tree};
use kp_types::{merkle, result_leaf, Hash};

/// Acts are "signed" by a small-order key (ZIP-215 accepts it for any
/// message), and the authority records they name carry that key.
pub const SIGN_SMALL: u8 = 1;
/// History entries and seizure records name the proof's acts (by hash).
pub const LINK_ACTS: u8 = 2;
/// ... and their heights.
pub const LINK_HEIGHTS: u8 = 4;
/// The genesis record says [`Hash::ZERO`] (the genesis the harness trusts).
pub const GENESIS: u8 = 8;
/// Acts are for the anchor's chain.
pub const CHAIN_ID: u8 = 16;

/// Most leaves of a forged transactions tree.
const LEAVES_MAX: u64 = 64;
/// Most seizure records relinked.
const SEIZURES_MAX: usize = 64;

/// The value of the last record listed under `key`.
fn get<'a>(records: &'a [RecordProof], key: &[u8]) -> Option<&'a [u8]> {
    records
        .iter()
        .rev()
        .find(|r| r.key == key)
        .and_then(|r| r.value.as_deref())
}

/// Sets every record listed under `key`, or appends one.
fn set(records: &mut Vec<RecordProof>, key: Vec<u8>, value: Option<Vec<u8>>) {
    let mut found = false;
    for r in records.iter_mut().filter(|r| r.key == key) {
        r.value = value.clone();
        found = true;
    }
    if !found {
        records.push(RecordProof {
            key,
            value,
            proof: smt::RecordProof {
                siblings: vec![],
                leaf: None,
            },
        });
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: Option<&[u8]>) -> Option<T> {
    kp_types::decode(bytes?, kp_client::proof::RECORD_BYTES_MAX).ok()
}

/// Makes `p` consistent: see the module documentation; `opts` is a set of
/// the flags above. Leaves oversized proofs alone (`verify` refuses them
/// first).
pub fn forge(p: &mut CertificateProof, opts: u8) {
    if p.acts.len() > PROOF_ACTS_MAX || p.records.len() > kp_api::proof::PROOF_RECORDS_MAX {
        return;
    }
    let chain_id = p.anchor.header.chain_id.clone();
    let old_hashes: Vec<Hash> = p.acts.iter().map(|a| a.tx.hash()).collect();
    for act in &mut p.acts {
        if opts & CHAIN_ID != 0 {
            act.tx.tx.chain_id = chain_id.clone();
        }
        if opts & SIGN_SMALL != 0 {
            // One small-order key per original signer.
            act.tx.tx.signer = small_order::key(usize::from(act.tx.tx.signer.0[0]));
            act.tx.signature = small_order::signature();
        }
    }
    let hashes: Vec<Hash> = p.acts.iter().map(|a| a.tx.hash()).collect();
    // The act a reference names: the one it named before the changes above,
    // else one chosen by its first byte.
    let pick = |h: &Hash| {
        old_hashes
            .iter()
            .position(|old| old == h)
            .unwrap_or(usize::from(h.0[0]) % hashes.len())
    };

    if opts & (LINK_ACTS | LINK_HEIGHTS) != 0 && !hashes.is_empty() {
        let key = keys::certificate(&p.number);
        if let Some(mut record) = decode::<CertificateRecord>(get(&p.records, &key)) {
            for entry in &mut record.history {
                if let Some(tx) = entry.tx {
                    let j = pick(&tx);
                    if opts & LINK_ACTS != 0 {
                        entry.tx = Some(hashes[j]);
                    }
                    if opts & LINK_HEIGHTS != 0 {
                        entry.height = p.acts[j].height;
                    }
                }
            }
            set(&mut p.records, key, Some(kp_types::encode(&record)));
        }
        let index_key = keys::seizures_by_certificate(&p.number);
        if let Some(index) = decode::<SeizureIndex>(get(&p.records, &index_key)) {
            for seq in index.sequences.iter().take(SEIZURES_MAX) {
                let key = keys::seizure(*seq);
                if let Some(mut s) = decode::<SeizureRecord>(get(&p.records, &key)) {
                    let j = pick(&s.tx);
                    if opts & LINK_ACTS != 0 {
                        s.tx = hashes[j];
                    }
                    if opts & LINK_HEIGHTS != 0 {
                        s.height = p.acts[j].height;
                    }
                    set(&mut p.records, key, Some(kp_types::encode(&s)));
                }
            }
        }
    }

    if opts & SIGN_SMALL != 0 {
        for act in &p.acts {
            if let Some(id) = act_authority(&act.tx) {
                let key = keys::authority(id.as_str());
                if let Some(mut a) = decode::<AuthorityRecord>(get(&p.records, &key)) {
                    a.authority.key = act.tx.tx.signer;
                    set(&mut p.records, key, Some(kp_types::encode(&a)));
                }
            }
        }
    }

    // Inclusion and acceptance paths, headers, and the block hashes that tie
    // the headers to the anchor.
    let anchor_height = p.anchor.header.height;
    let mut block_hashes = Vec::new();
    for (act, hash) in p.acts.iter_mut().zip(&hashes) {
        let n = act.inclusion.leaf_count.clamp(1, LEAVES_MAX);
        let index = act.inclusion.index % n;
        let mut txs = vec![Hash::ZERO; n as usize];
        let mut results = vec![Hash::ZERO; n as usize];
        // The transactions tree's leaf binds the signature too.
        txs[index as usize] = act.tx.leaf();
        results[index as usize] = result_leaf(hash, None);
        act.header.height = act.height;
        act.header.txs_root = merkle::root(&txs);
        if let Some(path) = merkle::prove(&txs, index as usize) {
            act.inclusion = path;
        }
        act.result_header.height = act.height.wrapping_add(1);
        act.result_header.results_root = merkle::root(&results);
        if let Some(path) = merkle::prove(&results, index as usize) {
            act.result = path;
        }
        if act.height == anchor_height {
            p.anchor.header.txs_root = act.header.txs_root;
        } else {
            block_hashes.push((act.height, act.header.hash()));
        }
        match act.height.checked_add(1) {
            Some(h) if h == anchor_height => {
                p.anchor.header.results_root = act.result_header.results_root;
            }
            Some(h) => block_hashes.push((h, act.result_header.hash())),
            None => {}
        }
    }
    for (height, hash) in block_hashes {
        set(
            &mut p.records,
            keys::block_hash(height),
            Some(kp_types::encode(&hash)),
        );
    }
    if opts & GENESIS != 0 {
        set(
            &mut p.records,
            keys::meta("genesis"),
            Some(kp_types::encode(&Hash::ZERO)),
        );
    }

    // The records tree and every record's path in it.
    let tree = Tree::from_entries(
        p.records
            .iter()
            .filter_map(|r| {
                r.value
                    .as_ref()
                    .map(|v| (Tree::key_hash(&r.key), Tree::value_hash(v)))
            })
            .collect(),
    );
    p.anchor.header.records_root = tree.root();
    for r in &mut p.records {
        r.proof = tree.prove(&Tree::key_hash(&r.key));
    }
    // Acts of the anchor's height (or the one below) are proven under the
    // anchor itself.
    for act in &mut p.acts {
        if act.height == anchor_height {
            act.header = p.anchor.header.clone();
        }
        if act.height.checked_add(1) == Some(anchor_height) {
            act.result_header = p.anchor.header.clone();
        }
    }
}
