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
    // recovery delay; ADR 0008), and when each member's count of
    // registered authorities became a record (table 0x1A), which a light
    // client proves a list of authorities complete against, and (the block
    // root only) when the index of certificates by authority (0x19) left
    // the state root. The genesis
    // hash did not change: the genesis lists `Participant`s, not member
    // records.
    assert_eq!(
        genesis_root,
        "739d98774f41d7e832512f2bfa1df72964c11f920495de3bfa361de59c27065e"
    );
    assert_eq!(
        block_root,
        "f09c4d517ae8237f0de1f6b6b541f85fbba6b4b501cb1218412df71301ddcc3f"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them (the records root changed with member
    // records, see above).
    assert_eq!(
        genesis_records,
        "504b1c3d1a798d5ba3f1efd5bc10d089ffd8a686ba1de05294f08999dcafc8ff"
    );
    assert_eq!(
        block_records,
        "55859ac9af28f3e3f4661d73a7b0c27f5e488b4a76c1f08d9af64ad179ce9f9c"
    );
    assert_eq!(
        block_results,
        "90938e62b9781f8008e36889c6db824892e1c19fd273952e3fb55684c52629bf"
    );
}
