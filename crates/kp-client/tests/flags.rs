//! What `cert verify` proves about a certificate's flags without trusting
//! the node: an issuing authority revoked as compromised (from the proven
//! authority record and the issue act's proven header time), a sanctioned
//! declared origin and a late confirmation (from the proven record).

mod common;

use common::*;
use kp_client::Verdict;
use kp_ledger::testkit::*;
use kp_types::{
    Certificate, ImportConfirmation, Origin, OriginRule, Payload, ResolutionAction, SanctionScope,
};

fn alert_kinds(c: &TestChain, n: &str) -> Vec<String> {
    let proof = c.prove(n);
    match c.verdict(&proof, n) {
        Verdict::Authentic(v) => v.alerts.iter().map(|a| a.kind.clone()).collect(),
        other => panic!("expected AUTHENTIC, got {other:?}"),
    }
}

#[test]
fn a_compromised_issuer_is_proven_for_certificates_issued_since_then_only() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    let since = c.h.time;
    c.issue("BW0000002", "BW", "EU");
    let tx = c.h.by_node(
        "BW",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: Some(since),
        },
    );
    c.run(tx);
    c.seal();
    let before = alert_kinds(&c, "BW0000001");
    assert!(
        before.contains(&"authority-revoked".to_string()),
        "{before:?}"
    );
    assert!(
        !before.contains(&"compromised-authority".to_string()),
        "{before:?}"
    );
    let after = alert_kinds(&c, "BW0000002");
    assert!(
        after.contains(&"compromised-authority".to_string()),
        "{after:?}"
    );
}

#[test]
fn a_sanctioned_origin_and_a_late_confirmation_are_proven() {
    let mut c = TestChain::new();
    c.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        scope: SanctionScope::FullSuspension,
        origin: OriginRule::Flag,
    });
    let mut cert: Certificate = certificate("CG0000001", "CG", "AE", c.h.today());
    cert.origin = Origin::Countries(vec![territory("CF")]);
    let tx = c.h.by_authority("CG", Payload::IssueCertificate(cert));
    c.run(tx);

    // Issued 40 days before today: expired; the goods arrived in time.
    let issued_on = kp_types::Date(c.h.today().0 - 40);
    let cert = certificate("BW0000001", "BW", "EU", issued_on);
    let expires_on = cert.expires_on;
    let tx = c.h.by_authority("BW", Payload::IssueCertificate(cert));
    c.run(tx);
    let tx = c.h.by_authority(
        "EU",
        Payload::ConfirmImport(ImportConfirmation {
            number: number("BW0000001"),
            authority: authority_id("EU"),
            carats: kp_types::Carats(10_000),
            parcels: 2,
            received_on: expires_on,
        }),
    );
    c.run(tx);
    c.seal();

    let kinds = alert_kinds(&c, "CG0000001");
    assert!(
        kinds.contains(&"sanctioned-origin".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"enhanced-vigilance".to_string()),
        "{kinds:?}"
    );
    let kinds = alert_kinds(&c, "BW0000001");
    assert!(
        kinds.contains(&"late-confirmation".to_string()),
        "{kinds:?}"
    );
}
