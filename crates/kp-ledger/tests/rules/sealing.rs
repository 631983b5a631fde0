//! Rows of the rejection table for sealed commercial fields (ADR 0011).

use super::{base_cert, issue_tx, Memo, Row};
use kp_ledger::testkit::*;
use kp_types::{EncryptionKey, Payload};

fn row(
    code: &'static str,
    name: &'static str,
    setup: impl Fn(&mut Harness) + 'static,
    tx: impl Fn(&mut Harness) -> kp_types::SignedTransaction + 'static,
) -> Row {
    Row {
        code,
        name,
        setup: Box::new(move |h| {
            setup(h);
            Memo::default()
        }),
        tx: Box::new(move |h, _| tx(h)),
    }
}

fn both(h: &mut Harness) {
    set_encryption_keys(h, &["BW", "EU"]);
}

/// The base certificate sealed to BW-KPA and EU-KPA, changed by `f`.
fn sealed_with(h: &mut Harness, f: impl Fn(&mut kp_types::Sealed)) -> kp_types::SignedTransaction {
    let mut c = base_cert(h);
    seal_certificate(&mut c, "EU");
    if let kp_types::Parties::Sealed(s) = &mut c.parties {
        f(s);
    }
    issue_tx(h, c)
}

pub fn rows() -> Vec<Row> {
    vec![
        row("sealed-envelope-malformed", "one copy only", both, |h| {
            sealed_with(h, |s| drop(s.recipients.pop()))
        }),
        row(
            "sealed-recipient-wrong",
            "importing copy sealed to a key the authority did not register",
            both,
            |h| sealed_with(h, |s| s.recipients[1].key = encryption_key("IN").public()),
        ),
        row(
            "no-encryption-key",
            "sealed while the issuing authority has no key",
            |h| set_encryption_keys(h, &["EU"]),
            |h| sealed_with(h, |_| ()),
        ),
        row("sealing-required", "plain while both can seal", both, |h| {
            let c = base_cert(h);
            issue_tx(h, c)
        }),
        row(
            "weak-encryption-key",
            "a small-order encryption key",
            |_| (),
            |h| {
                h.by_government(
                    "BW",
                    Payload::SetEncryptionKey {
                        participant: code("BW"),
                        authority: authority_id("BW"),
                        key: EncryptionKey([0; 32]),
                    },
                )
            },
        ),
    ]
}
