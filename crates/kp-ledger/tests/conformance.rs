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
    // (in the genesis, the member records and the new government-key index).
    assert_eq!(
        genesis_hash,
        "120b311a802e328491c27b3876fa8c03c333d45619e6e4582d57486c334dcdaa"
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
        "269f8869d7b5675d23389acaf8d5a4ffce68da3bcd18758c2a15a3496a084677"
    );
    assert_eq!(
        block_root,
        "f4d6ca8026e07ded3cea5016bab696795b1cd93516cd5901221dd33ab30a1f53"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them (the records root changed with member
    // records, see above).
    assert_eq!(
        genesis_records,
        "758609d160bd8c497af572259aa5d814bc474ac2b99a29951dbd502838db5916"
    );
    assert_eq!(
        block_records,
        "c350dbe8b1cf4879f74bf42b89bf27a90c3335190cb747f783e070cc2e18a886"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
