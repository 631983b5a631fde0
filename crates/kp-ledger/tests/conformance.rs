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
    // `pending_resolutions_per_proposer_max` (they are in the genesis and
    // in the state).
    assert_eq!(
        genesis_hash,
        "30077387efc146cc1c61e9419127cc992e2cc3e0413f7e2f6d030e812848ca48"
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
    // write the index of certificates by authority (table 0x16).
    assert_eq!(
        genesis_root,
        "d3eff9410b49651e42744e008dfcccf650ddea37566c71bc7e2ff0937848263b"
    );
    assert_eq!(
        block_root,
        "06a149538404512f55dfc08b66144142feeb95a9812a37312504ac070c8b0ba0"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them.
    assert_eq!(
        genesis_records,
        "99b0b47d59ae6148a73ee34f935545fadc0bcc6ef4c65891e1385e70c223cd51"
    );
    assert_eq!(
        block_records,
        "262513f3efeb30cc74c9f6729e77c5358644fe54895283da60444fe005c46f73"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
