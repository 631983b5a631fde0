//! Resolutions (absolute consensus), membership and the validator set, the
//! Chair's rotation, the authority registry, node-key rotation and evidence.

use kp_ledger::testkit::*;
use kp_ledger::{LedgerEvent, MembershipStatus, ResolutionOutcome};
use kp_types::{
    Evidence, Hash, ParticipantKind, Payload, PublicKey, ResolutionAction, Vote, VoteKind,
};

fn decision() -> ResolutionAction {
    ResolutionAction::AdministrativeDecision {
        title: "Administrative decision on the budget".into(),
        text_hash: Hash::of(kp_types::Domain::Document, b"text"),
    }
}

fn outcome(h: &Harness, id: Hash) -> ResolutionOutcome {
    h.ledger.resolution(&id).unwrap().unwrap().outcome
}

fn codes(list: &[&str]) -> Vec<kp_types::ParticipantCode> {
    list.iter().map(|c| code(c)).collect()
}

#[test]
fn adopted_only_in_the_block_with_the_last_government_signature() {
    let mut h = Harness::new();
    let (id, r) = h.propose("BW", decision(), None);
    assert_eq!(r, Ok(()));
    let rec = h.ledger.resolution(&id).unwrap().unwrap();
    assert_eq!(
        rec.signed_by,
        codes(&["BW"]),
        "the proposal counts as BW's signature"
    );
    assert_eq!(rec.missing, codes(&["AE", "CF", "CG", "EU", "IN"]));
    for signer in ["EU", "AE", "IN", "CF"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
        assert_eq!(
            outcome(&h, id),
            ResolutionOutcome::Pending,
            "after {signer}"
        );
    }
    assert_eq!(
        h.ledger.resolution(&id).unwrap().unwrap().missing,
        codes(&["CG"])
    );
    let tx = h.by_node("CG", Payload::SignResolution { resolution: id });
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(
        outcome(&h, id),
        ResolutionOutcome::Adopted {
            height: receipt.height
        }
    );
    assert!(receipt
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::ResolutionAdopted { id: i, .. } if *i == id)));
    // Closed: further signatures are refused.
    assert_eq!(
        h.sign_resolution("CG", id).unwrap_err().code(),
        "resolution-closed"
    );
}

#[test]
fn one_objection_rejects_at_once() {
    let mut h = Harness::new();
    let (id, _) = h.propose("BW", decision(), None);
    for signer in ["EU", "AE", "IN", "CF"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
    }
    assert_eq!(h.object("CG", id), Ok(()));
    assert!(matches!(
        outcome(&h, id),
        ResolutionOutcome::Rejected { by, .. } if by == code("CG")
    ));
    assert_eq!(
        h.sign_resolution("CG", id).unwrap_err().code(),
        "resolution-closed"
    );
}

#[test]
fn lapses_at_the_deadline_by_block_time() {
    let mut h = Harness::new();
    let deadline = h.time.plus_ms(3_600_000);
    let (id, _) = h.propose("BW", decision(), Some(deadline));
    for signer in ["EU", "AE", "IN", "CF"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
    }
    // A block one millisecond before the deadline still accepts signatures
    // (none sent here); the block at the deadline lapses it.
    h.set_time(kp_types::Timestamp(deadline.0 - 1));
    h.apply(vec![]).unwrap();
    assert_eq!(outcome(&h, id), ResolutionOutcome::Pending);
    h.set_time(deadline);
    let receipt = h.apply(vec![]).unwrap();
    assert!(matches!(outcome(&h, id), ResolutionOutcome::Lapsed { .. }));
    assert!(receipt
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::ResolutionLapsed { id: i } if *i == id)));
    assert_eq!(
        h.sign_resolution("CG", id).unwrap_err().code(),
        "resolution-lapsed"
    );
}

#[test]
fn observers_and_trading_entities_cannot_sign_or_propose() {
    let mut h = Harness::new();
    let (id, _) = h.propose("BW", decision(), None);
    for outsider in ["WDC", "TW"] {
        assert_eq!(
            h.sign_resolution(outsider, id).unwrap_err().code(),
            "not-a-government",
            "{outsider}"
        );
        assert_eq!(
            h.object(outsider, id).unwrap_err().code(),
            "not-a-government"
        );
        let (_, r) = h.propose(outsider, decision(), None);
        assert_eq!(r.unwrap_err().code(), "not-a-government");
    }
    let rec = h.ledger.resolution(&id).unwrap().unwrap();
    assert_eq!(rec.signed_by, codes(&["BW"]));
    assert_eq!(rec.outcome, ResolutionOutcome::Pending);
}

fn validator_codes(h: &Harness) -> Vec<String> {
    h.ledger
        .validator_codes()
        .into_iter()
        .map(|(c, _)| c.to_string())
        .collect()
}

fn next_validator_codes(h: &Harness) -> Vec<String> {
    h.ledger
        .next_validator_codes()
        .into_iter()
        .map(|(c, _)| c.to_string())
        .collect()
}

#[test]
fn admission_changes_validators_and_required_signers() {
    let mut h = Harness::new();
    assert_eq!(validator_codes(&h), ["AE", "BW", "CF", "CG", "EU", "IN"]);
    let za = member("ZA", ParticipantKind::Government, &["ZA"]);
    let id = h.adopt(ResolutionAction::Admit {
        participant: za.clone(),
    });
    // ZA validates from the height after next (header chain: the next
    // header already names the set of its successor).
    assert_eq!(validator_codes(&h), ["AE", "BW", "CF", "CG", "EU", "IN"]);
    assert_eq!(
        next_validator_codes(&h),
        ["AE", "BW", "CF", "CG", "EU", "IN", "ZA"]
    );
    h.apply(vec![]).unwrap();
    assert_eq!(
        validator_codes(&h),
        ["AE", "BW", "CF", "CG", "EU", "IN", "ZA"]
    );
    assert!(h.ledger.validators().contains(&za.node_key));
    assert!(h.ledger.network_members().contains(&za.node_key));
    let _ = id;
    // The next resolution needs ZA's signature too.
    let (id, _) = h.propose("BW", decision(), None);
    for signer in ["EU", "AE", "IN", "CF", "CG"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
    }
    assert_eq!(outcome(&h, id), ResolutionOutcome::Pending);
    assert_eq!(
        h.ledger.resolution(&id).unwrap().unwrap().missing,
        codes(&["ZA"])
    );
    assert_eq!(h.sign_resolution("ZA", id), Ok(()));
    assert!(matches!(outcome(&h, id), ResolutionOutcome::Adopted { .. }));
}

#[test]
fn validator_set_changes_from_the_height_after_next() {
    let mut h = Harness::new();
    let (id, _) = h.propose(
        "BW",
        ResolutionAction::Expel {
            participant: code("CG"),
        },
        None,
    );
    let mut txs = Vec::new();
    for signer in ["EU", "AE", "IN", "CF", "CG"] {
        txs.push(h.by_node(signer, Payload::SignResolution { resolution: id }));
    }
    let before = h.ledger.validators();
    let receipt = h.apply(txs).unwrap();
    assert!(matches!(outcome(&h, id), ResolutionOutcome::Adopted { .. }));
    // The block that adopted it was validated by the old set, and so is the
    // next one, whose header was fixed before: the adoption fixes the set of
    // the height after next.
    assert!(before.contains(&node_key("CG").public()));
    assert!(h.ledger.validators().contains(&node_key("CG").public()));
    assert_eq!(next_validator_codes(&h), ["AE", "BW", "CF", "EU", "IN"]);
    assert!(!receipt
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::ValidatorSetChanged { .. })));
    // CG is out of the network at once (membership is not consensus).
    assert!(!h
        .ledger
        .network_members()
        .contains(&node_key("CG").public()));
    let receipt = h.apply(vec![]).unwrap();
    let announced = receipt
        .events
        .iter()
        .find_map(|e| match e {
            LedgerEvent::ValidatorSetChanged { validators } => Some(validators.clone()),
            _ => None,
        })
        .expect("validator set change announced");
    assert_eq!(announced, h.ledger.validator_codes());
    assert_eq!(validator_codes(&h), ["AE", "BW", "CF", "EU", "IN"]);
    assert!(!h
        .ledger
        .network_members()
        .contains(&node_key("CG").public()));
}

#[test]
fn expulsion_removes_a_required_signer_and_readmission_restores_it() {
    let mut h = Harness::new();
    h.adopt(ResolutionAction::Expel {
        participant: code("CG"),
    });
    let (id, _) = h.propose("BW", decision(), None);
    assert_eq!(
        h.ledger.resolution(&id).unwrap().unwrap().missing,
        codes(&["AE", "CF", "EU", "IN"])
    );
    assert_eq!(
        h.sign_resolution("CG", id).unwrap_err().code(),
        "participant-expelled"
    );
    for signer in ["EU", "AE", "IN"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
    }
    assert_eq!(h.sign_resolution("CF", id), Ok(()));
    assert!(matches!(outcome(&h, id), ResolutionOutcome::Adopted { .. }));
    h.adopt(ResolutionAction::Readmit {
        participant: code("CG"),
    });
    let rec = h.ledger.participant(&code("CG")).unwrap().unwrap();
    assert_eq!(rec.status, MembershipStatus::Active);
    assert!(next_validator_codes(&h).contains(&"CG".to_string()));
    h.apply(vec![]).unwrap();
    assert!(validator_codes(&h).contains(&"CG".to_string()));
}

#[test]
fn chair_rotates_on_first_january_by_block_time() {
    let mut h = Harness::new_at(at(2026, 3, 1));
    assert_eq!(h.ledger.chair(), code("BW"));
    assert_eq!(h.ledger.vice_chair(), None);
    h.adopt(ResolutionAction::ElectViceChair {
        participant: code("IN"),
    });
    assert_eq!(h.ledger.vice_chair(), Some(code("IN")));
    h.set_time(at(2026, 12, 31).plus_ms(86_400_000 - 1));
    h.apply(vec![]).unwrap();
    assert_eq!(h.ledger.chair(), code("BW"), "still 2026");
    h.set_time(at(2027, 1, 1));
    let receipt = h.apply(vec![]).unwrap();
    assert_eq!(h.ledger.chair(), code("IN"));
    assert_eq!(h.ledger.vice_chair(), None);
    assert!(receipt.events.iter().any(
        |e| matches!(e, LedgerEvent::ChairRotated { chair, year: 2027 } if *chair == code("IN"))
    ));
    // Without a new Vice Chair, the Chair stays on the next year.
    h.set_time(at(2028, 1, 2));
    h.apply(vec![]).unwrap();
    assert_eq!(h.ledger.chair(), code("IN"));
}

#[test]
fn authority_registry_is_the_participants_own_act() {
    let mut h = Harness::new();
    let key = extra_key("in-mumbai");
    let a = kp_types::Authority {
        id: kp_types::AuthorityId::new("IN-MUMBAI").unwrap(),
        participant: code("IN"),
        name: "Mumbai office".into(),
        key: key.public(),
        encryption_key: None,
    };
    // Another member cannot register it.
    let tx = h.by_node("BW", Payload::RegisterAuthority(a.clone()));
    assert_eq!(h.run(tx).unwrap_err().code(), "signer-not-government-key");
    let tx = h.by_node("IN", Payload::RegisterAuthority(a.clone()));
    assert_eq!(h.run(tx), Ok(()));
    let rec = h.ledger.participant(&code("IN")).unwrap().unwrap();
    assert_eq!(rec.authorities.len(), 2);
    // The new authority issues.
    let mut c = certificate("IN0000001", "IN", "AE", h.today());
    c.issuing_authority = a.id.clone();
    let tx = h.tx(&key, Payload::IssueCertificate(c.clone()));
    assert_eq!(h.run(tx), Ok(()));
    let tx = h.by_node(
        "IN",
        Payload::RevokeAuthority {
            participant: code("IN"),
            authority: a.id.clone(),
            compromised_since: None,
        },
    );
    assert_eq!(h.run(tx), Ok(()));
    c.number = number("IN0000002");
    let tx = h.tx(&key, Payload::IssueCertificate(c));
    assert_eq!(h.run(tx).unwrap_err().code(), "authority-revoked");
}

/// A member registers at most `AUTHORITIES_PER_PARTICIPANT_MAX` authorities
/// (revoked ones count), so its whole list fits in one proof; the count the
/// ledger keeps is what the light client checks a list against.
#[test]
fn authorities_per_member_are_capped_and_counted() {
    let mut h = Harness::new();
    let max = kp_api::genesis::AUTHORITIES_PER_PARTICIPANT_MAX;
    // The fixture genesis gives IN one authority.
    let office = |i: usize| kp_types::Authority {
        id: kp_types::AuthorityId::new(&format!("IN-OFFICE-{i}")).unwrap(),
        participant: code("IN"),
        name: format!("office {i}"),
        key: extra_key(&format!("in-office-{i}")).public(),
        encryption_key: None,
    };
    let txs: Vec<_> = (1..max)
        .map(|i| h.by_node("IN", Payload::RegisterAuthority(office(i))))
        .collect();
    let receipt = h.apply(txs).unwrap();
    assert!(receipt.receipts.iter().all(|r| r.result.is_ok()));
    let rec = h.ledger.participant(&code("IN")).unwrap().unwrap();
    assert_eq!(rec.authorities.len(), max);
    let tx = h.by_node("IN", Payload::RegisterAuthority(office(max)));
    assert_eq!(h.run(tx).unwrap_err().code(), "too-many-items");
    // Another member's count is its own.
    let other = kp_types::Authority {
        id: kp_types::AuthorityId::new("AE-DUBAI").unwrap(),
        participant: code("AE"),
        name: "Dubai office".into(),
        key: extra_key("ae-dubai").public(),
        encryption_key: None,
    };
    let tx = h.by_node("AE", Payload::RegisterAuthority(other));
    assert_eq!(h.run(tx), Ok(()));
}

#[test]
fn consensus_key_rotation_moves_validator_rights_only() {
    // The fixture genesis predates the key roles: BW's government key is
    // its node key. Rotating the consensus key separates them.
    let mut h = Harness::new();
    let new_key = extra_key("bw-node-2");
    let tx = h.by_node(
        "BW",
        Payload::RotateKey {
            participant: code("BW"),
            role: kp_types::KeyRole::Consensus,
            new_key: new_key.public(),
        },
    );
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    // The new key validates from the height after next.
    assert!(h.ledger.validators().contains(&node_key("BW").public()));
    assert!(h
        .ledger
        .next_validator_codes()
        .iter()
        .any(|(_, k)| *k == new_key.public()));
    let receipt = h.apply(vec![]).unwrap();
    assert!(receipt
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::ValidatorSetChanged { .. })));
    assert!(h.ledger.validators().contains(&new_key.public()));
    assert!(!h.ledger.validators().contains(&node_key("BW").public()));
    // The old key is still BW's government key; the consensus key is not one.
    let p = kp_types::ResolutionProposal {
        title: "t".into(),
        action: decision(),
        deadline: None,
    };
    let tx = h.tx(&new_key, Payload::ProposeResolution(p.clone()));
    assert_eq!(h.run(tx).unwrap_err().code(), "signer-not-government-key");
    let tx = h.tx(&node_key("BW"), Payload::ProposeResolution(p));
    assert_eq!(h.run(tx), Ok(()));
}

#[test]
fn evidence_is_recorded_once() {
    let mut h = Harness::new();
    let k = node_key("AE");
    let vote = |b: u8| {
        Vote {
            chain_id: CHAIN_ID.into(),
            height: 3,
            round: 1,
            kind: VoteKind::Precommit,
            block: Some(Hash([b; 32])),
            validator: k.public(),
        }
        .sign(&k)
    };
    let ev = Evidence::DuplicateVote {
        first: vote(1),
        second: vote(2),
    };
    let swapped = Evidence::DuplicateVote {
        first: vote(2),
        second: vote(1),
    };
    let tx = h.by_node("IN", Payload::SubmitEvidence(ev));
    let receipt = h.apply(vec![tx]).unwrap();
    assert_eq!(receipt.receipts[0].result, Ok(()));
    assert!(receipt.events.iter().any(
        |e| matches!(e, LedgerEvent::EvidenceRecorded { offender, .. } if *offender == k.public())
    ));
    let tx = h.by_node("EU", Payload::SubmitEvidence(swapped));
    assert_eq!(h.run(tx).unwrap_err().code(), "duplicate-evidence");
    let _ = PublicKey([0; 32]);
}

#[test]
fn a_failed_adoption_is_recorded_not_applied() {
    // Two resolutions expel the same member; the second completes after the
    // first took effect and its act no longer applies.
    let mut h = Harness::new();
    let (first, _) = h.propose(
        "BW",
        ResolutionAction::Expel {
            participant: code("TW"),
        },
        None,
    );
    let (second, _) = h.propose(
        "EU",
        ResolutionAction::Expel {
            participant: code("TW"),
        },
        None,
    );
    for signer in ["EU", "AE", "IN", "CF", "CG"] {
        assert_eq!(h.sign_resolution(signer, first), Ok(()));
    }
    assert!(matches!(
        outcome(&h, first),
        ResolutionOutcome::Adopted { .. }
    ));
    for signer in ["BW", "AE", "IN", "CF", "CG"] {
        assert_eq!(h.sign_resolution(signer, second), Ok(()));
    }
    match outcome(&h, second) {
        ResolutionOutcome::Failed { reason, .. } => {
            assert_eq!(reason.code(), "participant-expelled")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expelling_the_last_missing_signer_lets_a_repeated_signature_complete() {
    let mut h = Harness::new();
    let (id, _) = h.propose("BW", decision(), None);
    for signer in ["EU", "AE", "IN", "CF"] {
        assert_eq!(h.sign_resolution(signer, id), Ok(()));
    }
    // While CG is a member, a repeated signature is refused.
    assert_eq!(
        h.sign_resolution("EU", id).unwrap_err().code(),
        "already-signed"
    );
    h.adopt(ResolutionAction::Expel {
        participant: code("CG"),
    });
    assert_eq!(outcome(&h, id), ResolutionOutcome::Pending);
    assert!(h
        .ledger
        .resolution(&id)
        .unwrap()
        .unwrap()
        .missing
        .is_empty());
    assert_eq!(h.sign_resolution("EU", id), Ok(()));
    assert!(matches!(outcome(&h, id), ResolutionOutcome::Adopted { .. }));
}

/// One government cannot flood the pending list: past the genesis limit its
/// proposals are refused until one of its resolutions is decided; another
/// government is not affected.
#[test]
fn pending_resolutions_per_proposer_are_capped() {
    let mut g = genesis();
    g.params.pending_resolutions_per_proposer_max = 2;
    let mut h = Harness::with_genesis(g);
    let decision_n = |n: u8| ResolutionAction::AdministrativeDecision {
        title: format!("Decision {n}"),
        text_hash: Hash::of(kp_types::Domain::Document, &[n]),
    };
    let (first, ok) = h.propose("BW", decision_n(1), None);
    assert_eq!(ok, Ok(()));
    let (_, ok) = h.propose("BW", decision_n(2), None);
    assert_eq!(ok, Ok(()));
    let (_, refused) = h.propose("BW", decision_n(3), None);
    assert_eq!(
        refused.map_err(|r| r.code()),
        Err("too-many-pending-resolutions")
    );
    // Another government still proposes.
    let (_, ok) = h.propose("EU", decision_n(4), None);
    assert_eq!(ok, Ok(()));
    // One of Botswana's is rejected: it may propose again.
    assert_eq!(h.object("CG", first), Ok(()));
    let (_, ok) = h.propose("BW", decision_n(5), None);
    assert_eq!(ok, Ok(()));
}
