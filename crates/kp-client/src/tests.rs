//! Proof verification against hand-made proofs: a genuine one passes, and
//! each way a node could tamper with one (the certificate, the Merkle path,
//! the commit certificate, the history, the signer) is refused with its own
//! error.

use crate::proof::{self, CertificateProof, ProofError, TxProof, ValidatorHistory};
use kp_ledger::{
    CertificateEventKind, CertificateHistoryEntry, CertificateRecord, CertificateStatus, Genesis,
    Params, ResolutionOutcome, ResolutionRecord,
};
use kp_types::consensus::CommitSignature;
use kp_types::{
    Authority, AuthorityId, Block, BlockHeader, Carats, CertificateNumber, CommitCertificate, Date,
    Hash, Participant, ParticipantCode, ParticipantKind, Payload, ResolutionAction,
    ResolutionProposal, SigningKey, Territory, Timestamp, Transaction,
};

const CHAIN: &str = "kp-test";

struct Fixture {
    validators: Vec<SigningKey>,
    authority: SigningKey,
    genesis: Genesis,
}

fn code(c: &str) -> ParticipantCode {
    ParticipantCode::new(c).unwrap()
}

fn fixture() -> Fixture {
    let codes = ["BW", "EU", "AE", "IN"];
    let validators: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_seed([i + 1; 32]))
        .collect();
    let authority = SigningKey::from_seed([50; 32]);
    let participants = codes
        .iter()
        .zip(&validators)
        .map(|(c, k)| Participant {
            code: code(c),
            kind: ParticipantKind::Government,
            name: c.to_string(),
            territories: vec![Territory::new(if *c == "EU" { "BE" } else { c }).unwrap()],
            node_key: k.public(),
        })
        .collect();
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        genesis_time: Timestamp(1_700_000_000_000),
        chair: code("BW"),
        vice_chair: None,
        params: Params::default(),
        participants,
        authorities: vec![Authority {
            id: AuthorityId::new("BW-KPA").unwrap(),
            participant: code("BW"),
            name: "KP Authority of Botswana".into(),
            key: authority.public(),
        }],
    };
    Fixture {
        validators,
        authority,
        genesis,
    }
}

fn today() -> Date {
    Date::from_ymd(2026, 2, 1).unwrap()
}

fn number() -> CertificateNumber {
    CertificateNumber::new("BW0001").unwrap()
}

fn issue_tx(key: &SigningKey) -> kp_types::SignedTransaction {
    let mut cert = kp_ledger::testkit::certificate("BW0001", "BW", "EU", today());
    cert.issuing_authority = AuthorityId::new("BW-KPA").unwrap();
    Transaction {
        chain_id: CHAIN.into(),
        signer: key.public(),
        nonce: 1,
        expires_at: Timestamp(1_800_000_000_000),
        payload: Payload::IssueCertificate(cert),
    }
    .sign(key)
}

fn filler_tx(key: &SigningKey, nonce: u64) -> kp_types::SignedTransaction {
    Transaction {
        chain_id: CHAIN.into(),
        signer: key.public(),
        nonce,
        expires_at: Timestamp(1_800_000_000_000),
        payload: Payload::SignResolution {
            resolution: Hash([nonce as u8; 32]),
        },
    }
    .sign(key)
}

fn commit_for(header: &BlockHeader, signers: &[SigningKey]) -> CommitCertificate {
    let mut commit = CommitCertificate {
        chain_id: CHAIN.into(),
        height: header.height,
        round: 0,
        block_hash: header.hash(),
        signatures: vec![],
    };
    for k in signers {
        let vote = commit.precommit_for(k.public()).sign(k);
        commit.signatures.push(CommitSignature {
            validator: k.public(),
            signature: vote.signature,
        });
    }
    commit
}

/// A block at `height` holding `tx` at position 1 of 3, its proof for `tx`.
fn tx_proof(f: &Fixture, tx: kp_types::SignedTransaction, event: &str, height: u64) -> TxProof {
    let txs = vec![
        filler_tx(&f.validators[0], 7),
        tx.clone(),
        filler_tx(&f.validators[1], 9),
    ];
    let mut block = Block {
        header: BlockHeader {
            chain_id: CHAIN.into(),
            height,
            time: Timestamp(1_769_904_000_000),
            proposer: f.validators[0].public(),
            prev_hash: Hash::ZERO,
            txs_root: Hash::ZERO,
            state_root: Hash::ZERO,
        },
        txs,
    };
    block.header.txs_root = block.compute_txs_root();
    let leaves: Vec<Hash> = block.txs.iter().map(|t| t.hash()).collect();
    TxProof {
        event: event.into(),
        tx,
        height,
        merkle: kp_types::merkle::prove(&leaves, 1).unwrap(),
        commit: commit_for(&block.header, &f.validators[..3]),
        header: block.header,
    }
}

fn genuine(f: &Fixture) -> CertificateProof {
    let tx = issue_tx(&f.authority);
    let Payload::IssueCertificate(cert) = tx.tx.payload.clone() else {
        unreachable!()
    };
    let record = CertificateRecord {
        certificate: cert,
        status: CertificateStatus::Issued,
        history: vec![CertificateHistoryEntry {
            event: CertificateEventKind::Issued,
            tx: Some(tx.hash()),
            height: 5,
        }],
        receipt: None,
        discrepancy: None,
        enhanced_vigilance: false,
        approval: None,
        void_reason: None,
        counted: true,
    };
    CertificateProof {
        number: number(),
        record,
        txs: vec![tx_proof(f, tx, "issued", 5)],
    }
}

fn check(f: &Fixture, p: &CertificateProof) -> Result<proof::Verified, ProofError> {
    proof::verify(
        p,
        &number(),
        &ValidatorHistory::from_genesis(&f.genesis),
        today(),
    )
}

#[test]
fn a_genuine_proof_verifies() {
    let f = fixture();
    let verified = check(&f, &genuine(&f)).unwrap();
    assert_eq!(verified.status, "issued");
    assert_eq!(verified.certificate.number, number());
    assert_eq!(verified.history, vec![("issued".to_string(), 5)]);
    // The same proof survives a JSON round trip, as it travels over HTTP.
    let json = serde_json::to_string(&genuine(&f)).unwrap();
    let back: CertificateProof = serde_json::from_str(&json).unwrap();
    assert!(check(&f, &back).is_ok());
}

#[test]
fn an_altered_certificate_is_refused() {
    let f = fixture();
    // The node changes what it shows (more carats than were certified).
    let mut p = genuine(&f);
    p.record.certificate.lines[0].carats = Carats(999_999);
    assert_eq!(
        check(&f, &p),
        Err(ProofError::TamperedCertificate { field: "lines" })
    );
    // The node changes the signed transaction itself: the signature breaks.
    let mut p = genuine(&f);
    if let Payload::IssueCertificate(c) = &mut p.txs[0].tx.tx.payload {
        c.importer.name = "Someone Else".into();
    }
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::BadSignature { .. })
    ));
}

#[test]
fn an_altered_merkle_path_is_refused() {
    let f = fixture();
    let mut p = genuine(&f);
    p.txs[0].merkle.path[0].sibling.0[3] ^= 0x40;
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::BadMerklePath { .. })
    ));
    let mut p = genuine(&f);
    p.txs[0].merkle.index = 0;
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::BadMerklePath { .. })
    ));
}

#[test]
fn a_forged_commit_certificate_is_refused() {
    let f = fixture();
    // Signed by keys that are not the validators of genesis.
    let strangers: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_seed([90 + i; 32]))
        .collect();
    let mut p = genuine(&f);
    p.txs[0].commit = commit_for(&p.txs[0].header, &strangers);
    assert!(matches!(check(&f, &p), Err(ProofError::BadCommit { .. })));
    // Too few validators.
    let mut p = genuine(&f);
    p.txs[0].commit = commit_for(&p.txs[0].header, &f.validators[..2]);
    assert!(matches!(check(&f, &p), Err(ProofError::BadCommit { .. })));
    // A valid commit certificate of another block.
    let mut p = genuine(&f);
    let mut other = p.txs[0].header.clone();
    other.state_root = Hash([1; 32]);
    p.txs[0].commit = commit_for(&other, &f.validators[..3]);
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::CommitMismatch { .. })
    ));
    // A header doctored to match a made-up root, with the real commit.
    let mut p = genuine(&f);
    p.txs[0].header.txs_root = Hash([2; 32]);
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::BadMerklePath { .. }) | Err(ProofError::CommitMismatch { .. })
    ));
    // A signature byte flipped.
    let mut p = genuine(&f);
    p.txs[0].commit.signatures[0].signature.0[0] ^= 1;
    assert!(matches!(check(&f, &p), Err(ProofError::BadCommit { .. })));
}

#[test]
fn a_certificate_signed_by_the_wrong_key_is_refused() {
    let f = fixture();
    let impostor = SigningKey::from_seed([66; 32]);
    let mut p = genuine(&f);
    let tx = issue_tx(&impostor);
    p.record.history[0].tx = Some(tx.hash());
    p.txs[0] = tx_proof(&f, tx, "issued", 5);
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::WrongAuthorityKey { .. })
    ));
}

#[test]
fn history_and_status_must_be_proven() {
    let f = fixture();
    // The node claims a confirmation it cannot prove.
    let mut p = genuine(&f);
    p.record.status = CertificateStatus::Confirmed;
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::StatusMismatch { .. })
    ));
    let mut p = genuine(&f);
    p.record.history.push(CertificateHistoryEntry {
        event: CertificateEventKind::Confirmed,
        tx: Some(Hash([5; 32])),
        height: 9,
    });
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::UnprovenHistory { .. })
    ));
    // A transaction of another kind passed off as the issue.
    let mut p = genuine(&f);
    p.txs[0] = tx_proof(&f, filler_tx(&f.validators[2], 3), "issued", 5);
    assert!(matches!(
        check(&f, &p),
        Err(ProofError::WrongPayload { .. })
    ));
    // An empty proof.
    let mut p = genuine(&f);
    p.txs.clear();
    assert!(matches!(check(&f, &p), Err(ProofError::Size { count: 0 })));
}

#[test]
fn expiry_follows_the_callers_date() {
    let f = fixture();
    let p = genuine(&f);
    let late = today().plus_days(60);
    let v = proof::verify(
        &p,
        &number(),
        &ValidatorHistory::from_genesis(&f.genesis),
        late,
    )
    .unwrap();
    assert_eq!(v.status, "expired");
}

#[test]
fn validator_history_follows_adopted_membership_resolutions() {
    let f = fixture();
    let mut history = ValidatorHistory::from_genesis(&f.genesis);
    assert_eq!(history.at(1).len(), 4);
    let expel = |outcome| ResolutionRecord {
        id: Hash([8; 32]),
        proposal: ResolutionProposal {
            title: "expel IN".into(),
            action: ResolutionAction::Expel {
                participant: code("IN"),
            },
            deadline: None,
        },
        proposer: code("BW"),
        proposed_height: 3,
        deadline: Timestamp(0),
        signed_by: vec![],
        missing: vec![],
        outcome,
    };
    // A pending or rejected resolution changes nothing.
    assert_eq!(
        history.fold_resolutions(&[expel(ResolutionOutcome::Pending)]),
        0
    );
    assert_eq!(
        history.fold_resolutions(&[expel(ResolutionOutcome::Adopted { height: 10 })]),
        1
    );
    assert_eq!(
        history.at(10).len(),
        4,
        "the adopting height keeps the old set"
    );
    assert_eq!(history.at(11).len(), 3);
    assert!(!history.at(11).contains(&f.validators[3].public()));
    // A block after the expulsion certified by the old set including the
    // expelled member needs a quorum of the new set (3 of 3).
    let mut p = genuine(&f);
    let tx = p.txs[0].tx.clone();
    p.txs[0] = tx_proof(&f, tx, "issued", 12);
    p.record.history[0].height = 12;
    p.txs[0].commit = commit_for(
        &p.txs[0].header,
        &[
            f.validators[0].clone(),
            f.validators[1].clone(),
            f.validators[3].clone(),
        ],
    );
    assert!(matches!(
        proof::verify(&p, &number(), &history, today()),
        Err(ProofError::BadCommit { .. })
    ));
}

fn decided(
    f: &Fixture,
    height: u64,
    txs: Vec<kp_types::SignedTransaction>,
    signers: &[SigningKey],
) -> proof::DecidedBlock {
    let mut block = Block {
        header: BlockHeader {
            chain_id: CHAIN.into(),
            height,
            time: Timestamp(1_769_904_000_000 + height),
            proposer: f.validators[0].public(),
            prev_hash: Hash::ZERO,
            txs_root: Hash::ZERO,
            state_root: Hash::ZERO,
        },
        txs,
    };
    block.header.txs_root = block.compute_txs_root();
    let commit = commit_for(&block.header, signers);
    proof::DecidedBlock { block, commit }
}

#[test]
fn membership_resolutions_are_proven_before_they_change_the_validators() {
    let f = fixture();
    let proposal = ResolutionProposal {
        title: "expel IN".into(),
        action: ResolutionAction::Expel {
            participant: code("IN"),
        },
        deadline: None,
    };
    let propose = Transaction {
        chain_id: CHAIN.into(),
        signer: f.validators[0].public(),
        nonce: 1,
        expires_at: Timestamp(1_800_000_000_000),
        payload: Payload::ProposeResolution(proposal.clone()),
    }
    .sign(&f.validators[0]);
    let id = propose.hash();
    let sign = |k: &SigningKey| {
        Transaction {
            chain_id: CHAIN.into(),
            signer: k.public(),
            nonce: 2,
            expires_at: Timestamp(1_800_000_000_000),
            payload: Payload::SignResolution { resolution: id },
        }
        .sign(k)
    };
    let record = ResolutionRecord {
        id,
        proposal,
        proposer: code("BW"),
        proposed_height: 3,
        deadline: Timestamp(0),
        signed_by: vec![],
        missing: vec![],
        outcome: ResolutionOutcome::Adopted { height: 10 },
    };
    let quorum = &f.validators[..3];
    let propose_block = decided(&f, 3, vec![propose.clone()], quorum);
    let adopt_block = decided(
        &f,
        10,
        vec![filler_tx(&f.validators[1], 1), sign(&f.validators[3])],
        quorum,
    );

    let mut history = ValidatorHistory::from_genesis(&f.genesis);
    proof::prove_adoption(
        &mut history,
        &record,
        &propose,
        &propose_block,
        &adopt_block,
    )
    .unwrap();
    assert_eq!(history.at(10).len(), 4);
    assert_eq!(history.at(11).len(), 3);

    let refused = |record: &ResolutionRecord,
                   propose_block: &proof::DecidedBlock,
                   adopt_block: &proof::DecidedBlock| {
        let mut history = ValidatorHistory::from_genesis(&f.genesis);
        let result =
            proof::prove_adoption(&mut history, record, &propose, propose_block, adopt_block);
        assert!(
            matches!(result, Err(ProofError::UnprovenResolution { .. })),
            "{result:?}"
        );
        assert_eq!(
            history.at(11).len(),
            4,
            "a refused resolution changes nothing"
        );
    };
    // The node claims another act than the one proposed.
    let mut other = record.clone();
    other.proposal.action = ResolutionAction::Expel {
        participant: code("EU"),
    };
    refused(&other, &propose_block, &adopt_block);
    // The adopting block holds no signature of it.
    refused(
        &record,
        &propose_block,
        &decided(&f, 10, vec![filler_tx(&f.validators[1], 1)], quorum),
    );
    // The adopting block is certified by strangers.
    let strangers: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_seed([90 + i; 32]))
        .collect();
    refused(
        &record,
        &propose_block,
        &decided(&f, 10, vec![sign(&f.validators[3])], &strangers),
    );
    // The signature is by someone outside the validator set.
    refused(
        &record,
        &propose_block,
        &decided(&f, 10, vec![sign(&strangers[0])], quorum),
    );
    // The proposal is not in the block said to hold it.
    refused(
        &record,
        &decided(&f, 3, vec![filler_tx(&f.validators[2], 4)], quorum),
        &adopt_block,
    );
}
