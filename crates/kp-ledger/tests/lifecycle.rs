//! One row per certificate lifecycle transition, and the verdicts around
//! them: discrepancies on confirmation, refused transactions inside blocks,
//! and expiry judged alike at admission and in a block.

mod common;
use common::*;
use kp_ledger::testkit::*;
use kp_ledger::{CertificateStatus, LedgerEvent};
use kp_types::*;

fn status(h: &Harness, n: &str) -> CertificateStatus {
    h.ledger.certificate(&number(n)).unwrap().unwrap().status
}

/// One row per lifecycle transition: from a certificate in `from`, the act
/// leads to `to`, with an event saying so.
#[test]
fn lifecycle_transitions() {
    type Act = Box<dyn Fn(&mut Harness) -> SignedTransaction>;
    let confirm_act: Act = Box::new(|h| {
        let k = confirm(h);
        h.by_authority("EU", Payload::ConfirmImport(k))
    });
    let void_act: Act = Box::new(|h| {
        h.by_authority(
            "BW",
            Payload::VoidCertificate(VoidCertificate {
                number: number("BW0000001"),
                authority: authority_id("BW"),
                reason: "buyer withdrew".into(),
            }),
        )
    });
    let seize_act: Act = Box::new(|h| {
        let mut s = seizure(h);
        s.certificate = Some(number("BW0000001"));
        s.reason = SeizureReason::ContentsMismatch;
        h.by_authority("EU", Payload::ReportSeizure(s))
    });
    let approve_act: Act = Box::new(|h| {
        h.by_node(
            "WDC",
            Payload::ApproveCertificate(CertificateApproval {
                number: number("BW0000001"),
                monitor: code("WDC"),
            }),
        )
    });
    use CertificateStatus::*;
    /// Name, setup, act (`None`: let it expire), status before, status after.
    type Transition = (
        &'static str,
        fn(&mut Harness),
        Option<Act>,
        CertificateStatus,
        CertificateStatus,
    );
    let rows: Vec<Transition> = vec![
        (
            "issued -> confirmed",
            issued,
            Some(confirm_act),
            Issued,
            Confirmed,
        ),
        ("issued -> voided", issued, Some(void_act), Issued, Voided),
        ("issued -> seized", issued, Some(seize_act), Issued, Seized),
        ("issued -> expired", issued, None, Issued, Expired),
        (
            "awaiting -> issued",
            awaiting,
            Some(approve_act),
            AwaitingApproval,
            Issued,
        ),
        (
            "awaiting -> voided",
            awaiting,
            Some(Box::new(|h: &mut Harness| {
                h.by_authority(
                    "BW",
                    Payload::VoidCertificate(VoidCertificate {
                        number: number("BW0000001"),
                        authority: authority_id("BW"),
                        reason: "monitor refused".into(),
                    }),
                )
            })),
            AwaitingApproval,
            Voided,
        ),
        (
            "awaiting -> seized",
            awaiting,
            Some(Box::new(|h: &mut Harness| {
                let mut s = seizure(h);
                s.certificate = Some(number("BW0000001"));
                h.by_authority("EU", Payload::ReportSeizure(s))
            })),
            AwaitingApproval,
            Seized,
        ),
        (
            "awaiting -> expired",
            awaiting,
            None,
            AwaitingApproval,
            Expired,
        ),
    ];
    for (name, setup, act, from, to) in rows {
        let mut h = Harness::new();
        setup(&mut h);
        assert_eq!(status(&h, "BW0000001"), from, "{name}");
        let receipt = match act {
            Some(act) => {
                let tx = act(&mut h);
                let r = h.apply(vec![tx]).unwrap();
                assert_eq!(r.receipts[0].result, Ok(()), "{name}");
                r
            }
            None => {
                // Valid through the expiry date, expired from the next day.
                let expiry = h
                    .ledger
                    .certificate(&number("BW0000001"))
                    .unwrap()
                    .unwrap()
                    .certificate
                    .expires_on;
                h.set_time(kp_types::Timestamp::at_start_of(expiry).plus_ms(3_600_000));
                let r = h.apply(vec![]).unwrap();
                assert_eq!(
                    status(&h, "BW0000001"),
                    from,
                    "{name}: not expired on its expiry date"
                );
                assert!(
                    r.events.is_empty()
                        || !r.events.iter().any(|e| matches!(
                            e,
                            LedgerEvent::CertificateStatusChanged { to: Expired, .. }
                        ))
                );
                h.set_time(kp_types::Timestamp::at_start_of(expiry.plus_days(1)));
                h.apply(vec![]).unwrap()
            }
        };
        assert_eq!(status(&h, "BW0000001"), to, "{name}");
        assert!(
            receipt.events.iter().any(|e| matches!(e,
                LedgerEvent::CertificateStatusChanged { from: Some(f), to: t, .. } if *f == from && *t == to)),
            "{name}: {:?}", receipt.events
        );
        let rec = h.ledger.certificate(&number("BW0000001")).unwrap().unwrap();
        assert!(rec.history.len() >= 2, "{name}");
    }
}

#[test]
fn confirmation_records_discrepancy() {
    let mut h = Harness::new();
    issued(&mut h);
    let mut k = confirm(&h);
    k.carats = Carats(9_000);
    let tx = h.by_authority("EU", Payload::ConfirmImport(k));
    let r = h.apply(vec![tx]).unwrap();
    assert_eq!(r.receipts[0].result, Ok(()));
    let rec = h.ledger.certificate(&number("BW0000001")).unwrap().unwrap();
    let d = rec.discrepancy.expect("discrepancy kept");
    assert_eq!(
        (d.certified_carats, d.received_carats),
        (Carats(10_000), Carats(9_000))
    );
    let stats = h
        .ledger
        .statistics(&code("EU"), Period::Quarter(2026, 1))
        .unwrap();
    assert_eq!(stats.discrepancies, 1);
    assert_eq!(stats.imports.carats, Carats(9_000));
}

#[test]
fn rejected_transaction_in_block_changes_nothing_but_is_remembered() {
    let mut h = Harness::new();
    let mut bad = base_cert(&h);
    bad.lines.push(CertificateLine {
        hs_code: HsCode::new("7103.10"),
        carats: Carats(1),
        value_usd: kp_types::UsdCents(1),
        parcels: 1,
    });
    let tx = issue_tx(&mut h, bad);
    let root_before = h.ledger.state_root();
    let r = h.apply(vec![tx.clone()]).unwrap();
    assert_eq!(
        r.receipts[0].result.as_ref().unwrap_err().code(),
        "hs-code-not-rough"
    );
    assert!(h
        .ledger
        .certificate(&number("BW0000001"))
        .unwrap()
        .is_none());
    assert_ne!(
        h.ledger.state_root(),
        root_before,
        "height and executed hash changed"
    );
    // The refused transaction cannot be included again.
    let r = h.apply(vec![tx]).unwrap();
    assert_eq!(
        r.receipts[0].result.as_ref().unwrap_err().code(),
        "already-executed"
    );
}

/// Acts on a certificate past its expiry get the same verdict at admission
/// (no housekeeping) and in the block (housekeeping marked it expired).
#[test]
fn expiry_verdicts_agree_between_admission_and_block() {
    type Case = (
        &'static str,
        fn(&mut Harness),
        fn(&mut Harness) -> SignedTransaction,
    );
    let acts: Vec<Case> = vec![
        ("confirm", issued, |h| {
            let k = confirm(h);
            h.by_authority("EU", Payload::ConfirmImport(k))
        }),
        ("void", issued, |h| {
            h.by_authority(
                "BW",
                Payload::VoidCertificate(VoidCertificate {
                    number: number("BW0000001"),
                    authority: authority_id("BW"),
                    reason: "late".into(),
                }),
            )
        }),
        ("approve", awaiting, |h| {
            h.by_node(
                "WDC",
                Payload::ApproveCertificate(CertificateApproval {
                    number: number("BW0000001"),
                    monitor: code("WDC"),
                }),
            )
        }),
    ];
    for (name, setup, act) in acts {
        let mut h = Harness::new();
        setup(&mut h);
        let t = h.time.plus_ms(31 * 86_400_000);
        h.set_time(t);
        let tx = act(&mut h);
        let admitted = h.ledger.check_tx(&tx, h.time);
        let executed = h.run(tx);
        assert_eq!(admitted, executed, "{name}");
        assert_eq!(
            executed.unwrap_err().code(),
            "certificate-expired",
            "{name}"
        );
    }
}
