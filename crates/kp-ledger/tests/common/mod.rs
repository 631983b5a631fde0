//! Fixtures shared by the ledger's rule tests (`rules.rs`, `lifecycle.rs`):
//! a BW certificate to the EU, and the states its lifecycle starts from.
#![allow(dead_code)] // each test file uses its own subset

use kp_ledger::testkit::*;
use kp_types::{
    Carats, Certificate, ImportConfirmation, Payload, ResolutionAction, SanctionScope,
    SeizureReason, SeizureReport, SignedTransaction,
};

pub fn base_cert(h: &Harness) -> Certificate {
    certificate("BW0000001", "BW", "EU", h.today())
}

pub fn issue_tx(h: &mut Harness, c: Certificate) -> SignedTransaction {
    h.by_authority("BW", Payload::IssueCertificate(c))
}

pub fn issued(h: &mut Harness) {
    let c = base_cert(h);
    assert_eq!(h.issue(c), Ok(()));
}

pub fn partial_exports_bw(h: &mut Harness) {
    h.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        origin: Default::default(),
        scope: SanctionScope::PartialExports {
            green_zones: vec!["Orapa".into()],
            monitor: Some(code("WDC")),
        },
    });
}

pub fn awaiting(h: &mut Harness) {
    partial_exports_bw(h);
    let mut c = base_cert(h);
    c.origin_zones = vec!["Orapa".into()];
    assert_eq!(h.issue(c), Ok(()));
}

pub fn confirm(h: &Harness) -> ImportConfirmation {
    ImportConfirmation {
        number: number("BW0000001"),
        authority: authority_id("EU"),
        carats: Carats(10_000),
        parcels: 2,
        received_on: h.today(),
    }
}

pub fn seizure(h: &Harness) -> SeizureReport {
    SeizureReport {
        authority: authority_id("EU"),
        territory: territory("BE"),
        location: "Antwerp airport".into(),
        carats: Carats(500),
        value_usd: None,
        reason: SeizureReason::NoCertificate,
        certificate: None,
        seized_on: h.today(),
    }
}
