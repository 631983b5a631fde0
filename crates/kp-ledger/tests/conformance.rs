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
    assert_eq!(
        genesis_hash,
        "3e39ec1d2c979a2fc01ab55ec4018deffa7c82ef5ed648920428e1ce627296a0"
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
        "35ef954711319c88760a6d41b10eb03d49b7e6ad0cf6ed7a97e6a755fbd249f4"
    );
    assert_eq!(
        block_root,
        "534a988fdfd28413a9d0b6b3dab49e17c7dcf28c135f0acb219ca7557dbe0101"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them.
    assert_eq!(
        genesis_records,
        "d339aa27289eb6af73ad30e1fe8084655ddac1f8aaec0f7ef542ea447a0dbf08"
    );
    assert_eq!(
        block_records,
        "b55c79b2f31375be1776630a6819bb4a1bd56c8291ffb522e7c969cb6a19a55b"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
