//! Sealed commercial fields (ADR 0011): a sealed certificate is checked by
//! every replica, counted exactly as a plain one, readable by its two
//! authorities only, and bound to their registered encryption keys.

use kp_ledger::testkit::*;
use kp_types::sealed::SealError;
use kp_types::*;

fn issued_sealed(h: &mut Harness) -> Certificate {
    set_encryption_keys(h, &["BW", "EU"]);
    let mut c = certificate("BW0000001", "BW", "EU", h.today());
    seal_certificate(&mut c, "EU");
    assert_eq!(h.issue(c.clone()), Ok(()));
    c
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_sealed_certificate_is_accepted_and_counted_like_a_plain_one() {
    let mut sealed = Harness::new();
    let c = issued_sealed(&mut sealed);
    let mut plain = Harness::new();
    set_encryption_keys(&mut plain, &["IN"]);
    assert_eq!(
        plain.issue(certificate("BW0000001", "BW", "EU", plain.today())),
        Ok(())
    );
    let period = Period::Year(2026);
    for member in ["BW", "EU"] {
        assert_eq!(
            sealed.ledger.statistics(&code(member), period).unwrap(),
            plain.ledger.statistics(&code(member), period).unwrap(),
            "{member}"
        );
    }
    // The record the ledger keeps (and serves) holds no sealed name.
    let record = sealed.ledger.certificate(&c.number).unwrap().unwrap();
    let bytes = encode(&record);
    let json = serde_json::to_vec(&record).unwrap();
    for secret in ["BW Exporter Ltd", "1 Mine Road", "EU Importer BV", "Bourse"] {
        assert!(!contains(&bytes, secret), "{secret} in the record");
        assert!(!contains(&json, secret), "{secret} in the record's JSON");
    }
    let Parties::Sealed(envelope) = &record.certificate.parties else {
        panic!("kept plain");
    };
    // Both authorities open it; a third government's key cannot.
    for member in ["BW", "EU"] {
        let opened = envelope.open(&c.number, &encryption_key(member)).unwrap();
        assert_eq!(opened.fields.exporter.name, "BW Exporter Ltd");
        assert_eq!(opened.fields.importer.name, "EU Importer BV");
    }
    assert!(matches!(
        envelope.open(&c.number, &encryption_key("IN")),
        Err(SealError::NotARecipient { .. })
    ));
}

#[test]
fn the_importing_copy_must_be_an_unrevoked_authority_of_the_importer() {
    let mut h = Harness::new();
    set_encryption_keys(&mut h, &["BW", "EU", "IN"]);
    // Sealed to IN's authority with IN's registered key: not the importer's.
    let mut c = certificate("BW0000001", "BW", "EU", h.today());
    seal_certificate(&mut c, "IN");
    let r = h.issue(c).unwrap_err();
    assert_eq!(r.code(), "sealed-recipient-wrong", "{r}");
    assert!(
        r.to_string()
            .contains("not of the importing Participant EU"),
        "{r}"
    );
    // The issuing copy must be the issuing authority's.
    let mut c = certificate("BW0000001", "BW", "EU", h.today());
    seal_certificate(&mut c, "EU");
    if let Parties::Sealed(s) = &mut c.parties {
        s.recipients.swap(0, 1);
    }
    assert_eq!(h.issue(c).unwrap_err().code(), "sealed-recipient-wrong");
    // A revoked importing authority: refused, and a plain certificate is
    // allowed again (no authority of EU can read a sealed one).
    let revoke = h.by_government(
        "EU",
        Payload::RevokeAuthority {
            participant: code("EU"),
            authority: authority_id("EU"),
            compromised_since: None,
        },
    );
    assert_eq!(h.run(revoke), Ok(()));
    let mut c = certificate("BW0000001", "BW", "EU", h.today());
    seal_certificate(&mut c, "EU");
    let r = h.issue(c).unwrap_err();
    assert_eq!(r.code(), "sealed-recipient-wrong", "{r}");
    assert!(r.to_string().contains("revoked"), "{r}");
    assert_eq!(
        h.issue(certificate("BW0000001", "BW", "EU", h.today())),
        Ok(())
    );
}

#[test]
fn a_rotated_key_seals_from_then_on_and_old_certificates_stay_readable() {
    let mut h = Harness::new();
    let first = issued_sealed(&mut h);
    let new_key = DecryptionKey::from_seed(&[42; 32]);
    let rotate = h.by_government(
        "EU",
        Payload::SetEncryptionKey {
            participant: code("EU"),
            authority: authority_id("EU"),
            key: new_key.public(),
        },
    );
    let receipt = h.apply(vec![rotate]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        kp_ledger::LedgerEvent::EncryptionKeySet { authority, key }
            if *authority == authority_id("EU") && *key == new_key.public()
    )));
    // Sealed to the old key: refused now, naming the registered key.
    let mut stale = certificate("BW0000002", "BW", "EU", h.today());
    seal_certificate(&mut stale, "EU");
    let r = h.issue(stale).unwrap_err();
    assert_eq!(r.code(), "sealed-recipient-wrong");
    assert!(r.to_string().contains(&new_key.public().to_hex()), "{r}");
    // The certificate sealed before opens with the old key file.
    let record = h.ledger.certificate(&first.number).unwrap().unwrap();
    let envelope = record.certificate.parties.sealed().unwrap();
    assert!(envelope.open(&first.number, &encryption_key("EU")).is_ok());
    assert!(matches!(
        envelope.open(&first.number, &new_key),
        Err(SealError::NotARecipient { .. })
    ));
}

#[test]
fn only_the_owner_government_sets_an_encryption_key() {
    let mut h = Harness::new();
    let by_other = h.by_government(
        "IN",
        Payload::SetEncryptionKey {
            participant: code("EU"),
            authority: authority_id("EU"),
            key: encryption_key("EU").public(),
        },
    );
    assert_eq!(
        h.run(by_other).unwrap_err().code(),
        "signer-not-government-key"
    );
    let not_its_own = h.by_government(
        "EU",
        Payload::SetEncryptionKey {
            participant: code("EU"),
            authority: authority_id("BW"),
            key: encryption_key("EU").public(),
        },
    );
    assert_eq!(
        h.run(not_its_own).unwrap_err().code(),
        "authority-not-of-participant"
    );
}
