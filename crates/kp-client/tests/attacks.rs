//! The attacks on `cert verify` (issue: "Customs verification that no node
//! can fool"), each refused in its own test, on a real ledger chain in
//! memory: blocks applied by `kp-ledger`, commits signed by the validators'
//! keys, proofs assembled by the same prover the node runs
//! (`kp_ledger::prove`), verdicts from the same code the CLI calls
//! (`kp_client::judge`).

mod common;

use common::*;
use kp_api::proof::LightBlock;
use kp_api::ResolutionOutcome;
use kp_client::light::{LightClient, TrustOptions, TrustedState};
use kp_client::{judge, Freshness, RecordVerdict, Verdict};
use kp_ledger::testkit::*;
use kp_ledger::{Ledger, MemStore, StateStore, WriteSet};
use kp_types::{
    Block, CertificateNumber, Hash, Payload, ResolutionAction, SanctionScope, Timestamp,
};

fn authentic(v: Verdict) -> Box<kp_client::proof::Verified> {
    match v {
        Verdict::Authentic(v) => v,
        other => panic!("expected AUTHENTIC, got {other:?}"),
    }
}

fn not_authentic(v: Verdict) -> String {
    match v {
        Verdict::NotAuthentic { reason } => reason,
        other => panic!("expected NOT AUTHENTIC, got {other:?}"),
    }
}

#[test]
fn certificate_with_four_acts_is_authentic_as_of_a_height() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.confirm("BW0000001", "EU");
    let tx = c.seizure_tx("BW0000001", &authority_key("EU"), "EU");
    c.run(tx);
    let tx = c.seizure_tx("BW0000001", &authority_key("IN"), "IN");
    // The IN authority reports in IN's territory; DE is the EU's.
    let _ = tx;
    c.seal();
    let proof = c.prove("BW0000001");
    let v = authentic(c.verdict(&proof, "BW0000001"));
    assert_eq!(v.status, "confirmed");
    assert_eq!(v.as_of_height, c.blocks.len() as u64 - 1);
    let events: Vec<&str> = v.history.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["issued", "confirmed"]);
    assert_eq!(v.seizures.len(), 1);
    assert!(v.alerts.iter().any(|a| a.kind == "seizure"));
}

#[test]
fn unknown_number_is_proven_absent() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.seal();
    let proof = c.prove("BW0000099");
    match c.verdict(&proof, "BW0000099") {
        Verdict::NotFound { as_of_height, .. } => assert!(as_of_height >= 1),
        other => panic!("expected NOT FOUND, got {other:?}"),
    }
}

/// One government proposing several "expel" resolutions and a node calling
/// them adopted shrank the old client's validator set to that government.
/// Now the validator set comes from headers: a header decided by one
/// government alone, with an invented certificate, is refused.
#[test]
fn forged_adoption() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    // BW proposes to expel every other government: pending, never adopted.
    for other in ["AE", "CF", "CG", "EU", "IN"] {
        let p = kp_types::ResolutionProposal {
            title: "expel".into(),
            action: ResolutionAction::Expel {
                participant: code(other),
            },
            deadline: None,
        };
        let tx = c.h.by_node("BW", Payload::ProposeResolution(p));
        c.run(tx);
    }
    c.seal();
    let honest = c.prove("BW0000001");
    // The lying node builds its own chain where BW alone validates, with an
    // invented certificate, and signs it with BW's key.
    let mut forged = honest.clone();
    let bw = node_key("BW");
    let lone = vec![(code("BW"), bw.public())];
    let mut header = forged.anchor.header.clone();
    header.validators_hash = kp_types::validator_set_hash(&lone);
    header.next_validators_hash = header.validators_hash;
    let block = Block {
        header: header.clone(),
        txs: vec![],
    };
    forged.anchor = LightBlock {
        header,
        commit: commit_for(&block, &[&bw]),
        validators: lone,
    };
    let reason = not_authentic(c.verdict(&forged, "BW0000001"));
    assert!(reason.contains("did not decide"), "{reason}");
    // The honest proof of the same moment is authentic.
    authentic(c.verdict(&honest, "BW0000001"));
}

/// A byzantine proposer puts refused transactions in a decided block: an
/// issue by a fully suspended exporter, a void signed by a revoked
/// authority key, a seizure signed by a stranger's key. The ledger keeps
/// them with their rejections; no proof shows them as acts.
#[test]
fn byzantine_proposer_refused_transactions() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.adopt(ResolutionAction::ImposeSanction {
        participant: code("AE"),
        origin: Default::default(),
        scope: SanctionScope::FullSuspension,
    });
    let issue = {
        let cert = certificate("AE0000001", "AE", "EU", c.h.today());
        c.h.by_authority("AE", Payload::IssueCertificate(cert))
    };
    let stranger = extra_key("stranger");
    let seizure = c.seizure_tx("BW0000001", &stranger, "EU");
    let void = c.void_tx("BW0000001", "EU"); // EU's authority is not the exporter's
    let refused = vec![issue.clone(), seizure.clone(), void.clone()];
    let receipts = c.apply(refused);
    assert!(receipts.iter().all(|r| r.result.is_err()), "{receipts:?}");
    c.seal();
    // The refused issue created nothing: proven absent.
    let proof = c.prove("AE0000001");
    assert!(matches!(
        c.verdict(&proof, "AE0000001"),
        Verdict::NotFound { .. }
    ));
    // The certificate the refused seizure and void named is untouched.
    let proof = c.prove("BW0000001");
    let v = authentic(c.verdict(&proof, "BW0000001"));
    assert_eq!(v.status, "issued");
    assert!(
        v.seizures.is_empty() && v.alerts.is_empty(),
        "{:?}",
        v.alerts
    );
    // A lying node that adds the refused void as an act of the record
    // cannot make its record verify.
    let mut lie = proof.clone();
    let key = kp_ledger::keys::certificate(&number("BW0000001"));
    let record = lie.records.iter_mut().find(|r| r.key == key).unwrap();
    let mut rec: kp_ledger::CertificateRecord =
        kp_types::decode(record.value.as_ref().unwrap(), 1 << 20).unwrap();
    rec.status = kp_ledger::CertificateStatus::Voided;
    rec.history.push(kp_ledger::CertificateHistoryEntry {
        event: kp_ledger::CertificateEventKind::Voided,
        tx: Some(void.hash()),
        height: c.blocks.len() as u64 - 1,
    });
    record.value = Some(kp_types::encode(&rec));
    let reason = not_authentic(c.verdict(&lie, "BW0000001"));
    assert!(reason.contains("record"), "{reason}");
    // And the results root proves the refusal itself: the void's result is
    // its rejection, never "accepted".
    let index = c.blocks.len() - 2;
    let block = &c.blocks[index];
    let results: Vec<Hash> = c.receipts[index]
        .iter()
        .map(|r| kp_types::result_leaf(&r.tx_hash, r.result.as_ref().err().map(|e| e.code())))
        .collect();
    let next = &c.blocks[index + 1].header;
    let position = block
        .txs
        .iter()
        .position(|t| t.hash() == void.hash())
        .unwrap();
    let path = kp_types::merkle::prove(&results, position).unwrap();
    assert!(!path.verify(
        &kp_types::result_leaf(&void.hash(), None),
        &next.results_root
    ));
    assert!(path.verify(&results[position], &next.results_root));
}

/// A lying proxy between the officer and an honest node.
#[test]
fn lying_proxy_drops_a_void() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    let tx = c.void_tx("BW0000001", "BW");
    c.run(tx);
    c.seal();
    let mut proof = c.prove("BW0000001");
    assert_eq!(authentic(c.verdict(&proof, "BW0000001")).status, "voided");
    proof
        .acts
        .retain(|a| !matches!(a.tx.tx.payload, Payload::VoidCertificate(_)));
    let reason = not_authentic(c.verdict(&proof, "BW0000001"));
    assert!(reason.contains("lacks the act"), "{reason}");
}

#[test]
fn lying_proxy_drops_a_seizure() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    let tx = c.seizure_tx("BW0000001", &authority_key("EU"), "EU");
    c.run(tx);
    c.seal();
    let honest = c.prove("BW0000001");
    // Dropping the seizure index: the verdict needs it.
    let index = kp_ledger::keys::seizures_by_certificate(&number("BW0000001"));
    let mut dropped = honest.clone();
    dropped.records.retain(|r| r.key != index);
    assert!(not_authentic(c.verdict(&dropped, "BW0000001")).contains("lacks the record"));
    // Claiming the index absent: its path shows it present.
    let mut absent = honest.clone();
    let r = absent.records.iter_mut().find(|r| r.key == index).unwrap();
    r.value = None;
    assert!(not_authentic(c.verdict(&absent, "BW0000001")).contains("record"));
}

#[test]
fn lying_proxy_serves_stale_data() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.seal();
    let proof = c.prove("BW0000001");
    // The chain's blocks are about an hour old: a five-minute --max-age
    // refuses them.
    match c.verdict_at(&proof, "BW0000001", now(), 300_000) {
        Verdict::CannotDecide { reason, .. } => assert!(reason.contains("--max-age"), "{reason}"),
        other => panic!("expected CANNOT DECIDE, got {other:?}"),
    }
}

#[test]
fn lying_proxy_swaps_a_record() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.issue("BW0000002", "BW", "EU");
    c.seal();
    let mut proof = c.prove("BW0000001");
    let other = c.prove("BW0000002");
    let key1 = kp_ledger::keys::certificate(&number("BW0000001"));
    let key2 = kp_ledger::keys::certificate(&number("BW0000002"));
    let value2 = other
        .records
        .iter()
        .find(|r| r.key == key2)
        .unwrap()
        .value
        .clone();
    proof
        .records
        .iter_mut()
        .find(|r| r.key == key1)
        .unwrap()
        .value = value2;
    assert!(not_authentic(c.verdict(&proof, "BW0000001")).contains("record"));
    // Swapping whole proofs: the answer is for another number.
    let swapped = c.verdict(&other, "BW0000001");
    assert!(
        matches!(swapped, Verdict::NotAuthentic { .. }),
        "{swapped:?}"
    );
}

/// A validator's consensus-key rotation: certificates issued before and after it
/// are both authentic; the light client follows the rotation from headers.
#[test]
fn node_key_rotation_then_certificates_before_and_after() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    let new_key = extra_key("bw-node-2");
    c.know(new_key.clone());
    let tx = c.h.by_government(
        "BW",
        Payload::RotateKey {
            participant: code("BW"),
            role: kp_types::KeyRole::Consensus,
            new_key: new_key.public(),
        },
    );
    c.run(tx);
    for _ in 0..3 {
        c.seal();
    }
    assert!(c.h.ledger.validators().contains(&new_key.public()));
    c.issue("BW0000002", "BW", "EU");
    c.seal();
    for n in ["BW0000001", "BW0000002"] {
        let proof = c.prove(n);
        assert!(proof
            .anchor
            .commit
            .signatures
            .iter()
            .any(|s| s.validator == new_key.public()));
        assert_eq!(authentic(c.verdict(&proof, n)).status, "issued");
    }
}

#[test]
fn awaiting_approval_shown_as_such() {
    let mut c = TestChain::new();
    c.adopt(ResolutionAction::ImposeSanction {
        participant: code("BW"),
        origin: Default::default(),
        scope: SanctionScope::PartialExports {
            green_zones: vec!["Orapa".into()],
            monitor: Some(code("EU")),
        },
    });
    let mut cert = certificate("BW0000001", "BW", "EU", c.h.today());
    cert.origin_zones = vec!["Orapa".into()];
    let tx = c.h.by_authority("BW", Payload::IssueCertificate(cert));
    c.run(tx);
    c.seal();
    let proof = c.prove("BW0000001");
    let v = authentic(c.verdict(&proof, "BW0000001"));
    assert_eq!(v.status, "awaiting-approval");
    assert!(v.alerts.iter().any(|a| a.kind == "awaiting-approval"));
    assert!(v.alerts.iter().any(|a| a.kind == "sanction"));
}

#[test]
fn wrong_genesis_cannot_decide() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.seal();
    let proof = c.prove("BW0000001");
    // The officer's genesis is another network's (another time: another hash).
    let other = genesis_at(Timestamp(c.genesis_time().0 - 86_400_000));
    let mut light = LightClient::new(
        TrustedState::from_genesis(&other),
        TrustOptions::default(),
        None,
    )
    .unwrap();
    let mut fetch = |h: u64| Ok(c.light_block(h));
    let v = judge(
        &proof,
        &number("BW0000001"),
        &mut light,
        &other.hash(),
        Freshness {
            now: now(),
            max_age_ms: 2 * 3_600_000,
        },
        &mut fetch,
        "the node",
    );
    assert_eq!(v.exit_code(), 3, "{v:?}");
    let _: Option<CertificateNumber> = None;
}

#[test]
fn ledger_roots_match_a_replica_that_replays() {
    let mut c = TestChain::new();
    c.issue("BW0000001", "BW", "EU");
    c.seal();
    let mut replica = Ledger::open(&genesis_at(c.genesis_time()), MemStore::new()).unwrap();
    for b in &c.blocks {
        replica.apply_block(b, WriteSet::default()).unwrap();
    }
    assert_eq!(replica.records_root(), c.h.ledger.records_root());
    assert_eq!(replica.results_root(), c.h.ledger.results_root());
}

/// `participant show --verify`: membership, a partial sanction with its
/// zones and the listed authorities come from the proof; a node that edits
/// the record, or lists another Participant's authority, is caught.
#[test]
fn participant_proof_shows_sanction_and_refuses_edits() {
    let mut c = TestChain::new();
    c.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: SanctionScope::FullSuspension,
    });
    c.seal();
    let proof = c.prove_participant("CF");
    let proven = match c.participant_verdict(&proof, "CF") {
        RecordVerdict::Proven(p) => p,
        other => panic!("expected proven, got {other:?}"),
    };
    let record = proven.value.unwrap();
    assert!(matches!(
        record.sanction.as_ref().map(|s| &s.scope),
        Some(SanctionScope::FullSuspension)
    ));
    assert!(!record.authorities.is_empty());
    assert!(record
        .authorities
        .iter()
        .all(|a| a.authority.participant == code("CF")));
    assert_eq!(proven.as_of_height, c.blocks.len() as u64 - 1);

    // A lying node lifts the sanction in the record it serves.
    let mut lifted = proof.clone();
    let key = kp_api::keys::participant(&code("CF"));
    let r = lifted.records.iter_mut().find(|r| r.key == key).unwrap();
    let mut rec: kp_api::ParticipantRecord =
        kp_types::decode(r.value.as_deref().unwrap(), 1 << 20).unwrap();
    rec.sanction = None;
    r.value = Some(kp_types::encode(&rec));
    let v = c.participant_verdict(&lifted, "CF");
    assert_eq!(v.exit_code(), 1, "{v:?}");

    // It serves BW's record (with its valid path) as CF's.
    let bw = c.prove_participant("BW");
    let v = c.participant_verdict(&bw, "CF");
    assert_eq!(v.exit_code(), 1, "{v:?}");

    // It slips BW's authority (valid path) into CF's list.
    let mut mixed = proof.clone();
    let bw_authority = bw
        .records
        .iter()
        .find(|r| r.key.first() == Some(&kp_api::keys::table::AUTHORITY))
        .unwrap()
        .clone();
    mixed.records.push(bw_authority);
    match c.participant_verdict(&mixed, "CF") {
        RecordVerdict::NotAuthentic { reason } => {
            assert!(reason.contains("listed under"), "{reason}")
        }
        other => panic!("expected NOT AUTHENTIC, got {other:?}"),
    }

    // A Participant that is not on the ledger is proven absent.
    let absent = c.prove_participant("ZZ");
    let v = c.participant_verdict(&absent, "ZZ");
    assert_eq!(v.exit_code(), 2, "{v:?}");
}

/// `participant show --verify` proves the whole list of a member's
/// authorities: the ledger counts registrations in a proven record, so a
/// node that leaves one out, or repeats one in place of another, is caught.
#[test]
fn participant_proof_shows_every_authority() {
    let mut c = TestChain::new();
    let second = kp_types::Authority {
        id: kp_types::AuthorityId::new("BW-KPA-FRANCISTOWN").unwrap(),
        participant: code("BW"),
        name: "Francistown office".into(),
        key: kp_types::SigningKey::from_seed([77; 32]).public(),
        encryption_key: None,
    };
    let tx =
        c.h.by_node("BW", Payload::RegisterAuthority(second.clone()));
    c.run(tx);
    c.seal();
    let proof = c.prove_participant("BW");
    let listed = |p: &kp_api::proof::RecordsProof| match c.participant_verdict(p, "BW") {
        RecordVerdict::Proven(p) => p.value.unwrap().authorities.len(),
        other => panic!("expected proven, got {other:?}"),
    };
    assert_eq!(listed(&proof), 2);

    let is_authority = |r: &kp_api::proof::RecordProof| {
        r.key.first() == Some(&kp_api::keys::table::AUTHORITY) && r.value.is_some()
    };
    let omitted_reason = |p: &kp_api::proof::RecordsProof| match c.participant_verdict(p, "BW") {
        RecordVerdict::NotAuthentic { reason } => reason,
        other => panic!("expected NOT AUTHENTIC, got {other:?}"),
    };

    // A lying node leaves the second office out.
    let mut omitted = proof.clone();
    let at = omitted.records.iter().rposition(is_authority).unwrap();
    let dropped = omitted.records.remove(at);
    let reason = omitted_reason(&omitted);
    assert!(reason.contains("2 registered, 1 listed"), "{reason}");

    // It repeats the first in the place of the second.
    let first = omitted
        .records
        .iter()
        .find(|r| is_authority(r))
        .unwrap()
        .clone();
    omitted.records.push(first);
    let reason = omitted_reason(&omitted);
    assert!(reason.contains("2 registered, 1 listed"), "{reason}");

    // It drops the count too: the count is a record the verdict needs.
    let mut uncounted = proof.clone();
    let count_key = kp_api::keys::authority_count(&code("BW"));
    uncounted.records.retain(|r| r.key != count_key);
    let reason = omitted_reason(&uncounted);
    assert!(reason.contains("authority count"), "{reason}");
    assert!(dropped.key.ends_with(second.id.as_str().as_bytes()));
}

/// `resolution show --verify`: adopted or pending, and who signed, from the
/// proof; a node that claims a pending resolution adopted is caught.
#[test]
fn resolution_proof_shows_adoption_and_signers() {
    let mut c = TestChain::new();
    let adopted = c.adopt(ResolutionAction::ImposeSanction {
        participant: code("CF"),
        origin: Default::default(),
        scope: SanctionScope::FullSuspension,
    });
    let p = kp_types::ResolutionProposal {
        title: "expel".into(),
        action: ResolutionAction::Expel {
            participant: code("AE"),
        },
        deadline: None,
    };
    let tx = c.h.by_node("BW", Payload::ProposeResolution(p));
    let pending = tx.hash();
    c.run(tx);
    c.seal();

    let proof = c.prove_resolution(&adopted);
    let record = match c.resolution_verdict(&proof, &adopted) {
        RecordVerdict::Proven(p) => p.value.unwrap(),
        other => panic!("expected proven, got {other:?}"),
    };
    assert!(
        matches!(record.outcome, ResolutionOutcome::Adopted { .. }),
        "{:?}",
        record.outcome
    );
    assert_eq!(record.signed_by.len(), GOVERNMENTS.len());

    let proof = c.prove_resolution(&pending);
    let record = match c.resolution_verdict(&proof, &pending) {
        RecordVerdict::Proven(p) => p.value.unwrap(),
        other => panic!("expected proven, got {other:?}"),
    };
    assert_eq!(record.outcome, ResolutionOutcome::Pending);
    assert_eq!(record.signed_by, vec![code("BW")]);

    // The lying node calls the pending one adopted, signed by everyone.
    let mut forged = proof.clone();
    let key = kp_api::keys::resolution(&pending);
    let r = forged.records.iter_mut().find(|r| r.key == key).unwrap();
    let mut rec = record.clone();
    rec.outcome = match c.prove_resolution(&adopted).records.iter().find_map(|r| {
        r.value
            .as_deref()
            .and_then(|v| kp_types::decode::<kp_api::ResolutionRecord>(v, 1 << 20).ok())
    }) {
        Some(a) => a.outcome,
        None => panic!("no adopted record"),
    };
    rec.signed_by = GOVERNMENTS.iter().map(|g| code(g)).collect();
    r.value = Some(kp_types::encode(&rec));
    let v = c.resolution_verdict(&forged, &pending);
    assert_eq!(v.exit_code(), 1, "{v:?}");

    // It serves the adopted resolution's proof for the pending id.
    let swapped = c.prove_resolution(&adopted);
    let v = c.resolution_verdict(&swapped, &pending);
    assert_eq!(v.exit_code(), 1, "{v:?}");

    // An unknown id is proven absent.
    let unknown = Hash([7; 32]);
    let v = c.resolution_verdict(&c.prove_resolution(&unknown), &unknown);
    assert_eq!(v.exit_code(), 2, "{v:?}");
}

/// Sealed fields are opened from the proven record only: anyone can encrypt
/// to an authority's public key, so a lying node can seal invented names
/// with a commitment that matches them. The issuing authority's signature
/// over the certificate (and the record's Merkle path) refuses that.
#[test]
fn a_node_that_reseals_invented_names_is_caught() {
    use kp_api::records::CertificateRecord;
    use kp_types::sealed::{seal, SealedFields, SALT_BYTES};
    let mut c = TestChain::new();
    for m in ["BW", "EU"] {
        let tx = c.h.by_government(
            m,
            Payload::SetEncryptionKey {
                participant: code(m),
                authority: authority_id(m),
                key: encryption_key(m).public(),
            },
        );
        c.run(tx);
    }
    let mut cert = certificate("BW0000001", "BW", "EU", c.h.today());
    let kp_types::Parties::Plain(real) = cert.parties.clone() else {
        panic!("fixture is plain");
    };
    seal_certificate(&mut cert, "EU");
    let tx = c.h.by_authority("BW", Payload::IssueCertificate(cert));
    c.run(tx);
    c.seal();

    // Honest: the proven envelope opens, for the importer, to the real names.
    let honest = c.prove("BW0000001");
    let v = authentic(c.verdict(&honest, "BW0000001"));
    let n = number("BW0000001");
    let sealed = v
        .certificate
        .parties
        .sealed()
        .expect("sealed on the ledger");
    let opened = sealed.open(&n, &encryption_key("EU")).unwrap();
    assert_eq!(opened.fields, real);

    // The lie: invented names, sealed to the same two authority keys with
    // a matching commitment, put in the certificate record the node serves.
    let invented = SealedFields {
        exporter: kp_types::Party {
            name: "Invented Exports".into(),
            address: "nowhere".into(),
        },
        ..real.clone()
    };
    let forged = seal(
        &n,
        &invented,
        [9; SALT_BYTES],
        &[
            (authority_id("BW"), encryption_key("BW").public()),
            (authority_id("EU"), encryption_key("EU").public()),
        ],
        [5; 32],
    )
    .unwrap();
    assert_eq!(
        forged.open(&n, &encryption_key("EU")).unwrap().fields,
        invented,
        "the forged envelope opens on its own"
    );
    let key = kp_ledger::keys::certificate(&n);
    let mut lying = honest.clone();
    let slot = lying.records.iter_mut().find(|r| r.key == key).unwrap();
    let mut record: CertificateRecord =
        kp_types::decode(slot.value.as_ref().unwrap(), 1 << 20).unwrap();
    record.certificate.parties = kp_types::Parties::Sealed(forged.clone());
    slot.value = Some(kp_types::encode(&record));
    let reason = not_authentic(c.verdict(&lying, "BW0000001"));
    assert!(reason.contains("record"), "{reason}");

    // Also swapping it in the issuing act: its signature no longer holds.
    for act in lying.acts.iter_mut() {
        if let Payload::IssueCertificate(c) = &mut act.tx.tx.payload {
            c.parties = kp_types::Parties::Sealed(forged.clone());
        }
    }
    assert!(matches!(
        c.verdict(&lying, "BW0000001"),
        Verdict::NotAuthentic { .. }
    ));
}

/// An authority's key rotation (ADR 0008): a certificate its old key issued
/// before the rotation stays AUTHENTIC after it, one its new key issued
/// after it is AUTHENTIC too, and an act the old key signed after the
/// rotation is refused even when a lying chain shows it accepted: the
/// light client checks the signer against the key the proven authority
/// record lists for the act's height.
#[test]
fn authority_key_rotation_keeps_old_certificates_and_refuses_the_old_key_after_it() {
    let mut c = TestChain::new();
    let old = authority_key("BW");
    let new = extra_key("bw-authority-2");
    c.issue("BW0000001", "BW", "EU");
    let tx = c.h.by_government(
        "BW",
        Payload::RotateAuthorityKey {
            participant: code("BW"),
            authority: authority_id("BW"),
            new_key: new.public(),
            new_encryption_key: None,
        },
    );
    c.run(tx);
    let rotated_at = c.blocks.len() as u64;
    let cert = certificate("BW0000002", "BW", "EU", c.h.today());
    let tx = c.h.tx(&new, Payload::IssueCertificate(cert));
    c.run(tx);
    c.seal();
    for n in ["BW0000001", "BW0000002"] {
        let proof = c.prove(n);
        assert_eq!(authentic(c.verdict(&proof, n)).status, "issued", "{n}");
    }

    // The lie: validators colluding with a thief of the old key decide a
    // block whose ledger took the old key as still the authority's. The
    // test stands for their ledger by showing the store the record as it
    // was before the rotation for that one block, then restoring it: the
    // records tree, headers, results and commits are all consistent, and
    // the proven authority record carries the rotation.
    let store = c.h.ledger.store();
    let key = kp_ledger::keys::authority(authority_id("BW").as_str());
    let genuine = store.get(&key).unwrap().unwrap();
    let mut before: kp_ledger::AuthorityRecord = kp_types::decode(&genuine, 1 << 16).unwrap();
    before.authority.key = old.public();
    before.previous_keys.clear();
    let mut patch = WriteSet::default();
    patch.put(key.clone(), kp_types::encode(&before));
    store.commit(&patch).unwrap();
    let cert = certificate("BW0000003", "BW", "EU", c.h.today());
    let tx = c.h.tx(&old, Payload::IssueCertificate(cert));
    c.run(tx);
    let mut restore = WriteSet::default();
    restore.put(key, genuine);
    c.h.ledger.store().commit(&restore).unwrap();
    c.seal();
    let proof = c.prove("BW0000003");
    let reason = not_authentic(c.verdict(&proof, "BW0000003"));
    assert!(
        reason.contains(&format!(
            "signed by a key authority BW-KPA held only until its rotation at height {rotated_at}"
        )),
        "{reason}"
    );
    // The certificates of the honest blocks are still AUTHENTIC.
    let proof = c.prove("BW0000001");
    assert_eq!(authentic(c.verdict(&proof, "BW0000001")).status, "issued");
}
