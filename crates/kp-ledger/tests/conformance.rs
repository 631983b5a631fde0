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
    // certificates `parties`, plain or sealed (ADR 0011).
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
    // recovery delay; ADR 0008), and when each member's count of
    // registered authorities became a record (table 0x1A), which a light
    // client proves a list of authorities complete against, and (the block
    // root only) when the index of certificates by authority (0x19) left
    // the state root, and when authority records gained `previous_keys`
    // (the keys a rotation replaced; ADR 0008).
    assert_eq!(
        genesis_root,
        "bc47d426c905d83aae4a020ab9cecbb393e4b83a661f3e9a9fcbd9c05aa4e44b"
    );
    assert_eq!(
        block_root,
        "666006b2239cec3b4cf8cc7e8e2cba76b4ece979aef36d2cc7679debfa3e6290"
    );
    // The authenticated map of records (`kp_types::smt`) and the results
    // tree, as headers carry them (the records root changed with member
    // records, see above).
    assert_eq!(
        genesis_records,
        "089a1c6a9ad1fe8dee2b3bb3291582b559291267e7272f8839af1bcb3b529622"
    );
    assert_eq!(
        block_records,
        "f4dd45a2c6b4a6933e42436e4e080d51bacbf94f6a3308881c71cc029d80cfc6"
    );
    assert_eq!(
        block_results,
        "ede4618fac18ccc03614088f8f9d783e0c80908de22d04d00f74fb9326533af6"
    );
}
