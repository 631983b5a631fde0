//! Tests of the backend: indexed alerts against per-lookup alerts, the bounded block cache.

use super::*;
use kp_ledger::testkit::{authority_id, certificate, code, number, territory, Harness};
use kp_types::{Carats, Payload, ResolutionAction, SanctionScope, SeizureReason, SeizureReport};
use serde_json::{json, Value};

/// The certificate answer as it was built before the alert index: full
/// participant records and a scan of the seizure list per lookup, then
/// `serde_json::Value`. The oracle the indexed answer must equal.
fn certificate_value_per_lookup<S: StateStore>(
    ledger: &kp_ledger::Ledger<S>,
    number: &CertificateNumber,
) -> Value {
    let record = ledger.certificate(number).unwrap().unwrap();
    let mut alerts = Vec::new();
    for side in [&record.certificate.exporting, &record.certificate.importing] {
        if let Some(p) = ledger.participant(side).unwrap() {
            if let Some(s) = &p.sanction {
                alerts.push(json!({
                    "kind": "sanction",
                    "participant": side,
                    "scope": s.scope,
                    "since_height": s.since_height,
                    "resolution": s.resolution,
                }));
            }
            if !p.is_active() {
                alerts
                    .push(json!({ "kind": "membership", "participant": side, "status": p.status }));
            }
        }
    }
    for seizure in ledger
        .seizures(kp_ledger::SEIZURES_LIST_MAX)
        .unwrap()
        .into_iter()
        .filter(|s| s.report.certificate.as_ref() == Some(number))
    {
        alerts.push(json!({ "kind": "seizure", "seizure": seizure }));
    }
    if record.enhanced_vigilance {
        alerts.push(json!({ "kind": "enhanced-vigilance" }));
    }
    let mut value = serde_json::to_value(&record).unwrap();
    value
        .as_object_mut()
        .unwrap()
        .insert("alerts".into(), Value::Array(alerts));
    value
}

fn indexed_answer<S: StateStore>(
    ledger: &kp_ledger::Ledger<S>,
    index: &AlertIndex,
    number: &CertificateNumber,
) -> Value {
    JsonBody::new(&typed_answer(ledger, index, number))
        .unwrap()
        .to_value()
        .unwrap()
}

fn typed_answer<S: StateStore>(
    ledger: &kp_ledger::Ledger<S>,
    index: &AlertIndex,
    number: &CertificateNumber,
) -> CertificateAnswer {
    let record = ledger.certificate(number).unwrap().unwrap();
    let alerts = index.alerts(&record);
    CertificateAnswer { record, alerts }
}

fn report_seizure(h: &mut Harness, certificate: Option<&str>, carats: u64) {
    let tx = h.by_authority(
        "EU",
        Payload::ReportSeizure(SeizureReport {
            authority: authority_id("EU"),
            territory: territory("DE"),
            location: "Frankfurt".into(),
            carats: Carats(carats),
            value_usd: None,
            reason: if certificate.is_some() {
                SeizureReason::ContentsMismatch
            } else {
                SeizureReason::NoCertificate
            },
            certificate: certificate.map(number),
            seized_on: h.today(),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));
}

/// Every kind of alert (sanction, membership, seizures, enhanced
/// vigilance) comes out of the per-height index exactly as the
/// per-lookup reads rendered it, and an index of an earlier height is
/// told apart from the current one.
#[test]
fn indexed_alerts_equal_per_lookup_alerts() {
    let mut h = Harness::new();
    let today = h.today();
    assert_eq!(h.issue(certificate("BW2026001", "BW", "CG", today)), Ok(()));
    assert_eq!(h.issue(certificate("BW2026002", "BW", "EU", today)), Ok(()));
    let plain = AlertIndex::read(&h.ledger, h.ledger.height()).unwrap();
    assert!(plain.participants.is_empty() && plain.seizures.is_empty());

    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        origin: Default::default(),
        scope: SanctionScope::ExportBan,
    });
    h.adopt(ResolutionAction::Expel {
        participant: code("CG"),
    });
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("AE"),
        origin: Default::default(),
        scope: SanctionScope::EnhancedVigilance,
    });
    let today = h.today();
    assert_eq!(h.issue(certificate("AE2026001", "AE", "EU", today)), Ok(()));
    report_seizure(&mut h, Some("BW2026001"), 100);
    report_seizure(&mut h, None, 150);
    report_seizure(&mut h, Some("BW2026001"), 200);
    report_seizure(&mut h, Some("AE2026001"), 300);

    let index = AlertIndex::read(&h.ledger, h.ledger.height()).unwrap();
    assert_eq!(index.height, h.ledger.height());
    assert_eq!(index.participants.len(), 3, "BW, CG and AE raise alerts");
    for n in ["BW2026001", "BW2026002", "AE2026001"] {
        let number = number(n);
        let old = certificate_value_per_lookup(&h.ledger, &number);
        assert_eq!(indexed_answer(&h.ledger, &index, &number), old, "{n}");
        // The JSON the node served before the typed answers decodes into
        // the type the client reads.
        let decoded: CertificateAnswer = serde_json::from_value(old).unwrap();
        assert_eq!(decoded, typed_answer(&h.ledger, &index, &number), "{n}");
    }
    let kinds = |n: &str| -> Vec<String> {
        certificate_value_per_lookup(&h.ledger, &number(n))["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    };
    // The oracle covers every kind, so the equality above checks them all.
    assert_eq!(
        kinds("BW2026001"),
        ["sanction", "membership", "seizure", "seizure"]
    );
    assert_eq!(
        kinds("AE2026001"),
        ["sanction", "seizure", "enhanced-vigilance"]
    );
    // Newest seizure first, as in the seizure list.
    let alerts = indexed_answer(&h.ledger, &index, &number("BW2026001"))["alerts"].clone();
    assert_eq!(alerts[2]["seizure"]["report"]["carats"], json!("2.00"));
    // The index of the earlier height no longer matches the ledger.
    assert_ne!(
        indexed_answer(&h.ledger, &plain, &number("BW2026001")),
        certificate_value_per_lookup(&h.ledger, &number("BW2026001"))
    );
}

fn decided(height: u64, stored_bytes: usize) -> Arc<DecidedBlock> {
    Arc::new(DecidedBlock {
        height,
        block: None,
        receipts: None,
        stored_bytes,
    })
}

/// The block cache keeps at most its count and byte budget, drops the
/// oldest first, and never keeps a block larger than the budget.
#[test]
fn block_cache_is_bounded_oldest_first() {
    let mut cache = BlockCache::default();
    for height in 1..=(BLOCK_CACHE_BLOCKS_MAX as u64 + 3) {
        cache.insert(decided(height, 10));
    }
    assert_eq!(cache.entries.len(), BLOCK_CACHE_BLOCKS_MAX);
    assert!(cache.get(3).is_none());
    assert!(cache.get(4).is_some());
    assert_eq!(cache.stored_bytes, 10 * BLOCK_CACHE_BLOCKS_MAX);

    cache.insert(decided(100, BLOCK_CACHE_BYTES_MAX - 5));
    assert!(cache.get(100).is_some());
    assert_eq!(cache.entries.len(), 1, "older entries made room");
    assert_eq!(cache.stored_bytes, BLOCK_CACHE_BYTES_MAX - 5);

    cache.insert(decided(101, BLOCK_CACHE_BYTES_MAX + 1));
    assert!(cache.get(101).is_none(), "larger than the whole budget");
    assert!(cache.get(100).is_some());
}

/// A compromised issuing authority (only for certificates issued since the
/// compromise), a sanctioned declared origin and a late confirmation raise
/// their alerts.
#[test]
fn compromise_sanctioned_origin_and_late_confirmation_raise_alerts() {
    use kp_ledger::testkit::at;
    use kp_types::{Date, ImportConfirmation, Origin, OriginRule};
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    h.set_time(at(2026, 2, 10));
    assert_eq!(h.issue(certificate("BW002", "BW", "EU", h.today())), Ok(()));
    assert_eq!(h.issue(certificate("IN001", "IN", "EU", h.today())), Ok(()));
    let tx = h.by_node(
        "BW",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: Some(at(2026, 2, 5)),
        },
    );
    assert_eq!(h.run(tx), Ok(()));
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        scope: SanctionScope::FullSuspension,
        origin: OriginRule::Flag,
    });
    let mut laundered = certificate("CG001", "CG", "AE", h.today());
    laundered.origin = Origin::Countries(vec![territory("CF")]);
    assert_eq!(h.issue(laundered), Ok(()));
    h.set_time(at(2026, 3, 20));
    let tx = h.by_authority(
        "EU",
        Payload::ConfirmImport(ImportConfirmation {
            number: number("IN001"),
            authority: authority_id("EU"),
            carats: Carats(10_000),
            parcels: 2,
            received_on: Date::from_ymd(2026, 3, 1).unwrap(),
        }),
    );
    assert_eq!(h.run(tx), Ok(()));

    let index = AlertIndex::read(&h.ledger, h.ledger.height()).unwrap();
    let kinds = |n: &str| -> Vec<String> {
        indexed_answer(&h.ledger, &index, &number(n))["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(kinds("BW001").is_empty(), "{:?}", kinds("BW001"));
    assert_eq!(kinds("BW002"), ["compromised-authority"]);
    let answer = indexed_answer(&h.ledger, &index, &number("BW002"));
    assert_eq!(answer["alerts"][0]["authority"], json!("BW-KPA"));
    assert_eq!(kinds("CG001"), ["enhanced-vigilance", "sanctioned-origin"]);
    assert_eq!(kinds("IN001"), ["late-confirmation"]);
    assert_eq!(answer["sanctioned_origin"], json!([]));
    assert_eq!(
        indexed_answer(&h.ledger, &index, &number("IN001"))["receipt"]["late"],
        json!(true)
    );
}
