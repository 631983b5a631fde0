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
    // the state keeps.
    assert_eq!(
        genesis_root,
        "e1a53b9c8f3ecba673811a4b15149415b510d860c6562c3e87d5f9c60ba08e4e"
    );
    assert_eq!(
        block_root,
        "cc104abad6bad3c381f4b451ce64641f33de1bcda6ca0a0f960b62f46587838d"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them.
    assert_eq!(
        genesis_records,
        "cd2c4951bd87aaf0bc37c32579d94a200437a7b7afc08c32d3487386bc0196aa"
    );
    assert_eq!(
        block_records,
        "fb608478bdc00fc216ca6d5502aed940b96e93c60e660207499d20afce089a5a"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
