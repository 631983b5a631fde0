//! The precedents the ledger must be able to express, replayed by block time:
//! the Central African Republic (full suspension 2013, partial exports from
//! green zones with monitor approval 2015, a zone added by amendment, lifted
//! 2024) and the Republic of Congo (expelled 2004, readmitted 2007).

use kp_ledger::testkit::*;
use kp_ledger::{CertificateStatus, ResolutionOutcome};
use kp_types::{
    CertificateApproval, Date, ImportConfirmation, Payload, Period, ResolutionAction, SanctionScope,
};

fn cf_cert(n: &str, on: Date, zones: &[&str]) -> kp_types::Certificate {
    let mut c = certificate(n, "CF", "EU", on);
    c.origin_zones = zones.iter().map(|z| z.to_string()).collect();
    c
}

fn status(h: &Harness, n: &str) -> CertificateStatus {
    h.ledger.certificate(&number(n)).unwrap().unwrap().status
}

fn exports(h: &Harness, who: &str, period: Period) -> u64 {
    h.ledger
        .statistics(&code(who), period)
        .unwrap()
        .exports
        .count
}

fn partial(zones: &[&str]) -> SanctionScope {
    SanctionScope::PartialExports {
        green_zones: zones.iter().map(|z| z.to_string()).collect(),
        monitor: Some(code("WDC")),
    }
}

#[test]
fn central_african_republic_2013_to_2024() {
    let mut h = Harness::new_at(at(2013, 1, 1));
    // Before the suspension, trade flows both ways.
    h.set_time(at(2013, 3, 1));
    assert_eq!(h.issue(cf_cert("CF2013001", h.today(), &[])), Ok(()));

    // May 2013: full suspension.
    h.set_time(at(2013, 5, 23));
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: SanctionScope::FullSuspension,
    });
    let r = h.issue(cf_cert("CF2013002", h.today(), &["Berberati"]));
    assert_eq!(r.unwrap_err().code(), "export-forbidden");
    let r = h.issue(certificate("BW2013001", "BW", "CF", h.today()));
    assert_eq!(r.unwrap_err().code(), "import-forbidden");

    // July 2015: partial exports from Berberati, each approved by the monitor.
    h.set_time(at(2015, 7, 1));
    h.adopt(ResolutionAction::AmendSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: partial(&["Berberati"]),
    });
    let q = Period::Quarter(2015, 3);
    assert_eq!(
        h.issue(cf_cert("CF2015001", h.today(), &["Berberati"])),
        Ok(())
    );
    assert_eq!(status(&h, "CF2015001"), CertificateStatus::AwaitingApproval);
    assert_eq!(exports(&h, "CF", q), 0, "does not count before approval");
    let confirm = |h: &mut Harness, n: &str| {
        let k = ImportConfirmation {
            number: number(n),
            authority: authority_id("EU"),
            carats: kp_types::Carats(10_000),
            parcels: 2,
            received_on: h.today(),
        };
        let tx = h.by_authority("EU", Payload::ConfirmImport(k));
        h.run(tx)
    };
    assert_eq!(
        confirm(&mut h, "CF2015001").unwrap_err().code(),
        "awaiting-approval"
    );
    let r = h.issue(cf_cert("CF2015002", h.today(), &["Boda"]));
    assert_eq!(r.unwrap_err().code(), "origin-zone-not-green");
    let r = h.issue(cf_cert("CF2015003", h.today(), &["Berberati", "Boda"]));
    assert_eq!(r.unwrap_err().code(), "origin-zone-not-green");
    let r = h.issue(cf_cert("CF2015004", h.today(), &[]));
    assert_eq!(r.unwrap_err().code(), "origin-zones-missing");
    // Only the named monitor approves.
    let approve = |h: &mut Harness, by: &str, n: &str| {
        let tx = h.by_node(
            by,
            Payload::ApproveCertificate(CertificateApproval {
                number: number(n),
                monitor: code(by),
            }),
        );
        h.run(tx)
    };
    assert_eq!(
        approve(&mut h, "EU", "CF2015001").unwrap_err().code(),
        "not-the-monitor"
    );
    assert_eq!(approve(&mut h, "WDC", "CF2015001"), Ok(()));
    assert_eq!(status(&h, "CF2015001"), CertificateStatus::Issued);
    assert_eq!(exports(&h, "CF", q), 1, "counts once approved");
    assert_eq!(confirm(&mut h, "CF2015001"), Ok(()));
    // Imports into CF are allowed under partial exports.
    assert_eq!(
        h.issue(certificate("BW2015001", "BW", "CF", h.today())),
        Ok(())
    );

    // 2016: a zone added by amendment.
    h.set_time(at(2016, 6, 1));
    h.adopt(ResolutionAction::AmendSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: partial(&["Berberati", "Boda"]),
    });
    assert_eq!(h.issue(cf_cert("CF2016001", h.today(), &["Boda"])), Ok(()));
    assert_eq!(status(&h, "CF2016001"), CertificateStatus::AwaitingApproval);
    let r = h.issue(cf_cert("CF2016002", h.today(), &["Nola"]));
    assert_eq!(r.unwrap_err().code(), "origin-zone-not-green");

    // July 2024: lifted; certificates count at once, no zones needed. A
    // certificate issued under the sanction the week before keeps the
    // condition it was issued under: it still waits for the monitor (who
    // may approve after the lift), and is neither released nor stranded.
    h.set_time(at(2024, 7, 3));
    assert_eq!(h.issue(cf_cert("CF2024000", h.today(), &["Boda"])), Ok(()));
    h.set_time(at(2024, 7, 10));
    let id = h.adopt(ResolutionAction::LiftSanction {
        participant: code("CF"),
    });
    assert!(matches!(
        h.ledger.resolution(&id).unwrap().unwrap().outcome,
        ResolutionOutcome::Adopted { .. }
    ));
    assert_eq!(h.issue(cf_cert("CF2024001", h.today(), &[])), Ok(()));
    assert_eq!(status(&h, "CF2024001"), CertificateStatus::Issued);
    assert_eq!(status(&h, "CF2024000"), CertificateStatus::AwaitingApproval);
    let q3 = Period::Quarter(2024, 3);
    assert_eq!(exports(&h, "CF", q3), 1, "only CF2024001 counts");
    assert_eq!(
        confirm(&mut h, "CF2024000").unwrap_err().code(),
        "awaiting-approval"
    );
    assert_eq!(
        approve(&mut h, "EU", "CF2024000").unwrap_err().code(),
        "not-the-monitor"
    );
    assert_eq!(approve(&mut h, "WDC", "CF2024000"), Ok(()));
    assert_eq!(status(&h, "CF2024000"), CertificateStatus::Issued);
    assert_eq!(exports(&h, "CF", q3), 2, "counts once approved");
    assert_eq!(confirm(&mut h, "CF2024000"), Ok(()));
    assert!(h
        .ledger
        .participant(&code("CF"))
        .unwrap()
        .unwrap()
        .sanction
        .is_none());

    // November 2024: enhanced vigilance flags certificates, trade allowed.
    h.set_time(at(2024, 11, 15));
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: SanctionScope::EnhancedVigilance,
    });
    assert_eq!(h.issue(cf_cert("CF2024002", h.today(), &[])), Ok(()));
    let rec = h.ledger.certificate(&number("CF2024002")).unwrap().unwrap();
    assert!(rec.enhanced_vigilance);
    assert!(
        !h.ledger
            .certificate(&number("CF2024001"))
            .unwrap()
            .unwrap()
            .enhanced_vigilance
    );
}

#[test]
fn republic_of_congo_expelled_2004_readmitted_2007() {
    let mut h = Harness::new_at(at(2004, 1, 1));
    h.set_time(at(2004, 3, 1));
    assert_eq!(
        h.issue(certificate("CG2004001", "CG", "EU", h.today())),
        Ok(())
    );

    h.set_time(at(2004, 7, 9));
    h.adopt(ResolutionAction::Expel {
        participant: code("CG"),
    });
    let cg = node_key("CG").public();
    // Out of the validators from the height after next.
    let next_has = |h: &Harness, key| {
        h.ledger
            .next_validator_codes()
            .iter()
            .any(|(_, k)| *k == key)
    };
    assert!(!next_has(&h, cg));
    let r = h.issue(certificate("CG2004002", "CG", "EU", h.today()));
    assert_eq!(r.unwrap_err().code(), "participant-expelled");
    let r = h.issue(certificate("BW2004001", "BW", "CG", h.today()));
    assert_eq!(r.unwrap_err().code(), "participant-expelled");
    // An expelled government no longer signs resolutions.
    let (id, _) = h.propose(
        "BW",
        ResolutionAction::AdministrativeDecision {
            title: "t".into(),
            text_hash: kp_types::Hash::ZERO,
        },
        None,
    );
    assert_eq!(
        h.sign_resolution("CG", id).unwrap_err().code(),
        "participant-expelled"
    );

    h.set_time(at(2007, 11, 9));
    h.adopt(ResolutionAction::Readmit {
        participant: code("CG"),
    });
    assert!(next_has(&h, cg));
    assert_eq!(
        h.issue(certificate("CG2007001", "CG", "EU", h.today())),
        Ok(())
    );
    assert_eq!(
        h.issue(certificate("BW2007001", "BW", "CG", h.today())),
        Ok(())
    );
}
