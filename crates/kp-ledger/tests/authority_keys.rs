//! Rotation of a KP Authority's signing key (ADR 0008, "Rotating an
//! authority key"): the owner's government key replaces it keeping the id;
//! what the old key signed before stays valid, the old key signs nothing
//! after the rotation (within the rotation's block too), the history is in
//! the authority's record, and each rejection, with admission (`check_tx`)
//! agreeing with execution.

use kp_ledger::testkit::*;
use kp_ledger::{AuthorityRecord, CertificateStatus, KeyStanding, LedgerEvent, Rejection};
use kp_types::{EncryptionKey, Payload, PublicKey, SignedTransaction, SigningKey, VoidCertificate};

fn rotation(member: &str, authority: &str, new_key: &SigningKey) -> Payload {
    Payload::RotateAuthorityKey {
        participant: code(member),
        authority: authority_id(authority),
        new_key: new_key.public(),
        new_encryption_key: None,
    }
}

fn record(h: &Harness, member: &str) -> AuthorityRecord {
    h.ledger.authority(&authority_id(member)).unwrap().unwrap()
}

/// Runs `tx` as admission would judge it and then in a block; both verdicts
/// must agree. Returns the code of the rejection, or "ok".
fn verdict(h: &mut Harness, tx: SignedTransaction) -> String {
    let admitted = h.ledger.check_tx(&tx, h.time);
    let executed = h.run(tx);
    assert_eq!(
        admitted.as_ref().map_err(|r| r.code()),
        executed.as_ref().map_err(|r| r.code()),
        "admission and execution disagree"
    );
    match executed {
        Ok(()) => "ok".into(),
        Err(r) => r.code().into(),
    }
}

fn issue_signed_by(h: &mut Harness, n: &str, key: &SigningKey) -> SignedTransaction {
    let c = certificate(n, "BW", "EU", h.today());
    h.tx(key, Payload::IssueCertificate(c))
}

#[test]
fn a_rotated_authority_signs_with_its_new_key_and_never_again_with_the_old() {
    let mut h = Harness::new();
    let old = authority_key("BW");
    let new = extra_key("BW authority 2");
    let before = issue_signed_by(&mut h, "BW0000001", &old);
    assert_eq!(verdict(&mut h, before), "ok");

    let tx = h.by_government("BW", rotation("BW", "BW", &new));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    let rotated_at = receipt.height;
    assert!(receipt.events.contains(&LedgerEvent::AuthorityKeyRotated {
        authority: authority_id("BW"),
        key: new.public(),
        previous: old.public(),
    }));

    // The history is in the record, so it is part of the proven state.
    let a = record(&h, "BW");
    assert_eq!(a.authority.key, new.public());
    assert_eq!(a.previous_keys.len(), 1);
    assert_eq!(a.previous_keys[0].key, old.public());
    assert_eq!(a.previous_keys[0].until_height, rotated_at);
    assert_eq!(
        a.key_standing(&old.public(), rotated_at - 1),
        KeyStanding::Held
    );
    assert_eq!(a.key_standing(&old.public(), rotated_at), KeyStanding::Held);
    assert_eq!(
        a.key_standing(&old.public(), rotated_at + 1),
        KeyStanding::Retired {
            until_height: rotated_at
        }
    );
    assert_eq!(
        a.key_standing(&new.public(), rotated_at - 1),
        KeyStanding::Foreign
    );
    assert_eq!(
        a.key_standing(&new.public(), rotated_at + 1),
        KeyStanding::Held
    );
    assert_eq!(
        a.key_standing(&authority_key("EU").public(), rotated_at + 1),
        KeyStanding::Foreign
    );

    // The old key is refused, by its own code; the new one issues.
    let late = issue_signed_by(&mut h, "BW0000002", &old);
    let admitted = h.ledger.check_tx(&late, h.time);
    let refused = h.run(late);
    assert_eq!(
        refused,
        Err(Rejection::AuthorityKeyRetired {
            authority: authority_id("BW"),
            until_height: rotated_at
        })
    );
    assert_eq!(admitted, refused);
    let fresh = issue_signed_by(&mut h, "BW0000003", &new);
    assert_eq!(verdict(&mut h, fresh), "ok");
    // A void by the old key is refused too; by the new key it stands.
    let void = |n: &str| {
        Payload::VoidCertificate(VoidCertificate {
            number: number(n),
            authority: authority_id("BW"),
            reason: "withdrawn".into(),
        })
    };
    let tx = h.tx(&old, void("BW0000003"));
    assert_eq!(verdict(&mut h, tx), "authority-key-retired");
    let tx = h.tx(&new, void("BW0000003"));
    assert_eq!(verdict(&mut h, tx), "ok");

    // The certificate the old key issued stays valid: the importer confirms it.
    h.confirm_received("BW0000001", 1_000);
    let c = h.ledger.certificate(&number("BW0000001")).unwrap().unwrap();
    assert_eq!(c.status, CertificateStatus::Confirmed);
    assert!(h
        .ledger
        .certificate(&number("BW0000002"))
        .unwrap()
        .is_none());
}

#[test]
fn within_the_rotation_block_the_old_key_signs_only_before_the_rotation() {
    let mut h = Harness::new();
    let old = authority_key("BW");
    let new = extra_key("BW authority 2");
    let before = issue_signed_by(&mut h, "BW0000001", &old);
    let rotate = h.by_government("BW", rotation("BW", "BW", &new));
    let after = issue_signed_by(&mut h, "BW0000002", &old);
    let by_new = issue_signed_by(&mut h, "BW0000003", &new);
    let receipt = h.apply(vec![before, rotate, after, by_new]).unwrap();
    let codes: Vec<&str> = receipt
        .receipts
        .iter()
        .map(|r| r.result.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect();
    assert_eq!(codes, ["ok", "ok", "authority-key-retired", "ok"]);
}

#[test]
fn a_second_rotation_keeps_the_whole_history() {
    let mut h = Harness::new();
    let first = extra_key("BW authority 2");
    let second = extra_key("BW authority 3");
    let tx = h.by_government("BW", rotation("BW", "BW", &first));
    assert_eq!(verdict(&mut h, tx), "ok");
    let one = h.ledger.height();
    let tx = issue_signed_by(&mut h, "BW0000001", &first);
    assert_eq!(verdict(&mut h, tx), "ok");
    let issued_at = h.ledger.height();
    let tx = h.by_government("BW", rotation("BW", "BW", &second));
    assert_eq!(verdict(&mut h, tx), "ok");
    let two = h.ledger.height();
    let a = record(&h, "BW");
    let history: Vec<(PublicKey, u64)> = a
        .previous_keys
        .iter()
        .map(|p| (p.key, p.until_height))
        .collect();
    assert_eq!(
        history,
        [(authority_key("BW").public(), one), (first.public(), two)]
    );
    assert_eq!(
        a.key_standing(&first.public(), issued_at),
        KeyStanding::Held
    );
    assert_eq!(
        a.key_standing(&first.public(), two + 1),
        KeyStanding::Retired { until_height: two }
    );
    // No key of its history can be installed again, by it or anyone.
    let tx = h.by_government("BW", rotation("BW", "BW", &first));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.by_government("BW", rotation("BW", "BW", &authority_key("BW")));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let mut stolen = authority("EU");
    stolen.id = kp_types::AuthorityId::new("EU-OLD").unwrap();
    stolen.key = first.public();
    stolen.encryption_key = None;
    let tx = h.by_government("EU", Payload::RegisterAuthority(stolen));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
}

#[test]
fn a_rotation_may_replace_the_encryption_key_too() {
    let mut h = Harness::new();
    let sealing = encryption_key("IN").public();
    let tx = h.by_government(
        "BW",
        Payload::RotateAuthorityKey {
            participant: code("BW"),
            authority: authority_id("BW"),
            new_key: extra_key("BW authority 2").public(),
            new_encryption_key: Some(sealing),
        },
    );
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert_eq!(record(&h, "BW").authority.encryption_key, Some(sealing));
    assert!(receipt.events.contains(&LedgerEvent::EncryptionKeySet {
        authority: authority_id("BW"),
        key: sealing,
    }));
}

#[test]
fn each_refused_rotation_changes_nothing() {
    let mut h = Harness::new();
    let new = extra_key("BW authority 2");
    let before = record(&h, "BW");
    // Only the owner's government key rotates: not the authority itself,
    // not another member's government key.
    let tx = h.by_authority("BW", rotation("BW", "BW", &new));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.by_government("EU", rotation("BW", "BW", &new));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.by_government("EU", rotation("EU", "BW", &new));
    assert_eq!(verdict(&mut h, tx), "authority-not-of-participant");
    let tx = h.by_government(
        "BW",
        Payload::RotateAuthorityKey {
            participant: code("BW"),
            authority: kp_types::AuthorityId::new("BW-NONE").unwrap(),
            new_key: new.public(),
            new_encryption_key: None,
        },
    );
    assert_eq!(verdict(&mut h, tx), "unknown-authority");
    // Keys: someone's already, of small order (signing or encryption).
    let tx = h.by_government("BW", rotation("BW", "BW", &authority_key("EU")));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.by_government("BW", rotation("BW", "BW", &node_key("IN")));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let tx = h.by_government(
        "BW",
        Payload::RotateAuthorityKey {
            participant: code("BW"),
            authority: authority_id("BW"),
            new_key: PublicKey(identity),
            new_encryption_key: None,
        },
    );
    assert_eq!(verdict(&mut h, tx), "weak-key");
    let tx = h.by_government(
        "BW",
        Payload::RotateAuthorityKey {
            participant: code("BW"),
            authority: authority_id("BW"),
            new_key: new.public(),
            new_encryption_key: Some(EncryptionKey([0; 32])),
        },
    );
    assert_eq!(verdict(&mut h, tx), "weak-encryption-key");
    assert_eq!(record(&h, "BW"), before);
    // A revoked authority is not brought back by a rotation.
    let tx = h.by_government(
        "BW",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: None,
        },
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.by_government("BW", rotation("BW", "BW", &new));
    assert_eq!(verdict(&mut h, tx), "authority-revoked");
}

#[test]
fn the_history_of_rotations_is_bounded() {
    let mut h = Harness::new();
    for i in 0..AuthorityRecord::PREVIOUS_KEYS_MAX {
        let tx = h.by_government(
            "BW",
            rotation("BW", "BW", &extra_key(&format!("BW authority {i}"))),
        );
        assert_eq!(verdict(&mut h, tx), "ok", "rotation {i}");
    }
    let tx = h.by_government("BW", rotation("BW", "BW", &extra_key("BW authority last")));
    assert_eq!(verdict(&mut h, tx), "too-many-items");
    assert_eq!(
        record(&h, "BW").previous_keys.len(),
        AuthorityRecord::PREVIOUS_KEYS_MAX
    );
}

#[test]
fn the_record_with_its_history_round_trips_in_both_forms() {
    let mut h = Harness::new();
    let tx = h.by_government("BW", rotation("BW", "BW", &extra_key("BW authority 2")));
    assert_eq!(verdict(&mut h, tx), "ok");
    let a = record(&h, "BW");
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"previous_keys\":[{\"key\":"), "{json}");
    assert_eq!(serde_json::from_str::<AuthorityRecord>(&json).unwrap(), a);
    let bin = kp_types::encode(&a);
    assert_eq!(
        kp_types::decode::<AuthorityRecord>(&bin, 1 << 16).unwrap(),
        a
    );
    // A record written before rotations existed reads, in JSON, as one
    // without history.
    let mut old: serde_json::Value = serde_json::from_str(&json).unwrap();
    old.as_object_mut().unwrap().remove("previous_keys");
    let read: AuthorityRecord = serde_json::from_value(old).unwrap();
    assert!(read.previous_keys.is_empty());
}
