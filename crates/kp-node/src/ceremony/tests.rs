//! The ceremony end to end in memory: a draft from `init`, three
//! governments and an observer added with their own keys, sign-offs, and
//! every way a sign-off or an entry is refused.

use super::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed([n; 32])
}

fn code(c: &str) -> ParticipantCode {
    ParticipantCode::new(c).unwrap()
}

fn government(c: &str, n: u8) -> NewParticipant {
    NewParticipant {
        code: code(c),
        kind: ParticipantKind::Government,
        name: format!("Government of {c}"),
        territories: vec![Territory::new(c).unwrap()],
        node_key: key(n).public(),
        government_key: Some(key(n + 100).public()),
        recovery_key: Some(key(n + 200).public()),
    }
}

fn draft() -> Genesis {
    let mut g = init(
        "kp-ceremony",
        "2027-01-01T00:00:00Z".parse().unwrap(),
        code("BW"),
        Some(code("EU")),
    );
    // Not valid yet: no member.
    assert!(g.validate().is_err());
    add_participant(&mut g, government("BW", 1)).unwrap();
    add_participant(&mut g, government("EU", 2)).unwrap();
    add_participant(&mut g, government("AE", 3)).unwrap();
    add_participant(
        &mut g,
        NewParticipant {
            code: code("WDC"),
            kind: ParticipantKind::Observer,
            name: "World Diamond Council".into(),
            territories: vec![],
            node_key: key(4).public(),
            government_key: None,
            recovery_key: None,
        },
    )
    .unwrap();
    add_authority(
        &mut g,
        Authority {
            id: kp_types::AuthorityId::new("BW-KPA").unwrap(),
            participant: code("BW"),
            name: "KP Authority of Botswana".into(),
            key: key(5).public(),
            encryption_key: Some(DecryptionKey::from_seed(&[6; 32]).public()),
        },
    )
    .unwrap();
    g.validate().unwrap();
    g
}

#[test]
fn every_government_signs_and_then_the_genesis_is_agreed() {
    let g = draft();
    let mut offs = Vec::new();
    for (c, n) in [("BW", 1), ("EU", 2)] {
        offs.push((c.to_string(), sign(&g, &code(c), &key(n + 100)).unwrap()));
    }
    let t = tally(&g, &offs).unwrap();
    assert_eq!(t.signed, vec![code("BW"), code("EU")]);
    assert_eq!(t.missing, vec![code("AE")]);
    assert!(!t.agreed(), "one government has not signed");
    offs.push(("AE".into(), sign(&g, &code("AE"), &key(103)).unwrap()));
    let t = tally(&g, &offs).unwrap();
    assert!(t.agreed(), "{t:?}");
    assert_eq!(t.genesis_hash, g.hash());
}

#[test]
fn sign_offs_that_do_not_hold_are_refused_and_not_counted() {
    let g = draft();
    // Only a government's own government key signs.
    assert!(sign(&g, &code("BW"), &key(1)).is_err(), "node key");
    assert!(sign(&g, &code("WDC"), &key(4)).is_err(), "observer");
    assert!(sign(&g, &code("ZZ"), &key(1)).is_err(), "unknown");

    let good = sign(&g, &code("BW"), &key(101)).unwrap();
    let mut forged = good.clone();
    forged.signature.0[0] ^= 1;
    let mut other_genesis = good.clone();
    other_genesis.genesis_hash = Hash([9; 32]);
    let mut stolen_name = sign(&g, &code("EU"), &key(102)).unwrap();
    stolen_name.participant = code("AE");
    let t = tally(
        &g,
        &[
            ("forged".into(), forged),
            ("other".into(), other_genesis),
            ("stolen".into(), stolen_name),
        ],
    )
    .unwrap();
    assert!(t.signed.is_empty(), "{t:?}");
    assert_eq!(t.refused.len(), 3, "{t:?}");
    assert!(t.refused[0].contains("does not verify"), "{t:?}");
    assert!(t.refused[1].contains("not this one"), "{t:?}");
    assert!(t.refused[2].contains("government key"), "{t:?}");
    assert!(!t.agreed());

    // A change to the genesis after signing voids every sign-off.
    let mut changed = g.clone();
    changed.params.mirror_mismatch_pct += 1;
    let t = tally(&changed, &[("BW".into(), good)]).unwrap();
    assert!(t.signed.is_empty() && t.refused.len() == 1, "{t:?}");
}

#[test]
fn entries_that_clash_are_refused() {
    let mut g = draft();
    let again = add_participant(&mut g, government("BW", 50)).unwrap_err();
    assert!(
        again.to_string().contains("already in this genesis"),
        "{again}"
    );
    let mut same_key = government("ZA", 1);
    same_key.government_key = None;
    assert!(add_participant(&mut g, same_key)
        .unwrap_err()
        .to_string()
        .contains("already BW's"));
    let mut same_territory = government("ZA", 40);
    same_territory.territories = vec![Territory::new("AE").unwrap()];
    assert!(add_participant(&mut g, same_territory)
        .unwrap_err()
        .to_string()
        .contains("territory AE"));
    let mut recovery_is_government = government("ZA", 41);
    recovery_is_government.recovery_key = recovery_is_government.government_key;
    assert!(add_participant(&mut g, recovery_is_government).is_err());
    let observer_authority = add_authority(
        &mut g,
        Authority {
            id: kp_types::AuthorityId::new("WDC-KPA").unwrap(),
            participant: code("WDC"),
            name: "none".into(),
            key: key(70).public(),
            encryption_key: None,
        },
    )
    .unwrap_err();
    assert!(observer_authority.to_string().contains("observer"));
}

#[test]
fn a_draft_and_a_sign_off_survive_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let g = draft();
    let path = dir.path().join("genesis.toml");
    write_draft(&path, &g).unwrap();
    let back = read_draft(&path).unwrap();
    assert_eq!(back, g);
    assert_eq!(back.hash(), g.hash(), "the file keeps the hash");
    let off = sign(&back, &code("EU"), &key(102)).unwrap();
    let off_path = dir.path().join("EU.signoff.toml");
    write_sign_off(&off_path, &off).unwrap();
    assert_eq!(read_sign_off(&off_path).unwrap(), off);
    std::fs::write(&off_path, "participant = 1").unwrap();
    assert!(matches!(
        read_sign_off(&off_path),
        Err(CeremonyError::Parse { .. })
    ));

    // Keys: a key file gives its public half; hex is taken as is; anything
    // else is refused.
    let key_file = dir.path().join("node.key");
    crate::keys::write(&key_file, &key(33)).unwrap();
    assert_eq!(
        public_key(key_file.to_str().unwrap()).unwrap(),
        key(33).public()
    );
    let hex = key(34).public().to_string();
    assert_eq!(public_key(&hex).unwrap(), key(34).public());
    assert!(public_key("not-a-key").is_err());
    assert_eq!(
        encryption_key(key_file.to_str().unwrap()).unwrap(),
        DecryptionKey::from_seed(&[33; 32]).public()
    );
    assert!(encryption_key(&"00".repeat(32)).is_err(), "weak key");
}
