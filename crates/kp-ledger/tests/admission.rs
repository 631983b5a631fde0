//! Admission checks as the mempool uses them: `check_tx` on entry (signature
//! and rules), `check_tx_rules` on re-checks after each block (rules only).

use kp_ledger::testkit::{self, Harness};
use kp_ledger::Rejection;
use kp_types::Payload;

#[test]
fn rules_only_check_skips_the_signature_and_keeps_every_rule() {
    let mut h = Harness::new();
    let today = h.today();
    let cert = testkit::certificate("BW0000001", "BW", "EU", today);
    let tx = h.by_authority("BW", Payload::IssueCertificate(cert.clone()));
    let now = h.ledger.last_block_time().plus_ms(1000);
    assert_eq!(h.ledger.check_tx(&tx, now), Ok(()));
    assert_eq!(h.ledger.check_tx_rules(&tx, now), Ok(()));

    let mut forged = tx.clone();
    forged.signature.0[0] ^= 1;
    assert_eq!(
        h.ledger.check_tx(&forged, now),
        Err(Rejection::BadSignature)
    );
    assert_eq!(h.ledger.check_tx_rules(&forged, now), Ok(()));

    // Once the certificate is on the ledger, a second issue of the same
    // number breaks a rule, and the rules-only check sees it.
    assert_eq!(h.run(tx), Ok(()));
    let again = h.by_authority("BW", Payload::IssueCertificate(cert));
    let now = h.ledger.last_block_time().plus_ms(1000);
    let verdict = h.ledger.check_tx_rules(&again, now);
    assert!(verdict.is_err(), "duplicate number accepted");
    assert_eq!(verdict, h.ledger.check_tx(&again, now));
}
