//! Sanction-aware origin: a certificate of another Participant whose
//! declared origin includes a Participant whose sanction forbids its exports
//! is refused or flagged, as the sanction's resolution says (the CAR years:
//! rough from a suspended country laundered through a neighbour or a hub).

use kp_ledger::testkit::*;
use kp_ledger::{CertificateRecord, CertificateStatus};
use kp_types::{Certificate, Date, Origin, OriginRule, ResolutionAction, SanctionScope, Territory};

fn sanction(h: &mut Harness, who: &str, scope: SanctionScope, origin: OriginRule) {
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code(who),
        scope,
        origin,
    });
}

/// A certificate from `from` declaring `origins` (territory codes) and
/// origin `zones`.
fn declaring(
    n: &str,
    from: &str,
    to: &str,
    on: Date,
    origins: &[&str],
    zones: &[&str],
) -> Certificate {
    let mut c = certificate(n, from, to, on);
    c.origin = Origin::Countries(
        origins
            .iter()
            .map(|t| territory(t))
            .collect::<Vec<Territory>>(),
    );
    c.origin_zones = zones.iter().map(|z| z.to_string()).collect();
    c
}

fn record(h: &Harness, n: &str) -> CertificateRecord {
    h.ledger.certificate(&number(n)).unwrap().unwrap()
}

fn green(zones: &[&str]) -> SanctionScope {
    SanctionScope::PartialExports {
        green_zones: zones.iter().map(|z| z.to_string()).collect(),
        monitor: Some(code("WDC")),
    }
}

#[test]
fn car_suspended_refuse_mode_refuses_laundering_through_a_neighbour_or_a_hub() {
    let mut h = Harness::new_at(at(2013, 1, 1));
    h.set_time(at(2013, 5, 23));
    sanction(
        &mut h,
        "CF",
        SanctionScope::FullSuspension,
        OriginRule::Refuse,
    );
    let today = h.today();
    // A neighbour (CG) declaring CAR origin.
    let r = h.issue(declaring("CG001", "CG", "AE", today, &["CF"], &[]));
    let rejection = r.unwrap_err();
    assert_eq!(rejection.code(), "sanctioned-origin");
    assert!(rejection.to_string().contains("CF"), "{rejection}");
    // A hub (the EU, from Antwerp) re-exporting CAR rough.
    let r = h.issue(declaring("BE001", "EU", "IN", today, &["CF"], &[]));
    assert_eq!(r.unwrap_err().code(), "sanctioned-origin");
    // A hub (the UAE) with a mixed-origin parcel that includes CAR.
    let r = h.issue(declaring("AE001", "AE", "IN", today, &["BW", "CF"], &[]));
    assert_eq!(r.unwrap_err().code(), "sanctioned-origin");
    for n in ["CG001", "BE001", "AE001"] {
        assert_eq!(h.ledger.certificate(&number(n)).unwrap(), None, "{n}");
    }
    // Without CAR among the origins, trade goes on unflagged.
    assert_eq!(
        h.issue(declaring("AE002", "AE", "IN", today, &["BW", "CG"], &[])),
        Ok(())
    );
    let r = record(&h, "AE002");
    assert!(r.sanctioned_origin.is_empty() && !r.enhanced_vigilance);
    // A parcel declared `mixed` names no country: nothing to check.
    let mut mixed = certificate("AE003", "AE", "IN", today);
    mixed.origin = Origin::Mixed;
    assert_eq!(h.issue(mixed), Ok(()));
}

#[test]
fn car_suspended_flag_mode_accepts_and_asks_importers_for_vigilance() {
    let mut h = Harness::new_at(at(2013, 1, 1));
    h.set_time(at(2013, 5, 23));
    sanction(
        &mut h,
        "CF",
        SanctionScope::FullSuspension,
        OriginRule::Flag,
    );
    let today = h.today();
    assert_eq!(
        h.issue(declaring("CG001", "CG", "AE", today, &["CF"], &[])),
        Ok(())
    );
    assert_eq!(
        h.issue(declaring("AE001", "AE", "IN", today, &["BW", "CF"], &[])),
        Ok(())
    );
    for n in ["CG001", "AE001"] {
        let r = record(&h, n);
        assert_eq!(r.status, CertificateStatus::Issued, "{n}");
        assert_eq!(r.sanctioned_origin, vec![code("CF")], "{n}");
        assert!(r.enhanced_vigilance, "{n}");
    }
    // CAR itself still may not export, whatever the origin rule.
    let r = h.issue(certificate("CF001", "CF", "EU", today));
    assert_eq!(r.unwrap_err().code(), "export-forbidden");
}

#[test]
fn the_origin_rule_defaults_to_flag_and_an_amendment_can_change_it() {
    let action: ResolutionAction =
        serde_json::from_str(r#"{"impose-sanction":{"participant":"CF","scope":"export-ban"}}"#)
            .unwrap();
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    h.adopt(action);
    let today = h.today();
    assert_eq!(
        h.issue(declaring("CG001", "CG", "AE", today, &["CF"], &[])),
        Ok(())
    );
    assert_eq!(record(&h, "CG001").sanctioned_origin, vec![code("CF")]);
    let sanction = h
        .ledger
        .participant(&code("CF"))
        .unwrap()
        .unwrap()
        .sanction
        .unwrap();
    assert_eq!(sanction.origin, OriginRule::Flag);

    h.adopt(ResolutionAction::AmendSanction {
        participant: code("CF"),
        scope: SanctionScope::ExportBan,
        origin: OriginRule::Refuse,
    });
    let r = h.issue(declaring("CG002", "CG", "AE", h.today(), &["CF"], &[]));
    assert_eq!(r.unwrap_err().code(), "sanctioned-origin");
    // A certificate keeps what it was issued under.
    assert_eq!(record(&h, "CG001").sanctioned_origin, vec![code("CF")]);

    // Lifted: the origin is free again.
    h.adopt(ResolutionAction::LiftSanction {
        participant: code("CF"),
    });
    assert_eq!(
        h.issue(declaring("CG003", "CG", "AE", h.today(), &["CF"], &[])),
        Ok(())
    );
    assert!(record(&h, "CG003").sanctioned_origin.is_empty());
}

#[test]
fn partial_exports_judge_other_exporters_by_the_green_list() {
    let mut h = Harness::new_at(at(2015, 1, 1));
    h.set_time(at(2015, 7, 1));
    sanction(&mut h, "CF", green(&["Berberati"]), OriginRule::Refuse);
    let today = h.today();
    // Green zones only: accepted, unflagged.
    assert_eq!(
        h.issue(declaring(
            "CG001",
            "CG",
            "AE",
            today,
            &["CF"],
            &["Berberati"]
        )),
        Ok(())
    );
    assert!(record(&h, "CG001").sanctioned_origin.is_empty());
    // A zone not on the list.
    let r = h.issue(declaring(
        "CG002",
        "CG",
        "AE",
        today,
        &["CF"],
        &["Berberati", "Bria"],
    ));
    let rejection = r.unwrap_err();
    assert_eq!(rejection.code(), "sanctioned-origin");
    assert!(rejection.to_string().contains("Bria"), "{rejection}");
    // No zone at all: the stones cannot be shown to come from the list.
    let r = h.issue(declaring("CG003", "CG", "AE", today, &["CF"], &[]));
    assert_eq!(r.unwrap_err().code(), "sanctioned-origin");

    // CAR itself exports from green zones as before, awaiting the monitor.
    assert_eq!(
        h.issue(declaring(
            "CF001",
            "CF",
            "EU",
            today,
            &["CF"],
            &["Berberati"]
        )),
        Ok(())
    );
    assert_eq!(
        record(&h, "CF001").status,
        CertificateStatus::AwaitingApproval
    );
    assert!(record(&h, "CF001").sanctioned_origin.is_empty());
    let r = h.issue(declaring("CF002", "CF", "EU", today, &["CF"], &["Bria"]));
    assert_eq!(r.unwrap_err().code(), "origin-zone-not-green");
}

#[test]
fn partial_exports_in_flag_mode_flag_non_green_zones() {
    let mut h = Harness::new_at(at(2015, 1, 1));
    h.set_time(at(2015, 7, 1));
    sanction(&mut h, "CF", green(&["Berberati"]), OriginRule::Flag);
    let today = h.today();
    assert_eq!(
        h.issue(declaring(
            "AE001",
            "AE",
            "IN",
            today,
            &["BW", "CF"],
            &["Bria"]
        )),
        Ok(())
    );
    let r = record(&h, "AE001");
    assert_eq!(r.sanctioned_origin, vec![code("CF")]);
    assert!(r.enhanced_vigilance);
    assert_eq!(
        h.issue(declaring(
            "AE002",
            "AE",
            "IN",
            today,
            &["CF"],
            &["Berberati"]
        )),
        Ok(())
    );
    assert!(record(&h, "AE002").sanctioned_origin.is_empty());
}

#[test]
fn import_bans_and_enhanced_vigilance_do_not_touch_the_origin() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    sanction(&mut h, "CF", SanctionScope::ImportBan, OriginRule::Refuse);
    sanction(
        &mut h,
        "CG",
        SanctionScope::EnhancedVigilance,
        OriginRule::Refuse,
    );
    let today = h.today();
    assert_eq!(
        h.issue(declaring("AE001", "AE", "IN", today, &["CF", "CG"], &[])),
        Ok(())
    );
    let r = record(&h, "AE001");
    assert!(r.sanctioned_origin.is_empty() && !r.enhanced_vigilance);
}
