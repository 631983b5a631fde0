//! Rows of the rejection table for the rotation of an authority's signing
//! key (ADR 0008, "Rotating an authority key").

use super::{base_cert, issue_tx, Memo, Row};
use kp_ledger::testkit::*;
use kp_types::Payload;

pub fn rows() -> Vec<Row> {
    vec![Row {
        code: "authority-key-retired",
        name: "an issue signed by the key a rotation replaced",
        setup: Box::new(|h| {
            let tx = h.by_government(
                "BW",
                Payload::RotateAuthorityKey {
                    participant: code("BW"),
                    authority: authority_id("BW"),
                    new_key: extra_key("BW authority 2").public(),
                    new_encryption_key: None,
                },
            );
            assert_eq!(h.run(tx), Ok(()));
            Memo::default()
        }),
        // `issue_tx` signs with the fixture authority key: the old one.
        tx: Box::new(|h, _| {
            let c = base_cert(h);
            issue_tx(h, c)
        }),
    }]
}
