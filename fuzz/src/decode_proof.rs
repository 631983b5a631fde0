//! `decode_proof`: a `CertificateProof` from arbitrary bytes (bincode, as
//! `kp_types::decode(data, PROOF_BYTES_MAX)`, and JSON), then
//! `kp_client::proof::verify` against the genesis [`Hash::ZERO`]. It must
//! return an error or a finding, never panic, the same twice; a finding must
//! follow from what the proof proves (the oracle in [`check_finding`]).
//!
//! Three passes per input:
//! 1. `data` as bincode; what decodes must re-encode to `data`;
//! 2. `data` as JSON;
//! 3. `data[0]` as [`forge`](crate::forge) flags and `data[1..]` as bincode,
//!    made consistent by [`crate::forge::forge`] before it is verified.

use crate::forge::{self, forge};
use crate::Input;
use kp_api::keys;
use kp_api::proof::{ActProof, CertificateProof, LightBlock, RecordProof, PROOF_BYTES_MAX};
use kp_api::{
    AuthorityRecord, CertificateEventKind, CertificateHistoryEntry, CertificateRecord,
    CertificateStatus, MembershipStatus, ParticipantRecord, SeizureIndex, SeizureRecord,
};
use kp_client::proof::{verify, Finding};
use kp_types::merkle::MerkleProof;
use kp_types::smt;
use kp_types::{
    Authority, AuthorityId, BlockHeader, Carats, Certificate, CertificateLine, CertificateNumber,
    CommitCertificate, Date, Hash, HsCode, ImportConfirmation, Origin, Participant,
    ParticipantCode, ParticipantKind, Party, Payload, SeizureReason, SeizureReport,
    SigningKey, Territory, Timestamp, Transaction, UsdCents,
};

/// The day the harness verifies on.
pub fn today() -> Date {
    Date::from_ymd(2026, 6, 1).expect("a date")
}

/// One input.
pub fn run(data: &[u8]) {
    if let Ok(p) = kp_types::decode::<CertificateProof>(data, PROOF_BYTES_MAX) {
        assert_eq!(
            kp_types::encode(&p),
            data,
            "a proof decoded from non-canonical bytes"
        );
        check(&p);
    }
    if let Ok(p) = serde_json::from_slice::<CertificateProof>(data) {
        check(&p);
    }
    let mut input = Input::new(data);
    let opts = input.byte();
    if let Ok(mut p) = kp_types::decode::<CertificateProof>(input.rest(), PROOF_BYTES_MAX) {
        forge(&mut p, opts);
        check(&p);
    }
}

/// Verifies `p` for its own number and checks what comes out.
pub fn check(p: &CertificateProof) -> Option<Finding> {
    let result = verify(p, &p.number, &Hash::ZERO, today());
    assert_eq!(
        verify(p, &p.number, &Hash::ZERO, today()),
        result,
        "verify is not deterministic"
    );
    match result {
        Ok(finding) => {
            check_finding(p, &finding);
            Some(finding)
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}

/// The record of `key` in `p`, proven against the anchor's records root.
fn proven<'a>(p: &'a CertificateProof, key: &[u8]) -> Option<&'a RecordProof> {
    let root = p.anchor.header.records_root;
    p.records.iter().find(|r| {
        r.key == key
            && r
                .proof
                .verify_record(&root, &r.key, r.value.as_deref())
                .is_ok()
    })
}

/// What a finding claims must be proven by `p`.
pub fn check_finding(p: &CertificateProof, finding: &Finding) {
    let anchor = &p.anchor.header;
    let genesis = proven(p, &keys::meta("genesis")).expect("the genesis record is proven");
    let genesis: Hash = kp_types::decode(genesis.value.as_deref().expect("present"), 64)
        .expect("the genesis record decodes");
    assert_eq!(genesis, Hash::ZERO);
    let cert = proven(p, &keys::certificate(&p.number)).expect("the certificate key is proven");
    match finding {
        Finding::Absent {
            as_of_height,
            as_of_time,
            seizures,
        } => {
            assert!(cert.value.is_none(), "absent, but the record is present");
            assert_eq!(*as_of_height, anchor.height.saturating_sub(1));
            assert_eq!(*as_of_time, anchor.time);
            for s in seizures {
                assert_eq!(s.report.certificate.as_ref(), Some(&p.number));
            }
        }
        Finding::Found(v) => {
            let bytes = cert.value.as_deref().expect("found, but the record is absent");
            let record: CertificateRecord =
                kp_types::decode(bytes, kp_client::proof::RECORD_BYTES_MAX)
                    .expect("the record decodes");
            assert_eq!(v.certificate, record.certificate);
            assert_eq!(v.certificate.number, p.number);
            assert_eq!(v.anchor_hash, anchor.hash());
            assert_eq!(v.as_of_height, anchor.height.saturating_sub(1));
            assert_eq!(v.history.len(), record.history.len());
            for s in &v.seizures {
                assert_eq!(s.report.certificate.as_ref(), Some(&p.number));
            }
            for entry in &record.history {
                let Some(tx) = entry.tx else { continue };
                // `verify` keeps the last act of a hash.
                let act = p
                    .acts
                    .iter()
                    .rev()
                    .find(|a| a.tx.hash() == tx)
                    .expect("every act of the history is in the proof");
                assert!(act.tx.verify_signature().is_ok(), "an unsigned act");
                assert_eq!(act.height, entry.height);
                assert!(act.inclusion.verify(&act.tx.leaf(), &act.header.txs_root));
                assert_eq!(act.tx.tx.chain_id, anchor.chain_id);
                if entry.event == CertificateEventKind::Issued {
                    match &act.tx.tx.payload {
                        Payload::IssueCertificate(c) => assert_eq!(
                            c, &v.certificate,
                            "the finding's certificate is not the one signed"
                        ),
                        other => panic!("issued by a {} act", other.kind()),
                    }
                }
            }
        }
    }
}

// ---- seeds: honest proofs, built by hand -----------------------------------

fn number() -> CertificateNumber {
    CertificateNumber::new("BW2026-0001").expect("number")
}

fn pc(code: &str) -> ParticipantCode {
    ParticipantCode::new(code).expect("code")
}

fn aid(id: &str) -> AuthorityId {
    AuthorityId::new(id).expect("id")
}

fn territory(code: &str) -> Territory {
    Territory::new(code).expect("territory")
}

/// Keys of the authorities: `BW-MMGE` (exporting) and `BE-FPS` (importing).
fn authority_key(id: &str) -> SigningKey {
    SigningKey::from_seed(if id == "BW-MMGE" { [42; 32] } else { [43; 32] })
}

fn certificate() -> Certificate {
    Certificate {
        number: number(),
        exporting: pc("BW"),
        issuing_authority: aid("BW-MMGE"),
        importing: pc("BE"),
        destination: territory("BE"),
        parties: kp_types::Parties::Plain(kp_types::SealedFields {
            exporter: Party {
                name: "Debswana".into(),
                address: "Gaborone".into(),
            },
            importer: Party {
                name: "Antwerp Diamonds".into(),
                address: "Antwerp".into(),
            },
            details: String::new(),
        }),
        origin: Origin::Countries(vec![territory("BW")]),
        origin_zones: vec![],
        lines: vec![CertificateLine {
            hs_code: HsCode::new(HsCode::GEM),
            carats: Carats(1_234_500),
            value_usd: UsdCents(98_765_400),
            parcels: 3,
        }],
        issued_on: Date::from_ymd(2026, 1, 10).expect("date"),
        expires_on: Date::from_ymd(2026, 3, 10).expect("date"),
    }
}

fn act(payload: Payload, signer: &str, nonce: u64, height: u64) -> ActProof {
    let key = authority_key(signer);
    let tx = Transaction {
        chain_id: crate::CHAIN.into(),
        signer: key.public(),
        nonce,
        expires_at: Timestamp(crate::chain::T0 + 86_400_000 * 30),
        payload,
    }
    .sign(&key);
    let placeholder = BlockHeader {
        chain_id: crate::CHAIN.into(),
        height,
        time: crate::chain::time_of(height),
        proposer: crate::chain::chain().set[0].1,
        prev_hash: Hash::ZERO,
        txs_root: Hash::ZERO,
        state_root: Hash::ZERO,
        validators_hash: Hash::ZERO,
        next_validators_hash: Hash::ZERO,
        results_root: Hash::ZERO,
        records_root: Hash::ZERO,
    };
    let path = MerkleProof {
        index: 0,
        leaf_count: 1,
        path: vec![],
    };
    ActProof {
        tx,
        height,
        header: placeholder.clone(),
        inclusion: path.clone(),
        result_header: BlockHeader {
            height: height + 1,
            time: crate::chain::time_of(height + 1),
            ..placeholder
        },
        result: path,
    }
}

fn record(key: Vec<u8>, value: Option<Vec<u8>>) -> RecordProof {
    RecordProof {
        key,
        value,
        proof: smt::RecordProof {
            siblings: vec![],
            leaf: None,
        },
    }
}

fn participant(code: &str, seed: u8) -> RecordProof {
    let r = ParticipantRecord {
        participant: Participant {
            code: pc(code),
            kind: ParticipantKind::Government,
            name: format!("government of {code}"),
            territories: vec![territory(code)],
            node_key: SigningKey::from_seed([seed; 32]).public(),
            government_key: SigningKey::from_seed([seed; 32]).public(),
            recovery_key: None,
        },
        status: MembershipStatus::Active,
        sanction: None,
        authorities: vec![],
        pending_key_change: None,
        node_key_rotated_at: None,
    };
    record(keys::participant(&pc(code)), Some(kp_types::encode(&r)))
}

fn authority(id: &str, participant: &str) -> RecordProof {
    let r = AuthorityRecord {
        authority: Authority {
            id: aid(id),
            participant: pc(participant),
            name: format!("authority {id}"),
            key: authority_key(id).public(),
            encryption_key: None,
        },
        registered_height: 0,
        revoked_height: None,
        compromised_since: None,
    };
    record(keys::authority(id), Some(kp_types::encode(&r)))
}

fn anchor(height: u64) -> LightBlock {
    let chain = crate::chain::chain();
    let mut header = chain.at(height).header.clone();
    header.records_root = Hash::ZERO;
    LightBlock {
        commit: CommitCertificate {
            chain_id: crate::CHAIN.into(),
            height,
            round: 0,
            block_hash: header.hash(),
            signatures: vec![],
        },
        header,
        validators: chain.set.clone(),
    }
}

fn seizure_report() -> SeizureReport {
    SeizureReport {
        authority: aid("BE-FPS"),
        territory: territory("BE"),
        location: "Antwerp".into(),
        carats: Carats(10_000),
        value_usd: None,
        reason: SeizureReason::ContentsMismatch,
        certificate: Some(number()),
        seized_on: Date::from_ymd(2026, 2, 1).expect("date"),
    }
}

/// The kinds of seed proof.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Issued at 5, anchor at 10.
    Issued,
    /// Issued at 5, confirmed at 9 (result under the anchor), seized at 10
    /// (the anchor's own block).
    ConfirmedAndSeized,
    /// No certificate, but a seizure report naming the number.
    AbsentSeized,
}

/// A proof of `kind`, not yet consistent: [`forge`] fills in the paths.
pub fn skeleton(kind: Kind) -> CertificateProof {
    let cert = certificate();
    let issue = act(Payload::IssueCertificate(cert.clone()), "BW-MMGE", 1, 5);
    let confirm = act(
        Payload::ConfirmImport(ImportConfirmation {
            number: number(),
            authority: aid("BE-FPS"),
            carats: Carats(1_234_500),
            parcels: 3,
            received_on: Date::from_ymd(2026, 1, 20).expect("date"),
        }),
        "BE-FPS",
        2,
        9,
    );
    let seize = act(Payload::ReportSeizure(seizure_report()), "BE-FPS", 3, 10);
    let seizure = SeizureRecord {
        sequence: 1,
        report: seizure_report(),
        reporter: pc("BE"),
        tx: seize.tx.hash(),
        height: 10,
        certificate_known: !matches!(kind, Kind::AbsentSeized),
    };
    let index = SeizureIndex {
        count: 1,
        sequences: vec![1],
    };
    let entry = |event, a: &ActProof| CertificateHistoryEntry {
        event,
        tx: Some(a.tx.hash()),
        height: a.height,
    };
    let mut records = vec![record(keys::meta("genesis"), Some(kp_types::encode(&Hash::ZERO)))];
    let acts = match kind {
        Kind::Issued => {
            let r = CertificateRecord {
                certificate: cert,
                status: CertificateStatus::Issued,
                history: vec![entry(CertificateEventKind::Issued, &issue)],
                receipt: None,
                discrepancy: None,
                enhanced_vigilance: false,
                approval: None,
                void_reason: None,
                counted: true,
                issued_at: kp_types::Timestamp(0),
                sanctioned_origin: Vec::new(),
            };
            records.push(record(keys::certificate(&number()), Some(kp_types::encode(&r))));
            records.push(record(keys::seizures_by_certificate(&number()), None));
            vec![issue]
        }
        Kind::ConfirmedAndSeized => {
            let r = CertificateRecord {
                certificate: cert,
                status: CertificateStatus::Seized,
                history: vec![
                    entry(CertificateEventKind::Issued, &issue),
                    entry(CertificateEventKind::Confirmed, &confirm),
                    entry(CertificateEventKind::Seized, &seize),
                ],
                receipt: None,
                discrepancy: None,
                enhanced_vigilance: true,
                approval: None,
                void_reason: None,
                counted: true,
                issued_at: kp_types::Timestamp(0),
                sanctioned_origin: Vec::new(),
            };
            records.push(record(keys::certificate(&number()), Some(kp_types::encode(&r))));
            records.push(record(
                keys::seizures_by_certificate(&number()),
                Some(kp_types::encode(&index)),
            ));
            records.push(record(keys::seizure(1), Some(kp_types::encode(&seizure))));
            vec![issue, confirm, seize]
        }
        Kind::AbsentSeized => {
            records.push(record(keys::certificate(&number()), None));
            records.push(record(
                keys::seizures_by_certificate(&number()),
                Some(kp_types::encode(&index)),
            ));
            records.push(record(keys::seizure(1), Some(kp_types::encode(&seizure))));
            vec![seize]
        }
    };
    records.push(participant("BW", 1));
    records.push(participant("BE", 2));
    records.push(authority("BW-MMGE", "BW"));
    records.push(authority("BE-FPS", "BE"));
    CertificateProof {
        number: number(),
        anchor: anchor(10),
        records,
        acts,
    }
}

/// The honest proof of an issued certificate.
pub fn honest_issue_proof() -> CertificateProof {
    let mut p = skeleton(Kind::Issued);
    forge(&mut p, 0);
    p
}

/// Seeds: consistent proofs (bincode and JSON) and skeletons behind
/// [`forge`] flags.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for kind in [Kind::Issued, Kind::ConfirmedAndSeized, Kind::AbsentSeized] {
        let mut p = skeleton(kind);
        let mut framed = vec![forge::GENESIS];
        framed.extend(kp_types::encode(&p));
        out.push(framed);
        let mut framed = vec![
            forge::GENESIS | forge::SIGN_SMALL | forge::LINK_ACTS | forge::LINK_HEIGHTS | forge::CHAIN_ID,
        ];
        framed.extend(kp_types::encode(&p));
        out.push(framed);
        forge(&mut p, 0);
        assert!(check(&p).is_some(), "the {kind:?} seed does not verify");
        out.push(kp_types::encode(&p));
        if matches!(kind, Kind::Issued) {
            out.push(serde_json::to_vec(&p).expect("JSON"));
        }
    }
    out
}
