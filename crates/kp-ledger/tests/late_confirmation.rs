//! Late import confirmations: goods received on or before the certificate's
//! expiry date may be confirmed after it, flagged late; the certificate moves
//! from expired to confirmed and the statistics follow exactly. Goods
//! received after expiry are still refused.

use kp_ledger::testkit::*;
use kp_ledger::{CertificateEventKind, CertificateStatus, LedgerEvent};
use kp_types::{
    CertificateApproval, Date, ImportConfirmation, Payload, Period, ResolutionAction, SanctionScope,
};

fn confirm(h: &mut Harness, n: &str, received_on: Date) -> kp_types::SignedTransaction {
    h.by_authority(
        "EU",
        Payload::ConfirmImport(ImportConfirmation {
            number: number(n),
            authority: authority_id("EU"),
            carats: kp_types::Carats(10_000),
            parcels: 2,
            received_on,
        }),
    )
}

const Q1: fn() -> Period = || "2026Q1".parse().unwrap();

#[test]
fn a_confirmation_after_expiry_of_goods_received_before_it_is_accepted_and_flagged_late() {
    let mut h = Harness::new();
    h.set_time(at(2026, 1, 10));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    // Expires on 2026-02-09; the first block of 2026-02-20 marks it expired.
    h.set_time(at(2026, 2, 20));
    h.apply(vec![]).unwrap();
    let record = h.ledger.certificate(&number("BW001")).unwrap().unwrap();
    assert_eq!(record.status, CertificateStatus::Expired);
    let bw = h.ledger.statistics(&code("BW"), Q1()).unwrap();
    assert_eq!(bw.expired_unconfirmed.count, 1);
    assert_eq!(bw.expired_numbers, vec![number("BW001")]);
    assert_eq!(bw.exports.count, 1);

    let tx = confirm(&mut h, "BW001", date(2026, 2, 5));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt
        .events
        .contains(&LedgerEvent::CertificateStatusChanged {
            number: number("BW001"),
            from: Some(CertificateStatus::Expired),
            to: CertificateStatus::Confirmed,
            tx: Some(receipt.receipts[0].tx_hash),
        }));

    let record = h.ledger.certificate(&number("BW001")).unwrap().unwrap();
    assert_eq!(record.status, CertificateStatus::Confirmed);
    let r = record.receipt.unwrap();
    assert!(r.late);
    assert_eq!(r.received_on, date(2026, 2, 5));
    let events: Vec<_> = record.history.iter().map(|e| e.event).collect();
    assert_eq!(
        events,
        [
            CertificateEventKind::Issued,
            CertificateEventKind::Expired,
            CertificateEventKind::Confirmed
        ]
    );

    // No longer expired unconfirmed; the import counts in its receipt's
    // quarter; the export stays counted once.
    let bw = h.ledger.statistics(&code("BW"), Q1()).unwrap();
    assert_eq!(bw.expired_unconfirmed.count, 0);
    assert!(bw.expired_numbers.is_empty());
    assert_eq!(bw.exports.count, 1);
    let eu = h.ledger.statistics(&code("EU"), Q1()).unwrap();
    assert_eq!(eu.imports.count, 1);
    assert_eq!(eu.imports_by_partner[&code("BW")].count, 1);
    let anomalies = h.ledger.anomalies(Q1()).unwrap();
    assert!(
        !anomalies
            .iter()
            .any(|a| matches!(a, kp_ledger::Anomaly::ExpiredUnconfirmed { .. })),
        "{anomalies:?}"
    );
    // Once is enough.
    let tx = confirm(&mut h, "BW001", date(2026, 2, 5));
    assert_eq!(h.run(tx).unwrap_err().code(), "wrong-certificate-status");
}

#[test]
fn goods_received_after_expiry_are_still_refused_and_nothing_changes() {
    let mut h = Harness::new();
    h.set_time(at(2026, 1, 10));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    h.set_time(at(2026, 2, 20));
    // The expiry date itself is still in time; the day after is not.
    let tx = confirm(&mut h, "BW001", date(2026, 2, 10));
    assert_eq!(h.run(tx).unwrap_err().code(), "certificate-expired");
    let record = h.ledger.certificate(&number("BW001")).unwrap().unwrap();
    assert_eq!(record.status, CertificateStatus::Expired);
    assert_eq!(record.receipt, None);
    let bw = h.ledger.statistics(&code("BW"), Q1()).unwrap();
    assert_eq!(bw.expired_unconfirmed.count, 1);
    assert_eq!(
        h.ledger
            .statistics(&code("EU"), Q1())
            .unwrap()
            .imports
            .count,
        0
    );

    let tx = confirm(&mut h, "BW001", date(2026, 2, 9));
    assert_eq!(h.run(tx), Ok(()));
    assert!(
        h.ledger
            .certificate(&number("BW001"))
            .unwrap()
            .unwrap()
            .receipt
            .unwrap()
            .late
    );
}

#[test]
fn a_confirmation_before_expiry_is_not_late() {
    let mut h = Harness::new();
    h.set_time(at(2026, 1, 10));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    h.set_time(at(2026, 2, 9));
    let tx = confirm(&mut h, "BW001", date(2026, 2, 9));
    assert_eq!(h.run(tx), Ok(()));
    let record = h.ledger.certificate(&number("BW001")).unwrap().unwrap();
    assert!(!record.receipt.unwrap().late);
}

#[test]
fn admission_and_execution_agree_before_housekeeping_marks_it_expired() {
    let mut h = Harness::new();
    h.set_time(at(2026, 1, 10));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    // The last block is before expiry: the stored status is still issued.
    let now = at(2026, 2, 20);
    h.set_time(now);
    let ok = confirm(&mut h, "BW001", date(2026, 2, 1));
    let too_late = confirm(&mut h, "BW001", date(2026, 2, 15));
    assert_eq!(
        h.ledger
            .certificate(&number("BW001"))
            .unwrap()
            .unwrap()
            .status,
        CertificateStatus::Issued
    );
    assert_eq!(h.ledger.check_tx(&ok, now).map_err(|r| r.code()), Ok(()));
    assert_eq!(
        h.ledger.check_tx(&too_late, now).unwrap_err().code(),
        "certificate-expired"
    );
    let receipt = h.apply(vec![too_late, ok]).unwrap();
    assert_eq!(
        receipt.receipts[0].result.as_ref().unwrap_err().code(),
        "certificate-expired"
    );
    assert_eq!(receipt.receipts[1].result, Ok(()));
    let bw = h.ledger.statistics(&code("BW"), Q1()).unwrap();
    assert_eq!(bw.expired_unconfirmed.count, 0);
}

#[test]
fn a_certificate_that_expired_awaiting_approval_cannot_be_confirmed_late() {
    let mut h = Harness::new();
    h.set_time(at(2026, 1, 5));
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        scope: SanctionScope::PartialExports {
            green_zones: vec!["Orapa".into()],
            monitor: Some(code("WDC")),
        },
        origin: Default::default(),
    });
    let mut c = certificate("BW001", "BW", "EU", h.today());
    c.origin_zones = vec!["Orapa".into()];
    assert_eq!(h.issue(c), Ok(()));
    // Before housekeeping marks it (admission) and after (in a block).
    h.set_time(at(2026, 2, 20));
    let tx = confirm(&mut h, "BW001", date(2026, 2, 1));
    assert_eq!(
        h.ledger.check_tx(&tx, h.time).unwrap_err().code(),
        "certificate-expired"
    );
    h.apply(vec![]).unwrap();
    assert_eq!(
        h.ledger
            .certificate(&number("BW001"))
            .unwrap()
            .unwrap()
            .status,
        CertificateStatus::Expired
    );
    assert_eq!(h.run(tx).unwrap_err().code(), "certificate-expired");
    // Nor approved late.
    let tx = h.by_node(
        "WDC",
        Payload::ApproveCertificate(CertificateApproval {
            number: number("BW001"),
            monitor: code("WDC"),
        }),
    );
    assert_eq!(h.run(tx).unwrap_err().code(), "certificate-expired");
}
