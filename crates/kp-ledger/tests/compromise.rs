//! A KP Authority revoked as compromised since a time: the certificates it
//! issued in blocks of that time or later are flagged, those before are not
//! (the block time the ledger recorded decides, not the issue date the
//! signer claimed); a later revocation may add or move back the compromise.

use kp_ledger::testkit::*;
use kp_ledger::{LedgerEvent, Rejection};
use kp_types::{Payload, Timestamp};

fn revoke(h: &mut Harness, member: &str, since: Option<Timestamp>) -> Result<(), Rejection> {
    let tx = h.by_node(
        member,
        Payload::RevokeAuthority {
            participant: code(member),
            authority: authority_id(member),
            compromised_since: since,
        },
    );
    h.run(tx)
}

fn flagged(h: &Harness, n: &str) -> bool {
    let record = h.ledger.certificate(&number(n)).unwrap().unwrap();
    h.ledger.compromised_issuer(&record).unwrap().is_some()
}

#[test]
fn certificates_issued_since_the_compromise_are_flagged_and_earlier_ones_are_not() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    h.set_time(at(2026, 2, 10));
    // Claims an issue date before the compromise; included after it.
    assert_eq!(
        h.issue(certificate("BW002", "BW", "EU", date(2026, 2, 1))),
        Ok(())
    );
    h.set_time(at(2026, 2, 20));
    assert_eq!(h.issue(certificate("BW003", "BW", "IN", h.today())), Ok(()));
    // Another authority's certificate of the same days stays clean.
    assert_eq!(h.issue(certificate("IN001", "IN", "EU", h.today())), Ok(()));

    h.set_time(at(2026, 3, 1));
    let since = at(2026, 2, 5);
    let tx = h.by_node(
        "BW",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: Some(since),
        },
    );
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.contains(&LedgerEvent::AuthorityRevoked {
        authority: authority_id("BW"),
        compromised_since: Some(since),
    }));

    assert!(!flagged(&h, "BW001"), "issued before the compromise");
    assert!(
        flagged(&h, "BW002"),
        "included after it, whatever its date says"
    );
    assert!(flagged(&h, "BW003"));
    assert!(!flagged(&h, "IN001"));
    let record = h.ledger.certificate(&number("BW002")).unwrap().unwrap();
    assert_eq!(record.issued_at, at(2026, 2, 10));
    let issuer = h.ledger.compromised_issuer(&record).unwrap().unwrap();
    assert_eq!(issuer.compromised_since, Some(since));
    assert!(issuer.revoked_height.is_some());

    // A revoked authority issues nothing more.
    let r = h.issue(certificate("BW004", "BW", "EU", h.today()));
    assert_eq!(r.unwrap_err().code(), "authority-revoked");
}

#[test]
fn a_compromise_in_the_future_is_refused_and_changes_nothing() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    let r = revoke(&mut h, "BW", Some(at(2026, 3, 1)));
    assert_eq!(r.unwrap_err().code(), "compromise-in-future");
    let a = h.ledger.authority(&authority_id("BW")).unwrap().unwrap();
    assert_eq!(a.revoked_height, None);
    assert_eq!(a.compromised_since, None);
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
}

#[test]
fn a_revoked_authority_can_be_marked_compromised_later_and_earlier_but_not_later() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    assert_eq!(h.issue(certificate("BW001", "BW", "EU", h.today())), Ok(()));
    h.set_time(at(2026, 2, 10));
    assert_eq!(h.issue(certificate("BW002", "BW", "EU", h.today())), Ok(()));

    // A routine revocation first: nothing is flagged.
    h.set_time(at(2026, 3, 1));
    assert_eq!(revoke(&mut h, "BW", None), Ok(()));
    let revoked_height = h
        .ledger
        .authority(&authority_id("BW"))
        .unwrap()
        .unwrap()
        .revoked_height;
    assert!(!flagged(&h, "BW001") && !flagged(&h, "BW002"));
    assert_eq!(
        revoke(&mut h, "BW", None).unwrap_err().code(),
        "authority-revoked"
    );

    // The compromise is found later.
    assert_eq!(revoke(&mut h, "BW", Some(at(2026, 2, 5))), Ok(()));
    assert!(!flagged(&h, "BW001") && flagged(&h, "BW002"));
    // It began earlier than first thought.
    assert_eq!(revoke(&mut h, "BW", Some(at(2026, 1, 15))), Ok(()));
    assert!(flagged(&h, "BW001") && flagged(&h, "BW002"));
    // Narrowing it again is not a revocation's business.
    assert_eq!(
        revoke(&mut h, "BW", Some(at(2026, 2, 5)))
            .unwrap_err()
            .code(),
        "authority-revoked"
    );
    let a = h.ledger.authority(&authority_id("BW")).unwrap().unwrap();
    assert_eq!(a.compromised_since, Some(at(2026, 1, 15)));
    assert_eq!(
        a.revoked_height, revoked_height,
        "the revocation height stays"
    );
}

#[test]
fn only_the_owner_revokes_its_authority_as_compromised() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    let tx = h.by_node(
        "IN",
        Payload::RevokeAuthority {
            participant: code("BW"),
            authority: authority_id("BW"),
            compromised_since: Some(at(2026, 1, 15)),
        },
    );
    assert!(h.run(tx).is_err());
    let a = h.ledger.authority(&authority_id("BW")).unwrap().unwrap();
    assert_eq!(a.compromised_since, None);
}

#[test]
fn the_certificates_an_authority_issued_are_found_page_by_page() {
    let mut h = Harness::new();
    h.set_time(at(2026, 2, 1));
    for n in ["BW003", "BW001", "BW002"] {
        assert_eq!(h.issue(certificate(n, "BW", "EU", h.today())), Ok(()));
    }
    assert_eq!(h.issue(certificate("IN001", "IN", "EU", h.today())), Ok(()));
    let bw = authority_id("BW");
    let all = h.ledger.certificates_issued_by(&bw, None, 10).unwrap();
    assert_eq!(all, [number("BW001"), number("BW002"), number("BW003")]);
    let page = h.ledger.certificates_issued_by(&bw, None, 2).unwrap();
    assert_eq!(page, [number("BW001"), number("BW002")]);
    let rest = h
        .ledger
        .certificates_issued_by(&bw, Some(&number("BW002")), 2)
        .unwrap();
    assert_eq!(rest, [number("BW003")]);
    let in_kpa = h
        .ledger
        .certificates_issued_by(&authority_id("IN"), None, 10)
        .unwrap();
    assert_eq!(in_kpa, [number("IN001")]);
    // An id that extends another's is a different authority.
    let none = h
        .ledger
        .certificates_issued_by(&kp_types::AuthorityId::new("BW-KP").unwrap(), None, 10)
        .unwrap();
    assert!(none.is_empty());
}

/// The fixture genesis with a second EU authority, `EU-DE`.
fn genesis_with_two_eu_authorities() -> kp_ledger::Genesis {
    let mut genesis = genesis();
    genesis.authorities.push(kp_types::Authority {
        id: kp_types::AuthorityId::new("EU-DE").unwrap(),
        participant: code("EU"),
        name: "EU second KP Authority".into(),
        key: extra_key("EU-DE").public(),
        encryption_key: None,
    });
    genesis
}

/// A harness on [`genesis_with_two_eu_authorities`] where each `(number,
/// authority)` was issued, in that order: `EU` is the EU's fixture
/// authority, `EU-DE` the second one.
fn eu_issued(issues: &[(&str, &str)]) -> Harness {
    let mut h = Harness::with_genesis(genesis_with_two_eu_authorities());
    h.set_time(at(2026, 2, 1));
    for (n, authority) in issues {
        let mut c = certificate(n, "EU", "BW", h.today());
        let key = if *authority == "EU" {
            c.issuing_authority = authority_id("EU");
            authority_key("EU")
        } else {
            c.issuing_authority = kp_types::AuthorityId::new(authority).unwrap();
            extra_key(authority)
        };
        let tx = h.tx(&key, Payload::IssueCertificate(c));
        assert_eq!(h.run(tx), Ok(()), "{n} by {authority}");
    }
    h
}

fn numbers(texts: &[&str]) -> Vec<kp_types::CertificateNumber> {
    texts.iter().map(|t| number(t)).collect()
}

#[test]
fn an_authority_s_certificates_across_territories_come_in_number_order_without_its_neighbours() {
    let h = eu_issued(&[
        ("NL005", "EU"),
        ("DE002", "EU-DE"),
        ("DE001", "EU"),
        ("BE001", "EU-DE"),
        ("BE002", "EU"),
        ("DE003", "EU-DE"),
    ]);
    let first = authority_id("EU");
    let second = kp_types::AuthorityId::new("EU-DE").unwrap();
    assert_eq!(
        h.ledger.territories_issued_under(&first).unwrap(),
        [territory("BE"), territory("DE"), territory("NL")]
    );
    assert_eq!(
        h.ledger.territories_issued_under(&second).unwrap(),
        [territory("BE"), territory("DE")]
    );
    let all = |a| h.ledger.certificates_issued_by(a, None, 10).unwrap();
    assert_eq!(all(&first), numbers(&["BE002", "DE001", "NL005"]));
    assert_eq!(all(&second), numbers(&["BE001", "DE002", "DE003"]));
    // Pages across a territory's end, and a cursor of another territory.
    let page = h.ledger.certificates_issued_by(&first, None, 1).unwrap();
    assert_eq!(page, numbers(&["BE002"]));
    let page = h
        .ledger
        .certificates_issued_by(&first, Some(&number("BE002")), 1)
        .unwrap();
    assert_eq!(page, numbers(&["DE001"]));
    let page = h
        .ledger
        .certificates_issued_by(&first, Some(&number("DE001")), 5)
        .unwrap();
    assert_eq!(page, numbers(&["NL005"]));
    // A cursor that is not the authority's own certificate (another's, or
    // none at all) continues after it.
    let page = h
        .ledger
        .certificates_issued_by(&second, Some(&number("BE002")), 5)
        .unwrap();
    assert_eq!(page, numbers(&["DE002", "DE003"]));
    let page = h
        .ledger
        .certificates_issued_by(&second, Some(&number("CZ999")), 5)
        .unwrap();
    assert_eq!(page, numbers(&["DE002", "DE003"]));
    assert!(h
        .ledger
        .certificates_issued_by(&first, Some(&number("NL005")), 5)
        .unwrap()
        .is_empty());
}

#[test]
fn the_per_certificate_index_of_earlier_builds_is_converted_on_open_and_the_root_stays() {
    use kp_ledger::keys::{prefix, table};
    use kp_ledger::{StateStore, WriteSet};
    let genesis = genesis_with_two_eu_authorities();
    let h = eu_issued(&[("DE001", "EU"), ("BE001", "EU-DE"), ("BE002", "EU")]);
    let root = h.ledger.state_root();
    let height = h.ledger.height();
    // The store as an earlier build left it: one 0x19 entry per certificate
    // (authority id, 0x00, number), no 0x1B entries.
    let store = h.ledger.store().clone();
    let new_prefix = prefix(table::AUTHORITY_TERRITORY);
    let mut writes = WriteSet::default();
    for (key, _) in store.scan_prefix(&new_prefix, None, 100).unwrap() {
        writes.delete(key);
    }
    for (authority, n) in [("EU-KPA", "DE001"), ("EU-DE", "BE001"), ("EU-KPA", "BE002")] {
        let key = [
            &prefix(table::CERTIFICATE_BY_AUTHORITY)[..],
            authority.as_bytes(),
            &[0],
            n.as_bytes(),
        ]
        .concat();
        writes.put(key, Vec::new());
    }
    store.commit_owned(writes).unwrap();
    drop(h);
    let ledger = kp_ledger::Ledger::open(&genesis, store.clone()).unwrap();
    assert_eq!(ledger.state_root(), root);
    assert_eq!(ledger.height(), height);
    assert!(store
        .scan_prefix(&[table::CERTIFICATE_BY_AUTHORITY], None, 10)
        .unwrap()
        .is_empty());
    assert_eq!(
        ledger
            .certificates_issued_by(&authority_id("EU"), None, 10)
            .unwrap(),
        numbers(&["BE002", "DE001"])
    );
    let second = kp_types::AuthorityId::new("EU-DE").unwrap();
    assert_eq!(
        ledger.certificates_issued_by(&second, None, 10).unwrap(),
        numbers(&["BE001"])
    );
    // A malformed entry is refused, not guessed at.
    let mut writes = WriteSet::default();
    writes.put(
        [&prefix(table::CERTIFICATE_BY_AUTHORITY)[..], b"EUX"].concat(),
        Vec::new(),
    );
    store.commit_owned(writes).unwrap();
    drop(ledger);
    assert!(matches!(
        kp_ledger::Ledger::open(&genesis, store),
        Err(kp_ledger::LedgerError::Store(_))
    ));
}

#[test]
fn a_territory_entry_is_written_by_the_first_certificate_under_it_only() {
    let mut h = eu_issued(&[("BE001", "EU")]);
    let territory_entries = |h: &mut Harness, n: &str| {
        let c = certificate(n, "EU", "BW", h.today());
        let tx = h.by_authority("EU", Payload::IssueCertificate(c));
        let block = block_with(&h.ledger, h.time, vec![tx]);
        let pending = h.ledger.execute(&block).unwrap();
        assert!(pending.receipt().receipts[0].result.is_ok(), "{n}");
        pending
            .writes()
            .entries
            .keys()
            .filter(|k| k.first() == Some(&kp_ledger::keys::table::AUTHORITY_TERRITORY))
            .count()
    };
    // BE is known for the EU's authority: nothing to write. DE is new.
    assert_eq!(territory_entries(&mut h, "BE002"), 0);
    assert_eq!(territory_entries(&mut h, "DE001"), 1);
}
