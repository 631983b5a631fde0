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
    let c = certificate("BW0000001", "BW", "EU", h.today());
    let tx = h.by_authority("BW", Payload::IssueCertificate(c));
    let receipt = h.apply(vec![tx]).unwrap();
    let block_root = receipt.state_root.to_hex();
    assert_eq!(
        genesis_hash,
        "3e39ec1d2c979a2fc01ab55ec4018deffa7c82ef5ed648920428e1ce627296a0"
    );
    // Both roots changed when the bucket tree gave way to the lattice state
    // hash (`root.rs`).
    assert_eq!(
        genesis_root,
        "0351abd33d8b1465a39ffe01a8cc9b009a7e1b0875275281402d4181e1ec0df0"
    );
    // Changed when the expiry indexes of executed transactions (0x0D) and
    // of certificates (0x08) moved to version 2: one entry per block and
    // expiry window or date instead of one per hash or certificate.
    assert_eq!(
        block_root,
        "99c052b2effd15042a9a692e23496f53795861c3e56b47f6aff78a7fef23fcb4"
    );
}
