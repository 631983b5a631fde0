//! A government's three keys (consensus, government, recovery), the rotation
//! of each, and recovery of the government key after a delay: the cases of
//! `docs/adr/0008-government-keys-and-recovery.md` (lost government key,
//! stolen government key, stolen recovery key, both stolen), the one-pending
//! bound and each rejection, with admission (`check_tx`) agreeing with
//! execution.

use kp_ledger::testkit::*;
use kp_ledger::{Genesis, LedgerEvent, ResolutionOutcome};
use kp_types::{
    Hash, KeyRole, ParticipantKind, Payload, PublicKey, ResolutionAction, ResolutionProposal,
    SignedTransaction, SigningKey, Timestamp,
};

const DAY_MS: u64 = 86_400_000;

fn decision(label: &str) -> ResolutionAction {
    ResolutionAction::AdministrativeDecision {
        title: format!("Decision {label}"),
        text_hash: Hash::of(kp_types::Domain::Document, label.as_bytes()),
    }
}

fn proposal(label: &str) -> Payload {
    Payload::ProposeResolution(ResolutionProposal {
        title: format!("Proposal {label}"),
        action: decision(label),
        deadline: None,
    })
}

fn rotate(member: &str, role: KeyRole, new_key: &SigningKey) -> Payload {
    Payload::RotateKey {
        participant: code(member),
        role,
        new_key: new_key.public(),
    }
}

fn begin(member: &str, new_government_key: &SigningKey) -> Payload {
    Payload::BeginRecovery {
        participant: code(member),
        new_government_key: new_government_key.public(),
        new_recovery_key: None,
    }
}

fn cancel(member: &str) -> Payload {
    Payload::CancelRecovery {
        participant: code(member),
    }
}

fn keys_of(h: &Harness, member: &str) -> (PublicKey, PublicKey, Option<PublicKey>) {
    let p = h
        .ledger
        .participant(&code(member))
        .unwrap()
        .unwrap()
        .participant;
    (p.node_key, p.government_key, p.recovery_key)
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

/// Moves time past `member`'s pending key change and applies a block.
fn wait_out_delay(h: &mut Harness, member: &str) {
    let rec = h.ledger.participant(&code(member)).unwrap().unwrap();
    let due = rec
        .pending_key_change
        .expect("a pending change")
        .effective_at;
    h.set_time(due);
    h.apply(vec![]).unwrap();
}

#[test]
fn genesis_without_government_key_defaults_to_the_node_key() {
    let bw = node_key("BW").public().to_hex();
    let eu = node_key("EU").public().to_hex();
    let eu_gov = government_key("EU").public().to_hex();
    let eu_rec = recovery_key("EU").public().to_hex();
    let text = format!(
        r#"
chain_id = "kp-test"
genesis_time = "2026-01-01T00:00:00Z"
chair = "BW"

[[participants]]
code = "BW"
kind = "government"
name = "Botswana"
territories = ["BW"]
node_key = "{bw}"

[[participants]]
code = "EU"
kind = "government"
name = "European Union"
territories = ["BE"]
node_key = "{eu}"
government_key = "{eu_gov}"
recovery_key = "{eu_rec}"
"#
    );
    let g = Genesis::from_toml(&text).unwrap();
    assert_eq!(g.participants[0].government_key, node_key("BW").public());
    assert_eq!(g.participants[0].recovery_key, None);
    assert_eq!(
        g.participants[1].government_key,
        government_key("EU").public()
    );
    assert_eq!(
        g.participants[1].recovery_key,
        Some(recovery_key("EU").public())
    );
    assert_eq!(g.params.recovery_delay_ms, 7 * DAY_MS);
    // The written form names every key, and reads back the same.
    let again = Genesis::from_toml(&g.to_toml()).unwrap();
    assert_eq!(again, g);
    assert_eq!(again.hash(), g.hash());
    assert!(g.to_toml().contains("government_key"));

    // A key may be shared only between a member's own node and government roles.
    let stolen = text.replace(&eu_gov, &bw);
    assert!(matches!(
        Genesis::from_toml(&stolen),
        Err(kp_ledger::GenesisError::DuplicateKey { .. })
    ));
    let same_recovery = text.replace(&eu_rec, &eu_gov);
    assert!(matches!(
        Genesis::from_toml(&same_recovery),
        Err(kp_ledger::GenesisError::DuplicateKey { .. })
    ));
    let typo = text.replace("government_key =", "goverment_key =");
    assert!(Genesis::from_toml(&typo).is_err());
}

#[test]
fn government_acts_need_the_government_key_and_consensus_acts_the_node_key() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    // Resolutions: the node key is refused by name, a stranger is unknown.
    let tx = h.tx(&node_key("BW"), proposal("a"));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.tx(&recovery_key("BW"), proposal("a"));
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    let tx = h.tx(&government_key("BW"), proposal("a"));
    assert_eq!(verdict(&mut h, tx), "ok");
    // The registry: revoking an authority.
    let revoke = Payload::RevokeAuthority {
        participant: code("IN"),
        authority: authority_id("IN"),
        compromised_since: None,
    };
    let tx = h.tx(&node_key("IN"), revoke.clone());
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.tx(&government_key("IN"), revoke);
    assert_eq!(verdict(&mut h, tx), "ok");
    // Rotations: the recovery key rotates nothing.
    let tx = h.tx(
        &recovery_key("AE"),
        rotate("AE", KeyRole::Government, &extra_key("ae-gov-2")),
    );
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    // The validators are still the node keys.
    assert!(h.ledger.validators().contains(&node_key("BW").public()));
    assert!(!h
        .ledger
        .validators()
        .contains(&government_key("BW").public()));
}

#[test]
fn resolutions_are_adopted_with_government_keys() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let id = h.adopt(decision("budget"));
    let rec = h.ledger.resolution(&id).unwrap().unwrap();
    assert!(matches!(rec.outcome, ResolutionOutcome::Adopted { .. }));
}

#[test]
fn consensus_key_rotation_changes_the_validator_set_from_the_height_after_next() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let new_node = extra_key("bw-node-2");
    // Signed by the node key itself: refused (the government key rotates).
    let tx = h.tx(&node_key("BW"), rotate("BW", KeyRole::Consensus, &new_node));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Consensus, &new_node),
    );
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyRotated { role: KeyRole::Consensus, key, .. } if *key == new_node.public()
    )));
    let rotated_at = receipt.height;
    // The height after the rotation still has the old key (its set was
    // fixed a block earlier); the one after that has only the new key.
    assert!(h.ledger.validators().contains(&node_key("BW").public()));
    assert!(!h.ledger.validators().contains(&new_node.public()));
    let receipt = h.apply(vec![]).unwrap();
    assert_eq!(receipt.height, rotated_at + 1);
    assert!(h.ledger.validators().contains(&new_node.public()));
    assert!(!h.ledger.validators().contains(&node_key("BW").public()));
    assert!(h.ledger.network_members().contains(&new_node.public()));
    assert!(!h
        .ledger
        .network_members()
        .contains(&node_key("BW").public()));
    // The old node key is free of every role but stays unusable for others.
    let (node, gov, _) = keys_of(&h, "BW");
    assert_eq!(
        (node, gov),
        (new_node.public(), government_key("BW").public())
    );
}

#[test]
fn government_key_rotation_takes_effect_at_once() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let new_gov = extra_key("bw-gov-2");
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Government, &new_gov),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&government_key("BW"), proposal("old"));
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    let tx = h.tx(&new_gov, proposal("new"));
    assert_eq!(verdict(&mut h, tx), "ok");
    // A key in any role of anyone is refused, and so is a weak key.
    let tx = h.tx(
        &new_gov,
        Payload::RotateKey {
            participant: code("BW"),
            role: KeyRole::Government,
            new_key: node_key("EU").public(),
        },
    );
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.tx(
        &new_gov,
        Payload::RotateKey {
            participant: code("BW"),
            role: KeyRole::Government,
            new_key: recovery_key("EU").public(),
        },
    );
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.tx(
        &new_gov,
        Payload::RotateKey {
            participant: code("BW"),
            role: KeyRole::Consensus,
            new_key: PublicKey([0; 32]),
        },
    );
    assert_eq!(verdict(&mut h, tx), "weak-key");
}

#[test]
fn a_migrated_member_separates_its_government_key_by_rotation() {
    // The fixture genesis predates the roles: node key = government key.
    let mut h = Harness::new();
    let gov = extra_key("bw-gov-offline");
    let tx = h.tx(&node_key("BW"), rotate("BW", KeyRole::Government, &gov));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&node_key("BW"), proposal("by node"));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    let tx = h.tx(&gov, proposal("by government"));
    assert_eq!(verdict(&mut h, tx), "ok");
    // The node key still validates.
    assert!(h.ledger.validators().contains(&node_key("BW").public()));
    // Without a recovery key there is nothing to recover with; the
    // government key registers one at once.
    let tx = h.tx(&extra_key("anyone"), begin("BW", &extra_key("x")));
    assert_eq!(verdict(&mut h, tx), "no-recovery-key");
    let rec = extra_key("bw-recovery");
    let tx = h.tx(&gov, rotate("BW", KeyRole::Recovery, &rec));
    assert_eq!(verdict(&mut h, tx), "ok");
    assert_eq!(keys_of(&h, "BW").2, Some(rec.public()));
}

/// Case 1 (ADR 0008): the government key is lost. The recovery key restores
/// the government after the delay, nobody else's help needed, and a
/// resolution that waited for the government's signature is then adopted.
#[test]
fn lost_government_key_is_recovered_after_the_delay() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    // A resolution every government but BW signs; BW's key is lost.
    let (id, r) = h.propose("EU", decision("waiting for BW"), None);
    assert_eq!(r, Ok(()));
    for m in ["AE", "IN", "CF", "CG"] {
        assert_eq!(h.sign_resolution(m, id), Ok(()));
    }
    assert_eq!(
        h.ledger.resolution(&id).unwrap().unwrap().outcome,
        ResolutionOutcome::Pending
    );

    let new_gov = extra_key("bw-gov-recovered");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &new_gov));
    let begun = h.time;
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangePending {
            begun_by: KeyRole::Recovery,
            ..
        }
    )));
    // The record shows the pending recovery and its time.
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    let pending = rec.pending_key_change.clone().unwrap();
    assert_eq!(pending.begun_by, KeyRole::Recovery);
    assert_eq!(pending.new_government_key, Some(new_gov.public()));
    assert_eq!(pending.effective_at, begun.plus_ms(7 * DAY_MS));
    // Until then the new key is nobody's.
    let tx = h.tx(&new_gov, Payload::SignResolution { resolution: id });
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    // One millisecond before the time: still pending.
    h.set_time(Timestamp(pending.effective_at.0 - 1));
    h.apply(vec![]).unwrap();
    assert_eq!(keys_of(&h, "BW").1, government_key("BW").public());
    // At the time: the housekeeping of the block applies it.
    h.set_time(pending.effective_at);
    let receipt = h.apply(vec![]).unwrap();
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCompleted {
            begun_by: KeyRole::Recovery,
            ..
        }
    )));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyRotated { role: KeyRole::Government, key, .. } if *key == new_gov.public()
    )));
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.participant.government_key, new_gov.public());
    assert_eq!(
        rec.participant.recovery_key,
        Some(recovery_key("BW").public())
    );
    assert_eq!(rec.pending_key_change, None);
    // The lost key is powerless; the recovered one signs, and absolute
    // consensus completes the resolution.
    let tx = h.tx(
        &government_key("BW"),
        Payload::SignResolution { resolution: id },
    );
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    let tx = h.tx(&new_gov, Payload::SignResolution { resolution: id });
    assert_eq!(verdict(&mut h, tx), "ok");
    assert!(matches!(
        h.ledger.resolution(&id).unwrap().unwrap().outcome,
        ResolutionOutcome::Adopted { .. }
    ));
}

/// The halves of a cancellation recorded on `member`'s pending change.
fn cancel_signed_by(h: &Harness, member: &str) -> Vec<KeyRole> {
    h.ledger
        .participant(&code(member))
        .unwrap()
        .unwrap()
        .pending_key_change
        .expect("a pending change")
        .cancel_signed_by
}

/// Case 2 (ADR 0008): the recovery key is stolen. The thief's recovery is
/// visible at once; the government cancels it within the delay with its
/// government key and its node key (one half each), then replaces the
/// recovery key.
#[test]
fn stolen_recovery_key_is_cancelled_by_the_government_and_node_keys() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let thief = extra_key("thief-gov");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &thief));
    assert_eq!(verdict(&mut h, tx), "ok");
    // The government notices (event, participant record) and signs the
    // first half with its government key: recorded, nothing cancelled yet.
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCancelSigned {
            by: KeyRole::Government,
            awaiting: KeyRole::Consensus,
            ..
        }
    )));
    assert!(!receipt
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::KeyChangeCancelled { .. })));
    assert_eq!(cancel_signed_by(&h, "BW"), vec![KeyRole::Government]);
    // The same key twice is refused.
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "cancel-already-signed");
    // The node key signs the second half: the recovery is cancelled.
    let tx = h.tx(&node_key("BW"), cancel("BW"));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCancelled {
            by: KeyRole::Government,
            ..
        }
    )));
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.pending_key_change, None);
    // Long after the delay nothing changed.
    h.set_time(h.time.plus_ms(8 * DAY_MS));
    h.apply(vec![]).unwrap();
    assert_eq!(keys_of(&h, "BW").1, government_key("BW").public());
    let tx = h.tx(&thief, proposal("thief"));
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    // The government replaces the recovery key: that waits the delay too
    // (the current recovery key could cancel it; this thief does not).
    let new_rec = extra_key("bw-recovery-2");
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Recovery, &new_rec),
    );
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangePending {
            begun_by: KeyRole::Government,
            ..
        }
    )));
    assert_eq!(keys_of(&h, "BW").2, Some(recovery_key("BW").public()));
    wait_out_delay(&mut h, "BW");
    assert_eq!(keys_of(&h, "BW").2, Some(new_rec.public()));
    let tx = h.tx(&recovery_key("BW"), begin("BW", &thief));
    assert_eq!(verdict(&mut h, tx), "signer-not-recovery-key");
}

/// Half a cancellation, by either key alone, changes nothing: the recovery
/// completes after the delay. The order of the halves does not matter.
#[test]
fn half_a_cancellation_alone_does_nothing() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let new_gov = extra_key("bw-gov-new");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &new_gov));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&node_key("BW"), cancel("BW"));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCancelSigned {
            by: KeyRole::Consensus,
            awaiting: KeyRole::Government,
            ..
        }
    )));
    assert_eq!(cancel_signed_by(&h, "BW"), vec![KeyRole::Consensus]);
    let tx = h.tx(&node_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "cancel-already-signed");
    // Another member's keys count for nothing.
    let tx = h.tx(&node_key("EU"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    wait_out_delay(&mut h, "BW");
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.participant.government_key, new_gov.public());
    assert_eq!(rec.pending_key_change, None);

    // The halves belong to one pending change: a new recovery starts with
    // none, whatever the last one had.
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("bw-gov-3")));
    assert_eq!(verdict(&mut h, tx), "ok");
    assert!(cancel_signed_by(&h, "BW").is_empty());
    // Government half first, then the node half.
    let tx = h.tx(&new_gov, cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    assert_eq!(cancel_signed_by(&h, "BW"), vec![KeyRole::Government]);
    let tx = h.tx(&node_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.pending_key_change, None);
}

/// The recovery key withdraws its own recovery at once, with or without a
/// half of a cancellation already signed.
#[test]
fn the_recovery_key_withdraws_its_own_recovery() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("a")));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&recovery_key("BW"), cancel("BW"));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCancelled {
            by: KeyRole::Recovery,
            ..
        }
    )));
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.pending_key_change, None);
    let tx = h.tx(&recovery_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "no-pending-recovery");
}

/// A rotation of the recovery key (begun by the government key) keeps the
/// one-key rule: the recovery key or the government key cancels it at once;
/// the node key has no say in it.
#[test]
fn a_recovery_key_rotation_is_cancelled_by_one_key() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    for canceller in [government_key("BW"), recovery_key("BW")] {
        let tx = h.tx(
            &government_key("BW"),
            rotate("BW", KeyRole::Recovery, &extra_key("bw-rec-2")),
        );
        assert_eq!(verdict(&mut h, tx), "ok");
        let tx = h.tx(&node_key("BW"), cancel("BW"));
        assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
        let tx = h.tx(&canceller, cancel("BW"));
        assert_eq!(verdict(&mut h, tx), "ok");
        let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
        assert_eq!(rec.pending_key_change, None);
    }
}

/// A member whose government key is still its node key (a genesis written
/// before the roles were split) holds both halves in one key: one
/// signature cancels. Separating the keys is what the rule needs.
#[test]
fn a_shared_government_and_node_key_signs_both_halves() {
    let mut h = Harness::new();
    let tx = h.tx(
        &node_key("BW"),
        rotate("BW", KeyRole::Recovery, &extra_key("bw-rec")),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&extra_key("bw-rec"), begin("BW", &extra_key("bw-gov")));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&node_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.pending_key_change, None);
}

/// Case 3 (ADR 0008): the government key is stolen. The thief can act as
/// the government at once (that is what a government key is), and can
/// replace the government key, but cannot replace the recovery key before
/// the delay, and cannot cancel a recovery alone: its cancellation is only
/// a half, and a node key it installs with the stolen key does not count.
/// The recovery completes and the government regains control.
#[test]
fn stolen_government_key_cannot_block_a_recovery() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let thief_gov = extra_key("thief-gov");
    let thief_rec = extra_key("thief-rec");
    let thief_node = extra_key("thief-node");
    // The thief locks the government out of its government key...
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Government, &thief_gov),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    // ...and tries to replace the recovery key: it only becomes pending.
    let tx = h.tx(&thief_gov, rotate("BW", KeyRole::Recovery, &thief_rec));
    assert_eq!(verdict(&mut h, tx), "ok");
    assert_eq!(keys_of(&h, "BW").2, Some(recovery_key("BW").public()));
    // The government begins a recovery: it overrides the pending rotation.
    let restored = extra_key("bw-gov-restored");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &restored));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeCancelled {
            by: KeyRole::Recovery,
            ..
        }
    )));
    // The thief may not start another rotation while the recovery waits.
    let tx = h.tx(&thief_gov, rotate("BW", KeyRole::Recovery, &thief_rec));
    assert_eq!(verdict(&mut h, tx), "recovery-pending");
    // The thief's cancellation is half of one, and it cannot sign twice.
    let tx = h.tx(&thief_gov, cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    assert_eq!(cancel_signed_by(&h, "BW"), vec![KeyRole::Government]);
    let tx = h.tx(&thief_gov, cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "cancel-already-signed");
    // It installs a node key of its own with the stolen key (at once: that
    // is what the government key may do), but that key does not count.
    let tx = h.tx(&thief_gov, rotate("BW", KeyRole::Consensus, &thief_node));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&thief_node, cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "node-key-too-recent");
    // The recovery completes after the delay.
    wait_out_delay(&mut h, "BW");
    let (_, gov, rec) = keys_of(&h, "BW");
    assert_eq!(gov, restored.public());
    assert_eq!(rec, Some(recovery_key("BW").public()));
    let tx = h.tx(&thief_gov, proposal("thief"));
    assert_eq!(verdict(&mut h, tx), "unknown-signer");
    // The government, in control again, takes back its node key.
    let tx = h.tx(
        &restored,
        rotate("BW", KeyRole::Consensus, &extra_key("bw-node-3")),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&restored, proposal("restored"));
    assert_eq!(verdict(&mut h, tx), "ok");

    // A thief who installs its node key before the recovery begins fares no
    // better: the node key must have stood a full delay before the
    // recovery began, and the government notices within the delay (its
    // node left the validator set).
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Consensus, &thief_node),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    h.set_time(h.time.plus_ms(DAY_MS));
    let tx = h.tx(&recovery_key("BW"), begin("BW", &restored));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&thief_node, cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "node-key-too-recent");
    wait_out_delay(&mut h, "BW");
    assert_eq!(keys_of(&h, "BW").1, restored.public());
}

/// The remaining case (ADR 0008): the government key and a node key that
/// has stood a full delay are both stolen (a compromised node that holds
/// both): the thief holds both halves and cancels every recovery. Keep the
/// government key off the node.
#[test]
fn stolen_government_and_node_keys_cancel_recoveries() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    for attempt in ["bw-gov-1", "bw-gov-2"] {
        let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key(attempt)));
        assert_eq!(verdict(&mut h, tx), "ok");
        let tx = h.tx(&government_key("BW"), cancel("BW"));
        assert_eq!(verdict(&mut h, tx), "ok");
        let tx = h.tx(&node_key("BW"), cancel("BW"));
        assert_eq!(verdict(&mut h, tx), "ok");
        let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
        assert_eq!(rec.pending_key_change, None);
    }
    assert_eq!(keys_of(&h, "BW").1, government_key("BW").public());
    // A node key the government key rotated long enough ago counts too.
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Consensus, &extra_key("bw-node-2")),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    h.set_time(h.time.plus_ms(7 * DAY_MS));
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("bw-gov-3")));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&extra_key("bw-node-2"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(rec.pending_key_change, None);
}

/// Case 4 (ADR 0008): both keys stolen. The thief holds every power of the
/// government: it recovers to a key of its own and cancels the government's
/// attempts. The ledger cannot help; the delay only makes it public.
#[test]
fn both_keys_stolen_is_a_takeover_made_public() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let thief_gov = extra_key("thief-gov");
    let thief_rec = extra_key("thief-rec");
    let tx = h.tx(
        &recovery_key("BW"),
        Payload::BeginRecovery {
            participant: code("BW"),
            new_government_key: thief_gov.public(),
            new_recovery_key: Some(thief_rec.public()),
        },
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    // The government could cancel with its government key and node key,
    // but the thief holds the recovery key and begins again; here it simply
    // waits.
    wait_out_delay(&mut h, "BW");
    let (_, gov, rec) = keys_of(&h, "BW");
    assert_eq!((gov, rec), (thief_gov.public(), Some(thief_rec.public())));
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("too late")));
    assert_eq!(verdict(&mut h, tx), "signer-not-recovery-key");
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
}

#[test]
fn one_key_change_pending_per_member_and_each_refusal() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "no-pending-recovery");
    let tx = h.tx(&government_key("EU"), begin("BW", &extra_key("a")));
    assert_eq!(verdict(&mut h, tx), "signer-not-recovery-key");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &government_key("EU")));
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.tx(
        &recovery_key("BW"),
        Payload::BeginRecovery {
            participant: code("BW"),
            new_government_key: extra_key("same").public(),
            new_recovery_key: Some(extra_key("same").public()),
        },
    );
    assert_eq!(verdict(&mut h, tx), "key-in-use");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("a")));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("b")));
    assert_eq!(verdict(&mut h, tx), "recovery-pending");
    let tx = h.tx(
        &government_key("BW"),
        rotate("BW", KeyRole::Recovery, &extra_key("c")),
    );
    assert_eq!(verdict(&mut h, tx), "recovery-pending");
    let tx = h.tx(&authority_key("BW"), cancel("BW"));
    assert_eq!(verdict(&mut h, tx), "signer-not-government-key");
    // Another member's recovery is unaffected by BW's.
    let tx = h.tx(&recovery_key("EU"), begin("EU", &extra_key("eu")));
    assert_eq!(verdict(&mut h, tx), "ok");
    // A cancellation at the time the change takes effect comes too late.
    // Admission (which runs without housekeeping) still sees the old key and
    // refuses it as no longer pending; the block, whose housekeeping applied
    // the change first, refuses it as not the government key. Both refuse.
    let due = h
        .ledger
        .participant(&code("BW"))
        .unwrap()
        .unwrap()
        .pending_key_change
        .unwrap()
        .effective_at;
    h.set_time(due);
    let tx = h.tx(&government_key("BW"), cancel("BW"));
    assert_eq!(
        h.ledger.check_tx(&tx, h.time).unwrap_err().code(),
        "no-pending-recovery"
    );
    assert_eq!(h.run(tx).unwrap_err().code(), "signer-not-government-key");
    assert_eq!(keys_of(&h, "BW").1, extra_key("a").public());
}

#[test]
fn a_pending_key_taken_meanwhile_fails_the_change_and_changes_nothing() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let contested = extra_key("contested");
    let tx = h.tx(&recovery_key("BW"), begin("BW", &contested));
    assert_eq!(verdict(&mut h, tx), "ok");
    // EU's government takes the same key as its consensus key meanwhile.
    let tx = h.tx(
        &government_key("EU"),
        rotate("EU", KeyRole::Consensus, &contested),
    );
    assert_eq!(verdict(&mut h, tx), "ok");
    let due = h
        .ledger
        .participant(&code("BW"))
        .unwrap()
        .unwrap()
        .pending_key_change
        .unwrap()
        .effective_at;
    h.set_time(due);
    let receipt = h.apply(vec![]).unwrap();
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        LedgerEvent::KeyChangeFailed { key, .. } if *key == contested.public()
    )));
    let rec = h.ledger.participant(&code("BW")).unwrap().unwrap();
    assert_eq!(
        rec.participant.government_key,
        government_key("BW").public()
    );
    assert_eq!(rec.pending_key_change, None);
    // The recovery key can begin again.
    let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("fresh")));
    assert_eq!(verdict(&mut h, tx), "ok");
}

#[test]
fn an_admitted_member_brings_its_own_keys() {
    let mut h = Harness::with_genesis(genesis_with_key_roles());
    let mut za = member_with_key_roles("ZA", ParticipantKind::Government, &["ZA"]);
    // Its government key may not be someone else's.
    za.government_key = government_key("BW").public();
    let (_, r) = h.propose(
        "BW",
        ResolutionAction::Admit {
            participant: za.clone(),
        },
        None,
    );
    assert_eq!(r.unwrap_err().code(), "key-in-use");
    za.government_key = government_key("ZA").public();
    h.adopt(ResolutionAction::Admit { participant: za });
    let tx = h.tx(&government_key("ZA"), proposal("from ZA"));
    assert_eq!(verdict(&mut h, tx), "ok");
    let tx = h.tx(&recovery_key("ZA"), begin("ZA", &extra_key("za-2")));
    assert_eq!(verdict(&mut h, tx), "ok");
}

#[test]
fn replicas_agree_on_key_changes() {
    let run = || {
        let mut h = Harness::with_genesis(genesis_with_key_roles());
        let tx = h.tx(&recovery_key("BW"), begin("BW", &extra_key("bw-2")));
        h.run(tx).unwrap();
        let tx = h.tx(
            &government_key("EU"),
            rotate("EU", KeyRole::Recovery, &extra_key("eu-rec-2")),
        );
        h.run(tx).unwrap();
        h.set_time(h.time.plus_ms(7 * DAY_MS));
        h.apply(vec![]).unwrap();
        h.ledger.state_root()
    };
    assert_eq!(run(), run());
    // And a reopened ledger verifies its state from the committed entries.
    let h = Harness::with_genesis(genesis_with_key_roles());
    h.ledger.verify_state().unwrap();
}
