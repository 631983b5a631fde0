//! Conformance hashes: the fixture genesis's hash and state root, and the root
//! after one fixed block, frozen. A change here means a change of the state
//! layout, the encoding or the root scheme: every replica must upgrade
//! together, and the key versions in `keys` should say so.

use kp_ledger::testkit::*;
use kp_types::Payload;

#[test]
fn frozen_roots() {
    let mut h = Harness::new();
    let genesis_hash = genesis().hash().to_hex();
    let genesis_root = h.ledger.state_root().to_hex();
    let genesis_records = h.ledger.records_root().to_hex();
    let c = certificate("BW0000001", "BW", "EU", h.today());
    let tx = h.by_authority("BW", Payload::IssueCertificate(c));
    let receipt = h.apply(vec![tx]).unwrap();
    let block_root = receipt.state_root.to_hex();
    let block_records = h.ledger.records_root().to_hex();
    let block_results = h.ledger.results_root().to_hex();
    // Every hash here changed when the parameters gained
    // `pending_resolutions_per_proposer_max`, and again when they gained
    // `recovery_delay_ms` and members their government and recovery keys
    // (in the genesis, the member records and the new government-key index),
    // and (every hash) when authorities gained `encryption_key` and
    // certificates `parties`, plain or sealed (ADR 0009).
    assert_eq!(
        genesis_hash,
        "11db3e4e1ee4b8ce71f6fa6672f6e32fe0336665bef5019d0f618a436840a3df"
    );
    // Both roots changed when the bucket tree gave way to the lattice state
    // hash (`root.rs`), when the expiry indexes moved to version 2, when
    // the state gained the validator sets, the results root, the block
    // hashes and the seizure index that light clients prove, and (the block
    // roots only) when a header's transactions root came to commit to the
    // signatures (`SignedTransaction::leaf`), which changed the block hash
    // the state keeps, and when authority records gained `compromised_since`
    // and certificate records `issued_at` and `sanctioned_origin` (a
    // revocation as compromised; sanction-aware origin), and (the block
    // root only: the records root leaves it out) when an issue came to
    // write the index of certificates by authority (table 0x19), and when
    // member records gained `node_key_rotated_at` (a node key installed by
    // the government key counts toward cancelling a recovery only after one
    // recovery delay; ADR 0008). The genesis hash did not change: the
    // genesis lists `Participant`s, not member records.
    assert_eq!(
        genesis_root,
        "775c41575e67c592426984f925842cf5dcdf6ec149cff0379720260939b23f38"
    );
    assert_eq!(
        block_root,
        "a7ecb6e45211727002c981e5649b5819322a9032e4d997be955f6dc15968ddcd"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them (the records root changed with member
    // records, see above).
    assert_eq!(
        genesis_records,
        "7f5b59cd89269c568fa2a70ecb3e6b4d5ecf5ce1090926fab38f3365fa65c3fc"
    );
    assert_eq!(
        block_records,
        "289446cea4b4f3bf8d6c607bbefc7fbb62e7fe6e9620f106fd039348e4a23f32"
    );
    assert_eq!(
        block_results,
        "ede4618fac18ccc03614088f8f9d783e0c80908de22d04d00f74fb9326533af6"
    );
}
