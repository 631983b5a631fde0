//! Trade statistics by period, HS code and partner, and the anomalies
//! computed from them, with the figures behind each.

use kp_ledger::testkit::*;
use kp_ledger::*;
use kp_types::*;

#[test]
fn statistics_by_period_hs_code_and_partner() {
    let mut h = Harness::new_at(at(2026, 1, 1));
    h.set_time(at(2026, 2, 1));
    assert_eq!(h.issue(certificate("BW1", "BW", "EU", h.today())), Ok(()));
    h.confirm_received("BW1", 10_000);
    h.set_time(at(2026, 5, 1));
    let mut c = certificate("BW2", "BW", "IN", h.today());
    c.lines[0].hs_code = HsCode::new(HsCode::INDUSTRIAL);
    assert_eq!(h.issue(c), Ok(()));
    let q1 = h
        .ledger
        .statistics(&code("BW"), Period::Quarter(2026, 1))
        .unwrap();
    assert_eq!(q1.exports.count, 1);
    assert_eq!(q1.exports.carats, Carats(10_000));
    assert_eq!(q1.exports_by_partner[&code("EU")].count, 1);
    let h1 = h
        .ledger
        .statistics(&code("BW"), Period::Half(2026, 1))
        .unwrap();
    assert_eq!(h1.exports.count, 2);
    assert_eq!(h1.exports_by_hs[&HsCode::new(HsCode::GEM)].count, 1);
    assert_eq!(h1.exports_by_hs[&HsCode::new(HsCode::INDUSTRIAL)].count, 1);
    let year = h
        .ledger
        .statistics(&code("BW"), Period::Year(2026))
        .unwrap();
    assert_eq!(year.exports.value_usd, UsdCents(2_000_000));
    let eu = h
        .ledger
        .statistics(&code("EU"), Period::Year(2026))
        .unwrap();
    assert_eq!(eu.imports.count, 1);
    assert_eq!(eu.imports_by_partner[&code("BW")].carats, Carats(10_000));
    // Voiding takes a certificate out of the figures.
    let tx = h.by_authority(
        "BW",
        Payload::VoidCertificate(kp_types::VoidCertificate {
            number: number("BW2"),
            authority: authority_id("BW"),
            reason: "cancelled".into(),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
    let year = h
        .ledger
        .statistics(&code("BW"), Period::Year(2026))
        .unwrap();
    assert_eq!(year.exports.count, 1);
    assert!(!year.exports_by_partner.contains_key(&code("IN")));
}

#[test]
fn anomalies_carry_their_figures() {
    let mut h = Harness::new_at(at(2026, 1, 1));
    // Q1: BW exports 100 ct to EU, EU confirms only 50 ct (mirror mismatch);
    // AE exports at ten times the norm (value per carat); BW has no
    // production or imports (exports beyond supply).
    h.set_time(at(2026, 2, 1));
    assert_eq!(h.issue(certificate("BW1", "BW", "EU", h.today())), Ok(()));
    h.confirm_received("BW1", 5_000);
    for i in 0..3 {
        let n = format!("IN{i}");
        assert_eq!(h.issue(certificate(&n, "IN", "EU", h.today())), Ok(()));
    }
    let mut pricey = certificate("AE1", "AE", "IN", h.today());
    pricey.lines[0].value_usd = UsdCents(10_000_000);
    assert_eq!(h.issue(pricey), Ok(()));
    let tx = h.by_authority(
        "IN",
        Payload::ReportProduction(ProductionReport {
            authority: authority_id("IN"),
            period: Period::Half(2026, 1),
            carats: Carats(1_000_000),
            value_usd: UsdCents(1),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
    // Q2: IN's certificates expired unconfirmed; BW exports three times more.
    h.set_time(at(2026, 4, 10));
    for i in 2..5 {
        let n = format!("BW{i}");
        assert_eq!(h.issue(certificate(&n, "BW", "AE", h.today())), Ok(()));
    }
    let q1 = h.ledger.anomalies(Period::Quarter(2026, 1)).unwrap();
    assert!(q1.iter().any(|a| matches!(a, Anomaly::MirrorMismatch {
        exporter, importer, exported_carats: Carats(10_000), imported_carats: Carats(5_000), difference_pct: 50, ..
    } if *exporter == code("BW") && *importer == code("EU"))), "{q1:#?}");
    assert!(q1.iter().any(|a| matches!(a, Anomaly::ValuePerCaratOutlier { participant, .. } if *participant == code("AE"))), "{q1:#?}");
    assert!(
        q1.iter().any(
            |a| matches!(a, Anomaly::ExpiredUnconfirmed { participant, totals, .. }
        if *participant == code("IN") && totals.count == 3)
        ),
        "{q1:#?}"
    );
    assert!(q1.iter().any(|a| matches!(a, Anomaly::ExportsExceedSupply { participant, .. } if *participant == code("BW"))), "{q1:#?}");
    assert!(!q1.iter().any(|a| matches!(a, Anomaly::ExportsExceedSupply { participant, .. } if *participant == code("IN"))), "IN's production explains its exports");
    let q2 = h.ledger.anomalies(Period::Quarter(2026, 2)).unwrap();
    assert!(q2.iter().any(|a| matches!(a, Anomaly::SharpChange {
        participant, previous_carats: Carats(10_000), current_carats: Carats(30_000), change_pct: 200, ..
    } if *participant == code("BW"))), "{q2:#?}");
}

/// `mirror_mismatch_pct` (10) is compared exactly, not after truncating the
/// percentage: 1,000.00 ct certified against 891.00 ct confirmed (10.9 %) and
/// 899.99 ct (10.001 %) are flagged; 900.00 ct (exactly 10 %) and 900.01 ct
/// are not.
#[test]
fn mirror_mismatch_threshold_is_exact_on_both_sides() {
    let mut h = Harness::new_at(at(2026, 1, 1));
    h.set_time(at(2026, 2, 1));
    let cases = [
        ("BW1", "BW", "EU", 89_100u64, true),
        ("IN1", "IN", "BW", 90_000, false),
        ("AE1", "AE", "BW", 89_999, true),
    ];
    for (n, from, to, received, _) in cases {
        let mut c = certificate(n, from, to, h.today());
        c.lines[0].carats = Carats(100_000);
        c.lines[0].value_usd = UsdCents(100_000 * 200);
        assert_eq!(h.issue(c), Ok(()));
        h.confirm_received(n, received);
    }
    let q1 = h.ledger.anomalies(Period::Quarter(2026, 1)).unwrap();
    for (n, from, to, received, flagged) in cases {
        let found = q1.iter().any(|a| {
            matches!(a, Anomaly::MirrorMismatch { exporter, importer, exported_carats: Carats(100_000), imported_carats, .. }
                if *exporter == code(from) && *importer == code(to) && imported_carats.0 == received)
        });
        assert_eq!(
            found, flagged,
            "{n}: {received} of 100000 confirmed: {q1:#?}"
        );
    }
    // Just under the threshold on the other side: 900.01 ct (9.999 %).
    h.set_time(at(2026, 5, 1));
    let mut c = certificate("BW2", "BW", "EU", h.today());
    c.lines[0].carats = Carats(100_000);
    assert_eq!(h.issue(c), Ok(()));
    h.confirm_received("BW2", 90_001);
    let q2 = h.ledger.anomalies(Period::Quarter(2026, 2)).unwrap();
    assert!(
        !q2.iter()
            .any(|a| matches!(a, Anomaly::MirrorMismatch { .. })),
        "{q2:#?}"
    );
}

/// The transactions of `statistics_in_one_block_or_one_per_block`: issues
/// to two partners with two HS codes, a refused duplicate between them, a
/// confirmation (with a discrepancy), and a void.
fn mixed_transactions(h: &mut Harness) -> Vec<SignedTransaction> {
    let mut txs = h.bw_issues([1, 2, 3]);
    let mut c = certificate("BW4", "BW", "IN", h.today());
    c.lines[0].hs_code = HsCode::new(HsCode::INDUSTRIAL);
    txs.push(h.by_authority("BW", Payload::IssueCertificate(c)));
    // Refused (BW2 is issued already): its changes are dropped.
    txs.extend(h.bw_issues([2]));
    let k = kp_types::ImportConfirmation {
        number: number("BW1"),
        authority: authority_id("EU"),
        carats: Carats(9_000),
        parcels: 2,
        received_on: h.today(),
    };
    txs.push(h.by_authority("EU", Payload::ConfirmImport(k)));
    txs.push(h.by_authority(
        "BW",
        Payload::VoidCertificate(kp_types::VoidCertificate {
            number: number("BW3"),
            authority: authority_id("BW"),
            reason: "cancelled".into(),
        }),
    ));
    txs
}

/// A block's statistics records are decoded once and written once at its
/// end: the figures must be those of the same transactions each in a block
/// of its own, which read and write the records every time.
#[test]
fn statistics_in_one_block_or_one_per_block() {
    let mut one = Harness::new_at(at(2026, 1, 1));
    one.set_time(at(2026, 2, 1));
    let txs = mixed_transactions(&mut one);
    let receipt = one.apply(txs.clone()).unwrap();
    let verdicts: Vec<bool> = receipt.receipts.iter().map(|r| r.result.is_ok()).collect();
    assert_eq!(verdicts, [true, true, true, true, false, true, true]);

    let mut each = Harness::new_at(at(2026, 1, 1));
    each.set_time(at(2026, 2, 1));
    let singles: Vec<bool> = txs.into_iter().map(|tx| each.run(tx).is_ok()).collect();
    assert_eq!(singles, verdicts);

    for member in ["BW", "EU", "IN"] {
        let a = one
            .ledger
            .statistics(&code(member), Period::Year(2026))
            .unwrap();
        let b = each
            .ledger
            .statistics(&code(member), Period::Year(2026))
            .unwrap();
        assert_eq!(a, b, "{member}");
    }
    let bw = one
        .ledger
        .statistics(&code("BW"), Period::Year(2026))
        .unwrap();
    assert_eq!(bw.exports.count, 3, "BW1, BW2, BW4; BW3 voided");
    assert_eq!(bw.exports_by_partner[&code("IN")].count, 1);
    let eu = one
        .ledger
        .statistics(&code("EU"), Period::Year(2026))
        .unwrap();
    assert_eq!((eu.imports.count, eu.discrepancies), (1, 1));
    assert_eq!(
        one.ledger.anomalies(Period::Year(2026)).unwrap(),
        each.ledger.anomalies(Period::Year(2026)).unwrap()
    );
}
