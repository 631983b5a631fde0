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
    // the state keeps.
    assert_eq!(
        genesis_root,
        "4bcf5d4ebe1d36f6b14f20d6fa23cbccb134bd89499be30709e95a2a02e99d4c"
    );
    assert_eq!(
        block_root,
        "f02b5d8a2883d74262886fb2a9d65f35527cdcfb3ef3691295d587a5b2274c51"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them.
    assert_eq!(
        genesis_records,
        "934251e96a3de2538735c1f8078d5aa3a6e32362438726c6d7af503effe23a4b"
    );
    assert_eq!(
        block_records,
        "78b277717382c6967448d7ad5e4d001053d55fe4af98a51474aadc3e1d18a190"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
